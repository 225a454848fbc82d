"""How transferable are features (Yosinski et al. 2014): baseB, BnB, BnB+, AnB, AnB+ for every n.

The classes are split at random into halves A and B; baseA and baseB are trained first, once per
seed (under ``workdir/baseA`` and ``workdir/baseB``). Then every setting of
``jaxdl.transfer.transferability.transfer_settings`` trains on task B: the traced
``transfer.setting`` indexes the stacked settings and the traced ``seed`` picks that seed's base
networks, so the initial params (copied from A, B or random) and the frozen-layer mask are data.
The sweep over all settings and seeds can therefore be one ``jit(vmap(...))`` program; for the
convnet on XLA:CPU the default runs them one after another (``train.sweep_strategy``;
benchmarks/README.md says why). The network is ``net2net_mlp`` or ``transfer_cnn``
(``jaxdl.tasks.finetune.build_model``). The plot ``transferability.png`` is shaped like the
paper's Figure 2.
"""

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl.data import core as data_core
from jaxdl.tasks import finetune as finetune_task
from jaxdl.train import report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem
from jaxdl.transfer import transferability

TRACED = COMMON_TRACED + ("transfer.setting",)
COLORS = {"baseB": "k", "BnB": "tab:blue", "BnB+": "tab:cyan", "AnB": "tab:red", "AnB+": "tab:pink"}


def half_tasks(config: ml_collections.ConfigDict) -> dict[str, tuple[dict, dict]]:
    """``{"A": (train, test), "B": (train, test)}``: the data split into halves of its classes."""
    d = config.data
    x, y = finetune_task.load_domain(d.name, d.size)
    classes = dict(
        zip(
            "AB",
            transferability.split_classes(
                int(y.max()) + 1, jax.random.key(int(config.transfer.split_seed))
            ),
        )
    )
    out = {}
    for half, kept in classes.items():
        xh, yh = transferability.select_classes(x, y, kept)
        out[half] = data_core.split(xh, yh, d.test_fraction, d.split_seed)
    return out


def _model(config, train):
    return finetune_task.build_model(config.model, int(train["y"].max()) + 1)


def make_base_problem(config: ml_collections.ConfigDict, half: str) -> Problem:
    """Plain classification on half ``half`` ("A" or "B") of the classes."""
    train, test = half_tasks(config)[half]
    return finetune_task.classifier_problem(config, _model(config, train), train, test)


def settings_of(config: ml_collections.ConfigDict) -> transferability.TransferSettings:
    """Every setting of the paper for the configured network (n = 1 .. layers below the head)."""
    return transferability.transfer_settings(finetune_task.model_layers(config.model))


def make_transfer_problem(
    config: ml_collections.ConfigDict, params_A: Any, params_B: Any, seeds: tuple[int, ...]
) -> Problem:
    """Task B from the initial params and frozen mask of setting ``hparams['transfer.setting']``.

    ``params_A`` / ``params_B`` hold one trained baseA / baseB per seed of ``seeds`` on a leading
    axis; the run with seed ``seeds[i]`` copies its layers from network i (both read as data).
    """
    train, test = half_tasks(config)["B"]
    model = _model(config, train)
    names = finetune_task.model_layers(config.model)
    table = settings_of(config).setting
    source_S, frozen_S = jnp.asarray(table["source"]), jnp.asarray(table["frozen"])
    seeds_K = jnp.asarray(seeds, jnp.int32)
    example = jnp.zeros((1,) + train["x"].shape[1:])

    def init(key, hparams):
        s = jnp.asarray(hparams["transfer.setting"], jnp.int32)
        k = jnp.argmax(seeds_K == hparams["seed"])  # this seed's base networks
        params_random = model.init(key, example)["params"]
        base_A, base_B = (
            jax.tree.map(lambda p: jnp.asarray(p)[k], b) for b in (params_A, params_B)
        )
        setting = {"source": source_S[s], "frozen": frozen_S[s]}
        params, _ = transferability.initial_params(setting, params_random, base_A, base_B, names)
        return {"params": params}

    def scale_fn(setting):  # the frozen mask as update factors, read from the stacked table
        return 1.0 - frozen_S[jnp.asarray(setting, jnp.int32)]

    steps = total_steps(config.train, len(train["y"]))
    tx = finetune_task.layer_scaled_optimizer(config.opt, steps, names, scale_fn, setting=0)
    loss, evaluate = finetune_task.classifier_fns(model)
    hparam_names = Problem.hparam_names + (("transfer.setting", "setting"),)
    return Problem(init, loss, evaluate, tx, train, test, traced=TRACED, hparam_names=hparam_names)


