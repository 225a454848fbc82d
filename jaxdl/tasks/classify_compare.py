"""Classification sweeps compared setting by setting: training-error curves and test-error bars.

The runs (and ``curves.png``) are :mod:`jaxdl.tasks.classify`'s; this task adds ``compare.png``:
for every combination of swept non-seed values (a *setting*), the training error against step as
the mean over seeds with a ±1 std band (He et al. 2016, Fig. 1 / Fig. 6 plot training error so),
and the final test error as a bar with its std.
"""

from typing import Any

import ml_collections
import numpy as np

from jaxdl.tasks import classify
from jaxdl.train import report, sweep

TASK_MODEL_ARGUMENTS = classify.TASK_MODEL_ARGUMENTS  # its model is classify's (model_fields)

FIGURE = "compare.png"


def setting_label(overrides: dict[str, Any]) -> str:
    """A short label of a run's swept non-seed values, e.g. ``depth=32 residual=False``."""
    parts = [
        f"{path.rsplit('.', 1)[-1]}={value}" for path, value in overrides.items() if path != "seed"
    ]
    return " ".join(parts) or "all runs"


def run_curves(result: sweep.SweepResult, workdir: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each run's training error against step, ``(steps (T,), error (T,))``, from metrics.jsonl."""
    dirs = result.run_dirs(workdir)
    rows_all = report.read_metrics(workdir) if not dirs else []
    curves = []
    for i in range(len(result.overrides)):
        rows = (
            report.read_metrics(dirs[i]) if dirs else [r for r in rows_all if r.get("run", 0) == i]
        )
        pts = sorted(
            (r["step"], 1.0 - r["accuracy"])
            for r in rows
            if r.get("split") == "train" and "accuracy" in r
        )
        curves.append((np.array([p[0] for p in pts]), np.array([p[1] for p in pts])))
    return curves


def settings(results: dict[str, Any]) -> dict[str, list[int]]:
    """``{setting label: [run indices]}`` in sweep order."""
    groups: dict[str, list[int]] = {}
    for i, o in enumerate(results.get("runs", [{}])):
        label = setting_label({k: v for k, v in o.items() if k != "metrics"})
        groups.setdefault(label, []).append(i)
    return groups


def plot(result: sweep.SweepResult, results: dict[str, Any], workdir: str, title: str) -> str:
    """Draws ``compare.png``: training error (mean ± std band over seeds) and final test error.

    Args:
      result: the sweep that :func:`jaxdl.train.sweep.train` returned.
      results: its ``results.json`` content (the summary's group per setting).
      workdir: where the runs wrote their metrics and the PNG goes.
      title: the figure's title.

    Returns:
      The PNG's path.
    """
    plt = report.pyplot()
    curves = run_curves(result, workdir)
    groups = settings(results)
    fig, (ax_c, ax_b) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    for k, ((label, idx), group) in enumerate(zip(groups.items(), results["summary"])):
        color = f"C{k % 10}"
        length = min(len(curves[i][0]) for i in idx)
        if length:
            steps = curves[idx[0]][0][:length]
            errs = np.stack([curves[i][1][:length] for i in idx])
            mean, std = errs.mean(0), errs.std(0)
            ax_c.plot(steps, mean, color=color, label=f"{label} (n={len(idx)})")
            ax_c.fill_between(steps, mean - std, mean + std, color=color, alpha=0.2)
        accuracy = group["metrics"]["test_accuracy"]  # the std of the error is the accuracy's
        ax_b.bar(k, 1.0 - accuracy["mean"], yerr=accuracy["std"], color=color, capsize=4)
    ax_c.set_xlabel("step")
    ax_c.set_ylabel("training error")
    ax_c.set_title(title)
    ax_c.legend(fontsize=8, loc="upper right")
    ax_b.set_xticks(range(len(groups)))
    ax_b.set_xticklabels(list(groups), rotation=20, ha="right", fontsize=8)
    ax_b.set_ylabel("final test error")
    ax_b.set_title("final test error, mean ± std")
    return report.save_figure(fig, f"{workdir}/{FIGURE}")


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains (or resumes) every run of the sweep, then draws the per-setting comparison."""
    result = sweep.train(classify.make_problem, config, workdir)
    results = report.results_dict(config.experiment, config, result)
    if report.is_writer():
        report.plot_curves(workdir, run_dirs=result.run_dirs(workdir))  # classify's curves.png too
        plot(result, results, workdir, f"{config.experiment}: training error, mean ± std")
    return results
