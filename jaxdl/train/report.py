"""Results of an experiment: ``results.json``, the printed table, and training-curve plots."""

import json
import math
import numbers
import os
from typing import Any, Sequence

from absl import logging
import jax
import ml_collections
import numpy as np

from jaxdl.train.metrics import read_metrics  # re-exported: tasks read their curves here
from jaxdl.train.sweep import RUNS_FILE, SweepResult

TABLE_FILE = "table.txt"  # a task's own comparison table, where it writes one
MAX_RUN_COLUMNS = 8  # metrics per run that the printed per-run table shows at most


def results_dict(
    experiment: str,
    config: ml_collections.ConfigDict,
    sweep: SweepResult,
    extra: dict[str, Any] | None = None,
    run_metrics: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """The ``results.json`` content (docs/design.md contract).

    A single run gives ``{"experiment", "config", "metrics"}``; a sweep adds ``"runs"`` (each
    run's swept values and metrics) and ``"summary"`` (mean and std of every metric), and its
    ``"metrics"`` are the means over runs.

    Args:
      experiment: the experiment's name.
      config: its config.
      sweep: what :func:`jaxdl.train.sweep.train` returned.
      extra: experiment-level values added to ``"metrics"`` as they are (not per run).
      run_metrics: scalar metrics a task computes after training (mean IoU, probe accuracy, …),
        one dict per run in sweep order; they join each run's metrics before the means and the
        summary are taken.
    """
    added = run_metrics if run_metrics is not None else [{}] * len(sweep.overrides)
    if len(added) != len(sweep.overrides):
        raise ValueError(f"run_metrics has {len(added)} entries for {len(sweep.overrides)} runs")
    runs = [
        {**o, "metrics": {**sweep.run_metrics(i), **added[i]}}
        for i, o in enumerate(sweep.overrides)
    ]
    return results_from_runs(experiment, config, runs, extra)


def results_from_runs(
    experiment: str,
    config: ml_collections.ConfigDict,
    runs: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``results.json`` content from runs a task trained itself (e.g. in several stages).

    Args:
      experiment: the experiment's name.
      config: its config.
      runs: ``[{<swept field>: value, ..., "metrics": {name: float}}]`` in sweep order; one run
        without swept fields is a single run.
      extra: experiment-level values added to ``"metrics"`` as they are (not per run).

    Returns:
      As :func:`results_dict`.
    """
    out: dict[str, Any] = {"experiment": experiment, "config": config.to_dict()}
    if len(runs) == 1 and set(runs[0]) == {"metrics"}:
        out["metrics"] = dict(runs[0]["metrics"])
    else:
        names = list(runs[0]["metrics"])
        summary = {
            k: {
                "mean": float(np.mean([r["metrics"][k] for r in runs])),
                "std": float(np.std([r["metrics"][k] for r in runs])),
            }
            for k in names
        }
        out.update(metrics={k: v["mean"] for k, v in summary.items()}, runs=runs, summary=summary)
    if extra:
        out["metrics"].update(extra)
    return out


def write_json(path: str, value: Any) -> None:
    """Writes strict JSON atomically (temporary file, then rename): a crash never leaves half a
    file. NaN and infinities (a metric that does not apply, an epoch before training) become
    ``null``: Python's ``NaN`` literal is not JSON, and jq or JavaScript refuse it."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(json_value(value), f, indent=2, allow_nan=False)
    os.replace(tmp, path)


def json_value(x: Any) -> Any:
    """``x`` as strict JSON sees it: containers as dicts and lists, NumPy values as Python ones,
    non-finite floats as ``None`` and anything else as its ``str()``."""
    if isinstance(x, dict):
        return {k: json_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_value(v) for v in x]
    if isinstance(x, (np.generic, np.ndarray)):
        return json_value(x.tolist())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, (str, int)):
        return x
    return str(x)


def group(rows: list[dict[str, Any]], by: Sequence[str], value: str) -> list[dict[str, Any]]:
    """Mean and std of ``row[value]`` per distinct combination of the ``by`` fields (first-seen order).

    Returns:
      One row per group: the ``by`` fields, ``<value>_mean``, ``<value>_std`` and ``runs``.
    """
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(r[value])
    return [
        {
            **dict(zip(by, key)),
            f"{value}_mean": float(np.mean(v)),
            f"{value}_std": float(np.std(v)),
            "runs": len(v),
        }
        for key, v in groups.items()
    ]


def write_table(workdir: str, text: str, title: str | None = None) -> None:
    """Writes a task's comparison table to ``workdir/table.txt``; launch.py prints it once at the end.

    The log gets one line naming the file (the whole table at debug verbosity), so that a launch
    does not show the table twice. Only process 0 writes (hosts may share the workdir).

    Args:
      workdir: the run's directory.
      text: the table (e.g. from :func:`table`).
      title: logged with the file's path, when given.
    """
    if jax.process_index() != 0:
        return
    path = os.path.join(workdir, TABLE_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    logging.info("%s: %s", title or "table", path)
    logging.debug("%s", text)


def read_table(workdir: str) -> str | None:
    """The table a task wrote with :func:`write_table`, or None where it wrote none."""
    path = os.path.join(workdir, TABLE_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read().rstrip()


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}" if math.isfinite(x) else str(x)
    return str(x)


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain-text table of ``rows`` (list of dicts) with aligned columns."""
    if not rows:
        return "(no rows)"
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def format_results(results: dict[str, Any]) -> str:
    """The result table printed at the end of a launch."""
    title = f"== {results['experiment']} =="
    if "runs" not in results:
        return "\n".join(
            [title, table([{"metric": k, "value": v} for k, v in results["metrics"].items()])]
        )
    rows = [
        {**{k: v for k, v in r.items() if k != "metrics"}, **r["metrics"]} for r in results["runs"]
    ]
    # a table of each run's metrics, unless it would be too wide to read (results.json has them)
    shown = len(results["runs"][0]["metrics"]) <= MAX_RUN_COLUMNS
    per_run = table(rows) if shown else f"{len(rows)} runs; each run's metrics are in results.json"
    swept = [k for k in results["runs"][0] if k not in ("metrics", "seed")]
    if not swept:  # runs that differ only in their seed: one mean ± std
        summary = [
            {"metric": k, "mean": v["mean"], "std": v["std"]} for k, v in results["summary"].items()
        ]
        return "\n".join([title, per_run, "", "mean ± std over runs:", table(summary)])
    # runs of different settings: a mean over all of them would mix them; one row per setting
    settings: dict[tuple, list[dict[str, Any]]] = {}
    for r in results["runs"]:
        settings.setdefault(tuple(str(r[k]) for k in swept), []).append(r["metrics"])
    if shown and all(len(m) == 1 for m in settings.values()):
        return "\n".join(
            [title, per_run]
        )  # one run per setting, all shown above: nothing to average
    per_setting = []
    for key, metrics in settings.items():
        row = {**dict(zip(swept, key)), "runs": len(metrics)}
        for name in metrics[0]:
            values = [float(m[name]) for m in metrics if isinstance(m.get(name), numbers.Real)]
            if values:
                row[name] = mean_std(values) if len(values) > 1 else values[0]
        per_setting.append(row)
    return "\n".join(
        [title, per_run, "", "per setting (mean ± std over seeds):", table(per_setting)]
    )


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` of ``values`` as the tables print it (4 and 2 significant digits)."""
    return f"{np.mean(values):.4g} ± {np.std(values):.2g}"


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no display), imported on first use so
    that importing jaxdl does not load matplotlib."""
    import matplotlib  # pylint: disable=g-import-not-at-top

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

    return plt


def save_figure(fig: Any, path: str) -> str:
    """Lays ``fig`` out, writes it to ``path`` (PNG, 100 dpi) and closes it; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return path


def run_labels(workdir: str, count: int) -> list[str]:
    """Names runs by their swept values ("opt.lr=0.003 seed=2"), read from the workdir's runs.json.

    Args:
      workdir: a sweep's workdir (runs.json lists each run's overrides).
      count: the number of runs, used when runs.json is absent.

    Returns:
      One label per run; ``run <i>`` where runs.json does not name the run.
    """
    path = os.path.join(workdir, RUNS_FILE)
    runs = []
    if os.path.exists(path):
        with open(path) as f:
            runs = json.load(f)
    return [
        " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in runs[i].items())
        if i < len(runs) and runs[i]
        else f"run {i}"
        for i in range(count)
    ]


def plot_curves(
    workdir: str, filename: str = "curves.png", run_dirs: Sequence[str] = ()
) -> str | None:
    """Plots every metric of ``metrics.jsonl`` against step (train and test, one panel per metric).

    Runs of a sweep get one colour each, named by their swept values in one legend beside the
    panels (train solid, test dashed with markers); more than 8 runs share one colour per split.

    Args:
      workdir: where ``metrics.jsonl`` is (a single run or a vmapped sweep) and the PNG goes.
      filename: the PNG's name.
      run_dirs: the runs of a sequential sweep, each with its own ``metrics.jsonl`` (run i is
        ``run_dirs[i]``); they are plotted together instead.

    Returns:
      The PNG's path, or None when there is nothing to plot.
    """
    rows = (
        [{**r, "run": i} for i, d in enumerate(run_dirs) for r in read_metrics(d)]
        if run_dirs
        else read_metrics(workdir)
    )
    if not rows:
        return None
    plt = pyplot()
    from matplotlib.lines import Line2D  # pylint: disable=g-import-not-at-top

    names = sorted({k for r in rows for k in r if k not in ("step", "split", "run")})
    runs = sorted({r.get("run", -1) for r in rows})
    each = 1 < len(runs) <= 8  # a colour and a legend entry per run; beyond that, one per split
    labels = run_labels(workdir, max(runs) + 1) if each else []
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names):
        for split in ("train", "test"):
            for k, run in enumerate(runs):
                pts = [
                    (r["step"], r[name])
                    for r in rows
                    if r["split"] == split and r.get("run", -1) == run and name in r
                ]
                if pts:
                    xs, ys = zip(*pts)
                    color = f"C{k % 10}" if each else ("C0" if split == "train" else "C1")
                    ax.plot(
                        xs,
                        ys,
                        ("-" if split == "train" else "o--"),
                        color=color,
                        markersize=3,
                        alpha=0.8 if run < 0 else 0.6,
                    )
        ax.set_title(name if len(runs) == 1 else f"{name} ({len(runs)} runs)")
        ax.set_xlabel("step")
    handles = [
        Line2D([], [], color="k", ls="-", label="train"),
        Line2D([], [], color="k", ls="--", marker="o", markersize=3, label="test"),
    ]
    if each:
        handles += [
            Line2D([], [], color=f"C{k % 10}", lw=3, label=labels[run])
            for k, run in enumerate(runs)
        ]
    elif len(runs) > 1:
        handles = [
            Line2D([], [], color="C0", label=f"train ({len(runs)} runs)"),
            Line2D(
                [],
                [],
                color="C1",
                ls="--",
                marker="o",
                markersize=3,
                label=f"test ({len(runs)} runs)",
            ),
        ]
    fig.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize="small",
        frameon=False,
    )
    fig.tight_layout()
    path = os.path.join(workdir, filename)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
