"""Auto-encoder vs denoising AEs on the one loop: error vs test noise, image grid, linear probes.

The corruption kind (``model.noise_kind``: 0 = additive Gaussian X = X' + noise with std
``noise_level``, 1 = masking a fraction ``noise_level`` of the entries to 0; Vincent et al. 2008)
and the level are traced hyper-parameters, so the plain AE (level 0, trained once: the kinds agree
there) and DAEs at several levels and both kinds train as ONE vmapped program. Every run is scored
on the test set corrupted by every swept kind at each of ``eval.noise_levels`` (fixed noise draws,
so every run sees the same corrupted images) against the clean image (metrics
``<kind>_mse_at_<level>``); a linear probe (logistic regression) on the bottleneck codes is
compared with one on the raw pixels and one on the codes of the untrained (random) network.
"""

import functools
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.models import autoencoder as ae
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem

NOISE_KINDS = ("gaussian", "masking")  # model.noise_kind indexes this tuple
TRACED = COMMON_TRACED + ("model.noise_kind", "model.noise_level")
_NOT_MODEL_ARGS = ("name", "noise_kind", "noise_level")


def corrupt(
    x: jax.Array, kind: jax.Array, level: jax.Array, eps: jax.Array, u: jax.Array
) -> jax.Array:
    """The corrupted input for a traced noise kind and level, from given noise draws.

    Args:
      x: clean inputs X', any shape.
      kind: int scalar (may be traced): 0 additive Gaussian, 1 masking (``NOISE_KINDS``).
      level: scalar (may be traced): the Gaussian std, or the masked fraction.
      eps: standard normal draws, shape of ``x``.
      u: uniform [0, 1) draws, shape of ``x``.

    Returns:
      X = X' + level * eps (kind 0), or X' with the entries where ``u < level`` set to 0 (kind 1);
      the same arithmetic as ``autoencoder.gaussian_noise`` / ``masking_noise``, both computed so
      that the kind can be data.
    """
    masked = jnp.where(u < level, jnp.zeros_like(x), x)
    return jnp.where(kind == 0, x + level * eps, masked)


def metric_name(level: float, kind: int) -> str:
    """Name of the test error at test noise ``level`` of ``kind`` (e.g. ``masking_mse_at_0.25``)."""
    return f"{NOISE_KINDS[kind]}_mse_at_{level:g}"


def test_kinds(config: ml_collections.ConfigDict) -> tuple[int, ...]:
    """The noise kinds every run is tested under: those the sweep trains with."""
    return tuple(sorted({int(k) for k in sweep.values(config, "model.noise_kind")}))


