"""CNN families side by side: each trained at equal steps over seeds; accuracy against parameters.

``config.model`` is the baseline (ResNet-20 in experiments/cnn_families.py) and
``config.families.<label>`` each other network, a model config of its own (``name`` plus its
arguments). Every network trains with the same data, optimizer, steps and ``sweep.seed`` through
:mod:`jaxdl.tasks.classify`, under ``workdir/<label>``. The task writes ``table.txt`` (parameters,
test accuracy mean ± std per network) and ``accuracy_vs_params.png``.
"""

import os
from typing import Any

from absl import logging
import ml_collections

from jaxdl import models
from jaxdl.tasks import classify
from jaxdl.train import report, sweep

TASK_MODEL_ARGUMENTS = classify.TASK_MODEL_ARGUMENTS  # its model is classify's (model_fields)

FIGURE = "accuracy_vs_params.png"


def labels(config: ml_collections.ConfigDict) -> list[str]:
    """The networks in training order: the baseline's ``model.name``, then ``families``' labels."""
    return [config.model.name, *config.families.keys()]


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for a family without a model name or a sweep over more than seeds."""
    for label, family in config.families.items():
        if "name" not in family or family.name not in models.names():
            raise ValueError(
                f"families.{label} needs name, one of jaxdl.models.names(); got "
                f"{family.get('name')!r}"
            )
    if label_clash := set(config.families.keys()) & {config.model.name}:
        raise ValueError(f"families {sorted(label_clash)} repeat the baseline model.name")
    swept = [p for p, v in sweep.flatten(config.sweep).items() if v != () and p != "seed"]
    if swept:
        raise ValueError(
            f"this task sweeps only seeds (every network's runs); got sweep.{swept[0]}"
        )


def family_config(config: ml_collections.ConfigDict, label: str) -> ml_collections.ConfigDict:
    """A copy of ``config`` whose ``model`` is network ``label``'s (the baseline's for its name)."""
    cfg = ml_collections.ConfigDict(config.to_dict())
    if label != config.model.name:
        cfg.model = ml_collections.ConfigDict(config.families[label].to_dict())
    del cfg["families"]
    return cfg


def param_count(result: sweep.SweepResult) -> int:
    """Number of parameters (``params`` collection) of a trained network."""
    return models.param_count({"params": result.run_state(0).params})


def _plot(rows: list[dict[str, Any]], title: str, path: str) -> str:
    """Test accuracy (mean ± std over seeds) against parameter count, one marker per network."""
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for k, r in enumerate(rows):
        ax.errorbar(
            r["params"],
            r["test_accuracy"],
            yerr=r["test_accuracy_std"],
            fmt="osD^vph*"[k % 8],
            color=f"C{k % 10}",
            capsize=4,
            markersize=7,
            label=f"{r['network']} ({r['params'] / 1e3:.0f}k)",
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel(f"test accuracy (mean ± std, {rows[0]['seeds']} seeds)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every network over the seeds; writes ``table.txt`` and the accuracy plot.

    Returns:
      The results.json content: each run with ``model`` (its label) and ``seed``, and one summary
      group per network (``hparams: {"model": label}``, ``n``, mean and std of every metric,
      ``params`` included).
    """
    check_config(config)
    runs, rows = [], []
    for label in labels(config):
        logging.info("network %s", label)
        cfg = family_config(config, label)
        result = sweep.train(classify.make_problem, cfg, os.path.join(workdir, label))
        params = param_count(result)
        mine = report.stage_runs(
            result, {"model": label}, [{"params": params}] * len(result.overrides)
        )
        runs += mine
        (group,) = report.summarize(mine)
        stats, n = group["metrics"], group["n"]
        rows.append(
            {
                "network": label,
                "model.name": cfg.model.name,
                "params": params,
                "seeds": n,
                "test_accuracy": stats["test_accuracy"]["mean"],
                "test_accuracy_std": stats["test_accuracy"]["std"],
                "test_loss": stats["test_loss"]["mean"],
                "train_loss": stats["train_loss"]["mean"],
            }
        )
    shown = [
        {
            **{k: v for k, v in r.items() if not k.startswith("test_accuracy")},
            "test_accuracy": f"{r['test_accuracy']:.4f} ± {r['test_accuracy_std']:.4f}",
        }
        for r in rows
    ]
    report.write_table(workdir, report.table(shown), config.experiment)
    if report.is_writer():
        _plot(
            rows,
            f"{config.experiment}: {config.train.steps} steps each",
            os.path.join(workdir, FIGURE),
        )
    metrics = {f"{r['network']}_{k}": r[k] for r in rows for k in ("test_accuracy", "params")}
    return report.results_from_runs(config.experiment, config, runs, metrics=metrics, table=rows)
