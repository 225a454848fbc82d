"""Semantic segmentation: a per-pixel classifier (FCN) trained with per-pixel cross-entropy, scored by mean IoU."""

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
from jaxdl.tasks import classify
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import Problem


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
    return jnp.bincount(flat, length=num_classes * num_classes).reshape(num_classes, num_classes).astype(jnp.int32)


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


def build(config: ml_collections.ConfigDict) -> tuple[Problem, Any, int]:
    """(problem, model, number of classes): data (images -> masks), a per-pixel model, per-pixel
    cross-entropy and the optimizer."""
    ds = data_lib.load(config.data)
    if ds.train["y"].shape != ds.train["x"].shape[:3]:
        raise ValueError(f"segmentation needs masks (n, H, W) for images (n, H, W, C); data {config.data.name!r} gives y {ds.train['y'].shape}")
    model = models.get(config.model.name, num_classes=ds.num_classes, **classify.model_kwargs(config))
    example = jnp.zeros((1,) + ds.input_shape, jnp.float32)

    def init(key, hparams):
        k_params, k_dropout = jax.random.split(key)
        return model.init({"params": k_params, "dropout": k_dropout}, example, train=False)

    def loss(params, model_state, batch, rng, hparams):
        logits, model_state = classify.apply_model(model, params, model_state, batch["x"], True, rng)
        ce = pixel_cross_entropy(logits, batch["y"]).mean()
        accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
        return ce, ({"pixel_accuracy": accuracy}, model_state)

    def evaluate(params, model_state, batch, hparams):
        logits, _ = classify.apply_model(model, params, model_state, batch["x"], False)
        ce = pixel_cross_entropy(logits, batch["y"])
        correct = jnp.argmax(logits, -1) == batch["y"]
        return {"loss": ce.sum(), "pixel_accuracy": correct.sum(), "count": jnp.asarray(batch["y"].size)}

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(ds.train["y"])))
    problem = Problem(init=init, loss=loss, evaluate=evaluate, tx=tx, train_data=ds.train, test_data=ds.test)
    return problem, model, ds.num_classes


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """The segmentation problem of ``config`` (see :func:`build`)."""
    return build(config)[0]

def confusion_on(model, state, test_data: dict[str, np.ndarray], num_classes: int, batch_size: int) -> np.ndarray:
    """The (C, C) confusion matrix of a trained state, summed over test batches of ``batch_size``."""
    variables = {"params": state.params, **state.model_state}

    @jax.jit
    def batch_confusion(variables, x, y):
        return confusion_matrix(y, jnp.argmax(model.apply(variables, x, train=False), -1), num_classes)

    total = np.zeros((num_classes, num_classes), np.int64)  # int64: pixel counts of big test sets overflow int32 sums
    for lo in range(0, len(test_data["y"]), batch_size):
        total += np.asarray(batch_confusion(variables, test_data["x"][lo:lo + batch_size], test_data["y"][lo:lo + batch_size]))
    return total


def plot_examples(model, state, test_data: dict[str, np.ndarray], num_classes: int, path: str, count: int = 4) -> str:
    """Saves a PNG with rows of image / true mask / predicted mask for the first ``count`` test images."""
    plt = report.pyplot()
    import matplotlib.colors  # pylint: disable=g-import-not-at-top
    import matplotlib.patches  # pylint: disable=g-import-not-at-top

    x, y = test_data["x"][:count], test_data["y"][:count]
    pred = np.asarray(jnp.argmax(model.apply({"params": state.params, **state.model_state}, x, train=False), -1))
    # One fixed colour per class (tab10), so masks of different images compare at a glance.
    classes = matplotlib.colors.ListedColormap(plt.cm.tab10.colors[:num_classes])
    mask_style = {"cmap": classes, "vmin": -0.5, "vmax": num_classes - 0.5, "interpolation": "nearest"}
    fig, axes = plt.subplots(len(x), 3, figsize=(6, 2 * len(x)), squeeze=False)
    for row, (image, true, guess) in enumerate(zip(x, y, pred)):
        grey = image.shape[-1] != 3
        axes[row, 0].imshow(image[..., 0] if grey else np.clip(image, 0, 1), cmap="gray" if grey else None,
                            interpolation="nearest")
        axes[row, 1].imshow(true, **mask_style)
        axes[row, 2].imshow(guess, **mask_style)
        for ax, title in zip(axes[row], ("image", "true mask", "predicted mask")):
            ax.set_axis_off()
            if row == 0:
                ax.set_title(title)
    names = shapes.CLASSES if num_classes == len(shapes.CLASSES) else [f"class {c}" for c in range(num_classes)]
    handles = [matplotlib.patches.Patch(color=classes(c), label=names[c]) for c in range(num_classes)]
    fig.legend(handles=handles, loc="lower center", ncol=min(num_classes, 5), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains (or resumes) the segmenter; adds mean IoU from the test confusion matrix; plots examples."""
    built = []

    def make(cfg):
        built.append(build(cfg))
        return built[-1][0]

    result = sweep.train(make, config, workdir)
    problem, model, num_classes = built[0]  # every run shares the data
    eval_batch = int(config.train.get("eval_batch_size", 256))
    per_run = []
    for i in range(len(result.overrides)):
        run_cfg = sweep.run_config(config, result.overrides[i])  # a run may change the model (static fields)
        run_model = models.get(run_cfg.model.name, num_classes=num_classes, **classify.model_kwargs(run_cfg))
        confusion = confusion_on(run_model, result.run_state(i), problem.test_data, num_classes, eval_batch)
        per_run.append({"test_mean_iou": mean_iou(confusion), "test_class_iou": [float(v) for v in iou_from_confusion(confusion)], "test_confusion": confusion.tolist()})
    if jax.process_index() == 0:
        report.plot_curves(workdir, run_dirs=result.run_dirs(workdir))
        plot_examples(model, result.run_state(0), problem.test_data, num_classes, os.path.join(workdir, "segmentation.png"))
    out = report.results_dict(config.experiment, config, result,
                              run_metrics=[{"test_mean_iou": r["test_mean_iou"]} for r in per_run])
    if "runs" not in out:
        out["class_iou"] = dict(zip(_class_names(config, num_classes), per_run[0]["test_class_iou"]))
        out["confusion"] = per_run[0]["test_confusion"]
    return out


def _class_names(config: ml_collections.ConfigDict, num_classes: int) -> list[str]:
    if config.data.name == "shapes":
        from jaxdl.data import shapes

        return list(shapes.CLASSES)
    return [str(c) for c in range(num_classes)]
