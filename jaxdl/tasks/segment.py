"""Semantic segmentation: a per-pixel classifier (FCN), per-pixel cross-entropy, mean IoU."""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.data import shapes
from jaxdl.models import fcn
from jaxdl.tasks import classify
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import Problem

TASK_MODEL_ARGUMENTS = classify.TASK_MODEL_ARGUMENTS  # its model is classify's (model_fields)


def confusion_matrix(y_true: jax.Array, y_pred: jax.Array, num_classes: int) -> jax.Array:
    """Counts of (true class, predicted class) pairs over every pixel.

    Args:
      y_true: int labels, any shape.
      y_pred: int predictions, same shape.
      num_classes: C.

    Returns:
      int32 (C, C); entry [i, j] counts pixels of class i predicted as j.
    """
    flat = y_true.reshape(-1) * num_classes + y_pred.reshape(-1)
    return (
        jnp.bincount(flat, length=num_classes * num_classes)
        .reshape(num_classes, num_classes)
        .astype(jnp.int32)
    )


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class intersection over union, TP / (TP + FP + FN) (Long et al. 2015, Sec. 5).

    Args:
      confusion: (C, C) counts, rows true class, columns predicted class.

    Returns:
      float64 (C,); NaN for a class absent from both truth and prediction.
    """
    confusion = np.asarray(confusion, np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(confusion: np.ndarray) -> float:
    """Mean over classes of the IoU, skipping classes that appear nowhere (NaN)."""
    return float(np.nanmean(iou_from_confusion(confusion)))


def pixel_cross_entropy(logits: jax.Array, masks: jax.Array) -> jax.Array:
    """Per-pixel softmax cross-entropy: logits (N, H, W, C), masks int (N, H, W) -> (N, H, W)."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, masks)


