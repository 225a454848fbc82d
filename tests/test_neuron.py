"""The lecture's hand-derived gradients against jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import nn as jnn


def test_sigmoid_neuron_gradient_equals_autodiff():
    kw, kb, kx, ky = jax.random.split(jax.random.key(0), 4)
    w = jax.random.normal(kw, (5,))
    b = jax.random.normal(kb, ())
    x = jax.random.normal(kx, (16, 5))
    y = jax.random.uniform(ky, (16,))
    dw, db = jnn.neuron_grad(w, b, x, y)
    auto_dw, auto_db = jax.grad(jnn.neuron_loss, argnums=(0, 1))(w, b, x, y)
    np.testing.assert_allclose(
        dw, auto_dw, rtol=1e-5, atol=1e-6, err_msg="hand-derived dL/dw vs jax.grad"
    )
    np.testing.assert_allclose(
        db, auto_db, rtol=1e-5, atol=1e-6, err_msg="hand-derived dL/db vs jax.grad"
    )


def test_sigmoid_prime_matches_definition():
    z = jnp.linspace(-6, 6, 101)
    np.testing.assert_allclose(
        jnn.sigmoid_prime(z), jax.vmap(jax.grad(jnn.sigmoid))(z), rtol=1e-6, atol=1e-7
    )


def test_two_layer_backprop_equals_autodiff():
    keys = jax.random.split(jax.random.key(1), 6)
    params = {
        "W1": jax.random.normal(keys[0], (4, 7)),
        "b1": jax.random.normal(keys[1], (7,)),
        "W2": jax.random.normal(keys[2], (7, 3)),
        "b2": jax.random.normal(keys[3], (3,)),
    }
    x = jax.random.normal(keys[4], (10, 4))
    y = jax.random.uniform(keys[5], (10, 3))
    manual = jnn.two_layer_backward(params, x, y)
    auto = jax.grad(jnn.two_layer_loss)(params, x, y)
    for name in params:
        np.testing.assert_allclose(
            manual[name],
            auto[name],
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"chain rule vs jax.grad for {name}",
        )
