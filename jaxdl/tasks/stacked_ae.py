"""Stacked (denoising) auto-encoder: greedy layer-wise pre-training, fine-tuning, linear probes.

Bengio et al. 2007; Vincent et al. 2010, Sec. 3.2. Layer k (enc_k, dec_k) is trained as a
(denoising) auto-encoder on the codes of the frozen layers < k: one run of the training loop per
layer under ``workdir/layer_<k>``. The whole stack is then fine-tuned on reconstruction
(``workdir/finetune``), and, as the control, the same stack is trained end to end from a random
start for as many steps as pre-training and fine-tuning together (``workdir/scratch``). Linear
probes on the top codes of each, on each greedy layer's codes, on the raw pixels and on the random
network's codes show what the unsupervised features are worth. Each stage resumes from its own
checkpoints.
"""

import functools
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl.models import autoencoder as ae
from jaxdl.tasks import reconstruct
from jaxdl.train import optim, report, sweep
from jaxdl.train.problem import Problem

TRACED = reconstruct.TRACED
MODEL_NAMES = ("stacked_autoencoder",)  # greedy layer-wise training needs this one


def build_model(
    config: ml_collections.ConfigDict, input_shape: tuple[int, ...]
) -> ae.StackedAutoEncoder:
    """The StackedAutoEncoder of ``config.model`` over the flattened input."""
    if not config.model.layer_sizes:
        raise ValueError(
            "model.layer_sizes is empty; give the code width of each layer, e.g. (128, 32)"
        )
    return ae.StackedAutoEncoder(
        input_dim=int(np.prod(input_shape)), layer_sizes=tuple(config.model.layer_sizes)
    )


def _noisy_loss(reconstruct_fn: Callable, target_key: str):
    """loss(params, ...) = MSE(reconstruct_fn(params, corrupt(h)), h).

    ``corrupt`` applies the traced noise kind and level.
    """

    def loss(params, model_state, batch, rng, hparams):
        h = batch[target_key]
        k_eps, k_u = jax.random.split(rng)
        eps, u = (
            jax.random.normal(k_eps, h.shape, h.dtype),
            jax.random.uniform(k_u, h.shape, h.dtype),
        )
        h_tilde = reconstruct.corrupt(
            h, hparams["model.noise_kind"], hparams["model.noise_level"], eps, u
        )
        return ae.reconstruction_error(reconstruct_fn(params, h_tilde), h), ({}, model_state)

    def evaluate(params, model_state, batch, hparams):
        h = batch[target_key]
        err = jnp.mean(jnp.square(reconstruct_fn(params, h) - h), axis=1)
        return {"mse": jnp.sum(err), "count": jnp.asarray(h.shape[0])}

    return loss, evaluate


def layer_problem(config, model, base_params, k, codes_train, codes_test) -> Problem:
    """Greedy step k: trains only enc_k and dec_k on the codes of the frozen layers < k."""
    names = (f"enc_{k}", f"dec_{k}")

    def init(key, hparams):
        return {"params": {n: base_params[n] for n in names}}

    def layer_k(sub, h):
        return model.apply({"params": {**base_params, **sub}}, h, k, method="reconstruct_layer")

    loss, evaluate = _noisy_loss(layer_k, "h")
    tx = optim.make_optimizer(config.opt, int(config.train.steps))
    return Problem(init, loss, evaluate, tx, {"h": codes_train}, {"h": codes_test}, traced=TRACED)


def stack_problem(config, model, start_params, x_train, x_test, steps: int) -> Problem:
    """Whole stack trained on reconstruction from ``start_params`` (fine-tuning or from scratch)."""

    def init(key, hparams):
        return {"params": start_params}

    whole = lambda params, x: model.apply({"params": params}, x)
    loss, evaluate = _noisy_loss(whole, "x")
    tx = optim.make_optimizer(config.opt, steps)
    return Problem(init, loss, evaluate, tx, {"x": x_train}, {"x": x_test}, traced=TRACED)


def _stage(config, problem: Problem, steps: int, workdir: str):
    """One training-loop run of ``problem``, ``steps`` steps; returns (final params, test mse)."""
    cfg = ml_collections.ConfigDict(config.to_dict())
    cfg.train.steps = steps
    result = sweep.train(lambda _: problem, cfg, workdir)
    return result.fits[0].state.params, result.run_metrics(0)["test_mse"]


@functools.partial(jax.jit, static_argnums=(0, 3))
def _encode(model, params, x, depth):
    # one compiled program per (model, depth, input shape): the probes encode several stacks alike
    return model.apply({"params": params}, x, depth, method="encode")


def _codes(model, params, x, depth):
    return np.asarray(_encode(model, params, x, depth))


def train_all(config, model, x_train, x_test, workdir) -> tuple[dict[str, Any], dict[str, float]]:
    """Greedy pre-training, fine-tuning and the from-scratch control.

    Returns their params and test errors.
    """
    params = model.init(jax.random.key(int(config.seed)), x_train[:1])["params"]
    stacks, errors = {"random": params}, {}
    for k in range(len(model.layer_sizes)):
        problem = layer_problem(
            config,
            model,
            params,
            k,
            _codes(model, params, x_train, k),
            _codes(model, params, x_test, k),
        )
        sub, errors[f"layer_{k}_test_mse"] = _stage(
            config, problem, int(config.train.steps), os.path.join(workdir, f"layer_{k}")
        )
        params = {**params, **sub}
        stacks[f"greedy_layer_{k}"] = params
    stacks["greedy"] = params
    if config.finetune.steps > 0:
        problem = stack_problem(config, model, params, x_train, x_test, int(config.finetune.steps))
        stacks["greedy_finetuned"], errors["finetuned_test_mse"] = _stage(
            config, problem, int(config.finetune.steps), os.path.join(workdir, "finetune")
        )
    scratch_steps = len(model.layer_sizes) * int(config.train.steps) + int(config.finetune.steps)
    problem = stack_problem(config, model, stacks["random"], x_train, x_test, scratch_steps)
    stacks["scratch"], errors["scratch_test_mse"] = _stage(
        config, problem, scratch_steps, os.path.join(workdir, "scratch")
    )
    errors["greedy_test_mse"] = float(
        np.mean(
            (
                np.asarray(
                    jax.jit(lambda p, x: model.apply({"params": p}, x))(stacks["greedy"], x_test)
                )
                - x_test
            )
            ** 2
        )
    )
    return stacks, errors