def distinct_runs(config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
    """The sweep's runs, with the plain AE trained once: at level 0 every noise kind trains the same
    model (the corruption is the identity), so only the first kind's level-0 run is kept. Every run
    is tested under every kind, the AE included."""
    runs, seen = [], set()
    for o in sweep.expand(config):
        plain = run_noise(config, o)[1] == 0
        key = tuple(sorted((p, v) for p, v in o.items() if not (plain and p == "model.noise_kind")))
        if key not in seen:
            seen.add(key)
            runs.append(o)
    return runs


@functools.lru_cache(maxsize=4)
def _load(data_json: str) -> data_lib.Dataset:
    return data_lib.load(ml_collections.ConfigDict(json.loads(data_json)))


def load_data(config: ml_collections.ConfigDict) -> data_lib.Dataset:
    """The image data set of ``config.data`` (cached: the task reads it several times)."""
    return _load(json.dumps(config.data.to_dict(), sort_keys=True))


def build_model(config: ml_collections.ConfigDict, input_shape: tuple[int, ...]):
    """The auto-encoder of ``config.model`` without internal noise (the task corrupts the input)."""
    kwargs = {
        k: (tuple(v) if isinstance(v, list) else v)
        for k, v in config.model.to_dict().items()
        if k not in _NOT_MODEL_ARGS
    }
    if config.model.name not in ae.MODELS:
        raise ValueError(
            f"model.name={config.model.name!r} is not an auto-encoder; "
            f"choose one of {', '.join(sorted(ae.MODELS))}"
        )
    return models.get(
        config.model.name, input_shape=tuple(input_shape), **{**kwargs, "noise": "none"}
    )


def test_noise(config: ml_collections.ConfigDict, x: np.ndarray) -> dict[str, np.ndarray]:
    """Fixed test-image noise draws ``eps`` (normal), ``u`` (uniform) from ``eval.noise_seed``."""
    rng = np.random.default_rng(int(config.eval.noise_seed))
    return {
        "eps": rng.standard_normal(x.shape).astype(np.float32),
        "u": rng.random(x.shape).astype(np.float32),
    }


def check_noise(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for a bad noise kind or level (base value or any swept value)."""
    kinds, levels = (
        sweep.values(config, "model.noise_kind"),
        sweep.values(config, "model.noise_level"),
    )
    for kind in kinds:
        if kind not in range(len(NOISE_KINDS)):
            raise ValueError(
                f"model.noise_kind={kind!r} is not valid; "
                f"use 0 ({NOISE_KINDS[0]}) or 1 ({NOISE_KINDS[1]})"
            )
    for level in tuple(levels) + tuple(config.eval.noise_levels):
        if not 0.0 <= float(level) <= (1.0 if 1 in kinds else float("inf")):
            raise ValueError(
                f"noise level {level!r} is out of range; "
                "accepted: >= 0 (Gaussian std), <= 1 with masking"
            )


def make_problem(
    config: ml_collections.ConfigDict, kinds: tuple[int, ...] | None = None
) -> Problem:
    """Data, auto-encoder, denoising reconstruction loss and optimizer; the test errors are
    measured for the noise ``kinds`` (default: every kind, :data:`NOISE_KINDS`)."""
    ds = load_data(config)
    model = build_model(config, ds.input_shape)
    example = jnp.zeros((1,) + ds.input_shape, jnp.float32)
    levels = tuple(float(v) for v in config.eval.noise_levels)
    kinds = tuple(range(len(NOISE_KINDS))) if kinds is None else kinds

    def init(key, hparams):
        return model.init(key, example)

    def loss(params, model_state, batch, rng, hparams):
        x = batch["x"]
        k_eps, k_u = jax.random.split(rng)
        eps, u = (
            jax.random.normal(k_eps, x.shape, x.dtype),
            jax.random.uniform(k_u, x.shape, x.dtype),
        )
        x_tilde = corrupt(x, hparams["model.noise_kind"], hparams["model.noise_level"], eps, u)
        mse = ae.reconstruction_error(
            model.apply({"params": params}, x_tilde), x
        )  # target: the clean X'
        return mse, ({}, model_state)

    def evaluate(params, model_state, batch, hparams):
        x = batch["x"]

        def error_sum(kind, level):
            x_hat = model.apply(
                {"params": params}, corrupt(x, kind, level, batch["eps"], batch["u"])
            )
            return jnp.sum(jnp.mean(jnp.square(x_hat - x).reshape(x.shape[0], -1), axis=1))

        out = {
            "mse": error_sum(0, 0.0),
            "mse_noisy": error_sum(hparams["model.noise_kind"], hparams["model.noise_level"]),
        }
        out.update(
            {metric_name(level, kind): error_sum(kind, level) for kind in kinds for level in levels}
        )
        return {**out, "count": jnp.asarray(x.shape[0])}

    train = {"x": ds.train["x"]}
    test = {"x": ds.test["x"], **test_noise(config, ds.test["x"])}
    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["x"])))
    return Problem(init, loss, evaluate, tx, train, test, traced=TRACED)


def run_noise(config: ml_collections.ConfigDict, overrides: dict[str, Any]) -> tuple[int, float]:
    """(noise kind, training noise level) of one run."""
    return int(overrides.get("model.noise_kind", config.model.noise_kind)), float(
        overrides.get("model.noise_level", config.model.noise_level)
    )


def run_label(kind: int, level: float) -> str:
    """``AE`` for level 0, else e.g. ``DAE gaussian 0.3``."""
    return "AE" if level == 0 else f"DAE {NOISE_KINDS[kind]} {level:g}"


def probe_accuracy(
    config: ml_collections.ConfigDict, train_features, y_train, test_features, y_test
) -> float:
    """Test accuracy of a logistic-regression probe on standardised features (scikit-learn)."""
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    scaler = StandardScaler().fit(np.asarray(train_features, np.float64))
    # One BLAS thread: on matrices this small a thread pool only adds synchronisation to lbfgs.
    with threadpool_limits(limits=1):
        return ae.linear_probe(
            scaler.transform(np.asarray(train_features, np.float64)),
            y_train,
            scaler.transform(np.asarray(test_features, np.float64)),
            y_test,
            C=float(config.probe.C),
        )


def probe_subset(
    config: ml_collections.ConfigDict, ds: data_lib.Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``probe.max_train`` training examples (fixed random subset) for the probes."""
    n = len(ds.train["y"])
    keep = np.sort(np.random.default_rng(0).permutation(n)[: min(n, int(config.probe.max_train))])
    return ds.train["x"][keep], ds.train["y"][keep]


def _encode_fn(model):
    return jax.jit(lambda p, x: model.apply({"params": p}, x, method="encode"))


def probes(config, result, model, ds) -> tuple[list[float], dict[str, float]]:
    """Probe accuracy on each run's codes, and on raw pixels and random-network codes."""
    x_train, y_train = probe_subset(config, ds)
    x_test, y_test = ds.test["x"], ds.test["y"]
    encode = _encode_fn(model)

    def on_codes(params):
        return probe_accuracy(
            config, encode(params, x_train), y_train, encode(params, x_test), y_test
        )

    per_run = [on_codes(result.run_state(i).params) for i in range(len(result.overrides))]
    random_params = model.init(jax.random.key(int(config.seed)), x_train[:1])["params"]
    flat = lambda x: x.reshape(len(x), -1)
    baselines = {
        "probe_accuracy_raw_pixels": probe_accuracy(
            config, flat(x_train), y_train, flat(x_test), y_test
        ),
        "probe_accuracy_random_codes": on_codes(random_params),
    }
    return per_run, baselines


def column(level: float, kind: int) -> str:
    """Table column of the test error at ``level`` of ``kind`` (e.g. ``masking 0.25``; ``clean``
    at level 0, where the kinds agree)."""
    return "clean" if level == 0 else f"{NOISE_KINDS[kind]} {level:g}"


def over_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the same ``run`` label (seeds of one setting) merged: numbers become lists of the
    seeds' values, in first-seen order."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        merged.setdefault(r["run"], []).append(r)
    return [
        {
            k: [float(g[k]) for g in group] if isinstance(v, (float, np.floating)) else v
            for k, v in group[0].items()
        }
        | {"seeds": len(group)}
        for group in merged.values()
    ]


def _plot_errors(config, rows, identity, path) -> None:
    plt = report.pyplot()

    levels = [float(v) for v in config.eval.noise_levels]
    kinds = test_kinds(config)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        ax.plot(levels, identity[kind], "k:", label="corrupted input itself")
        for r in (
            r for r in rows if r["kind"] in (kind, None)
        ):  # None: the plain AE, in every panel
            ax.errorbar(
                levels,
                [np.mean(r[column(v, kind)]) for v in levels],
                yerr=[np.std(r[column(v, kind)]) for v in levels],
                fmt="o-",
                capsize=3,
                label=r["run"],
            )
        ax.set(
            xlabel=f"test noise level ({NOISE_KINDS[kind]})",
            ylabel="test MSE vs clean image",
            title=f"{NOISE_KINDS[kind]} corruption",
        )
        ax.legend(fontsize=7)
    report.save_figure(fig, path)


def grid_rows(config, result, model, ds) -> list[tuple[str, np.ndarray]]:
    """Rows per noise kind: clean input, input corrupted at ``eval.show_level``, each run's
    reconstruction. Runs on every process (a vmapped sweep's state may span hosts)."""
    n = min(int(config.eval.show_images), len(ds.test["x"]))
    x = ds.test["x"][:n]
    noise = test_noise(config, ds.test["x"])
    level = float(config.eval.show_level)
    apply = jax.jit(lambda p, x: model.apply({"params": p}, x))
    rows = []
    first_seed = result.overrides[0].get("seed", config.seed)  # one seed's reconstructions
    for kind in test_kinds(config):
        x_tilde = np.asarray(corrupt(x, kind, level, noise["eps"][:n], noise["u"][:n]))
        rows += [("input", x), (f"{NOISE_KINDS[kind]} {level:g}", x_tilde)]
        for i, o in enumerate(result.overrides):
            if o.get("seed", config.seed) != first_seed:
                continue
            if run_noise(config, o)[0] == kind or run_noise(config, o)[1] == 0:
                rows.append(
                    (
                        run_label(*run_noise(config, o)),
                        np.asarray(jax.device_get(apply(result.run_state(i).params, x_tilde))),
                    )
                )
    return rows


def _plot_grid(rows: list[tuple[str, np.ndarray]], path: str) -> None:
    """The image grid of :func:`grid_rows`, one labelled row each."""
    plt = report.pyplot()

    n = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.1 * len(rows)), squeeze=False)
    for (label, images), ax_row in zip(rows, axes):
        for image, ax in zip(images, ax_row):
            image = np.clip(image, 0.0, 1.0)
            ax.imshow(
                image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0.0, vmax=1.0
            )
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    report.save_figure(fig, path)


