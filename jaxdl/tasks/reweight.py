"""Instance transfer under covariate shift: unweighted vs importance-weighted training (true, KMM, domain-classifier weights).

For every ``data.shift_seeds`` entry one data set is split into a source and a target domain by
selection bias (``jaxdl.data.domains.covariate_shift_pair``). Half of the target serves as the
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


def shift_data(config: ml_collections.ConfigDict, shift_seed: int) -> dict[str, Any]:
    """The source (with a weight column per method), the target test split and weight diagnostics.

    Returns:
      ``{"train": {"x", "y", "w" (n_s, len(METHODS))}, "test": {"x", "y"}, "mmd2": {method: value}}``.
    """
    d, t = config.data, config.transfer
    x, y = finetune_task.load_domain(d.name, d.size)
    pair = domains.covariate_shift_pair(x, y, jax.random.key(shift_seed), feature=(None if d.shift_feature < 0 else int(d.shift_feature)), strength=float(d.shift_strength), target_fraction=float(d.target_fraction))
    n_t = len(pair.yt)
    perm = np.random.default_rng(shift_seed).permutation(n_t)
    unlabelled, test = perm[: n_t // 2], perm[n_t // 2 :]
    Xs, Xu = pair.xs.reshape(len(pair.xs), -1), pair.xt[unlabelled].reshape(len(unlabelled), -1)
    w_kmm = np.asarray(importance.kmm_weights(Xs, Xu, B=float(t.kmm_B), n_iter=int(t.kmm_iters)))
    w_clf, _ = importance.domain_classifier_weights(Xs, Xu, l2=float(t.classifier_l2), max_weight=float(t.max_weight))
    columns = [np.ones(len(Xs)), pair.true_weights, w_kmm, np.asarray(w_clf)]
    W = np.stack([c / np.mean(c) for c in columns], 1).astype(np.float32)  # each method's weights have mean 1
    mmd2 = {m: float(importance.weighted_mmd2(Xs, Xu, W[:, i])) for i, m in enumerate(METHODS)}
    train = {"x": pair.xs, "y": pair.ys, "w": W}
    return {"train": train, "test": {"x": pair.xt[test], "y": pair.yt[test]}, "mmd2": mmd2}


def make_problem_from(config: ml_collections.ConfigDict, data: dict[str, Any]) -> Problem:
    """Weighted cross-entropy on the source; the weight column is ``hparams['transfer.weighting']``."""
    train, test = data["train"], data["test"]
    model = models.get(config.model.name, features=tuple(config.model.features), num_classes=int(max(train["y"].max(), test["y"].max())) + 1)
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


def _plot_weights(data: dict[str, Any], shift_seed: int, path: str) -> None:
    """Each estimated weight against the true density ratio p_t(x)/p_s(x) of its source example
    (all scaled to mean 1), one panel per estimator: how well KMM and the domain classifier recover it."""
    plt = report.pyplot()

    W = np.asarray(data["train"]["w"])
    true = W[:, METHODS.index("true")]
    estimated = [m for m in METHODS if m not in ("unweighted", "true")]
    fig, axes = plt.subplots(1, len(estimated), figsize=(4.2 * len(estimated), 3.8), squeeze=False)
    for ax, method in zip(axes[0], estimated):
        w = W[:, METHODS.index(method)]
        ax.scatter(true, w, s=6, alpha=0.4)
        top = float(max(true.max(), w.max()))
        ax.plot([0, top], [0, top], "k:", lw=0.8, label="w = true ratio")
        corr = np.corrcoef(true, w)[0, 1]
        ax.set(xlabel="true weight p_t/p_s", ylabel=f"{method} weight", title=f"{method} (r = {corr:.2f}, MMD² {data['mmd2'][method]:.3g})")
        ax.legend(fontsize=8)
    fig.suptitle(f"source weights, shift seed {shift_seed}", fontsize=9)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every method and seed for every shift seed; table of target error per method.

    Args:
      config: the experiment config (see experiments/covariate_shift.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary``, ``groups`` (target error per method) and ``mmd2``.
    """
    if not 0 <= config.transfer.weighting < len(METHODS):
        raise ValueError(f"transfer.weighting={config.transfer.weighting} out of range; accepted 0..{len(METHODS) - 1} ({', '.join(METHODS)})")
    rows, mmd_rows, runs = [], [], []
    for shift_seed in tuple(config.data.shift_seeds):
        data = shift_data(config, int(shift_seed))
        result = sweep.train(lambda c, data=data: make_problem_from(c, data), config, os.path.join(workdir, f"shift_{shift_seed}"))
        for i, o in enumerate(result.overrides):
            method = METHODS[int(o.get("transfer.weighting", config.transfer.weighting))]
            error = 1.0 - result.run_metrics(i)["test_accuracy"]
            rows.append({"shift_seed": int(shift_seed), "seed": o.get("seed", config.seed), "method": method, "target_error": error})
            runs.append({"data.shift_seed": int(shift_seed), **o, "metrics": result.run_metrics(i)})
        if jax.process_index() == 0 and not mmd_rows:  # the first shift seed's weights
            os.makedirs(workdir, exist_ok=True)
            _plot_weights(data, int(shift_seed), os.path.join(workdir, "weights_vs_true.png"))
        mmd_rows.append({"shift_seed": int(shift_seed), "n_source": len(data["train"]["y"]), **{f"mmd2_{m}": v for m, v in data["mmd2"].items()}})
    table = sorted(report.group(rows, ["method"], "target_error"), key=lambda r: METHODS.index(r["method"]))
    text = report.table(table) + "\n\nweighted-source vs target MMD^2 (smaller = better matched):\n" + report.table(mmd_rows)
    report.write_table(workdir, text, "covariate shift, target error")
    summary = {f"target_error_{r['method']}": {"mean": r["target_error_mean"], "std": r["target_error_std"]} for r in table}
    metrics = {k: v["mean"] for k, v in summary.items()}
    return {"experiment": config.experiment, "config": config.to_dict(), "metrics": metrics, "runs": runs, "summary": summary, "groups": table, "mmd2": mmd_rows}
