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

from jaxdl.train import metrics as metrics_lib
from jaxdl.train.metrics import read_metrics  # re-exported: tasks read their curves here
from jaxdl.train.sweep import SweepResult

TABLE_FILE = "table.txt"  # a task's own comparison table, where it writes one
MAX_RUN_COLUMNS = 8  # metrics per run that the printed per-run table shows at most


def is_writer() -> bool:
    """True on the process that writes the experiment's files: process 0 of a multi-host run (every
    process holds the same results; hosts may share the workdir)."""
    return jax.process_index() == 0


def stage_runs(
    sweep: SweepResult,
    stage: dict[str, Any] | None = None,
    run_metrics: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The runs of one :func:`jaxdl.train.sweep.train` call in ``results.json``'s form.

    A task with several stages (one ``sweep.train`` per network, domain pair, student, …) labels
    each stage's runs by what sets it apart (``{"model": "resnet20"}``), joins the lists and
    passes them to :func:`results_from_runs`: the summary then has one group per stage and swept
    setting.

    Args:
      sweep: what ``sweep.train`` returned.
      stage: fields put in front of each run's swept values.
      run_metrics: scalar metrics a task computes after training (mean IoU, probe accuracy, …),
        one dict per run in sweep order; they join each run's metrics.

    Returns:
      ``[{**stage, <swept field>: value, ..., "metrics": {name: value}}]`` in sweep order.
    """
    added = run_metrics if run_metrics is not None else [{}] * len(sweep.overrides)
    if len(added) != len(sweep.overrides):
        raise ValueError(f"run_metrics has {len(added)} entries for {len(sweep.overrides)} runs")
    return [
        {**(stage or {}), **o, "metrics": {**sweep.run_metrics(i), **added[i]}}
        for i, o in enumerate(sweep.overrides)
    ]


def results_dict(
    experiment: str,
    config: ml_collections.ConfigDict,
    sweep: SweepResult,
    extra: dict[str, Any] | None = None,
    run_metrics: list[dict[str, Any]] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """The ``results.json`` content of one ``sweep.train`` call (docs/design.md contract).

    As :func:`results_from_runs` of :func:`stage_runs`.

    Args:
      experiment: the experiment's name.
      config: its config.
      sweep: what :func:`jaxdl.train.sweep.train` returned.
      extra: experiment-level values added to ``"metrics"`` as they are (not per run).
      run_metrics: scalar metrics a task computes after training, one dict per run in sweep order
        (:func:`stage_runs`); they join each run's metrics before the summary is taken.
      **sections: further entries of the task's own (tables, selections), stored as they are.
    """
    runs = stage_runs(sweep, None, run_metrics)
    return results_from_runs(experiment, config, runs, extra, **sections)


def results_from_runs(
    experiment: str,
    config: ml_collections.ConfigDict,
    runs: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
    *,
    summary: list[dict[str, Any]] | None = None,
    metrics: dict[str, Any] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """The ``results.json`` content from runs, of one stage or several (:func:`stage_runs`).

    ``{"experiment", "config", "metrics", "runs", "summary", **sections}``:

    - ``runs``: each run's settings (swept values, stage labels, seed) and metrics; left out for a
      single run with nothing swept.
    - ``summary``: :func:`summarize` of the runs, one group per setting (all but the seed).
    - ``metrics``: the headline numbers. A single run's metrics; for runs that form one group
      (only seeds swept) the group's means; for several groups each group's means named
      ``<hparams>/<metric>`` (e.g. ``opt.lr=0.001/test_accuracy``, :func:`group_label`), so
      that no number pools runs of different settings. ``extra`` joins them.

    Args:
      experiment: the experiment's name.
      config: its config.
      runs: ``[{<setting>: value, ..., "metrics": {name: value}}]``; one run without settings is
        a single run.
      extra: experiment-level values added to ``"metrics"`` as they are (not per run).
      summary: the groups, for a task whose comparison groups other records than its training
        runs (e.g. target accuracy per domain pair and method); default ``summarize(runs)``.
      metrics: the headline numbers where the task names them itself (replacing the default
        above; ``extra`` still joins).
      **sections: further entries of the task's own (tables, selections), stored as they are.
    """
    if not runs:
        raise ValueError(f"{experiment}: no runs to report")
    single = len(runs) == 1 and set(runs[0]) == {"metrics"}
    groups = summarize(runs) if summary is None else summary
    if metrics is None:
        metrics = dict(runs[0]["metrics"]) if single else headline(groups)
    out: dict[str, Any] = {
        "experiment": experiment,
        "config": config.to_dict(),
        "metrics": {**metrics, **(extra or {})},
    }
    if not single:
        out["runs"] = runs
    return {**out, "summary": groups, **sections}


def summarize(runs: list[dict[str, Any]], by: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Mean and std of every metric per setting: one group per combination of the runs' fields
    other than ``seed`` and ``metrics`` (or of the ``by`` fields), in first-seen order.

    A metric enters a group's ``metrics`` where every run of the group has a number for it (None
    marks a value that does not exist, e.g. epochs to a target never reached).

    Args:
      runs: ``[{<setting>: value, ..., "seed": s, "metrics": {name: value}}]``.
      by: the fields that make a setting, where others (e.g. a data draw) vary like seeds.

    Returns:
      ``[{"hparams": {<setting>: value}, "n": <runs>, "metrics": {name: {"mean", "std"}}}]``.
    """
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for r in runs:
        fields = [k for k in r if k not in ("seed", "metrics")] if by is None else by
        hparams = {k: r[k] for k in fields if k in r}
        key = json.dumps(json_value(hparams))
        groups.setdefault(key, (hparams, []))[1].append(r["metrics"])
    out = []
    for hparams, metrics in groups.values():
        stats = {}
        for name in dict.fromkeys(k for m in metrics for k in m):
            values = [m.get(name) for m in metrics]
            if all(_is_number(v) for v in values):
                stats[name] = mean_and_std(values)
        out.append({"hparams": hparams, "n": len(metrics), "metrics": stats})
    return out


def summarize_rows(
    rows: list[dict[str, Any]], by: Sequence[str], values: Sequence[str]
) -> list[dict[str, Any]]:
    """:func:`summarize` of flat records (e.g. one per method and seed, as a task's table holds
    them): one group per combination of the ``by`` fields, mean and std of the ``values`` fields;
    the other fields (seed, data draw) vary within a group."""
    runs = [{**{k: r[k] for k in by}, "metrics": {k: r[k] for k in values if k in r}} for r in rows]
    return summarize(runs, by=by)


def find_group(summary: list[dict[str, Any]], hparams: dict[str, Any]) -> dict[str, Any]:
    """The group of a :func:`summarize` list whose ``hparams`` are ``hparams``.

    Raises:
      KeyError: naming the groups there are, when none matches.
    """
    for g in summary:
        if g["hparams"] == hparams:
            return g
    there = "; ".join(group_label(g["hparams"]) or "(all runs)" for g in summary)
    raise KeyError(f"no summary group {group_label(hparams)}; the groups: {there}")


def headline(summary: list[dict[str, Any]]) -> dict[str, float]:
    """The default ``"metrics"`` of :func:`results_from_runs`: one group's means, or each group's
    means as ``<group_label>/<metric>`` when there are several."""
    if len(summary) == 1:
        return {k: v["mean"] for k, v in summary[0]["metrics"].items()}
    return {
        f"{group_label(g['hparams'])}/{k}": v["mean"]
        for g in summary
        for k, v in g["metrics"].items()
    }


def group_label(hparams: dict[str, Any]) -> str:
    """A summary group's name in ``"metrics"``: its values as ``opt.lr=0.001,model.depth=3``."""
    return metrics_lib.label(hparams, sep=",")


def mean_and_std(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "std"}`` of ``values`` as results.json stores them (population std)."""
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real)


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
    """Mean and std of ``row[value]`` per distinct combination of the ``by`` fields (first-seen
    order).

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
    """Writes a task's comparison table to ``workdir/table.txt``; launch.py prints it once at the
    end.

    The log gets one line naming the file (the whole table at debug verbosity), so that a launch
    does not show the table twice. Only process 0 writes (hosts may share the workdir).

    Args:
      workdir: the run's directory.
      text: the table (e.g. from :func:`table`).
      title: logged with the file's path, when given.
    """
    if not is_writer():
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
    """The result table printed at the end of a launch: a single run's metrics, or each run's
    metrics and then one row per summary group (mean ± std over its seeds)."""
    title = f"== {results['experiment']} =="
    if "runs" not in results:
        return "\n".join(
            [title, table([{"metric": k, "value": v} for k, v in results["metrics"].items()])]
        )
    runs = results["runs"]
    rows = [{**{k: v for k, v in r.items() if k != "metrics"}, **r["metrics"]} for r in runs]
    # a table of each run's metrics, unless it would be too wide to read (results.json has them)
    shown = len(runs[0]["metrics"]) <= MAX_RUN_COLUMNS
    per_run = table(rows) if shown else f"{len(rows)} runs; each run's metrics are in results.json"
    groups = results.get("summary") or summarize(runs)
    if len(groups) == 1 and not groups[0]["hparams"]:  # runs that differ only in their seed
        summary = [
            {"metric": k, "mean": v["mean"], "std": v["std"]}
            for k, v in groups[0]["metrics"].items()
        ]
        return "\n".join([title, per_run, "", "mean ± std over runs:", table(summary)])
    if shown and all(g["n"] == 1 for g in groups):
        return "\n".join([title, per_run])  # one run per setting, all shown above
    per_setting = [
        {
            **g["hparams"],
            "runs": g["n"],
            **{
                k: mean_std_text(v["mean"], v["std"]) if g["n"] > 1 else v["mean"]
                for k, v in g["metrics"].items()
            },
        }
        for g in groups
    ]
    return "\n".join(
        [title, per_run, "", "per setting (mean ± std over seeds):", table(per_setting)]
    )


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` of ``values`` as the tables print it (4 and 2 significant digits)."""
    return mean_std_text(float(np.mean(values)), float(np.std(values)))


def mean_std_text(mean: float, std: float) -> str:
    """``mean ± std`` as the tables print it, from a mean and std computed already (e.g. a summary
    group's ``{"mean", "std"}`` or a :func:`group` row's)."""
    return f"{mean:.4g} ± {std:.2g}"


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
    runs = metrics_lib.read_runs(workdir)
    return [
        metrics_lib.label(runs[i]) if i < len(runs) and runs[i] else f"run {i}"
        for i in range(count)
    ]


def plot_curves(
    workdir: str, filename: str = "curves.png", run_dirs: Sequence[str] = ()
) -> str | None:
    """Plots every metric of ``metrics.jsonl`` against step (train and test, one panel per metric).

    Runs of a sweep get one colour each, named by their swept values in one legend beside the
    panels (train solid, test dashed with markers). More than 8 runs get one colour per setting
    (their swept values but the seed) where there are 2 to 8 settings, else one per split.

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
    colour = _curve_colours(workdir, runs)  # run -> legend entry, or {} for one colour per split
    entries = list(dict.fromkeys(colour.values()))
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names):
        for split in ("train", "test"):
            for run in runs:
                pts = [
                    (r["step"], r[name])
                    for r in rows
                    if r["split"] == split and r.get("run", -1) == run and name in r
                ]
                if pts:
                    xs, ys = zip(*pts)
                    if colour:
                        color = f"C{entries.index(colour[run]) % 10}"
                    else:
                        color = "C0" if split == "train" else "C1"
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
    if colour:
        handles += [
            Line2D([], [], color=f"C{k % 10}", lw=3, label=entry) for k, entry in enumerate(entries)
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
    # beside the panels, never over them; bbox_inches="tight" widens the PNG to hold it
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


def _curve_colours(workdir: str, runs: list[int]) -> dict[int, str]:
    """Each plotted run's legend entry in :func:`plot_curves`: its swept values (up to 8 runs),
    else its setting and the setting's run count (2 to 8 settings); ``{}`` for one colour per
    split (a single run, or too many runs or settings to tell apart)."""
    if len(runs) <= 1:
        return {}
    if len(runs) <= 8:
        labels = run_labels(workdir, max(runs) + 1)
        return {run: labels[run] if run >= 0 else "unnamed" for run in runs}
    swept = metrics_lib.read_runs(workdir)
    if any(not 0 <= run < len(swept) for run in runs):
        return {}
    setting = {
        run: metrics_lib.label({k: v for k, v in swept[run].items() if k != "seed"}) for run in runs
    }
    counts = {s: list(setting.values()).count(s) for s in setting.values()}
    if not 1 < len(counts) <= 8:
        return {}
    return {run: f"{s} ({counts[s]} runs)" for run, s in setting.items()}
