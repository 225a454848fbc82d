"""Recurrent sequence tasks on the trainer: adding problem over lags, sunspots, JapaneseVowels."""

import os
from typing import Any

from absl import logging
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import models
from jaxdl.data import japanese_vowels, sequences, sunspots
from jaxdl.train import loop, optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem

DATA = ("adding", "sunspots", "japanese_vowels")
CELLS = ("rnn", "lstm", "gru")
SOURCES = ("real", "synthetic")
_EXTRA = "pip install -e '.[seq]'"


# ---------------------------------------------------------------- the adding problem, lag as data


def base_config(
    experiment: str, task: str, description: str, model_name: str
) -> ml_collections.ConfigDict:
    """The model, optimizer and cell sweep the recurrent experiments share: RNN vs LSTM vs GRU.

    Args:
      experiment: name written to results.json.
      task: the task that runs it (``sequence`` or ``gradient_flow``).
      description: one line for ``launch.py --list``.
      model_name: ``sequence_classifier`` or ``sequence_regressor``, registered models that take
        the cell (``model.cell``) as an argument.
    """
    from jaxdl.train import config as config_lib  # pylint: disable=g-import-not-at-top

    c = config_lib.base(experiment, task, description)
    config_lib.drop(
        c, "data.test_fraction"
    )  # the data sets split by num_test / test_years / their own split
    c.model.name = model_name
    c.model.cell = "lstm"  # rnn | lstm | gru (sweep.model.cell compares them, one after another)
    c.model.features = 32  # hidden size H
    c.model.num_layers = 1
    c.model.pooling = "last"  # read the state at each sequence's last valid step
    c.model.unroll = 1  # time steps per lax.scan iteration
    c.model.update_bias = -1.0  # GRU's initial b_z: negative keeps the carry (0 = Cho et al. 2014)
    c.model.recurrent_gain = 1.0  # U = gain x orthogonal (rnn, lstm): spectral radius = gain
    c.opt.name = "adam"
    c.opt.lr = 3e-3
    c.opt.clip_norm = 1.0  # keeps the vanilla RNN's exploding gradients finite
    config_lib.sweepable(c, "model.cell")
    c.sweep.model.cell = ("rnn", "lstm", "gru")
    return c


def adding_inputs(v_NT: jax.Array, u_N2: jax.Array, lag: jax.Array):
    """The adding problem of length ``lag`` inside arrays of the maximum length T.

    Le et al. (2015)'s form: one marker uniform in the first half of the ``lag`` steps, one in
    the second half, target the sum of the two marked values. The sequence occupies steps
    ``[0, lag)``; the returned lengths make the recurrent layers freeze their carry after it, so
    the result is exactly the length-``lag`` problem while every lag shares one program.

    Args:
      v_NT: (N, T) values in [0, 1).
      u_N2: (N, 2) uniforms in [0, 1) that place the two markers.
      lag: int scalar (may be traced), 2 <= lag <= T.

    Returns:
      ``x (N, T, 2)`` (value, marker), ``lengths (N,)`` all ``lag``, ``y (N,)``.
    """
    N, T = v_NT.shape
    half = lag // 2
    first = jnp.minimum(jnp.floor(u_N2[:, 0] * half), half - 1).astype(jnp.int32)
    second = half + jnp.minimum(jnp.floor(u_N2[:, 1] * (lag - half)), lag - half - 1).astype(
        jnp.int32
    )
    t = jnp.arange(T)[None, :]
    marker = ((t == first[:, None]) | (t == second[:, None])).astype(v_NT.dtype)
    y = jnp.sum(v_NT * marker, axis=1)
    return jnp.stack([v_NT, marker], axis=-1), jnp.full((N,), lag, jnp.int32), y


def _adding_data(cfg: ml_collections.ConfigDict) -> tuple[dict, dict, dict]:
    """Train, test and (``num_val`` > 0) validation draws; the validation set is drawn last, so the
    train and test sets do not depend on its size."""
    rng = np.random.default_rng(cfg.split_seed)
    T = int(cfg.max_lag)

    def draw(n):
        return {
            "v": rng.uniform(size=(n, T)).astype(np.float32),
            "u": rng.uniform(size=(n, 2)).astype(np.float32),
        }

    train, test = draw(int(cfg.num_train)), draw(int(cfg.num_test))
    num_val = int(cfg.get("num_val", 0))
    return train, test, ({"val": draw(num_val)} if num_val > 0 else {})


