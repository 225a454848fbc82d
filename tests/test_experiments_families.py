"""The CNN-families comparison (jaxdl/tasks/families.py) and the small-image knobs it relies on:
GoogLeNet's small stem / module subset / batch norm, the stride-2 stems, DenseNet's gradient."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data as data_lib
from jaxdl import models, tasks
from jaxdl.models import densenet, googlenet, wide_resnet
from jaxdl.tasks import classify, families
from jaxdl.train import sweep
from tests.configs import tiny


def _count(model, shape):
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))
    return models.param_count(variables)


# ---------------------------------------------------------------- models


def _inception_count(cin, channels, bn):
    """Hand count of one inception module (Szegedy et al. 2014, Fig. 2b): conv weights, plus a
    bias per channel without batch norm or a BN scale and offset per channel with it."""
    c1, c3r, c3, c5r, c5, cp = channels
    weights = cin * c1 + cin * c3r + 9 * c3r * c3 + cin * c5r + 25 * c5r * c5 + cin * cp
    per_channel = c1 + c3r + c3 + c5r + c5 + cp
    return weights + (2 if bn else 1) * per_channel


@pytest.mark.parametrize("bn", [False, True])
def test_small_googlenet_count_by_hand(bn):
    width, mods = 0.25, ("4a", "4b", "4c")
    model = googlenet.GoogLeNet(
        num_classes=10, width=width, stem="small", modules=mods, batch_norm=bn, stem_strides=2
    )
    scaled = {m: tuple(max(1, round(n * width)) for n in googlenet.INCEPTION[m]) for m in mods}
    stem = 48
    expected = 9 * 1 * stem + (2 if bn else 1) * stem  # 3x3 conv of the 1-channel image
    cin = stem
    for m in mods:
        expected += _inception_count(cin, scaled[m], bn)
        c1, _, c3, _, c5, cp = scaled[m]
        cin = c1 + c3 + c5 + cp
    expected += cin * 10 + 10  # classifier
    assert _count(model, (1, 28, 28, 1)) == expected, "hand count from Table 1's columns"


def test_small_googlenet_shapes_and_bad_knobs():
    model = googlenet.GoogLeNet(
        num_classes=10,
        width=0.25,
        stem="small",
        modules=("4a", "4b"),
        batch_norm=True,
        stem_strides=2,
    )
    x = jnp.zeros((2, 28, 28, 1))
    variables = model.init(jax.random.key(0), x, train=False)
    assert "batch_stats" in variables
    _, inter = model.apply(variables, x, capture_intermediates=True, mutable=["intermediates"])
    # stride-2 stem: 14x14; the 3x3/2 ceil-mode pool before 4a: 7x7
    assert inter["intermediates"]["inception_4b"]["__call__"][0].shape == (2, 7, 7, 128)
    for kwargs, match in [
        (dict(modules=("4b", "4a")), "subsequence"),
        (dict(modules=("6a",)), "subsequence"),
        (dict(stem="tiny"), "stem"),
        (dict(stem_strides=2), "stem_strides"),
        (dict(aux_logits=True, stem="small", modules=("4a",)), "aux_logits"),
    ]:
        with pytest.raises(ValueError, match=match):
            googlenet.GoogLeNet(**kwargs).init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))


@pytest.mark.parametrize(
    "model",
    [
        wide_resnet.WideResNet(depth=10, widen_factor=1, width=4, num_classes=3),
        densenet.DenseNetBC(depth=10, growth_rate=2, num_classes=3),
    ],
)
def test_stride_two_stem_keeps_parameters_and_halves_the_maps(model):
    x = jnp.zeros((1, 16, 16, 1))
    strided = model.clone(stem_strides=2)
    assert _count(model, x.shape) == _count(strided, x.shape), "a stride changes no weight"
    first = "conv1" if isinstance(model, wide_resnet.WideResNet) else "conv0"

    def stem_shape(m):
        v = m.init(jax.random.key(0), x)
        _, inter = m.apply(v, x, capture_intermediates=True, mutable=["intermediates"])
        return inter["intermediates"][first]["__call__"][0].shape

    assert stem_shape(model)[1:3] == (16, 16) and stem_shape(strided)[1:3] == (8, 8)


def test_densenet_trains_under_jit():
    # its transitions' average pool must be differentiable inside jit (a traced reduce_window
    # init value is not); the gradient of the mean logit is finite and non-zero
    model = densenet.DenseNetBC(depth=10, growth_rate=2, num_classes=3)
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1))
    variables = model.init(jax.random.key(0), x)

    def loss(params):
        out, _ = model.apply(
            {**variables, "params": params}, x, train=True, mutable=["batch_stats"]
        )
        return jnp.mean(out**2)

    grads = jax.jit(jax.grad(loss))(variables["params"])
    norms = [float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads)]
    assert all(np.isfinite(norms)) and sum(norms) > 0


# ---------------------------------------------------------------- the experiment


def test_cnn_families_tiny_end_to_end_and_resume(tmp_path):
    config = tiny("cnn_families")
    results = tasks.run(config, str(tmp_path))
    labels = families.labels(config)  # the baseline first, then the families (sorted keys)
    seeds = list(config.sweep.seed)
    assert labels[0] == "cifar_resnet"
    assert sorted(labels[1:]) == ["densenet_bc_22", "googlenet_small", "resnet8", "wrn_10_2"]
    assert [(r["model"], r["seed"]) for r in results["runs"]] == [
        (n, s) for n in labels for s in seeds
    ]
    ds = data_lib.load(config.data)
    for group in results["summary"]:
        label = group["hparams"]["model"]
        cfg = families.family_config(config, label)
        model = models.get(cfg.model.name, num_classes=ds.num_classes, **classify.model_kwargs(cfg))
        params = _count(model, (1,) + ds.input_shape)
        runs = [r["metrics"] for r in results["runs"] if r["model"] == label]
        assert group["n"] == len(seeds) and all(m["params"] == params for m in runs)
        acc = [m["test_accuracy"] for m in runs]
        assert group["metrics"]["test_accuracy"]["mean"] == pytest.approx(np.mean(acc))
        assert group["metrics"]["test_accuracy"]["std"] == pytest.approx(np.std(acc))
    assert os.path.getsize(tmp_path / families.FIGURE) > 0
    assert "googlenet_small" in open(tmp_path / "table.txt").read()

    # resuming the finished runs restores each seed's final state; its accuracy on the test set,
    # recomputed here from the logits, is the reported one
    cfg = families.family_config(config, "googlenet_small")
    resumed = sweep.train(classify.make_problem, cfg, str(tmp_path / "googlenet_small"))
    model = models.get(cfg.model.name, num_classes=ds.num_classes, **classify.model_kwargs(cfg))
    reported = [r["metrics"] for r in results["runs"] if r["model"] == "googlenet_small"]
    for i in range(len(seeds)):
        state = resumed.run_state(i)
        logits = model.apply(
            {"params": state.params, **state.model_state}, ds.test["x"], train=False
        )
        accuracy = float(np.mean(np.asarray(logits).argmax(1) == ds.test["y"]))
        assert accuracy == pytest.approx(reported[i]["test_accuracy"], abs=1e-6)
        assert resumed.run_metrics(i)["test_accuracy"] == reported[i]["test_accuracy"]


def test_cnn_families_rejects_bad_configs():
    config = tiny("cnn_families")
    config.families.densenet_bc_22.name = "densenet_xyz"
    with pytest.raises(ValueError, match="families.densenet_bc_22 needs name"):
        families.check_config(config)
    config = tiny("cnn_families")
    config.sweep.opt.lr = (0.1, 0.01)
    with pytest.raises(ValueError, match="sweeps only seeds"):
        families.check_config(config)


@pytest.mark.parametrize("name", ["resnet20_fashion", "wrn_fashion"])
def test_residual_experiments_run_three_seeds(tmp_path, name):
    config = tiny(name)
    assert len(config.sweep.seed) >= 3
    results = classify.run(config, str(tmp_path))
    acc = [r["metrics"]["test_accuracy"] for r in results["runs"]]
    assert [r["seed"] for r in results["runs"]] == list(config.sweep.seed)
    (group,) = results["summary"]  # seeds only: one group
    assert group["hparams"] == {} and group["n"] == len(acc)
    assert group["metrics"]["test_accuracy"]["mean"] == pytest.approx(np.mean(acc))
    assert group["metrics"]["test_accuracy"]["std"] == pytest.approx(np.std(acc))
    assert len({r["metrics"]["train_loss"] for r in results["runs"]}) == len(acc), "seeds differ"