def with_all_settings(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with ``sweep.transfer.setting`` = every setting if left empty; checks indices."""
    num = len(settings_of(config).labels)
    num_layers = len(finetune_task.model_layers(config.model)) - 1
    cfg = ml_collections.ConfigDict(config.to_dict())
    if not cfg.sweep.transfer.setting:
        cfg.sweep.transfer.setting = tuple(range(num))
    bad = [
        s for s in tuple(cfg.sweep.transfer.setting) + (cfg.transfer.setting,) if not 0 <= s < num
    ]
    if bad:
        raise ValueError(
            f"transfer.setting values {bad} out of range; accepted 0..{num - 1} "
            f"for {num_layers} layers below the head"
        )
    return cfg


def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses an unknown network or setting index before anything is written."""
    with_all_settings(config)


def _plot(rows: list[dict[str, Any]], num_layers: int, path: str) -> None:
    """The paper's Figure 2 layout: each run as a dot, mean ± std over seeds per (kind, n)."""
    plt = report.pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    offsets = {"baseB": 0.0, "BnB": -0.15, "BnB+": -0.05, "AnB": 0.05, "AnB+": 0.15}
    for kind in transferability.KINDS:
        pts = [(r["n"], r["test_accuracy"]) for r in rows if r["kind"] == kind]
        ns = sorted({n for n, _ in pts})
        ax.scatter(
            [n + offsets[kind] for n, _ in pts],
            [a for _, a in pts],
            s=8,
            alpha=0.35,
            color=COLORS[kind],
        )
        acc = [[a for m, a in pts if m == n] for n in ns]
        ax.errorbar(
            [n + offsets[kind] for n in ns],
            [np.mean(a) for a in acc],
            yerr=[np.std(a) for a in acc],
            fmt="o-" if kind != "baseB" else "s",
            capsize=3,
            color=COLORS[kind],
            label=kind,
            markerfacecolor="white" if kind == "baseB" else None,
        )
        if kind == "baseB":
            ax.axhline(np.mean(acc[0]), color="k", lw=0.8, ls=":")
    ax.set(
        xlabel="layer n at which the network is chopped and retrained",
        ylabel="top-1 test accuracy on B",
        xticks=range(num_layers),
    )
    ax.set_title("Transferability of features (Yosinski et al. 2014, Fig. 2 layout)", fontsize=9)
    ax.legend(fontsize=8, loc="best", ncol=5, framealpha=0.8)
    report.save_figure(fig, path)


def claims(table: list[dict[str, Any]]) -> dict[str, float]:
    """The paper's three findings as numbers from the per-setting means (accuracy on B).

    Args:
      table: ``report.group`` rows with ``setting`` and ``test_accuracy_mean``.

    Returns:
      ``bnb_dip``: baseB minus the lowest BnB mean at a middle layer (1 < n < L, > 0 = a dip);
      ``anb_decline``: AnB at n = 1 minus AnB at the top n (> 0 = specificity rises with n);
      ``anb_plus_minus_baseB``: the mean over n of AnB+ minus baseB (>= 0 = transfer helps).
    """
    mean = {r["setting"]: r["test_accuracy_mean"] for r in table}
    top = max(int(k.split("=")[1]) for k in mean if k != "baseB")
    middle = [mean[f"BnB n={n}"] for n in range(2, top) if f"BnB n={n}" in mean]
    anb_plus = [mean[f"AnB+ n={n}"] for n in range(1, top + 1) if f"AnB+ n={n}" in mean]
    nan = float("nan")
    return {
        "anb_decline": mean["AnB n=1"] - mean[f"AnB n={top}"] if "AnB n=1" in mean else nan,
        "anb_plus_minus_baseB": float(np.mean(anb_plus)) - mean["baseB"] if anb_plus else nan,
        "bnb_dip": mean["baseB"] - min(middle) if middle else nan,
    }


def base_params(
    config: ml_collections.ConfigDict, half: str, seeds: tuple[int, ...], workdir: str
) -> tuple[Any, list[float]]:
    """Trains base{half} once per seed (resuming in ``workdir``).

    Args:
      config: the experiment config (``transfer.base_steps`` steps).
      half: ``"A"`` or ``"B"``.
      seeds: one base network per seed.
      workdir: where the runs write and resume.

    Returns:
      ``(params, accuracies)``: the params stacked over seeds (leading axis ``len(seeds)``) and
      each network's test accuracy on its half.
    """
    cfg = sweep.run_config(config, {})
    cfg.train.steps = int(config.transfer.base_steps)
    cfg.seed = int(seeds[0])
    if len(seeds) > 1:
        cfg.sweep.seed = tuple(seeds)
    result = sweep.train(lambda c: make_base_problem(c, half), cfg, workdir)
    runs = range(len(result.overrides))
    params = [jax.device_get(result.run_state(i).params) for i in runs]
    accuracies = [result.run_metrics(i)["test_accuracy"] for i in runs]
    return jax.tree.map(lambda *p: np.stack(p), *params), accuracies


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains baseA and baseB per seed, then every (setting, seed) on B; table, claims and plot.

    Args:
      config: the experiment config (see experiments/transferability.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics`` (with the base networks'
      accuracies and :func:`claims`), ``runs``, ``summary``, ``groups`` (per setting) and
      ``settings`` (per run).
    """
    config = with_all_settings(config)
    seeds = tuple(int(s) for s in sweep.values(config, "seed"))
    base = {h: base_params(config, h, seeds, os.path.join(workdir, f"base{h}")) for h in "AB"}
    problem = functools.partial(
        make_transfer_problem, params_A=base["A"][0], params_B=base["B"][0], seeds=seeds
    )
    result = sweep.train(problem, config, os.path.join(workdir, "transfer"))
    st = settings_of(config)
    rows = []
    for i, o in enumerate(result.overrides):
        s = int(o.get("transfer.setting", config.transfer.setting))
        rows.append(
            {
                "setting": st.labels[s],
                "kind": transferability.KINDS[st.kind[s]],
                "n": int(st.n[s]),
                "seed": o.get("seed", config.seed),
                "test_accuracy": result.run_metrics(i)["test_accuracy"],
            }
        )
    table = report.group(rows, ["setting"], "test_accuracy")
    num_layers = len(finetune_task.model_layers(config.model))
    if report.is_writer():
        _plot(rows, num_layers, os.path.join(workdir, "transferability.png"))
    found = claims(table)
    extra = {}
    for h in "AB":
        stats = report.mean_and_std(base[h][1])
        extra[f"base{h}_test_accuracy"] = stats["mean"]
        extra[f"base{h}_test_accuracy_std"] = stats["std"]
    bases = ", ".join(f"base{h} on {h} {report.mean_std(base[h][1])}" for h in "AB")
    text = "\n".join(
        [
            report.table(table),
            f"{bases} ({len(seeds)} seeds)",
            "  ".join(f"{k}={v:+.4f}" for k, v in found.items()),
        ]
    )
    report.write_table(workdir, text, "transferability, accuracy on B")
    return report.results_dict(
        config.experiment, config, result, extra={**extra, **found}, groups=table, settings=rows
    )
