"""Universal approximation: one hidden layer of N sigmoid units fitted to a continuous function.

Every width N of the sweep trains in ONE vmapped program: the network has ``max_width`` units and
the traced ``model.width`` masks the rest (jaxdl.models.mlp.ShallowSigmoidNet).
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Data, masked shallow network, squared-error loss and optimizer."""
    ds = data_lib.load(config.data)
    model = models.get(config.model.name, max_width=config.model.max_width, num_outputs=ds.train["y"].shape[1])
    example = jnp.zeros((1,) + ds.input_shape, jnp.float32)

    def init(key, hparams):
        return model.init(key, example, hparams["model.width"])

    def loss(params, model_state, batch, rng, hparams):
        y_hat = model.apply({"params": params}, batch["x"], hparams["model.width"])
        mse = jnp.mean((y_hat - batch["y"]) ** 2)
        return mse, ({}, model_state)

    def evaluate(params, model_state, batch, hparams):
        err = model.apply({"params": params}, batch["x"], hparams["model.width"]) - batch["y"]
        return {"mse": jnp.sum(err**2), "count": jnp.asarray(err.shape[0])}

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(ds.train["y"])))
    return Problem(init, loss, evaluate, tx, ds.train, ds.test, traced=COMMON_TRACED + ("model.width",))


def _plots(config, problem, result, workdir) -> None:
    plt = report.pyplot()

    widths = np.array([o.get("model.width", config.model.width) for o in result.overrides])
    mse = np.array([result.run_metrics(i)["test_mse"] for i in range(len(widths))])
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    ax[0].loglog(widths, mse, "o-")
    ax[0].set(xlabel="hidden units N", ylabel="test mean squared error", title="error vs width")
    if problem.train_data["x"].shape[1] == 1 and result.vmapped:
        model = models.get(config.model.name, max_width=config.model.max_width)
        grid = jnp.linspace(0, 1, 400)[:, None]
        state = result.fits[0].state
        curves = jax.vmap(lambda p, w: model.apply({"params": p}, grid, w))(state.params, state.hparams["model.width"])
        order = np.argsort(problem.test_data["x"][:, 0])
        ax[1].plot(problem.test_data["x"][order, 0], problem.test_data["y"][order, 0], "k", lw=3, label="target")
        for i in range(0, len(widths), max(len(widths) // 5, 1)):
            ax[1].plot(grid[:, 0], curves[i, :, 0], label=f"N={widths[i]}")
        ax[1].legend(fontsize=7)
        ax[1].set(xlabel="x", ylabel="f(x)", title="fits")
    else:  # the fitted curves come from the stacked state of a 1-D, vmapped sweep
        ax[1].set_axis_off()
        ax[1].text(0.5, 0.5, "fits are drawn for 1-D targets\ntrained as one vmapped sweep", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(os.path.join(workdir, "error_vs_width.png"), dpi=100)
    plt.close(fig)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every width, writes the table and ``error_vs_width.png``."""
    result = sweep.train(make_problem, config, workdir)
    problem = make_problem(sweep.run_config(config, result.overrides[0]))
    if len(result.overrides) > 1:
        _plots(config, problem, result, workdir)
    return report.results_dict(config.experiment, config, result)