# ---------------------------------------------------------------- sunspots and JapaneseVowels


def synthetic_sunspots(n: int = 309, seed: int = 0) -> np.ndarray:
    """An 11-year-cycle stand-in for the sunspot series (tests run without statsmodels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    amplitude = 60 + 30 * np.sin(2 * np.pi * t / 90)  # the Gleissberg-like slow modulation
    return (
        (amplitude * np.sin(np.pi * t / 11) ** 2 + rng.normal(0, 8, n)).clip(0).astype(np.float32)
    )


def _sunspot_data(cfg: ml_collections.ConfigDict) -> tuple[dict, dict, dict]:
    """Chronological split of one-step windows, scaled by the training targets' mean and std."""
    if cfg.source == "real":
        try:
            _, series = sunspots.load_sunspots(cfg.get("path") or None)
        except ModuleNotFoundError:
            raise ModuleNotFoundError(f"the sunspots data needs statsmodels: {_EXTRA}") from None
    else:
        series = synthetic_sunspots(seed=int(cfg.split_seed))
    x, y = sunspots.forecasting_windows(series, int(cfg.window))
    n_test = int(cfg.test_years)
    if not 0 < n_test < len(y):
        raise ValueError(f"data.test_years={n_test} must be in 1..{len(y) - 1} (windows available)")
    mean, std = float(y[:-n_test].mean()), float(y[:-n_test].std())
    scale = lambda a: ((a - mean) / std).astype(np.float32)
    train = {"x": scale(x[:-n_test]), "y": scale(y[:-n_test, 0])}
    test = {"x": scale(x[-n_test:]), "y": scale(y[-n_test:, 0])}
    persistence = float(np.sqrt(np.mean((x[-n_test:, -1, 0] - y[-n_test:, 0]) ** 2)))
    return train, test, {"mean": mean, "std": std, "persistence_rmse": persistence}


def synthetic_vowels(n: int, seed: int, num_classes: int = 9) -> dict[str, np.ndarray]:
    """Variable-length 12-channel sequences whose class sets a mean trajectory.

    Synthetic data of JapaneseVowels' shape.
    """
    rng = np.random.default_rng(seed)
    T, D = japanese_vowels.MAX_LENGTH, japanese_vowels.NUM_CHANNELS
    centres = np.random.default_rng(1234).normal(size=(num_classes, 2, D))  # fixed across splits
    y = rng.integers(0, num_classes, n)
    lengths = rng.integers(7, T + 1, n)
    s = np.arange(T)[None, :, None] / (lengths[:, None, None] - 1)
    x = (
        (1 - s) * centres[y, 0][:, None]
        + s * centres[y, 1][:, None]
        + rng.normal(0, 0.5, (n, T, D))
    )
    x = np.where(np.arange(T)[None, :, None] < lengths[:, None, None], x, 0.0)
    return {"x": x.astype(np.float32), "lengths": lengths.astype(np.int32), "y": y.astype(np.int32)}


def _vowel_data(cfg: ml_collections.ConfigDict) -> tuple[dict, dict]:
    """Train / test splits, channels standardised with the training set's valid steps."""
    if cfg.source == "real":
        try:
            splits = [
                japanese_vowels.load_japanese_vowels(s, cfg.get("path") or None)
                for s in ("train", "test")
            ]
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                f"JapaneseVowels needs sktime's data files: {_EXTRA}"
            ) from None
        train, test = ({"x": x, "lengths": l, "y": y} for x, l, y in splits)
    else:
        train, test = (
            synthetic_vowels(int(cfg.num_train), int(cfg.split_seed)),
            synthetic_vowels(int(cfg.num_test), int(cfg.split_seed) + 1),
        )
    valid = np.arange(train["x"].shape[1])[None, :] < train["lengths"][:, None]
    mean, std = train["x"][valid].mean(0), train["x"][valid].std(0) + 1e-6
    for split in (train, test):
        mask = (np.arange(split["x"].shape[1])[None, :] < split["lengths"][:, None])[..., None]
        split["x"] = np.where(mask, (split["x"] - mean) / std, 0.0).astype(np.float32)
    return train, test