def run_data_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config.data`` of one run: with ``data.per_seed`` it draws ``data.split_seed + seed``.

    Synthetic data sets vary their draw with the run, so a spread over seeds covers the data as
    well as the initialisation.
    """
    if not config.data.get("per_seed", False):
        return config.data
    cfg = ml_collections.ConfigDict(config.data.to_dict())
    cfg.split_seed = int(cfg.get("split_seed", 0)) + int(config.seed)
    return cfg


def run_data(config: ml_collections.ConfigDict) -> data_lib.Dataset:
    """The data set of one run (see :func:`run_data_config`)."""
    return data_lib.load(run_data_config(config))


def sweep_runs(config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
    """The sweep's runs; with ``data.per_seed`` each names ``data.per_seed`` (an untraced field), so
    that every run is built from its own config (its own draw), never vmapped over one draw."""
    runs = sweep.expand(config)
    if not config.data.get("per_seed", False):
        return runs
    return [{**o, "data.per_seed": True} for o in runs]


def build(config: ml_collections.ConfigDict) -> tuple[Problem, Any, int]:
    """(problem, model, number of classes): data (images -> masks), a per-pixel model, per-pixel
    cross-entropy and the optimizer."""
    ds = run_data(config)
    if ds.train["y"].shape != ds.train["x"].shape[:3]:
        raise ValueError(
            "segmentation needs masks (n, H, W) for images (n, H, W, C); "
            f"data {config.data.name!r} gives y {ds.train['y'].shape}"
        )
    model = models.get(
        config.model.name, num_classes=ds.num_classes, **classify.model_kwargs(config)
    )
    example = jnp.zeros((1,) + ds.input_shape, jnp.float32)

    def init(key, hparams):
        k_params, k_dropout = jax.random.split(key)
        return model.init({"params": k_params, "dropout": k_dropout}, example, train=False)

    def loss(params, model_state, batch, rng, hparams):
        logits, model_state = classify.apply_model(
            model, params, model_state, batch["x"], True, rng
        )
        ce = pixel_cross_entropy(logits, batch["y"]).mean()
        accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
        return ce, ({"pixel_accuracy": accuracy}, model_state)

    def evaluate(params, model_state, batch, hparams):
        logits, _ = classify.apply_model(model, params, model_state, batch["x"], False)
        ce = pixel_cross_entropy(logits, batch["y"])
        correct = jnp.argmax(logits, -1) == batch["y"]
        return {
            "loss": ce.sum(),
            "pixel_accuracy": correct.sum(),
            "count": jnp.asarray(batch["y"].size),
        }

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(ds.train["y"])))
    problem = Problem(
        init=init, loss=loss, evaluate=evaluate, tx=tx, train_data=ds.train, test_data=ds.test
    )
    return problem, model, ds.num_classes


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """The segmentation problem of ``config`` (see :func:`build`)."""
    return build(config)[0]


def confusion_on(
    model, state, test_data: dict[str, np.ndarray], num_classes: int, batch_size: int
) -> np.ndarray:
    """(C, C) confusion matrix of a trained state, summed over test batches of ``batch_size``."""
    variables = {"params": state.params, **state.model_state}

    @jax.jit
    def batch_confusion(variables, x, y):
        return confusion_matrix(
            y, jnp.argmax(model.apply(variables, x, train=False), -1), num_classes
        )

    total = np.zeros(
        (num_classes, num_classes), np.int64
    )  # int64: pixel counts of big test sets overflow int32 sums
    for lo in range(0, len(test_data["y"]), batch_size):
        total += np.asarray(
            batch_confusion(
                variables,
                test_data["x"][lo : lo + batch_size],
                test_data["y"][lo : lo + batch_size],
            )
        )
    return total


def predict(model, state, x: np.ndarray) -> np.ndarray:
    """Predicted masks (n, H, W) of a trained state for images ``x`` (n, H, W, C)."""
    logits = model.apply({"params": state.params, **state.model_state}, x, train=False)
    return np.asarray(jnp.argmax(logits, -1))


def plot_comparison(
    x: np.ndarray,
    y: np.ndarray,
    predictions: dict[str, np.ndarray],
    scores: dict[str, list[float]],
    num_classes: int,
    path: str,
) -> str:
    """Example segmentations side by side and the mean IoU of each setting (Long et al. Fig. 4).

    Args:
      x: test images (k, H, W, C).
      y: their true masks (k, H, W).
      predictions: setting label -> predicted masks (k, H, W), in plotting order.
      scores: setting label -> test mean IoU of each seed.
      num_classes: C (one fixed tab10 colour per class).
      path: the PNG to write.

    Returns:
      ``path``.
    """
    plt = report.pyplot()
    import matplotlib.colors  # pylint: disable=g-import-not-at-top
    import matplotlib.patches  # pylint: disable=g-import-not-at-top

    colours = matplotlib.colors.ListedColormap(plt.cm.tab10.colors[:num_classes])
    mask_style = {
        "cmap": colours,
        "vmin": -0.5,
        "vmax": num_classes - 0.5,
        "interpolation": "nearest",
    }
    columns = ["image", "truth", *predictions]
    fig = plt.figure(figsize=(1.5 * len(columns) + 3.2, 1.5 * len(x) + 0.8))
    grid = fig.add_gridspec(len(x), len(columns) + 2)
    for row in range(len(x)):
        panels = [y[row], *(p[row] for p in predictions.values())]
        ax = fig.add_subplot(grid[row, 0])
        grey = x.shape[-1] != 3
        ax.imshow(
            x[row, ..., 0] if grey else np.clip(x[row], 0, 1),
            cmap="gray" if grey else None,
            interpolation="nearest",
        )
        axes = [ax] + [fig.add_subplot(grid[row, col]) for col in range(1, len(columns))]
        for ax, mask in zip(axes[1:], panels):
            ax.imshow(mask, **mask_style)
        for ax, title in zip(axes, columns):
            ax.set_axis_off()
            if row == 0:
                ax.set_title(title, fontsize=9)
    bars = fig.add_subplot(grid[:, len(columns) :])
    labels = list(scores)
    means = [np.mean(scores[k]) for k in labels]
    stds = [np.std(scores[k]) for k in labels]
    bars.bar(range(len(labels)), means, yerr=stds, capsize=4, color="C0")
    for i, values in enumerate(scores.values()):
        bars.plot([i] * len(values), values, "k.", ms=4)
    bars.set_xticks(range(len(labels)), labels, fontsize=8)
    bars.set_ylabel(f"test mean IoU (mean ± std, {len(scores[labels[0]])} seeds)")
    bars.set_ylim(0, 1)
    names = (
        shapes.CLASSES
        if num_classes == len(shapes.CLASSES)
        else [f"class {c}" for c in range(num_classes)]
    )
    handles = [
        matplotlib.patches.Patch(color=colours(c), label=names[c]) for c in range(num_classes)
    ]
    fig.legend(handles=handles, loc="lower center", ncol=min(num_classes, 5), fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def setting_label(config: ml_collections.ConfigDict, override: dict[str, Any]) -> str:
    """A run's setting (its swept values but the seed): ``FCN-8s`` for an FCN's skips, else a=v."""
    setting = {k: v for k, v in override.items() if k not in ("seed", "data.per_seed")}
    if set(setting) == {"model.skips"} and "stages" in config.model:
        return f"FCN-{fcn.output_stride(config.model.stages, int(setting['model.skips']))}s"
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "prediction"


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains (or resumes) the segmenter or its sweep; adds each run's test mean IoU; plots
    example segmentations of every setting beside their mean IoU (``segmentation.png``)."""
    result = sweep.train(make_problem, config, workdir, sweep_runs(config) or None)
    eval_batch = int(config.train.get("eval_batch_size", 256))
    per_run, predictions, scores = [], {}, {}
    examples = None  # the first run's first test images, shown for every setting
    overrides = result.overrides
    for i, override in enumerate(overrides):
        run_cfg = sweep.run_config(config, override)  # a run may change the model (static fields)
        ds = run_data(run_cfg)
        num_classes = ds.num_classes
        model = models.get(
            run_cfg.model.name, num_classes=num_classes, **classify.model_kwargs(run_cfg)
        )
        confusion = confusion_on(model, result.run_state(i), ds.test, num_classes, eval_batch)
        per_run.append(
            {
                "test_mean_iou": mean_iou(confusion),
                "test_class_iou": [float(v) for v in iou_from_confusion(confusion)],
                "test_confusion": confusion.tolist(),
            }
        )
        label = setting_label(run_cfg, override)
        scores.setdefault(label, []).append(per_run[-1]["test_mean_iou"])
        if examples is None:
            examples = {k: v[:3] for k, v in ds.test.items()}
        if label not in predictions:  # the setting's first run
            predictions[label] = predict(model, result.run_state(i), examples["x"])
    if report.is_writer():
        report.plot_curves(workdir, run_dirs=result.run_dirs(workdir))
        plot_comparison(
            examples["x"],
            examples["y"],
            predictions,
            scores,
            num_classes,
            os.path.join(workdir, "segmentation.png"),
        )
    out = report.results_dict(
        config.experiment,
        config,
        result,
        run_metrics=[{"test_mean_iou": r["test_mean_iou"]} for r in per_run],
    )
    if "runs" not in out:
        out["class_iou"] = dict(
            zip(_class_names(config, num_classes), per_run[0]["test_class_iou"])
        )
        out["confusion"] = per_run[0]["test_confusion"]
    return out


def _class_names(config: ml_collections.ConfigDict, num_classes: int) -> list[str]:
    if config.data.name == "shapes":
        return list(shapes.CLASSES)
    return [str(c) for c in range(num_classes)]
