"""Universal approximation: hidden layers of N sigmoid units fitted to a continuous function.

Every width N of the sweep trains in ONE vmapped program: the network has ``max_width`` units and
the traced ``model.width`` masks the rest (jaxdl.models.mlp.ShallowSigmoidNet). With
``model.name="deep_sigmoid"`` (:class:`DeepSigmoidNet`) the traced ``model.depth`` also chooses
how many of ``max_depth`` hidden layers act, so depths x widths x seeds are one program too.
"""

import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem


class DeepSigmoidNet(nn.Module):
    """Up to ``max_depth`` hidden layers of sigmoid units, each masked to the first ``width``.

    Layer 1 is :class:`jaxdl.models.mlp.ShallowSigmoidNet`'s ridge layer ``σ(Wᵀ(x − c))``; layer
    l > 1 is ``σ(W_l h + b_l)``. Layers l > ``depth`` pass ``h`` through unchanged, so ``depth``
    (like ``width``) can be a traced scalar and one program trains every depth.

    Attributes:
      max_width: units allocated per layer.
      max_depth: hidden layers allocated.
      num_outputs: output dimension.
      init_scale: std of the first layer's slopes.
    """

    max_width: int = 64
    max_depth: int = 3
    num_outputs: int = 1
    init_scale: float = 10.0

    @nn.compact
    def __call__(self, x, width=None, depth=None, train: bool = False):
        """Maps x ``(n, m)`` to ``(n, num_outputs)`` with ``depth`` layers of ``width`` units."""
        width = self.max_width if width is None else width
        depth = self.max_depth if depth is None else depth
        mask = (jnp.arange(self.max_width) < width).astype(x.dtype)[None, :]
        W = self.param("W", nn.initializers.normal(self.init_scale), (x.shape[-1], self.max_width))
        c = self.param("c", nn.initializers.uniform(1.0), (self.max_width, x.shape[-1]))
        h = nn.sigmoid(x @ W - jnp.sum(c * W.T, axis=1)[None, :]) * mask
        for l in range(1, self.max_depth):
            h_next = nn.sigmoid(nn.Dense(self.max_width, name=f"hidden_{l + 1}")(h)) * mask
            h = jnp.where(l < depth, h_next, h)
        return nn.Dense(self.num_outputs, kernel_init=nn.initializers.zeros)(h)