# ---------------------------------------------------------------- problems


def build_model(config: ml_collections.ConfigDict, num_outputs: int):
    """The registered ``model.name`` (``sequence_classifier`` for JapaneseVowels,
    ``sequence_regressor`` for the adding problem and sunspots) with the cell ``model.cell``."""
    m = config.model
    if m.cell not in CELLS:
        raise ValueError(f"model.cell={m.cell!r} is unknown; accepted: {', '.join(CELLS)}")
    kind, out = (
        ("classifier", "num_classes")
        if config.data.name == "japanese_vowels"
        else ("regressor", "out_features")
    )
    if m.name != f"sequence_{kind}":
        raise ValueError(
            f"model.name={m.name!r} does not fit data.name={config.data.name!r}; "
            f"accepted: sequence_{kind}"
        )
    layer_kwargs = {"unroll": int(m.get("unroll", 1))}
    if m.cell == "gru" and "update_bias" in m:
        layer_kwargs["update_bias"] = float(m.update_bias)
    gain = float(m.get("recurrent_gain", 1.0))
    if gain != 1.0:
        if m.cell == "gru":  # its recurrent weights are rows of the joint W_g
            raise ValueError(
                f"model.recurrent_gain={gain} needs a separate U; accepted with cell "
                "rnn or lstm, not gru"
            )
        layer_kwargs["recurrent_kernel_init"] = nn.initializers.orthogonal(scale=gain)
    return models.get(
        m.name,
        cell=m.cell,
        **{out: num_outputs},
        features=int(m.features),
        num_layers=int(m.get("num_layers", 1)),
        pooling=m.get("pooling", "last"),
        layer_kwargs=layer_kwargs,
    )


