"""The sigmoid neuron and a two-layer network with hand-derived gradients (the lecture's part 1).

Each function follows the lecture's equations; tests check every hand-derived gradient against
``jax.grad``.
"""

import jax
import jax.numpy as jnp


def sigmoid(z: jax.Array) -> jax.Array:
    """σ(z) = 1 / (1 + e^{−z})."""
    return jax.nn.sigmoid(z)


def sigmoid_prime(z: jax.Array) -> jax.Array:
    """σ′(z) = σ(z)(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def neuron(w: jax.Array, b: jax.Array, x: jax.Array) -> jax.Array:
    """The sigmoid neuron f(x) = σ(wᵀx + b).

    Args:
      w: weights (d,).
      b: bias, scalar.
      x: inputs (m, d) or (d,).

    Returns:
      Activations (m,) or scalar.
    """
    return sigmoid(x @ w + b)


def neuron_loss(w: jax.Array, b: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """The lecture's squared error L(w, b) = ½ Σ_m (σ(wᵀx⁽ᵐ⁾ + b) − y⁽ᵐ⁾)².

    Args:
      w: (d,); b: scalar; x: (m, d); y: (m,) targets.
    """
    return 0.5 * jnp.sum((neuron(w, b, x) - y) ** 2)


def neuron_grad(
    w: jax.Array, b: jax.Array, x: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Hand-derived gradient of :func:`neuron_loss`.

    ∂L/∂w = Σ_m (σ(z⁽ᵐ⁾) − y⁽ᵐ⁾) σ′(z⁽ᵐ⁾) x⁽ᵐ⁾ and ∂L/∂b = Σ_m (σ(z⁽ᵐ⁾) − y⁽ᵐ⁾) σ′(z⁽ᵐ⁾),
    with z⁽ᵐ⁾ = wᵀx⁽ᵐ⁾ + b.

    Returns:
      (dL/dw (d,), dL/db scalar).
    """
    z = x @ w + b
    delta = (sigmoid(z) - y) * sigmoid_prime(z)  # (m,)
    return x.T @ delta, jnp.sum(delta)


def two_layer_forward(params: dict[str, jax.Array], x: jax.Array) -> dict[str, jax.Array]:
    """Forward pass of a 2-layer sigmoid network, keeping what the backward pass needs.

    a¹ = x W1 + b1, h = σ(a¹), a² = h W2 + b2, ŷ = σ(a²).

    Args:
      params: ``W1 (d, H)``, ``b1 (H,)``, ``W2 (H, K)``, ``b2 (K,)``.
      x: inputs (m, d).

    Returns:
      ``{"a1", "h", "a2", "y_hat"}``.
    """
    a1 = x @ params["W1"] + params["b1"][None, :]
    h = sigmoid(a1)
    a2 = h @ params["W2"] + params["b2"][None, :]
    return {"a1": a1, "h": h, "a2": a2, "y_hat": sigmoid(a2)}


def two_layer_loss(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    """L = ½ Σ_m ‖ŷ⁽ᵐ⁾ − y⁽ᵐ⁾‖² for the network of :func:`two_layer_forward`; y (m, K)."""
    return 0.5 * jnp.sum((two_layer_forward(params, x)["y_hat"] - y) ** 2)


def two_layer_backward(
    params: dict[str, jax.Array], x: jax.Array, y: jax.Array
) -> dict[str, jax.Array]:
    """Back-propagation by the chain rule for :func:`two_layer_loss`.

    δ² = (ŷ − y) ∘ σ′(a²); ∂L/∂W2 = hᵀδ², ∂L/∂b2 = Σ_m δ²;
    δ¹ = (δ² W2ᵀ) ∘ σ′(a¹); ∂L/∂W1 = xᵀδ¹, ∂L/∂b1 = Σ_m δ¹.

    Returns:
      Gradients with the keys and shapes of ``params``.
    """
    cache = two_layer_forward(params, x)
    delta2 = (cache["y_hat"] - y) * sigmoid_prime(cache["a2"])  # (m, K)
    delta1 = (delta2 @ params["W2"].T) * sigmoid_prime(cache["a1"])  # (m, H)
    return {
        "W1": x.T @ delta1,
        "b1": delta1.sum(axis=0),
        "W2": cache["h"].T @ delta2,
        "b2": delta2.sum(axis=0),
    }
