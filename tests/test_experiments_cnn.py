"""CNN-family experiments end to end (:tiny), the generated data sets, the segmentation metrics."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.tasks import classify, segment
from jaxdl.train import sweep
from tests.configs import load_config, tiny

# ---------------------------------------------------------------- generated data


def test_shapes_loader_splits_one_seeded_draw():
    from jaxdl.data import shapes

    cfg = tiny("fcn_shapes").data
    ds = data_lib.load(cfg)
    x, y = shapes.make_shapes(
        cfg.num_train + cfg.num_test,
        size=cfg.size,
        seed=cfg.split_seed,
        max_shapes=cfg.max_shapes,
        noise=cfg.noise,
    )
    np.testing.assert_array_equal(
        np.concatenate([ds.train["y"], ds.test["y"]]),
        y,
        err_msg="loader must be make_shapes' draw, train first",
    )
    np.testing.assert_array_equal(np.concatenate([ds.train["x"], ds.test["x"]]), x)
    assert ds.train["x"].shape == (cfg.num_train, cfg.size, cfg.size, 3) and ds.num_classes == 4


@pytest.mark.parametrize("label,num_classes", [("combined", 40), ("digit", 10), ("direction", 4)])
def test_moving_digits_labels(label, num_classes):
    cfg = tiny("c3d_video", **{"data.label": label}).data
    ds = data_lib.load(cfg)
    assert ds.num_classes == num_classes and ds.train["x"].shape == (
        cfg.num_train,
        cfg.frames,
        cfg.size,
        cfg.size,
        1,
    )
    y = np.concatenate([ds.train["y"], ds.test["y"]])
    assert 0 <= y.min() and y.max() < num_classes
    if label == "direction":
        # Independent check: the ink's centre of mass moves one pixel per frame in the labelled
        # direction.
        x = np.concatenate([ds.train["x"], ds.test["x"]])[..., 0]
        grid = np.arange(cfg.size)

        def centre(frames):
            mass = frames.sum((-1, -2))
            return np.stack(
                [(frames.sum(-1) * grid).sum(-1) / mass, (frames.sum(-2) * grid).sum(-1) / mass], -1
            )

        shift = np.round(centre(x[:, 1]) - centre(x[:, 0])).astype(int)
        expected = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])[
            y
        ]  # right, left, down, up as (dy, dx)
        np.testing.assert_array_equal(
            shift, expected, err_msg="direction label disagrees with the clip's motion"
        )


def test_generated_loaders_reject_bad_options():
    with pytest.raises(ValueError, match="data.label"):
        data_lib.load(tiny("c3d_video", **{"data.label": "colour"}).data)
    with pytest.raises(ValueError, match="num_train"):
        data_lib.load(tiny("fcn_shapes", **{"data.num_train": 0}).data)


# ---------------------------------------------------------------- segmentation metrics


def test_confusion_and_iou_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, size=(3, 5, 6))
    y_pred = np.where(rng.random(y_true.shape) < 0.6, y_true, rng.integers(0, 4, size=y_true.shape))
    confusion = np.asarray(segment.confusion_matrix(jnp.asarray(y_true), jnp.asarray(y_pred), 4))
    golden = metrics.confusion_matrix(y_true.ravel(), y_pred.ravel(), labels=range(4))
    np.testing.assert_array_equal(
        confusion, golden, err_msg="golden: sklearn.metrics.confusion_matrix"
    )
    np.testing.assert_allclose(
        segment.iou_from_confusion(confusion),
        metrics.jaccard_score(y_true.ravel(), y_pred.ravel(), average=None, labels=range(4)),
        err_msg="golden: sklearn.metrics.jaccard_score (per-class IoU)",
    )
    assert segment.mean_iou(confusion) == pytest.approx(
        metrics.jaccard_score(y_true.ravel(), y_pred.ravel(), average="macro")
    )


def test_mean_iou_skips_absent_classes():
    confusion = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])  # class 2 appears nowhere
    assert segment.mean_iou(confusion) == pytest.approx((3 / 4 + 2 / 3) / 2), (
        "hand-computed: TP / (TP + FP + FN) per present class"
    )


def test_pixel_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)  # NHWC
    masks = rng.integers(0, 5, size=(2, 3, 4))
    ours = np.asarray(segment.pixel_cross_entropy(jnp.asarray(logits), jnp.asarray(masks)))
    golden = torch.nn.functional.cross_entropy(
        torch.from_numpy(logits).permute(0, 3, 1, 2), torch.from_numpy(masks), reduction="none"
    ).numpy()
    np.testing.assert_allclose(
        ours, golden, rtol=1e-5, atol=1e-6, err_msg="golden: torch cross_entropy on NCHW logits"
    )


# ---------------------------------------------------------------- experiments end to end


def test_fcn_shapes_tiny_and_resume(tmp_path):
    config = tiny("fcn_shapes", **{"sweep.seed": (), "sweep.model.skips": ()})  # one run
    first = segment.run(config, str(tmp_path))
    assert os.path.exists(tmp_path / "segmentation.png") and os.path.exists(tmp_path / "curves.png")
    m = first["metrics"]
    confusion = np.asarray(first["confusion"])
    assert confusion.sum() == config.data.num_test * config.data.size**2, (
        "the confusion matrix counts every test pixel once"
    )
    assert m["test_pixel_accuracy"] == pytest.approx(
        np.trace(confusion) / confusion.sum(), rel=1e-6
    ), "trainer's pixel accuracy = confusion trace / total"
    assert (
        m["test_mean_iou"] == pytest.approx(segment.mean_iou(confusion))
        and 0.0 <= m["test_mean_iou"] <= 1.0
    )
    assert set(first["class_iou"]) == {"background", "rectangle", "circle", "triangle"}
    second = segment.run(config, str(tmp_path))  # same workdir: resumes at the final checkpoint
    for k in ("test_loss", "test_pixel_accuracy", "test_mean_iou"):
        assert second["metrics"][k] == first["metrics"][k], f"resumed {k} differs"
    assert second["confusion"] == first["confusion"]


def test_c3d_video_tiny(tmp_path):
    config = tiny("c3d_video")
    result = sweep.train(classify.make_problem, config, str(tmp_path))
    m = result.run_metrics(0)
    # Untrained-ish 40-way classifier: the loss starts near log(40).
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert abs(rows[0]["loss"] - np.log(40)) < 1.0, (
        "first chunk's loss should be near log(40) for 40 classes"
    )
    # The reported test metrics are those of the final model on the whole test split of clips
    # (N, T, H, W, C), recomputed here in NumPy from its logits.
    ds = data_lib.load(config.data)
    model = models.get(
        config.model.name, num_classes=ds.num_classes, **classify.model_kwargs(config)
    )
    variables = {"params": result.fits[0].state.params, **result.fits[0].state.model_state}
    logits = np.asarray(model.apply(variables, ds.test["x"], train=False), np.float64)
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    assert ds.test["x"].ndim == 5 and ds.num_classes == 40
    assert m["test_accuracy"] == pytest.approx(np.mean(logits.argmax(1) == ds.test["y"]), abs=1e-6)
    assert m["test_loss"] == pytest.approx(
        -np.mean(log_probs[np.arange(len(logits)), ds.test["y"]]), rel=1e-4
    )


@pytest.mark.parametrize("name", ["resnet20_fashion", "wrn_fashion"])
def test_residual_experiments_tiny(tmp_path, name):
    results = classify.run(tiny(name), str(tmp_path))
    m = results["metrics"]
    assert (
        np.isfinite(m["train_loss"])
        and np.isfinite(m["test_loss"])
        and 0.0 <= m["test_accuracy"] <= 1.0
    )


def test_resnet20_experiment_builds_the_published_network():
    c = load_config("resnet20_fashion", None)
    model = models.get(c.model.name, num_classes=10, **classify.model_kwargs(c))
    variables = jax.eval_shape(
        lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
    )
    count = models.param_count(variables)
    assert count == 269_722, (
        "He et al. 2016 Table 6: ResNet-20 has 0.27M parameters; 269,722 exactly (option A), "
        "as counted by akamaster/pytorch_resnet_cifar10"
    )


def test_alexnet_ablation_tiny_grid(tmp_path):
    results = classify.run(tiny("alexnet_ablation"), str(tmp_path))
    grid = {(r["data.augment"], r["model.dropout_rate"]) for r in results["runs"]}
    assert grid == {("none", 0.0), ("none", 0.5), ("crop_flip", 0.0), ("crop_flip", 0.5)}
    losses = [r["metrics"]["train_loss"] for r in results["runs"]]
    assert len(set(losses)) == 4, "same seed, four settings: each regularizer must change training"
    assert [g["n"] for g in results["summary"]] == [1, 1, 1, 1], "one group per setting"
    assert all(set(g["metrics"]) >= {"test_accuracy", "test_loss"} for g in results["summary"])
    if os.path.isdir(
        tmp_path / "run_0"
    ):  # a sequential sweep (CPU): its runs' curves plotted together
        assert os.path.getsize(tmp_path / "curves.png") > 0


def test_a_sequential_sweep_of_one_run_plots_its_curves(tmp_path):
    config = tiny("digits_cnn", **{"sweep.seed": (0,), "train.sweep_strategy": "sequential"})
    classify.run(config, str(tmp_path))
    assert os.path.isdir(tmp_path / "run_0") and os.path.getsize(tmp_path / "curves.png") > 0
