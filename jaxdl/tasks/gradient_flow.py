"""Vanishing gradients measured: ‖∂loss/∂x_t‖ against the time lag for RNN, LSTM and GRU."""

import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl.nn import recurrent
from jaxdl.tasks import sequence
from jaxdl.train import report, steps, sweep
from jaxdl.train.loop import stack_hparams

STAGES = ("init", "trained")


def norms_fn(config: ml_collections.ConfigDict, problem, model):
    """``params (R, ...) -> (R, T)``: the input-gradient norm at each step, for R stacked runs.

    The loss is the adding problem's squared error of the prediction read at the last step
    (``data.lag = data.max_lag``), so step t lies ``T - 1 - t`` steps back (Bengio et al. 1994).
    """
    n = int(config.data.num_grad_examples)
    test = problem.test_data
    x, lengths, y = sequence.adding_inputs(
        jnp.asarray(test["v"][:n]), jnp.asarray(test["u"][:n]), int(config.data.lag)
    )

    def one(params):
        loss = lambda x_BTD: jnp.mean(
            (model.apply({"params": params}, x_BTD, lengths, train=False)[:, 0] - y) ** 2
        )
        return recurrent.input_gradient_norms(loss, x)

    return jax.jit(jax.vmap(one))


def initial_params(problem, config: ml_collections.ConfigDict):
    """The stacked initial parameters of every seed, exactly as the trainer draws them."""
    seeds = sweep.values(config, "seed")
    hps = stack_hparams(
        [sweep.traced_values(problem, sweep.run_config(config, {"seed": s})) for s in seeds]
    )
    return jax.jit(jax.vmap(lambda hp: steps.init_state(problem, hp).params))(hps)


def _cell_norms(
    config: ml_collections.ConfigDict, workdir: str
) -> tuple[dict[str, np.ndarray], dict[int, dict[str, float]]]:
    """``{stage: (R, T) norms}`` of one cell, and each trained run's test metrics by seed."""
    trains = int(config.train.steps) > 0
    measure_cfg = (
        config if trains else sweep.run_config(config, {"train.steps": 1})
    )  # the optimizer goes unused
    problem = sequence.make_problem(measure_cfg)
    model = sequence.build_model(config, 1)
    fn = norms_fn(config, problem, model)
    out = {"init": np.asarray(fn(initial_params(problem, config)))}
    trained = {}
    if trains:
        result = sweep.train(sequence.make_problem, config, workdir)
        indices = range(len(result.overrides))
        params = jax.tree.map(
            lambda *a: jnp.stack(a), *[result.run_state(i).params for i in indices]
        )
        out["trained"] = np.asarray(fn(params))
        for i, o in zip(indices, result.overrides):
            trained[int(o.get("seed", config.seed))] = {
                k: v for k, v in result.run_metrics(i).items() if k.startswith("test_")
            }
    return out, trained


def networks(config: ml_collections.ConfigDict) -> list[tuple[str, ml_collections.ConfigDict]]:
    """``(label, config)`` of every measured network: each cell, the GRU once per initial ``b_z``
    in ``config.gru_update_biases`` (labelled ``gru_bz<b>``) when that tuple is not empty."""
    out = []
    for cell in sequence.cells(config):
        cfg = sequence.cell_config(config, cell)
        biases = tuple(config.get("gru_update_biases", ())) if cell == "gru" else ()
        if not biases:
            out.append((cell, cfg))
        for b in biases:
            variant = ml_collections.ConfigDict(cfg.to_dict())
            variant.model.update_bias = float(b)
            out.append((f"gru_bz{float(b):g}", variant))
    return out


def _plot(norms: dict[str, dict[str, np.ndarray]], workdir: str, default_bz: float) -> str:
    plt = report.pyplot()

    stages = [s for s in STAGES if any(s in v for v in norms.values())]
    fig, axes = plt.subplots(1, len(stages), figsize=(5 * len(stages), 3.6), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        for label, by_stage in norms.items():
            g = by_stage[stage][:, ::-1]  # index = lag
            lag = np.arange(g.shape[1])
            if label.startswith("gru_bz"):
                bz = float(label[len("gru_bz") :])
                label = f"gru b_z={bz:g}" + (" (default)" if bz == default_bz else "")
            ax.semilogy(lag, g.mean(0), label=label)
            ax.fill_between(lag, g.min(0), g.max(0), alpha=0.2)
        ax.set(
            xlabel="time lag T-1-t",
            ylabel="‖∂loss/∂x_t‖ (mean, min-max over seeds)",
            title=f"input gradient, {stage}",
        )
        ax.legend(fontsize=7, loc="lower left")
    return report.save_figure(fig, os.path.join(workdir, "gradient_vs_lag.png"))


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Measures every cell at initialisation and after ``train.steps`` steps; table and plot."""
    if config.data.name != "adding" or int(config.data.lag) != int(config.data.max_lag):
        raise ValueError(
            "gradient_flow measures the adding problem at full length: "
            "set data.name='adding' and data.lag = data.max_lag"
        )
    other = sorted({p for o in sweep.expand(config) for p in o} - {"seed", "model.cell"})
    if other:
        raise ValueError(
            f"gradient_flow compares cells over seeds only; it cannot sweep {', '.join(other)} "
            f"(clear sweep.{other[0]})"
        )
    norms, rows = {}, []
    report_lags = [l for l in config.report_lags if l < int(config.data.lag)]
    seeds = [int(s) for s in sweep.values(config, "seed")]
    per_seed = {s: {} for s in seeds}  # each seed's ratios: the runs and the summary's std
    for cell, cell_cfg in networks(config):
        logging.info("network %s", cell)
        norms[cell], trained = _cell_norms(cell_cfg, os.path.join(workdir, cell))
        for s, m in trained.items():  # the trained runs' test metrics, each seed's
            per_seed[s].update({f"{cell}_trained_{k}": v for k, v in m.items()})
        for stage, g in norms[cell].items():
            ratios = g[:, ::-1] / g[:, -1:]  # (seeds, lags): ‖g(lag)‖ / ‖g(0)‖
            row = {"cell": cell, "stage": stage, "seeds": g.shape[0]}
            for lag in report_lags:
                name = f"{cell}_{stage}_ratio_lag{lag}"
                row[f"lag {lag}"] = float(ratios[:, lag].mean())
                for s, value in zip(seeds, ratios[:, lag]):
                    per_seed[s][name] = float(value)
            rows.append(row)
    if report.is_writer():
        _plot(norms, workdir, float(config.model.get("update_bias", -1.0)))
        np.savez(
            os.path.join(workdir, "gradient_norms.npz"),
            **{f"{c}_{s}": g for c, d in norms.items() for s, g in d.items()},
        )
    text = "‖∂loss/∂x_t‖ / ‖∂loss/∂x_T‖ by lag T-t (mean over seeds)\n" + report.table(rows)
    report.write_table(workdir, text)
    runs = [{"seed": s, "metrics": m} for s, m in per_seed.items()]
    return report.results_from_runs(config.experiment, config, runs, table=rows)
