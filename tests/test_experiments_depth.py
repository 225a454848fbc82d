"""Depth experiments (degradation, VGG configurations, AlexNet ablation) and the pieces they add:
plain CIFAR nets, a strided stem, ceil-mode VGG pools, a small-image AlexNet, a differentiable LRN
and ``data.train_size``."""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.models import resnet
from jaxdl.nn import normalization
from jaxdl.tasks import classify_compare
from jaxdl.train import report
from tests.configs import tiny


def _init(model, shape):
    return model.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, jnp.ones(shape))


# ---------------------------------------------------------------- models


def test_plain_block_drops_only_the_shortcut():
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 4))
    block = resnet.BasicBlock(4, residual=True)
    variables = _init(block, x.shape)
    out, inter = block.apply(variables, x, capture_intermediates=True)
    y = inter["intermediates"]["BatchNorm_1"]["__call__"][0]  # the second BN's output: F(x)
    plain = resnet.BasicBlock(4, residual=False).apply(variables, x)
    np.testing.assert_allclose(
        out, jax.nn.relu(y + x), rtol=1e-6, err_msg="He 2016 eq. (1): relu(F(x) + x)"
    )
    np.testing.assert_allclose(plain, jax.nn.relu(y), rtol=1e-6, err_msg="plain block: relu(F(x))")


def test_plain_and_residual_nets_have_the_same_parameters():
    shape = (1, 28, 28, 1)
    kw = dict(depth=32, width=8, stem_strides=2)
    plain = _init(models.get("cifar_resnet", residual=False, **kw), shape)
    res = _init(models.get("cifar_resnet", residual=True, **kw), shape)
    assert jax.tree.structure(plain) == jax.tree.structure(res), "option-A shortcuts: no params"
    assert models.param_count(plain) == models.param_count(res)
    resnet20 = jax.eval_shape(lambda: _init(models.get("resnet20"), (1, 32, 32, 3)))
    assert models.param_count(resnet20) == 269_722, "ResNet-20 unchanged"


def test_stem_strides_halves_the_feature_maps():
    model = resnet.CifarResNet(depth=8, width=4, stem_strides=2)
    variables = _init(model, (1, 28, 28, 1))
    _, inter = model.apply(variables, jnp.ones((2, 28, 28, 1)), capture_intermediates=True)
    assert inter["intermediates"]["conv1"]["__call__"][0].shape == (2, 14, 14, 4)
    assert inter["intermediates"]["layer3_0"]["__call__"][0].shape == (2, 4, 4, 16)
    with pytest.raises(ValueError, match="stem_strides"):
        _init(resnet.CifarResNet(depth=8, stem_strides=0), (1, 8, 8, 1))


def test_vgg_ceil_mode_reaches_1x1_on_28x28():
    model = models.get(
        "vgg", config="D", num_classes=10, width=1 / 8, hidden=16, pool_size=1, ceil_mode=True
    )
    variables = _init(model, (1, 28, 28, 1))
    assert variables["params"]["Dense_0"]["kernel"].shape == (64, 16), "512/8 channels at 1x1"
    assert model.apply(variables, jnp.ones((3, 28, 28, 1))).shape == (3, 10)


def test_small_alexnet_shapes_and_lrn():
    kw = dict(num_classes=10, width=1 / 8, hidden=16, stem=(5, 1, 2), pool_size=2)
    variables = _init(models.get("alexnet", **kw), (1, 28, 28, 1))
    # 28 -> conv 28 -> pool 13 -> 13 -> pool 6 -> 6 -> pool 2: 32 channels of 2x2 into the FCs.
    assert variables["params"]["Dense_0"]["kernel"].shape == (32 * 2 * 2, 16)
    assert variables["params"]["Conv_0"]["kernel"].shape == (5, 5, 1, 8)
    x = jax.random.normal(jax.random.key(2), (2, 28, 28, 1)) * 10
    plain = models.get("alexnet", **kw).apply(variables, x)
    with_lrn = models.get("alexnet", lrn=True, **kw).apply(variables, x)
    assert not np.allclose(plain, with_lrn), "LRN must act"
    with pytest.raises(ValueError, match="stem"):
        _init(models.get("alexnet", stem=(5, 1)), (1, 28, 28, 1))


