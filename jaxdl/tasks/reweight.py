"""Instance transfer under covariate shift: unweighted vs true, KMM, domain-classifier weights.

For every ``data.shift_seeds`` entry one data set is split into a source and a target domain by
selection bias (``jaxdl.data.domains.covariate_shift_pair``) on a score of x: a pixel, the mean
intensity, or (``data.shift_score = "margin"``) the margin of a reference linear classifier, so
that the source keeps the confidently classified examples and the target holds relatively more
of the class overlap. Half of the target serves as the
unlabelled sample the weights are estimated from, the other half as the labelled test set. The
training data carries one weight column per method; the traced ``transfer.weighting`` picks the
column, so all methods and seeds of one shift train as one vmapped program.
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import models
from jaxdl.data import domains
from jaxdl.tasks import finetune as finetune_task
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem
from jaxdl.transfer import importance

METHODS = ("unweighted", "true", "kmm", "domain_classifier")
TRACED = COMMON_TRACED + ("transfer.weighting",)
SHIFT_SCORES = ("feature", "margin")


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for an unknown ``data.shift_score`` or ``transfer.weighting``.

    Args:
      config: the experiment config (see experiments/covariate_shift.py).
    """
    score = config.data.get("shift_score", "feature")
    if score not in SHIFT_SCORES:
        raise ValueError(
            f"data.shift_score={score!r} is not valid; accepted: {', '.join(SHIFT_SCORES)}"
        )
    if not 0 <= config.transfer.weighting < len(METHODS):
        raise ValueError(
            f"transfer.weighting={config.transfer.weighting} out of range; accepted "
            f"0..{len(METHODS) - 1} ({', '.join(METHODS)})"
        )