def _check(config: ml_collections.ConfigDict) -> None:
    d = config.data
    if d.name not in DATA:
        raise ValueError(
            f"data.name={d.name!r} is not a sequence task; accepted: {', '.join(DATA)}"
        )
    if d.get("source", "real") not in SOURCES:
        raise ValueError(f"data.source={d.source!r} is unknown; accepted: {', '.join(SOURCES)}")
    if d.name == "adding":
        lags = sweep.values(config, "data.lag")
        bad = [l for l in lags if not 2 <= int(l) <= int(d.max_lag)]
        if bad:
            raise ValueError(f"data.lag values {bad} must lie in 2..data.max_lag={d.max_lag}")


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for an unknown data set, source or lag, or for bad data: a real data
    set (a user file at ``data.path`` or the bundled copy) is read and checked here, for each
    setting of swept ``data.*`` fields, before the workdir is touched."""
    _check(config)
    runs = [o for o in sweep.expand(config) if any(p.startswith("data.") for p in o)]
    for o in runs or [{}]:
        cfg = sweep.run_config(config, o)
        if cfg.data.name != "adding" and cfg.data.get("source", "real") == "real":
            load_data(cfg)


def _adding_problem(config, model, tol):
    log_grad_norm = bool(config.get("log_grad_norm", False))

    def init(key, hparams):
        x, lengths, _ = adding_inputs(
            jnp.zeros((1, config.data.max_lag)), jnp.zeros((1, 2)), hparams["data.lag"]
        )
        return model.init(key, x, lengths)

    def predict(params, batch, hparams, train=False, rng=None):
        x, lengths, y = adding_inputs(batch["v"], batch["u"], hparams["data.lag"])
        rngs = None if rng is None else {"dropout": rng}
        return model.apply({"params": params}, x, lengths, train=train, rngs=rngs)[:, 0], y

    def mse(params, batch, hparams, rng):
        y_hat, y = predict(params, batch, hparams, True, rng)
        return jnp.mean((y_hat - y) ** 2), (y_hat, y)

    def loss(params, model_state, batch, rng, hparams):
        value, (y_hat, y) = mse(params, batch, hparams, rng)
        metrics = {"success": sequences.adding_success_rate(y_hat, y, tol)}
        if log_grad_norm:  # the raw (unclipped) gradient's norm; stop_gradient: no second order
            grads = jax.grad(lambda p: mse(p, batch, hparams, rng)[0])(
                jax.lax.stop_gradient(params)
            )
            metrics["grad_norm"] = optax.tree.norm(grads)
        return value, (metrics, model_state)

    def evaluate(params, model_state, batch, hparams):
        y_hat, y = predict(params, batch, hparams)
        err = y_hat - y
        return {
            "mse": jnp.sum(err**2),
            "success": jnp.sum(jnp.abs(err) < tol),
            "count": jnp.asarray(err.shape[0]),
        }

    return init, loss, evaluate


def _sunspot_problem(model, example, std):
    def init(key, hparams):
        return model.init(key, example["x"][:1])

    def loss(params, model_state, batch, rng, hparams):
        rngs = {"dropout": rng}
        y_hat = model.apply({"params": params}, batch["x"], train=True, rngs=rngs)[:, 0]
        return jnp.mean((y_hat - batch["y"]) ** 2), ({}, model_state)

    def evaluate(params, model_state, batch, hparams):
        y_hat = model.apply({"params": params}, batch["x"], train=False)[:, 0]
        err = (y_hat - batch["y"]) * std  # in sunspot numbers
        return {"mse": jnp.sum(err**2), "count": jnp.asarray(err.shape[0])}

    return init, loss, evaluate


def _vowel_problem(model, example):
    def init(key, hparams):
        return model.init(key, example["x"][:1], example["lengths"][:1])

    def loss(params, model_state, batch, rng, hparams):
        logits = model.apply(
            {"params": params}, batch["x"], batch["lengths"], train=True, rngs={"dropout": rng}
        )
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return ce, ({"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}, model_state)

    def evaluate(params, model_state, batch, hparams):
        logits = model.apply({"params": params}, batch["x"], batch["lengths"], train=False)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"])
        return {
            "loss": ce.sum(),
            "accuracy": jnp.sum(jnp.argmax(logits, -1) == batch["y"]),
            "count": jnp.asarray(batch["y"].shape[0]),
        }

    return init, loss, evaluate


def load_data(config: ml_collections.ConfigDict) -> tuple[dict, dict, dict]:
    """``(train, test, info)`` arrays of ``config.data``; ``info`` holds scales and baselines."""
    _check(config)
    name = config.data.name
    if name == "adding":
        return _adding_data(config.data)
    if name == "sunspots":
        return _sunspot_data(config.data)
    return (*_vowel_data(config.data), {})


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Data, recurrent model, loss and optimizer of one cell's runs (lag, seed, lr are traced)."""
    train, test, info = load_data(config)
    name = config.data.name
    traced = COMMON_TRACED
    if name == "adding":
        model = build_model(config, 1)
        fns = _adding_problem(config, model, float(config.data.tol))
        traced += ("data.lag",)
    elif name == "sunspots":
        fns = _sunspot_problem(build_model(config, 1), train, info["std"])
    else:
        fns = _vowel_problem(build_model(config, japanese_vowels.NUM_CLASSES), train)
    tx = optim.make_optimizer(
        config.opt, total_steps(config.train, len(next(iter(train.values()))))
    )
    return Problem(*fns, tx, train, test, traced=traced)


# ---------------------------------------------------------------- runs over cells