def identity_errors(config, ds) -> dict[int, list[float]]:
    """MSE of the corrupted test input itself vs the clean one, per kind and test level.

    The plot's reference line.
    """
    x = ds.test["x"]
    noise = test_noise(config, x)
    return {
        kind: [
            float(
                np.mean(
                    np.square(np.asarray(corrupt(x, kind, float(v), noise["eps"], noise["u"])) - x)
                )
            )
            for v in config.eval.noise_levels
        ]
        for kind in range(len(NOISE_KINDS))
    }


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every noise setting, then writes the error table and plot, image grid and probes."""
    check_noise(config)
    kinds = test_kinds(config)
    result = sweep.train(
        functools.partial(make_problem, kinds=kinds), config, workdir, distinct_runs(config)
    )
    ds = load_data(config)
    model = build_model(config, ds.input_shape)
    per_run, baselines = probes(config, result, model, ds)
    rows = []
    for i, o in enumerate(result.overrides):
        kind, level = run_noise(config, o)
        m = result.run_metrics(i)
        errors = {
            column(float(v), k): m[f"test_{metric_name(float(v), k)}"]
            for k in kinds
            for v in config.eval.noise_levels
        }
        rows.append(
            {
                "run": run_label(kind, level),
                "kind": None if level == 0 else kind,
                **errors,
                "probe_accuracy": per_run[i],
            }
        )
    rows = over_seeds(rows)
    grid = grid_rows(config, result, model, ds)
    if report.is_writer():
        _plot_errors(
            config,
            rows,
            identity_errors(config, ds),
            os.path.join(workdir, "error_vs_test_noise.png"),
        )
        _plot_grid(grid, os.path.join(workdir, "reconstructions.png"))
        text = report.table(
            [
                {
                    k: report.mean_std(v) if isinstance(v, list) else v
                    for k, v in r.items()
                    if k != "kind"
                }
                for r in rows
            ]
        )
        text += "\n\n" + report.table(
            [
                {"features": k.removeprefix("probe_accuracy_"), "probe_accuracy": v}
                for k, v in baselines.items()
            ]
        )
        report.write_table(
            workdir,
            text,
            "test MSE vs the clean image at each test noise level, and linear-probe accuracy",
        )
    return report.results_dict(
        config.experiment,
        config,
        result,
        extra=baselines,
        run_metrics=[{"probe_accuracy": acc} for acc in per_run],
    )