def margin_score(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Top-two probability margin of a multinomial logistic regression fitted on all the data.

    Args:
      x: ``(N, ...)`` inputs (flattened for the fit); y: ``(N,)`` labels.

    Returns:
      ``(N,)`` in [0, 1]: small in the class overlap, near 1 for typical examples.
    """
    from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top

    flat = x.reshape(len(x), -1)
    p = np.sort(LogisticRegression(C=1.0, max_iter=2000).fit(flat, y).predict_proba(flat), 1)
    return p[:, -1] - p[:, -2]


def shift_pair(
    config: ml_collections.ConfigDict, x: np.ndarray, y: np.ndarray, shift_seed: int, score=None
) -> domains.CovariateShiftPair:
    """The source / target split of ``x``, ``y`` selected on ``data.shift_score``.

    Args:
      config: the experiment config.
      x: ``(N, H, W, C)`` inputs; y: ``(N,)`` labels.
      shift_seed: seeds the target draw and the selection.
      score: ``(N,)`` the margin score (:func:`margin_score`), for ``shift_score = "margin"``.
    """
    d = config.data
    key = jax.random.key(shift_seed)
    common = {"strength": float(d.shift_strength), "target_fraction": float(d.target_fraction)}
    if d.get("shift_score", "feature") == "feature":
        feature = None if d.shift_feature < 0 else int(d.shift_feature)
        return domains.covariate_shift_pair(x, y, key, feature=feature, **common)
    # the score rides along as one more column for the selection, then is dropped again
    flat = np.concatenate([x.reshape(len(x), -1), np.asarray(score)[:, None]], 1)
    pair = domains.covariate_shift_pair(flat, y, key, feature=flat.shape[1] - 1, **common)
    images = lambda a: a[:, :-1].reshape((len(a),) + x.shape[1:])
    return pair._replace(xs=images(pair.xs), xt=images(pair.xt))


def shift_data(config: ml_collections.ConfigDict, shift_seed: int, score=None) -> dict[str, Any]:
    """The source (with a weight column per method), the target test split and weight diagnostics.

    Returns:
      ``{"train": {"x", "y", "w" (n_s, len(METHODS))}, "test": {"x", "y"}, "mmd2": {method: value},
      "ess": {method: effective sample size}}``.
    """
    d, t = config.data, config.transfer
    x, y = finetune_task.load_domain(d.name, d.size)
    pair = shift_pair(config, x, y, shift_seed, score)
    n_t = len(pair.yt)
    perm = np.random.default_rng(shift_seed).permutation(n_t)
    unlabelled, test = perm[: n_t // 2], perm[n_t // 2 :]
    Xs, Xu = pair.xs.reshape(len(pair.xs), -1), pair.xt[unlabelled].reshape(len(unlabelled), -1)
    w_kmm = np.asarray(importance.kmm_weights(Xs, Xu, B=float(t.kmm_B), n_iter=int(t.kmm_iters)))
    w_clf, _ = importance.domain_classifier_weights(
        Xs, Xu, l2=float(t.classifier_l2), max_weight=float(t.max_weight)
    )
    columns = [np.ones(len(Xs)), pair.true_weights, w_kmm, np.asarray(w_clf)]
    W = np.stack([c / np.mean(c) for c in columns], 1).astype(
        np.float32
    )  # each method's weights have mean 1
    mmd2 = {m: float(importance.weighted_mmd2(Xs, Xu, W[:, i])) for i, m in enumerate(METHODS)}
    ess = {m: float(importance.effective_sample_size(W[:, i])) for i, m in enumerate(METHODS)}
    train = {"x": pair.xs, "y": pair.ys, "w": W}
    test_split = {"x": pair.xt[test], "y": pair.yt[test]}
    return {"train": train, "test": test_split, "mmd2": mmd2, "ess": ess}


def make_problem_from(config: ml_collections.ConfigDict, data: dict[str, Any]) -> Problem:
    """Weighted cross-entropy on the source.

    The weight column is ``hparams['transfer.weighting']``.
    """
    train, test = data["train"], data["test"]
    model = models.get(
        config.model.name,
        features=tuple(config.model.features),
        num_classes=int(max(train["y"].max(), test["y"].max())) + 1,
    )
    example = jnp.zeros((1,) + train["x"].shape[1:])
    _, evaluate = finetune_task.classifier_fns(model)

    def init(key, hparams):
        return model.init(key, example)

    def loss(params, model_state, batch, rng, hparams):
        logits = model.apply({"params": params}, batch["x"])
        w = jnp.take(batch["w"], jnp.asarray(hparams["transfer.weighting"], jnp.int32), axis=1)
        ce = importance.weighted_cross_entropy(logits, batch["y"], w)
        return ce, ({"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}, model_state)

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["y"])))
    return Problem(init, loss, evaluate, tx, train, test, traced=TRACED)


def _plot_weights(
    data: dict[str, Any], shift_seed: int, table: list[dict[str, Any]], path: str
) -> None:
    """Each estimated weight against the true density ratio p_t(x)/p_s(x) of its source example
    (all scaled to mean 1), one panel per estimator, and the target error per method."""
    plt = report.pyplot()

    W = np.asarray(data["train"]["w"])
    true = W[:, METHODS.index("true")]
    estimated = [m for m in METHODS if m not in ("unweighted", "true")]
    fig, axes = plt.subplots(
        1, len(estimated) + 1, figsize=(4.2 * (len(estimated) + 1), 3.8), squeeze=False
    )
    for ax, method in zip(axes[0], estimated):
        w = W[:, METHODS.index(method)]
        ax.scatter(true, w, s=6, alpha=0.4)
        top = float(max(true.max(), w.max()))
        ax.plot([0, top], [0, top], "k:", lw=0.8, label="w = true ratio")
        corr = np.corrcoef(true, w)[0, 1]
        ax.set(
            xlabel="true weight p_t/p_s",
            ylabel=f"{method} weight",
            title=f"{method} (r = {corr:.2f}, ESS {data['ess'][method]:.0f})",
        )
        ax.legend(fontsize=8)
    ax = axes[0, -1]
    ax.bar(
        range(len(table)),
        [r["target_error_mean"] for r in table],
        yerr=[r["target_error_std"] for r in table],
        capsize=4,
        color="C0",
    )
    ax.set_xticks(range(len(table)), [r["method"].replace("_", "\n") for r in table], fontsize=8)
    ax.set(ylabel="target error (mean ± std)", title="target error, all shifts and seeds")
    lo = min(r["target_error_mean"] - r["target_error_std"] for r in table)
    ax.set_ylim(max(0.0, lo - 0.02), None)
    fig.suptitle(f"source weights, shift seed {shift_seed} (of n_s = {len(true)})", fontsize=9)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every method and seed for every shift seed; table of target error per method.

    Args:
      config: the experiment config (see experiments/covariate_shift.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary``,
      ``groups`` (target error and ESS per method) and ``mmd2`` (per shift seed: each method's
      weighted MMD^2 and ESS).
    """
    check_config(config)
    rows, mmd_rows, runs, first = [], [], [], None
    score = None
    if config.data.get("shift_score", "feature") == "margin":
        score = margin_score(*finetune_task.load_domain(config.data.name, config.data.size))
    for shift_seed in tuple(config.data.shift_seeds):
        data = shift_data(config, int(shift_seed), score)
        make = lambda c, data=data: make_problem_from(c, data)
        result = sweep.train(make, config, os.path.join(workdir, f"shift_{shift_seed}"))
        for i, o in enumerate(result.overrides):
            method = METHODS[int(o.get("transfer.weighting", config.transfer.weighting))]
            error = 1.0 - result.run_metrics(i)["test_accuracy"]
            rows.append(
                {
                    "shift_seed": int(shift_seed),
                    "seed": o.get("seed", config.seed),
                    "method": method,
                    "target_error": error,
                }
            )
        runs += report.stage_runs(result, {"data.shift_seed": int(shift_seed)})
        first = first or (int(shift_seed), data)
        mmd_rows.append(
            {
                "shift_seed": int(shift_seed),
                "n_source": len(data["train"]["y"]),
                **{f"mmd2_{m}": v for m, v in data["mmd2"].items()},
                **{f"ess_{m}": v for m, v in data["ess"].items()},
            }
        )
    # per run: its shift's ESS, and its error minus the unweighted run's on the same shift and
    # seed (paired differences remove the variation between shifts)
    error = {(r["method"], r["shift_seed"], r["seed"]): r["target_error"] for r in rows}
    for r in rows:
        r["ess"] = next(m for m in mmd_rows if m["shift_seed"] == r["shift_seed"])[
            f"ess_{r['method']}"
        ]
        base = error.get(("unweighted", r["shift_seed"], r["seed"]))
        if base is not None:
            r["target_error_minus_unweighted"] = r["target_error"] - base
    values = ["target_error", "ess", "target_error_minus_unweighted"]
    summary = sorted(  # one group per method, over shifts and seeds
        report.summarize_rows(rows, ["method"], values),
        key=lambda g: METHODS.index(g["hparams"]["method"]),
    )
    table = []
    for g in summary:
        m = g["metrics"]
        minus = m.get("target_error_minus_unweighted", {"mean": np.nan, "std": np.nan})
        table.append(
            {
                "method": g["hparams"]["method"],
                "target_error_mean": m["target_error"]["mean"],
                "target_error_std": m["target_error"]["std"],
                "runs": g["n"],
                "ess_mean": m["ess"]["mean"],
                "ess_std": m["ess"]["std"],
                "minus_unweighted_mean": minus["mean"],
                "minus_unweighted_std": minus["std"],
            }
        )
    n_s = np.mean([r["n_source"] for r in mmd_rows])
    shown = [
        {
            "method": r["method"],
            "target error": report.mean_std_text(r["target_error_mean"], r["target_error_std"]),
            "minus unweighted (paired)": report.mean_std_text(
                r["minus_unweighted_mean"], r["minus_unweighted_std"]
            ),
            "runs": r["runs"],
            f"ESS (of n_s ≈ {n_s:.0f})": report.mean_std_text(r["ess_mean"], r["ess_std"]),
        }
        for r in table
    ]
    text = (
        report.table(shown) + "\n\nper shift: weighted-source vs target MMD^2 (smaller = "
        "better matched) and ESS:\n" + report.table(mmd_rows)
    )
    report.write_table(workdir, text, "covariate shift, target error")
    if report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        _plot_weights(first[1], first[0], table, os.path.join(workdir, "weights_vs_true.png"))
    metrics = {}
    for r in table:
        metrics[f"target_error_{r['method']}"] = r["target_error_mean"]
        metrics[f"ess_{r['method']}"] = r["ess_mean"]
    metrics.update(
        {
            f"target_error_minus_unweighted_{r['method']}": r["minus_unweighted_mean"]
            for r in table
            if r["method"] != "unweighted"
        }
    )
    return report.results_from_runs(
        config.experiment,
        config,
        runs,
        summary=summary,
        metrics=metrics,
        groups=table,
        mmd2=mmd_rows,
    )