def test_lrn_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).normal(size=(2, 3, 3, 8)).astype(np.float32) * 5
    lrn_sum = lambda v: normalization.local_response_norm(v, 5, 5e-4, 0.75, 2.0).sum()  # noqa: E731
    g = jax.jit(jax.grad(lrn_sum))(a)
    t = torch.tensor(a.transpose(0, 3, 1, 2), requires_grad=True)
    torch.nn.functional.local_response_norm(t, 5, alpha=5e-4, beta=0.75, k=2.0).sum().backward()
    np.testing.assert_allclose(
        g,
        t.grad.numpy().transpose(0, 2, 3, 1),
        atol=1e-6,
        err_msg="reverse mode through the window sum, vs torch autograd",
    )


def test_data_train_size_is_a_fixed_draw():
    cfg = ml_collections.ConfigDict(
        {"name": "digits", "test_fraction": 0.2, "split_seed": 0, "train_size": 100}
    )
    full = data_lib.load(ml_collections.ConfigDict({**cfg.to_dict(), "train_size": 0}))
    a, b = data_lib.load(cfg), data_lib.load(cfg)
    assert a.train["x"].shape[0] == 100 and len(np.unique(a.train["y"])) == 10
    np.testing.assert_array_equal(a.train["x"], b.train["x"])
    np.testing.assert_array_equal(a.test["y"], full.test["y"])
    rows = {r.tobytes() for r in full.train["x"]}
    assert all(r.tobytes() in rows for r in a.train["x"]), "a subset of the training split"
    with pytest.raises(ValueError, match="train_size"):
        data_lib.load(ml_collections.ConfigDict({**cfg.to_dict(), "train_size": 10**6}))


# ---------------------------------------------------------------- experiments, :tiny end to end


def _check_compare(results, workdir, settings):
    """The figure exists, its curves are metrics.jsonl's, and each setting has its seeds."""
    assert os.path.getsize(os.path.join(workdir, classify_compare.FIGURE)) > 0
    groups = classify_compare.settings(results)
    assert list(groups) == settings
    summary = [classify_compare.setting_label(g["hparams"]) for g in results["summary"]]
    assert summary == settings, "compare.png's bars are the summary's groups, in this order"
    dirs = [os.path.join(workdir, f"run_{i}") for i in range(len(results["runs"]))]
    for i, run in enumerate(results["runs"]):
        rows = [r for r in report.read_metrics(dirs[i]) if r["split"] == "train"]
        assert rows, f"run {i} logged no training chunks"
        assert rows[-1]["accuracy"] == pytest.approx(run["metrics"]["train_accuracy"], abs=1e-6)
        assert 0.0 <= run["metrics"]["test_accuracy"] <= 1.0
        assert np.isfinite(run["metrics"]["train_loss"])


def test_degradation_tiny(tmp_path):
    results = classify_compare.run(tiny("degradation"), str(tmp_path))
    _check_compare(
        results,
        str(tmp_path),
        [
            "depth=8 residual=False",
            "depth=8 residual=True",
            "depth=14 residual=False",
            "depth=14 residual=True",
        ],
    )
    losses = {r["metrics"]["train_loss"] for r in results["runs"]}
    assert len(losses) == 4, "plain and residual, two depths: four different trainings"


def test_vgg_tiny(tmp_path):
    results = classify_compare.run(tiny("vgg_fashion"), str(tmp_path))
    _check_compare(results, str(tmp_path), ["config=A", "config=A-LRN"])


def test_alexnet_ablation_tiny(tmp_path):
    results = classify_compare.run(tiny("alexnet_ablation"), str(tmp_path))
    _check_compare(
        results,
        str(tmp_path),
        [f"augment={a} dropout_rate={d}" for a in ("none", "crop_flip") for d in (0.0, 0.5)],
    )