def _model(config, num_outputs):
    if config.model.name == "deep_sigmoid":
        if int(config.model.max_depth) < 1:
            raise ValueError(f"model.max_depth must be >= 1, got {config.model.max_depth}")
        return DeepSigmoidNet(config.model.max_width, config.model.max_depth, num_outputs)
    return models.get(config.model.name, max_width=config.model.max_width, num_outputs=num_outputs)


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Data, masked sigmoid network, squared-error loss and optimizer."""
    ds = data_lib.load(config.data)
    model = _model(config, ds.train["y"].shape[1])
    deep = isinstance(model, DeepSigmoidNet)
    example = jnp.zeros((1,) + ds.input_shape, jnp.float32)

    def apply(params, x, hparams):
        if deep:
            width, depth = hparams["model.width"], hparams["model.depth"]
            return model.apply({"params": params}, x, width, depth)
        return model.apply({"params": params}, x, hparams["model.width"])

    def init(key, hparams):
        if deep:
            return model.init(key, example, hparams["model.width"], hparams["model.depth"])
        return model.init(key, example, hparams["model.width"])

    def loss(params, model_state, batch, rng, hparams):
        mse = jnp.mean((apply(params, batch["x"], hparams) - batch["y"]) ** 2)
        return mse, ({}, model_state)

    def evaluate(params, model_state, batch, hparams):
        err = apply(params, batch["x"], hparams) - batch["y"]
        return {"mse": jnp.sum(err**2), "count": jnp.asarray(err.shape[0])}

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(ds.train["y"])))
    traced = COMMON_TRACED + (("model.width", "model.depth") if deep else ("model.width",))
    return Problem(init, loss, evaluate, tx, ds.train, ds.test, traced=traced)


def units_needed(rows, target) -> dict[int, float]:
    """Per depth, the fewest hidden units (depth x width) whose test MSE is at most ``target``.

    Args:
      rows: ``{"depth", "width", "seed", "test_mse"}`` per run.
      target: the error to reach.

    Returns:
      ``{depth: [units per seed]}``, ``inf`` for a seed that never reaches ``target``.
    """
    out = {}
    for depth in sorted({r["depth"] for r in rows}):
        for seed in sorted({r["seed"] for r in rows}):
            hit = [
                r["depth"] * r["width"]
                for r in rows
                if r["depth"] == depth and r["seed"] == seed and r["test_mse"] <= target
            ]
            out.setdefault(depth, []).append(float(min(hit)) if hit else float("inf"))
    return out


def _depth_plot(rows, target, workdir) -> None:
    """Test MSE against total hidden units, one line per depth (mean ± std over seeds)."""
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for depth in sorted({r["depth"] for r in rows}):
        widths = sorted({r["width"] for r in rows if r["depth"] == depth})
        mse = np.array(
            [
                [r["test_mse"] for r in rows if r["depth"] == depth and r["width"] == w]
                for w in widths
            ]
        )
        ax.errorbar(
            np.asarray(widths) * depth,
            mse.mean(1),
            mse.std(1),
            fmt="o-",
            capsize=3,
            label=f"{depth} hidden layer{'s' if depth > 1 else ''}",
        )
    ax.axhline(target, ls="--", color="0.4", label="target error")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="hidden units (depth x width)",
        ylabel="test mean squared error",
        title="error vs hidden units, per depth",
    )
    ax.legend(fontsize=8)
    report.save_figure(fig, os.path.join(workdir, "error_vs_units.png"))


def _run_depth(config, result, workdir) -> dict[str, Any]:
    """Rows per run, units needed per depth (mean ± std over seeds), the plot and results."""
    problem = make_problem(sweep.run_config(config, result.overrides[0]))
    var = float(np.var(problem.test_data["y"]))
    target = float(config.model.target_fraction) * var
    rows = [
        {
            "depth": int(o.get("model.depth", config.model.depth)),
            "width": int(o.get("model.width", config.model.width)),
            "seed": int(o.get("seed", config.seed)),
            "test_mse": result.run_metrics(i)["test_mse"],
        }
        for i, o in enumerate(result.overrides)
    ]
    needed = units_needed(rows, target)
    summary = []
    for d, u in needed.items():
        hit = [v for v in u if np.isfinite(v)]
        cell = report.mean_std(hit) if hit else "never"
        summary.append(
            {
                "depth": d,
                "units_needed": cell,
                "seeds_reached": f"{len(hit)}/{len(u)}",
                "per_seed": str([int(v) if np.isfinite(v) else "never" for v in u]),
            }
        )
    if report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        _depth_plot(rows, target, workdir)
        report.write_table(
            workdir,
            report.table(summary),
            f"hidden units needed for test MSE <= "
            f"{target:.3g} ({config.model.target_fraction} x Var(y))",
        )
    extra = {"target_mse": target}
    for d, u in needed.items():  # over the seeds that reach the target (inf: none did)
        hit = [v for v in u if np.isfinite(v)]
        stats = report.mean_and_std(hit) if hit else {"mean": np.inf, "std": np.inf}
        extra.update({f"depth{d}/units_needed_{k}": v for k, v in stats.items()})
        extra[f"depth{d}/seeds_reached"] = len(hit)
    return report.results_dict(config.experiment, config, result, extra=extra, table=summary)


def _plots(config, problem, result, workdir) -> None:
    plt = report.pyplot()

    widths = np.array([o.get("model.width", config.model.width) for o in result.overrides])
    seeds = np.array([o.get("seed", config.seed) for o in result.overrides])
    mse = np.array([result.run_metrics(i)["test_mse"] for i in range(len(widths))])
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    by_width = sorted(set(widths.tolist()))
    ax[0].errorbar(
        by_width,
        [mse[widths == w].mean() for w in by_width],
        yerr=[mse[widths == w].std() for w in by_width],
        fmt="o-",
        capsize=3,
    )
    ax[0].set(
        xscale="log",
        yscale="log",
        xlabel="hidden units N",
        ylabel="test mean squared error",
        title=f"error vs width (mean ± std over {len(set(seeds.tolist()))} seed(s))",
    )
    if problem.train_data["x"].shape[1] == 1 and result.vmapped:
        model = models.get(config.model.name, max_width=config.model.max_width)
        grid = jnp.linspace(0, 1, 400)[:, None]
        state = result.fits[0].state
        curves = jax.vmap(lambda p, w: model.apply({"params": p}, grid, w))(
            state.params, state.hparams["model.width"]
        )
        order = np.argsort(problem.test_data["x"][:, 0])
        ax[1].plot(
            problem.test_data["x"][order, 0],
            problem.test_data["y"][order, 0],
            "k",
            lw=3,
            label="target",
        )
        first = np.flatnonzero(seeds == seeds[0])  # one seed's fits
        for i in first[:: max(len(first) // 5, 1)]:
            ax[1].plot(grid[:, 0], curves[i, :, 0], label=f"N={widths[i]}")
        ax[1].legend(fontsize=7)
        ax[1].set(xlabel="x", ylabel="f(x)", title="fits")
    else:  # the fitted curves come from the stacked state of a 1-D, vmapped sweep
        ax[1].set_axis_off()
        ax[1].text(
            0.5,
            0.5,
            "fits are drawn for 1-D targets\ntrained as one vmapped sweep",
            ha="center",
            va="center",
        )
    fig.tight_layout()
    fig.savefig(os.path.join(workdir, "error_vs_width.png"), dpi=100)
    plt.close(fig)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every width, writes the table and ``error_vs_width.png``."""
    result = sweep.train(make_problem, config, workdir)
    if config.model.name == "deep_sigmoid":
        return _run_depth(config, result, workdir)
    problem = make_problem(sweep.run_config(config, result.overrides[0]))
    if len(result.overrides) > 1 and report.is_writer():
        _plots(config, problem, result, workdir)
    return report.results_dict(config.experiment, config, result)
