"""Video classification: C3D against single-frame 2-D CNNs, each seed on its own generated clips."""

import os
from typing import Any

import ml_collections
import numpy as np

from jaxdl.data import video
from jaxdl.tasks import classify, segment
from jaxdl.train import report, sweep
from jaxdl.train.problem import Problem

TASK_MODEL_ARGUMENTS = classify.TASK_MODEL_ARGUMENTS  # its model is classify's (model_fields)

# How the figure names the registered video models.
LABELS = {
    "c3d": "C3D (3-D convs)",
    "frame_cnn": "2-D, middle frame",
    "frame_mean_cnn": "2-D, mean frame",
}


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """The classification problem of ``config`` on its run's draw of the data
    (:func:`jaxdl.tasks.segment.run_data_config`)."""
    cfg = ml_collections.ConfigDict(config.to_dict())
    cfg.data = segment.run_data_config(config)
    return classify.make_problem(cfg)


def plot_accuracy(
    clip: np.ndarray, caption: str, scores: dict[str, list[float]], chance: float, path: str
) -> str:
    """An example clip's frames above the test accuracy of each model (mean ± std over seeds).

    Args:
      clip: one video (D, H, W, 1).
      caption: what the clip is (shown above its frames).
      scores: setting label -> test accuracy of each seed, in plotting order.
      chance: accuracy of guessing the most frequent class (a dashed line).
      path: the PNG to write.

    Returns:
      ``path``.
    """
    plt = report.pyplot()
    frames = len(clip)
    fig = plt.figure(figsize=(max(6.0, 0.8 * frames), 4.6))
    grid = fig.add_gridspec(3, frames)
    fig.suptitle(caption, fontsize=9)
    for t in range(frames):
        ax = fig.add_subplot(grid[0, t])
        ax.imshow(clip[t, ..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"t={t}", fontsize=8)
    bars = fig.add_subplot(grid[1:, :])
    labels = list(scores)
    means = [np.mean(v) for v in scores.values()]
    stds = [np.std(v) for v in scores.values()]
    bars.barh(range(len(labels)), means, xerr=stds, capsize=4, color="C0")
    for i, values in enumerate(scores.values()):
        bars.plot(values, [i] * len(values), "k.", ms=5)
    bars.axvline(chance, color="C3", ls="--", label="majority class")
    bars.set_yticks(range(len(labels)), labels, fontsize=9)
    bars.set_xlim(0, 1)
    bars.set_xlabel(f"test accuracy (mean ± std, {len(scores[labels[0]])} seeds)")
    bars.legend(loc="upper right", fontsize=8)  # the bars of the 2-D models end below 0.6
    return report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every model x seed of the sweep; plots test accuracy per model (``accuracy.png``)."""
    result = sweep.train(make_problem, config, workdir, segment.sweep_runs(config) or None)
    scores: dict[str, list[float]] = {}
    for i, override in enumerate(result.overrides):
        name = override.get("model.name", config.model.name)
        scores.setdefault(LABELS.get(name, name), []).append(result.run_metrics(i)["test_accuracy"])
    if report.is_writer():
        report.plot_curves(workdir, run_dirs=result.run_dirs(workdir))
        ds = segment.run_data(sweep.run_config(config, result.overrides[0]))
        counts = np.bincount(ds.test["y"])
        caption = f"a test clip of class {_class_name(config, int(ds.test['y'][0]))}"
        plot_accuracy(
            ds.test["x"][0],
            caption,
            scores,
            counts.max() / counts.sum(),
            os.path.join(workdir, "accuracy.png"),
        )
    return report.results_dict(config.experiment, config, result)


def _class_name(config: ml_collections.ConfigDict, y: int) -> str:
    label = config.data.get("label") if config.data.name == "moving_digits" else None
    if label == "direction":
        return f"{y} ({video.DIRECTIONS[y]})"
    if label == "combined":  # digit * 4 + direction (video.combined_labels)
        return f"{y} (digit {y // 4}, {video.DIRECTIONS[y % 4]})"
    return str(y)