def cells(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The cells to compare: ``sweep.model.cell`` if set, else ``model.cell``."""
    return sweep.values(config, "model.cell")


def cell_config(config: ml_collections.ConfigDict, cell: str) -> ml_collections.ConfigDict:
    """A copy of ``config`` for one cell, its other (traced) sweep fields kept: one program."""
    cfg = ml_collections.ConfigDict(config.to_dict())
    cfg.model.cell = cell
    if "model" in cfg.sweep and "cell" in cfg.sweep.model:
        cfg.sweep.model.cell = ()
    return cfg


def train_cells(config: ml_collections.ConfigDict, workdir: str) -> dict[str, sweep.SweepResult]:
    """Trains every cell in turn under ``workdir/<cell>``.

    Each cell's sweep is one vmapped program.
    """
    out = {}
    for cell in cells(config):
        logging.info("cell %s", cell)
        out[cell] = sweep.train(
            make_problem, cell_config(config, cell), os.path.join(workdir, cell)
        )
    return out


def group_key(cell: str, overrides: dict[str, Any]) -> str:
    """The summary's name for the runs of ``cell`` that differ from ``overrides`` only in their seed
    (e.g. ``lstm`` or ``lstm_lag50``)."""
    return "_".join(
        [cell] + [f"{p.split('.')[-1]}{v}" for p, v in overrides.items() if p != "seed"]
    )


def group_results(
    config: ml_collections.ConfigDict,
    results: dict[str, sweep.SweepResult],
    extra: dict[str, list[dict[str, float]]] | None = None,
) -> tuple[list, list]:
    """Every run (``model.cell``, its swept values and metrics), and the summary's groups: mean and
    std over seeds per (cell, other swept values).

    ``extra[cell][i]`` (e.g. validation metrics) joins run i's metrics; on sunspots so does each
    run's ``test_rmse`` (the groups then hold the mean of the RMSEs, not the root of a mean MSE).
    """
    runs = []
    for cell, result in results.items():
        added = [dict(m) for m in extra[cell]] if extra else [{} for _ in result.overrides]
        if config.data.name == "sunspots":
            for i, m in enumerate(added):
                m["test_rmse"] = float(np.sqrt(result.run_metrics(i)["test_mse"]))
        runs += report.stage_runs(result, {"model.cell": cell}, added)
    return runs, report.summarize(runs)


def validation_metrics(
    config: ml_collections.ConfigDict, cell: str, result: sweep.SweepResult
) -> list[dict[str, float]]:
    """Each run's final metrics on the adding problem's validation split (``val_<name>``).

    The split (``data.num_val`` sequences) is drawn from the training distribution, apart from the
    training and test sets; each run is evaluated at its own lag.
    """
    first = result.overrides[0] if result.overrides else {}
    base = sweep.run_config(cell_config(config, cell), first)
    val = load_data(base)[2].get("val")
    if not val:
        raise ValueError(
            "selecting on the validation split needs data.num_val > 0, got "
            f"{config.data.get('num_val', 0)}"
        )
    problem = make_problem(base)
    bs = int(config.train.eval_batch_size)
    if result.vmapped:
        m = loop.evaluate(problem, result.fits[0].state, val, True, bs)
        return [
            {f"val_{k}": float(v[i]) for k, v in m.items()} for i in range(len(result.overrides))
        ]
    singles = [loop.evaluate(problem, f.state, val, False, bs) for f in result.fits]
    return [{f"val_{k}": float(v[0]) for k, v in m.items()} for m in singles]


def select_lr(config: ml_collections.ConfigDict, results: dict[str, sweep.SweepResult]):
    """Each cell's learning rate from ``sweep.opt.lr`` by validation success (test data unused).

    The score of a rate is its runs' mean validation success over every lag and seed (ties: the
    lower mean validation MSE).

    Returns:
      ``({cell: lr}, selection rows, {cell: each run's validation metrics})``.
    """
    chosen, rows, val = {}, [], {}
    for cell, result in results.items():
        val[cell] = validation_metrics(config, cell, result)
        by_lr: dict[float, list[dict[str, float]]] = {}
        for o, m in zip(result.overrides, val[cell]):
            by_lr.setdefault(float(o.get("opt.lr", config.opt.lr)), []).append(m)
        score = {
            lr: (
                float(np.mean([m["val_success"] for m in ms])),
                -float(np.mean([m["val_mse"] for m in ms])),
            )
            for lr, ms in by_lr.items()
        }
        chosen[cell] = max(score, key=score.get)
        rows += [
            {
                "cell": cell,
                "lr": lr,
                "runs": len(by_lr[lr]),
                "val_success": sc[0],
                "val_mse": -sc[1],
                "selected": lr == chosen[cell],
            }
            for lr, sc in score.items()
        ]
    return chosen, rows, val


def _plot_adding(rows: list[dict], workdir: str, title: str) -> None:
    plt = report.pyplot()

    fig, ax = plt.subplots(figsize=(5, 3.8))
    for cell in dict.fromkeys(r["cell"] for r in rows):
        mine = [r for r in rows if r["cell"] == cell]
        lr = f" (lr {mine[0]['lr']:g})" if "lr" in mine[0] else ""
        ax.errorbar(
            [r["lag"] for r in mine],
            [r["test_success"] for r in mine],
            yerr=[r.get("test_success_std", 0.0) for r in mine],
            fmt="o-",
            capsize=3,
            label=cell + lr,
        )
    ax.set(xlabel="lag T", ylabel="test success rate (|err| < tol)", ylim=(-0.02, 1.02))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    report.save_figure(fig, os.path.join(workdir, "success_vs_lag.png"))


def _plot_bars(rows: list[dict], metric: str, workdir: str, title: str) -> None:
    """Each cell's ``metric`` (mean, error bar = std over seeds); a persistence row is a line."""
    plt = report.pyplot()
    cells = [r for r in rows if "seeds" in r]
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.bar(
        [r["cell"] for r in cells],
        [r[metric] for r in cells],
        yerr=[r.get(f"{metric}_std", 0.0) for r in cells],
        capsize=4,
        color="C0",
    )
    for r in rows:
        if "seeds" not in r:
            ax.axhline(r[metric], color="k", ls="--", lw=1, label=r["cell"])
            ax.set_ylim(top=1.3 * max(x[metric] for x in rows))  # room for the legend
            ax.legend(fontsize=8, loc="upper right")
    seeds = cells[0]["seeds"] if cells else 0
    ax.set(xlabel="cell", ylabel=metric.replace("_", " "), title=f"{title} ({seeds} seeds)")
    report.save_figure(fig, os.path.join(workdir, f"{metric}.png"))


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains each cell; writes ``table.txt``, and ``success_vs_lag.png`` for the adding problem."""
    _check(config)
    results = train_cells(config, workdir)
    chosen, selection, val = ({}, [], None)
    if config.get("select_lr", False):
        chosen, selection, val = select_lr(config, results)
    runs, summary = group_results(config, results, val)
    name = config.data.name
    metrics, rows = {}, []  # rows: one per summary group (cell and every swept value but the seed)
    for g in summary:
        hparams = {p: v for p, v in g["hparams"].items() if p != "model.cell"}
        cell, key = g["hparams"]["model.cell"], group_key(g["hparams"]["model.cell"], hparams)
        metrics.update({f"{key}_{k}": v["mean"] for k, v in g["metrics"].items()})
        if chosen and float(hparams.get("opt.lr", config.opt.lr)) != chosen[cell]:
            continue  # the selection table holds the other rates' validation scores
        if chosen:  # the selected rate's groups also under the names without the rate
            short = group_key(cell, {p: v for p, v in hparams.items() if p != "opt.lr"})
            metrics.update({f"{short}_{k}": v["mean"] for k, v in g["metrics"].items()})
        swept = {p.split(".")[-1]: v for p, v in hparams.items()}
        lag = (
            {"lag": hparams.get("data.lag", config.data.get("lag", 0))} if name == "adding" else {}
        )
        row = {"cell": cell, **lag, **swept, "seeds": g["n"]}
        shown = (
            ["test_rmse"]
            if name == "sunspots"
            else [k for k in g["metrics"] if k.startswith("test_")]
        )
        row.update({k: g["metrics"][k]["mean"] for k in shown})
        row.update({f"{k}_std": g["metrics"][k]["std"] for k in shown})
        rows.append(row)
    metrics.update({f"{cell}_selected_lr": lr for cell, lr in chosen.items()})
    if name == "sunspots":
        info = load_data(config)[2]
        metrics["persistence_rmse"] = info["persistence_rmse"]
        for row in rows:
            row["rmse / persistence"] = row["test_rmse"] / info["persistence_rmse"]
        rows.append(
            {
                "cell": "persistence",
                "test_rmse": info["persistence_rmse"],
                "rmse / persistence": 1.0,
            }
        )
    if name == "adding" and len(rows) > 1:
        seeds = len(sweep.values(config, "seed"))
        how = "each cell's lr chosen on validation" if chosen else "one lr"
        _plot_adding(rows, workdir, f"adding problem, {how}\n(mean ± std over {seeds} seeds)")
    elif name == "sunspots":
        _plot_bars(rows, "test_rmse", workdir, "sunspots, one-step forecast")
    elif name == "japanese_vowels":
        _plot_bars(rows, "test_accuracy", workdir, "JapaneseVowels")
    text = report.table(rows)
    if selection:
        text = (
            "test metrics at each cell's selected learning rate (mean over seeds)\n"
            + text
            + "\n\nlearning-rate selection on the validation split (mean over lags and seeds)\n"
            + report.table(selection)
        )
    report.write_table(workdir, text, config.experiment)
    return report.results_from_runs(
        config.experiment, config, runs, summary=summary, metrics=metrics, table=rows
    )
