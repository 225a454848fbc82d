"""Exploding gradients (Pascanu et al. 2013): a vanilla RNN with ρ(U) > 1, clipped or not."""

import os
from typing import Any

from absl import logging
import ml_collections
import numpy as np

from jaxdl.tasks import gradient_flow, sequence
from jaxdl.train import loop, report, sweep
from jaxdl.train import metrics as metrics_lib


def _label(gain: float, clip: float) -> str:
    return f"gain{gain:g}_clip{clip:g}"


def _setting(config: ml_collections.ConfigDict, **values: Any) -> ml_collections.ConfigDict:
    """A copy of ``config`` with ``values`` set; ``a__b`` names the field ``a.b``."""
    cfg = ml_collections.ConfigDict(config.to_dict())
    for key, value in values.items():
        *parents, leaf = key.split("__")
        node = cfg
        for part in parents:
            node = node[part]
        node[leaf] = value
    return cfg


def init_norms(config: ml_collections.ConfigDict, gain: float) -> np.ndarray:
    """(seeds, T) ‖∂loss/∂x_t‖ at initialisation, U = gain x orthogonal, on sequences of
    ``config.grad_lag`` steps (the prediction read at the last one).

    Args:
      config: the experiment config.
      gain: the spectral radius of the initial recurrent matrix U.

    Returns:
      (R, T) input-gradient norms of each seed's initial network, T = ``grad_lag``.
    """
    T = int(config.grad_lag)
    cfg = _setting(
        config, model__recurrent_gain=float(gain), data__max_lag=T, data__lag=T, train__steps=1
    )  # one step: the optimizer is built but unused
    problem = sequence.make_problem(cfg)
    fn = gradient_flow.norms_fn(cfg, problem, sequence.build_model(cfg, 1))
    return np.asarray(fn(gradient_flow.initial_params(problem, cfg)))


def _train(cfg: ml_collections.ConfigDict, workdir: str) -> tuple[list[dict[str, float]], bool]:
    """Each seed's final test metrics (NaN when training diverged) and whether it diverged."""
    seeds = sweep.values(cfg, "seed")
    try:
        result = sweep.train(sequence.make_problem, cfg, workdir)
    except loop.TrainingDiverged as e:  # the vmapped seeds stop together at the first NaN / Inf
        logging.info("%s: %s", workdir, e)
        return [{"test_mse": float("nan"), "test_success": float("nan")} for _ in seeds], True
    return [result.run_metrics(i) for i in range(len(seeds))], False