def _plot_filters(
    stacks: dict[str, Any], input_shape: tuple[int, ...], path: str, n: int = 16
) -> bool:
    """The first ``n`` first-layer filters (``enc_0`` kernel columns as images) of each stage, one
    row per stage; False (nothing written) unless the inputs are grey images."""
    if len(input_shape) != 3 or input_shape[-1] != 1:
        return False
    plt = report.pyplot()

    stages = [k for k in ("random", "greedy_layer_0", "greedy_finetuned", "scratch") if k in stacks]
    kernels = {k: np.asarray(jax.device_get(stacks[k]["enc_0"]["kernel"])) for k in stages}
    n = min(n, kernels[stages[0]].shape[1])
    fig, axes = plt.subplots(
        len(stages), n, figsize=(0.8 * n + 1.4, 0.9 * len(stages)), squeeze=False
    )
    for stage, row in zip(stages, axes):
        for j, ax in enumerate(row):
            w = kernels[stage][:, j].reshape(input_shape[:2])
            ax.imshow(
                w, cmap="gray", vmin=-np.abs(w).max(), vmax=np.abs(w).max()
            )  # grey = 0 per filter
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(stage, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(
        "first-layer filters (encoder weights into each of the first hidden units)", fontsize=8
    )
    report.save_figure(fig, path)
    return True


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Pre-trains, fine-tunes and trains the control, then probes every set of features; writes
    ``table.txt`` and ``filters.png`` (first-layer filters per stage).

    ``sweep.seed`` (the only field it sweeps) repeats all stages per seed, each under
    ``workdir/seed_<s>``, and the table gives mean ± std over the seeds.
    """
    runs = sweep.expand(config)
    if any(set(o) != {"seed"} for o in runs):
        raise ValueError(
            "the stacked_ae task sweeps only sweep.seed (its stages depend on each other); "
            "clear the other sweep fields"
        )
    reconstruct.check_noise(config)
    ds = reconstruct.load_data(config)
    model = build_model(config, ds.input_shape)
    seeds, runs = [o["seed"] for o in runs], []
    for seed in seeds or [None]:
        cfg = config if seed is None else sweep.run_config(config, {"seed": seed})
        run_dir = workdir if seed is None else os.path.join(workdir, f"seed_{seed}")
        metrics, stacks = _run_seed(cfg, model, ds, run_dir)
        runs.append({"metrics": metrics} if seed is None else {"seed": seed, "metrics": metrics})
    if report.is_writer():
        names = [k for k in runs[0]["metrics"] if k.startswith("probe_accuracy_")]
        rows = [
            {"features": k.removeprefix("probe_accuracy_"), **_mean_std(runs, k, "probe_accuracy")}
            for k in names
        ]
        stages = [
            {"stage": k, **_mean_std(runs, k, "value")}
            for k in runs[0]["metrics"]
            if k not in names
        ]
        text = report.table(rows) + "\n\n" + report.table(stages)
        report.write_table(
            workdir,
            text,
            "linear-probe test accuracy per feature set, and reconstruction errors "
            f"({len(runs)} seed(s))",
        )
        _plot_filters(stacks, tuple(ds.input_shape), os.path.join(workdir, "filters.png"))
    return report.results_from_runs(config.experiment, config, runs)


def _mean_std(runs: list[dict[str, Any]], name: str, column: str) -> dict[str, Any]:
    """``{column: mean ± std}`` of metric ``name`` over runs (the value alone for one run)."""
    values = [r["metrics"][name] for r in runs]
    return {column: values[0] if len(values) == 1 else report.mean_std(values)}


def _run_seed(config, model, ds, workdir) -> tuple[dict[str, float], dict[str, Any]]:
    """All stages and probes of one seed; returns its metrics and the stages' parameters."""
    flat = lambda x: np.asarray(x, np.float32).reshape(len(x), -1)
    x_train, x_test = flat(ds.train["x"]), flat(ds.test["x"])
    stacks, errors = train_all(config, model, x_train, x_test, workdir)
    x_probe, y_probe = reconstruct.probe_subset(config, ds)
    x_probe = flat(x_probe)
    depth = len(model.layer_sizes)
    probe = {
        "raw_pixels": reconstruct.probe_accuracy(config, x_probe, y_probe, x_test, ds.test["y"])
    }
    for name, params in stacks.items():
        if name == "greedy":  # the same codes as the top greedy_layer_<K-1>
            continue
        d = int(name.rsplit("_", 1)[1]) + 1 if name.startswith("greedy_layer_") else depth
        probe[name] = reconstruct.probe_accuracy(
            config,
            _codes(model, params, x_probe, d),
            y_probe,
            _codes(model, params, x_test, d),
            ds.test["y"],
        )
    return {**errors, **{f"probe_accuracy_{k}": v for k, v in probe.items()}}, stacks
