"""How transferable are features (Yosinski et al. 2014): baseB, BnB, BnB+, AnB, AnB+ for every n, all settings as one vmapped program.

The classes are split at random into halves A and B; baseA and baseB are trained first (each a
plain run under ``workdir/baseA`` and ``workdir/baseB``). Then every setting of
``jaxdl.transfer.transferability.transfer_settings`` trains on task B: the traced
``transfer.setting`` indexes the stacked settings, so its initial params (copied from A, B or
random) and its frozen-layer mask are data, and the sweep over all settings and seeds is one
``jit(vmap(...))`` program. The plot ``transferability.png`` is shaped like the paper's Figure 2.
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import models
from jaxdl.data import core as data_core
from jaxdl.tasks import finetune as finetune_task
from jaxdl.train import report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem
from jaxdl.transfer import transferability

TRACED = COMMON_TRACED + ("transfer.setting",)
COLORS = {"baseB": "k", "BnB": "tab:blue", "BnB+": "tab:cyan", "AnB": "tab:red", "AnB+": "tab:pink"}


def half_tasks(config: ml_collections.ConfigDict) -> dict[str, tuple[dict, dict]]:
    """``{"A": (train, test), "B": (train, test)}``: the data split into two halves of its classes."""
    d = config.data
    x, y = finetune_task.load_domain(d.name, d.size)
    classes = dict(zip("AB", transferability.split_classes(int(y.max()) + 1, jax.random.key(int(config.transfer.split_seed)))))
    out = {}
    for half, kept in classes.items():
        xh, yh = transferability.select_classes(x, y, kept)
        out[half] = data_core.split(xh, yh, d.test_fraction, d.split_seed)
    return out


def _model(config, train):
    return models.get(config.model.name, features=tuple(config.model.features), num_classes=int(train["y"].max()) + 1)


def make_base_problem(config: ml_collections.ConfigDict, half: str) -> Problem:
    """Plain classification on half ``half`` ("A" or "B") of the classes."""
    train, test = half_tasks(config)[half]
    return finetune_task.classifier_problem(config, _model(config, train), train, test)


def settings_of(config: ml_collections.ConfigDict) -> transferability.TransferSettings:
    """Every setting of the paper for the configured MLP (n = 1 .. number of hidden layers)."""
    return transferability.transfer_settings(finetune_task.mlp_layers(len(config.model.features)))


def make_transfer_problem(config: ml_collections.ConfigDict, params_A: Any, params_B: Any) -> Problem:
    """Task B from the initial params and frozen mask of setting ``hparams['transfer.setting']``."""
    train, test = half_tasks(config)["B"]
    model = _model(config, train)
    names = finetune_task.mlp_layers(len(config.model.features))
    table = settings_of(config).setting
    source_S, frozen_S = jnp.asarray(table["source"]), jnp.asarray(table["frozen"])
    example = jnp.zeros((1,) + train["x"].shape[1:])

    def init(key, hparams):
        s = jnp.asarray(hparams["transfer.setting"], jnp.int32)
        params_random = model.init(key, example)["params"]
        params, _ = transferability.initial_params({"source": source_S[s], "frozen": frozen_S[s]}, params_random, params_A, params_B, names)
        return {"params": params}

    def scale_fn(setting):  # the frozen mask as update factors, read from the stacked table
        return 1.0 - frozen_S[jnp.asarray(setting, jnp.int32)]

    steps = total_steps(config.train, len(train["y"]))
    tx = finetune_task.layer_scaled_optimizer(config.opt, steps, names, scale_fn, setting=0)
    loss, evaluate = finetune_task.classifier_fns(model)
    hparam_names = Problem.hparam_names + (("transfer.setting", "setting"),)
    return Problem(init, loss, evaluate, tx, train, test, traced=TRACED, hparam_names=hparam_names)


def with_all_settings(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with ``sweep.transfer.setting`` = every setting when it is left empty; checks indices."""
    num = len(settings_of(config).labels)
    cfg = ml_collections.ConfigDict(config.to_dict())
    if not cfg.sweep.transfer.setting:
        cfg.sweep.transfer.setting = tuple(range(num))
    bad = [s for s in tuple(cfg.sweep.transfer.setting) + (cfg.transfer.setting,) if not 0 <= s < num]
    if bad:
        raise ValueError(f"transfer.setting values {bad} out of range; accepted 0..{num - 1} for {len(config.model.features)} hidden layers")
    return cfg


def _plot(rows: list[dict[str, Any]], num_hidden: int, path: str) -> None:
    plt = report.pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    offsets = {"baseB": 0.0, "BnB": -0.15, "BnB+": -0.05, "AnB": 0.05, "AnB+": 0.15}
    for kind in transferability.KINDS:
        pts = [(r["n"], r["test_accuracy"]) for r in rows if r["kind"] == kind]
        ns = sorted({n for n, _ in pts})
        ax.scatter([n + offsets[kind] for n, _ in pts], [a for _, a in pts], s=14, alpha=0.5, color=COLORS[kind])
        means = [np.mean([a for m, a in pts if m == n]) for n in ns]
        ax.plot(ns, means, "o-" if kind != "baseB" else "s", color=COLORS[kind], label=kind, markerfacecolor="white" if kind == "baseB" else None)
    ax.set(xlabel="layer n at which the network is chopped and retrained", ylabel="top-1 test accuracy on B", xticks=range(num_hidden + 1))
    ax.set_title("Transferability of features (Yosinski et al. 2014, Fig. 2 layout)", fontsize=9)
    ax.legend(fontsize=8)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains baseA and baseB, then every (setting, seed) on B in one program; table and plot.

    Args:
      config: the experiment config (see experiments/transferability.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary``, ``groups`` (per setting) and ``settings`` (per run).
    """
    config = with_all_settings(config)
    base_cfg = sweep.run_config(config, {})
    base_cfg.train.steps = int(config.transfer.base_steps)
    base = {half: sweep.train(lambda c, h=half: make_base_problem(c, h), base_cfg, os.path.join(workdir, f"base{half}")) for half in "AB"}
    params_A, params_B = (jax.device_get(base[h].fits[0].state.params) for h in "AB")
    result = sweep.train(lambda c: make_transfer_problem(c, params_A, params_B), config, os.path.join(workdir, "transfer"))
    st = settings_of(config)
    rows = []
    for i, o in enumerate(result.overrides):
        s = int(o.get("transfer.setting", config.transfer.setting))
        rows.append({"setting": st.labels[s], "kind": transferability.KINDS[st.kind[s]], "n": int(st.n[s]), "seed": o.get("seed", config.seed), "test_accuracy": result.run_metrics(i)["test_accuracy"]})
    table = report.group(rows, ["setting"], "test_accuracy")
    _plot(rows, len(config.model.features), os.path.join(workdir, "transferability.png"))
    text = report.table(table)
    report.write_table(workdir, text, "transferability, accuracy on B")
    extra = {f"base{h}_test_accuracy": base[h].run_metrics(0)["test_accuracy"] for h in "AB"}
    out = report.results_dict(config.experiment, config, result, extra=extra)
    out["groups"] = table
    out["settings"] = rows
    return out
