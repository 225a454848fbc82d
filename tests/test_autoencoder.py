"""Tests for the dense, convolutional and stacked (denoising) auto-encoders."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

from jaxdl.models import autoencoder as ae
from jaxdl.tasks import stacked_ae
from jaxdl.train import report, sweep
from tests.configs import tiny


@pytest.fixture(scope="module")
def digits():
    """128 scikit-learn digits as NHWC (128, 8, 8, 1) in [0, 1], with their labels."""
    data = load_digits()
    return jnp.asarray(data.images[:128, :, :, None] / 16.0, jnp.float32), data.target[:128]


MODELS = [
    ae.AutoEncoder(hidden=(32,), latent_dim=8),
    ae.ConvAutoEncoder(channels=(8, 16), latent_dim=8),
    ae.StackedAutoEncoder(input_dim=64, layer_sizes=(32, 8)),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_shapes_encode_decode(model, digits):
    x, _ = digits
    params = jax.jit(model.init)(jax.random.key(0), x[:2])["params"]

    @jax.jit
    def run(params, x):
        x_hat = model.apply({"params": params}, x)
        h = model.apply({"params": params}, x, method=model.encode)
        return x_hat, h, model.apply({"params": params}, h, method=model.decode)

    x_hat, h, back = run(params, x[:5])
    chex.assert_shape(x_hat, (5, 8, 8, 1))
    assert float(x_hat.min()) > 0.0 and float(x_hat.max()) < 1.0, "sigmoid output for [0, 1] pixels"
    chex.assert_shape(h, (5, 8))
    np.testing.assert_allclose(
        np.asarray(back).reshape(5, -1),
        np.asarray(x_hat).reshape(5, -1),
        rtol=1e-5,
        atol=1e-6,
        err_msg="decode(encode(x)) is the forward pass",
    )


def _config(steps, **overrides):
    """The autoencoder_features :tiny settings for ``steps`` Adam steps of the shared loop."""
    return tiny(
        "autoencoder_features",
        **{
            "train.steps": steps,
            "train.batch_size": 32,
            "opt.lr": 1e-2,
            "train.log_every": 10,
            "train.eval_every": steps,
            **overrides,
        },
    )


def _train(problem, config, tmp_path):
    """Trains ``problem`` with ``sweep.train``: (final params, logged training losses)."""
    result = sweep.train(lambda _: problem, config, str(tmp_path))
    losses = [r["loss"] for r in report.read_metrics(str(tmp_path)) if r["split"] == "train"]
    return result.run_state(0).params, losses


@pytest.mark.parametrize("model", MODELS[:2], ids=lambda m: type(m).__name__)
def test_reconstruction_error_decreases(model, digits, tmp_path):
    x, _ = digits
    params = model.init(jax.random.key(0), x[:2])["params"]
    before = float(ae.reconstruction_error(model.apply({"params": params}, x), x))
    c = _config(40, **{"model.noise_level": 0.0})  # a plain auto-encoder: no corruption
    params, _ = _train(
        stacked_ae.stack_problem(c, model, params, np.asarray(x), np.asarray(x), 40), c, tmp_path
    )
    after = float(ae.reconstruction_error(model.apply({"params": params}, x), x))
    assert after < 0.7 * before, f"40 Adam steps should cut the MSE: {before:.4f} -> {after:.4f}"


def test_denoising_noise_only_in_training_and_deterministic(digits):
    x, _ = digits
    dae = ae.AutoEncoder(hidden=(32,), latent_dim=8, noise="gaussian", noise_level=0.5)
    plain = ae.AutoEncoder(hidden=(32,), latent_dim=8)
    params = dae.init(jax.random.key(0), x[:2])["params"]
    clean = plain.apply({"params": params}, x[:4])
    np.testing.assert_array_equal(
        dae.apply({"params": params}, x[:4]), clean, err_msg="train=False must be the clean path"
    )
    rngs = {"noise": jax.random.key(7)}
    a = dae.apply({"params": params}, x[:4], train=True, rngs=rngs)
    b = dae.apply({"params": params}, x[:4], train=True, rngs=rngs)
    np.testing.assert_array_equal(a, b, err_msg="fixed noise key -> identical corruption")
    assert float(jnp.abs(a - clean).max()) > 1e-3, "train=True must corrupt the input"
    c = dae.apply({"params": params}, x[:4], train=True, rngs={"noise": jax.random.key(8)})
    assert float(jnp.abs(a - c).max()) > 1e-4, "another noise key -> another corruption"
    # Masking everything (fraction 1) feeds exactly zeros to the clean network.
    masker = ae.AutoEncoder(hidden=(32,), latent_dim=8, noise="masking", noise_level=1.0)
    np.testing.assert_allclose(
        masker.apply({"params": params}, x[:4], train=True, rngs=rngs),
        plain.apply({"params": params}, jnp.zeros_like(x[:4])),
        rtol=1e-6,
        err_msg="corruption happens before the encoder",
    )
    zero = dae.apply({"params": params}, x[:4], train=True, noise_level=0.0, rngs=rngs)
    np.testing.assert_allclose(zero, clean, rtol=1e-6, err_msg="noise_level=0 override -> clean")


def test_dae_noise_level_vmaps_through_the_model(digits):
    x, _ = digits
    dae = ae.AutoEncoder(hidden=(16,), latent_dim=4, noise="masking")
    params = dae.init(jax.random.key(0), x[:2])["params"]
    rngs = {"noise": jax.random.key(3)}
    levels = jnp.array([0.0, 0.5])
    swept = jax.vmap(
        lambda lv: dae.apply({"params": params}, x[:4], train=True, noise_level=lv, rngs=rngs)
    )(levels)
    for r, lv in enumerate([0.0, 0.5]):
        one = dae.apply({"params": params}, x[:4], train=True, noise_level=lv, rngs=rngs)
        np.testing.assert_allclose(
            swept[r], one, rtol=1e-5, atol=1e-6, err_msg=f"vmapped noise level {lv} vs a single run"
        )


def test_gaussian_noise_statistics_and_traced_level():
    x = jnp.full((200_000,), 0.5)
    levels = jnp.array([0.1, 0.5, 1.0])
    noisy = jax.vmap(ae.gaussian_noise, in_axes=(None, None, 0))(jax.random.key(0), x, levels)
    noise = np.asarray(noisy - x[None, :])
    # The std of 2e5 N(0, s^2) draws has relative standard error 1/sqrt(2n) ~ 0.16%.
    np.testing.assert_allclose(
        noise.std(1),
        [0.1, 0.5, 1.0],
        rtol=0.01,
        err_msg="additive noise std equals the (vmapped) level",
    )
    np.testing.assert_allclose(noise.mean(1), 0.0, atol=0.01)


def test_masking_noise_fraction_and_traced_level():
    x = jnp.ones((100_000,))
    fractions = jnp.array([0.0, 0.25, 0.75])
    masked = jax.vmap(ae.masking_noise, in_axes=(None, None, 0))(jax.random.key(1), x, fractions)
    dropped = np.asarray(masked == 0.0).mean(1)
    # Binomial(1e5, p) fraction: standard error <= 0.0016.
    np.testing.assert_allclose(
        dropped, [0.0, 0.25, 0.75], atol=0.01, err_msg="masking drops the requested fraction"
    )
    kept = np.asarray(masked[1])[np.asarray(masked[1]) != 0]
    np.testing.assert_array_equal(kept, 1.0, err_msg="kept entries are unchanged")


def test_layer_problem_trains_layer_k_on_lower_codes(digits, tmp_path):
    # greedy step k = 1 on the shared loop: only enc_1 / dec_1 are trained, on layer 0's codes
    x, _ = digits
    model = ae.StackedAutoEncoder(input_dim=64, layer_sizes=(16, 8))
    params = model.init(jax.random.key(0), x[:2])["params"]
    codes = np.asarray(model.apply({"params": params}, x, depth=1, method=model.encode))
    c = _config(60, **{"model.noise_level": 0.2})  # masking noise, as the original greedy step
    sub, losses = _train(stacked_ae.layer_problem(c, model, params, 1, codes, codes), c, tmp_path)
    assert set(sub) == {"enc_1", "dec_1"}
    new = {**params, **sub}
    assert not np.allclose(new["enc_1"]["kernel"], params["enc_1"]["kernel"])
    assert losses[-1] < losses[0], "layer-1 reconstruction of layer-0 codes"
    # Layer 1's loss is measured on the codes of layer 0: recompute it independently with NumPy.
    sig = lambda a: 1 / (1 + np.exp(-a))
    p = jax.tree.map(np.asarray, new)
    h0 = sig(np.asarray(x).reshape(128, -1) @ p["enc_0"]["kernel"] + p["enc_0"]["bias"])
    np.testing.assert_allclose(h0, codes, rtol=1e-4, atol=1e-5, err_msg="NumPy sigmoid layer 0")
    h1 = sig(h0 @ p["enc_1"]["kernel"] + p["enc_1"]["bias"])
    r = sig(h1 @ p["dec_1"]["kernel"] + p["dec_1"]["bias"])
    got = model.apply({"params": new}, jnp.asarray(h0), 1, method=model.reconstruct_layer)
    np.testing.assert_allclose(got, r, rtol=1e-4, atol=1e-5, err_msg="NumPy sigmoid stack")


def test_bad_config_errors(digits):
    x, _ = digits
    with pytest.raises(ValueError, match="divisible by 8"):
        ae.ConvAutoEncoder(input_shape=(6, 6, 1), channels=(4, 4, 4)).init(jax.random.key(0), x[:1])
    with pytest.raises(ValueError, match="unknown noise"):
        ae.AutoEncoder(noise="salt").init(jax.random.key(0), x[:1])


def test_registry_builds_every_model(digits):
    x, _ = digits
    for ctor in ae.MODELS.values():
        model = ctor()
        # eval_shape: shapes only, nothing compiled.
        variables = jax.eval_shape(model.init, jax.random.key(0), x[:2])
        chex.assert_shape(jax.eval_shape(model.apply, variables, x[:2]), (2, 8, 8, 1))