def curves(workdir: str, name: str, num_runs: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps (K,), values (R, K))`` of the train metric ``name`` logged in ``workdir``."""
    rows = [r for r in metrics_lib.read_metrics(workdir) if r["split"] == "train" and name in r]
    steps = sorted({r["step"] for r in rows})
    values = np.full((num_runs, len(steps)), np.nan)
    for r in rows:
        values[r.get("run", 0), steps.index(r["step"])] = r[name]
    return np.asarray(steps), values


def _plot(config, norms, logs, workdir: str) -> str:
    plt = report.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for gain, g in norms.items():
        g = g[:, ::-1]  # index = lag
        lag = np.arange(g.shape[1])
        axes[0].semilogy(lag, g.mean(0), label=f"ρ(U) = {gain:g}")
        axes[0].fill_between(lag, g.min(0), g.max(0), alpha=0.2)
    axes[0].set(
        xlabel="time lag T-1-t", ylabel="‖∂loss/∂x_t‖", title="input gradient at initialisation"
    )
    for k, (label, (steps, by_metric, diverged)) in enumerate(logs.items()):
        for ax, name in zip(axes[1:], ("loss", "grad_norm")):
            v = by_metric[name]
            if steps.size:
                name = label + (" (diverged)" if diverged else "")
                ax.semilogy(steps, np.nanmean(v, 0), color=f"C{k}", label=name)
                ax.fill_between(steps, np.nanmin(v, 0), np.nanmax(v, 0), color=f"C{k}", alpha=0.2)
            if diverged:  # where it stopped: the first logged chunk that held a NaN / Inf
                every = int(config.train.log_every)
                ax.axvline((steps[-1] if steps.size else 0) + every, color=f"C{k}", ls=":")
    axes[1].axhline(1 / 6, color="k", ls="--", lw=0.8, label="predict the mean (1/6)")
    axes[1].set_ylim(top=10.0)  # a diverging run leaves the panel; its dotted line marks the stop
    axes[1].set(
        xlabel="step", ylabel="train MSE (chunk mean)", title=f"training at lag {config.data.lag}"
    )
    axes[2].set(
        xlabel="step", ylabel="‖∂loss/∂θ‖ before clipping", title="gradient norm in training"
    )
    for ax in axes:
        ax.legend(fontsize=7)
    return report.save_figure(fig, os.path.join(workdir, "exploding.png"))


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Gradient norms at initialisation per gain, then SGD training per (gain, clip) over seeds."""
    if config.model.cell != "rnn" or config.data.name != "adding":
        raise ValueError(
            "exploding studies the vanilla RNN on the adding problem: set "
            "model.cell='rnn', data.name='adding'"
        )
    other = sorted({p for o in sweep.expand(config) for p in o} - {"seed"})
    if other:
        raise ValueError(
            f"exploding sweeps seeds only (gains and clip norms are its own "
            f"fields); clear sweep.{other[0]}"
        )
    seeds = [int(s) for s in sweep.values(config, "seed")]
    per_seed = {s: {} for s in seeds}
    rows, norms, logs = [], {}, {}
    for gain in config.recurrent_gains:
        norms[gain] = g = init_norms(config, gain)
        ratios = g[:, ::-1] / g[:, -1:]
        for lag in config.report_lags:
            for s, v in zip(seeds, ratios[:, lag]):
                per_seed[s][f"gain{gain:g}_init_ratio_lag{lag}"] = float(v)
    for gain in config.recurrent_gains:
        for clip in config.clip_norms:
            label = _label(gain, clip)
            logging.info("training %s", label)
            run_dir = os.path.join(workdir, label)
            cfg = _setting(config, model__recurrent_gain=float(gain), opt__clip_norm=float(clip))
            final, diverged = _train(cfg, run_dir)
            steps, loss = curves(run_dir, "loss", len(seeds))
            _, grad = curves(run_dir, "grad_norm", len(seeds))
            name = f"ρ={gain:g}, " + (f"clip {clip:g}" if clip else "no clip")
            logs[name] = (steps, {"loss": loss, "grad_norm": grad}, diverged)
            for i, s in enumerate(seeds):
                max_grad = float(np.nanmax(grad[i])) if grad.size else float("nan")
                per_seed[s].update(
                    {
                        f"{label}_test_mse": final[i]["test_mse"],
                        f"{label}_test_success": final[i]["test_success"],
                        f"{label}_diverged": float(diverged),
                        f"{label}_max_grad_norm": max_grad,
                    }
                )
            row = {"gain": gain, "clip_norm": clip, "seeds": len(seeds), "diverged": diverged}
            for k in ("test_mse", "test_success", "max_grad_norm"):
                row[k] = report.mean_std([per_seed[s][f"{label}_{k}"] for s in seeds])
            rows.append(row)
    if report.is_writer():
        _plot(config, norms, logs, workdir)
    ratio_rows = []
    for gain in config.recurrent_gains:
        row = {"gain": gain}
        for lag in config.report_lags:
            row[f"lag {lag}"] = report.mean_std(
                [per_seed[s][f"gain{gain:g}_init_ratio_lag{lag}"] for s in seeds]
            )
        ratio_rows.append(row)
    text = (
        "‖∂loss/∂x_t‖ / ‖∂loss/∂x_T‖ at initialisation (mean ± std over seeds)\n"
        + report.table(ratio_rows)
        + f"\n\nSGD training at lag {config.data.lag} (mean ± std over seeds; "
        "the MSE of predicting the mean is 1/6)\n" + report.table(rows)
    )
    report.write_table(workdir, text)
    runs = [{"seed": s, "metrics": m} for s, m in per_seed.items()]
    return report.results_from_runs(config.experiment, config, runs, table=rows)
