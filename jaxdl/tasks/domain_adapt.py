"""Unsupervised domain adaptation: source-only vs TCA (+1-NN, +linear) vs DANN vs train-on-target, per domain pair, with seeds.

Source-only, DANN and train-on-target are the same three-part network (``jaxdl.transfer.dann.DANN``)
and one vmapped program: the traced ``transfer.method`` sets the gradient-reversal weight
(lambda_p of Ganin et al. 2016 for DANN, 0 otherwise, which leaves the features untouched by the
domain classifier) and which rows carry labels (source rows, or target rows for the
train-on-target upper bound). lambda_p follows the training progress through a step counter kept
in the model state. TCA (Pan et al. 2011) is closed form on pixels: embed a source sample and the
target test points together, then classify the target with 1-NN or logistic regression fitted on
the source embeddings (raw-pixel classifiers are the no-adaptation reference).
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl.data import core as data_core
from jaxdl.tasks import finetune as finetune_task
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem
from jaxdl.transfer import dann, tca_lib

METHODS = ("source_only", "dann", "train_on_target")
MODEL_NAMES = ("dann",)  # the task builds jaxdl.transfer.dann.DANN from model.*
FREE_FIELDS = ("data.name",)  # a placeholder: the domains are data.pairs
# One compiled program per shape instead of op-by-op dispatch (seconds per fit otherwise).
_tca = jax.jit(tca_lib.tca, static_argnames=("dim", "mu", "kernel"))
TRACED = COMMON_TRACED + ("transfer.method", "transfer.lambda_max")


def parse_pair(pair: str) -> tuple[str, str]:
    """``"mnist5k>digits"`` -> ``("mnist5k", "digits")`` (source > target)."""
    parts = pair.split(">")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"domain pair {pair!r} must read 'source>target', e.g. 'mnist5k>digits'")
    return parts[0], parts[1]


def pair_data(config: ml_collections.ConfigDict, pair: str) -> dict[str, dict[str, np.ndarray]]:
    """Source (all labelled), target train (unlabelled for DANN) and target test, as arrays.

    Returns:
      ``{"source": {"x", "y"}, "target_train": {"x", "y"}, "target_test": {"x", "y"}}``; each
      domain is standardised over its own pixels when ``data.standardize``.
    """
    d = config.data
    (xs, ys), (xt, yt) = (finetune_task.load_domain(name, d.size) for name in parse_pair(pair))
    if d.standardize:  # removes the trivial brightness / contrast difference of the domains
        xs, xt = ((x - x.mean()) / (x.std() + 1e-8) for x in (xs, xt))
    t_train, t_test = data_core.split(xt, yt, d.test_fraction, d.split_seed)
    return {"source": {"x": xs, "y": ys}, "target_train": t_train, "target_test": t_test}


def paired_rows(source: dict, target: dict, seed: int) -> dict[str, np.ndarray]:
    """Source and target rows side by side, the smaller domain repeated to the larger one's length.

    A batch of B indices then holds B source and B target examples, as DANN's step needs.
    """
    n = max(len(source["y"]), len(target["y"]))
    rng = np.random.default_rng(seed)
    take = lambda m: np.concatenate([rng.permutation(m) for _ in range(-(-n // m))])[:n]
    i_s, i_t = take(len(source["y"])), take(len(target["y"]))
    return {"xs": source["x"][i_s], "ys": source["y"][i_s], "xt": target["x"][i_t], "yt": target["y"][i_t]}


def dann_optimizer(opt: ml_collections.ConfigDict, steps: int) -> optax.GradientTransformation:
    """SGD with momentum and the paper's annealing ``mu_p = mu_0 / (1 + 10 p)^0.75`` when
    ``opt.schedule == "dann"`` (Ganin et al. 2016, Sec. 5.2.2); otherwise the config's optimizer."""
    if opt.schedule != "dann":
        return optim.make_optimizer(opt, steps)
    momentum_sgd = ml_collections.ConfigDict({**opt.to_dict(), "name": "momentum"})
    return optim.make_optimizer(momentum_sgd, steps, shape=dann.lr_schedule(steps, lr0=1.0))


def make_problem_from(config: ml_collections.ConfigDict, data: dict) -> Problem:
    """The three methods as one network and loss; ``hparams['transfer.method']`` picks one.

    Args:
      config: the experiment config.
      data: the output of :func:`pair_data`.

    Returns:
      A Problem over paired rows ``{"xs", "ys", "xt", "yt"}`` (B source + B target per batch),
      evaluated on the target test split; metrics add ``class_loss``, ``domain_loss``,
      ``domain_accuracy`` and the current ``lambda``.
    """
    train = paired_rows(data["source"], data["target_train"], config.data.split_seed)
    test = data["target_test"]
    m = config.model
    num_classes = int(max(train["ys"].max(), test["y"].max())) + 1
    model = dann.DANN(num_classes=num_classes, conv_features=tuple(m.conv_features), feature_hidden=tuple(m.feature_hidden), label_hidden=tuple(m.label_hidden), domain_hidden=tuple(m.domain_hidden))
    steps = total_steps(config.train, len(train["ys"]))
    lambda_p = dann.lambda_schedule(steps, gamma=float(config.transfer.gamma))

    def init(key, hparams):
        variables = model.init(key, jnp.zeros((2,) + train["xs"].shape[1:]), 0.0)
        return {"params": variables["params"], "progress": {"step": jnp.zeros((), jnp.int32)}}

    def loss(params, model_state, batch, rng, hparams):
        method = jnp.asarray(hparams["transfer.method"], jnp.int32)
        lam = jnp.where(method == 1, hparams["transfer.lambda_max"] * lambda_p(model_state["progress"]["step"]), 0.0)
        x = jnp.concatenate([batch["xs"], batch["xt"]])
        class_logits, domain_logits = model.apply({"params": params}, x, lam)
        is_target = jnp.concatenate([jnp.zeros_like(batch["ys"]), jnp.ones_like(batch["yt"])])
        labelled = jnp.where(method == 2, is_target, 1 - is_target)  # which rows' labels are used
        total, metrics = dann.dann_loss(class_logits, jnp.concatenate([batch["ys"], batch["yt"]]), domain_logits, is_target, labelled)
        metrics["lambda"] = lam
        progress = {"progress": {"step": model_state["progress"]["step"] + 1}}
        return total, (metrics, progress)

    def evaluate(params, model_state, batch, hparams):
        logits, _ = model.apply({"params": params}, batch["x"], 0.0)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"])
        return {"loss": ce.sum(), "accuracy": jnp.sum(jnp.argmax(logits, -1) == batch["y"]), "count": jnp.asarray(batch["y"].shape[0])}

    return Problem(init, loss, evaluate, dann_optimizer(config.opt, steps), train, test, traced=TRACED)


def tca_sample(config: ml_collections.ConfigDict, data: dict, seed: int) -> tuple[np.ndarray, ...]:
    """``transfer.tca_samples`` source and target-test points (exact TCA is O(n^3) in their number).

    Args:
      config: the experiment config.
      data: the output of :func:`pair_data`.
      seed: picks the points.

    Returns:
      ``(Xs (n_s, d), ys, Xt (n_t, d), yt)`` with the images flattened.
    """
    rng = np.random.default_rng(seed)
    n = int(config.transfer.tca_samples)
    pick = lambda part: rng.permutation(len(part["y"]))[: min(n, len(part["y"]))]
    i_s, i_t = pick(data["source"]), pick(data["target_test"])
    Xs, Xt = (data[part]["x"][i].reshape(len(i), -1) for part, i in (("source", i_s), ("target_test", i_t)))
    return Xs, data["source"]["y"][i_s], Xt, data["target_test"]["y"][i_t]


def unit_scale(Xs: np.ndarray, Xt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both domains times one common scale that gives the pooled rows mean squared norm 1.

    The linear kernel's K L K then stays well conditioned against mu I in float32 (raw 256-pixel
    norms made the Cholesky fail).
    """
    scale = 1.0 / np.sqrt(np.mean(np.sum(np.concatenate([Xs, Xt]) ** 2, 1)))
    return Xs * scale, Xt * scale


def classifier_scores(Zs: np.ndarray, ys: np.ndarray, Zt: np.ndarray, yt: np.ndarray, C: float) -> dict[str, float]:
    """Target accuracy of a 1-NN and of an L2 logistic regression (inverse strength ``C``) fitted on
    the source points ``Zs`` and tested on the target points ``Zt``: ``{"1nn", "linear"}``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.concatenate([Zs, Zt]))
    clf = LogisticRegression(max_iter=2000, C=C).fit(scaler.transform(Zs), ys)
    return {"1nn": float(np.mean(KNeighborsClassifier(1).fit(Zs, ys).predict(Zt) == yt)),
            "linear": float(np.mean(clf.predict(scaler.transform(Zt)) == yt))}


def tca_embeddings(Xs: np.ndarray, Xt: np.ndarray, dim: int, mu: float, kernel: str) -> tuple[np.ndarray, np.ndarray]:
    """``jaxdl.transfer.tca`` of :func:`unit_scale`-d points (rbf width by the median heuristic) as
    NumPy arrays. Column j of a ``dim``-D embedding is the same for every ``dim > j``."""
    gamma = tca_lib.median_gamma(np.concatenate([Xs, Xt])) if kernel == "rbf" else None
    Zs, Zt = _tca(Xs, Xt, dim=dim, mu=mu, kernel=kernel, gamma=gamma)
    return np.asarray(Zs), np.asarray(Zt)


def tca_scores(config: ml_collections.ConfigDict, data: dict, seed: int) -> dict[str, float]:
    """Target accuracy of 1-NN and logistic regression on raw pixels and on TCA embeddings.

    Args:
      config: the experiment config (``transfer.tca_*``, ``transfer.linear_C``).
      data: the output of :func:`pair_data`.
      seed: picks the ``transfer.tca_samples`` source and target-test points (:func:`tca_sample`).

    Returns:
      ``{"raw_1nn", "raw_linear", "tca_<kernel>_1nn", "tca_<kernel>_linear": accuracy}``.
    """
    t = config.transfer
    Xs, ys, Xt, yt = tca_sample(config, data, seed)
    out = {f"raw_{k}": v for k, v in classifier_scores(Xs, ys, Xt, yt, float(t.linear_C)).items()}
    Xs, Xt = unit_scale(Xs, Xt)
    for kernel in tuple(t.tca_kernels):
        Zs, Zt = tca_embeddings(Xs, Xt, int(t.tca_dim), float(t.tca_mu), kernel)
        out.update({f"tca_{kernel}_{k}": v for k, v in classifier_scores(Zs, ys, Zt, yt, float(t.linear_C)).items()})
    return out


def run_label(config: ml_collections.ConfigDict, overrides: dict[str, Any]) -> str:
    """The method of the run with ``overrides``; DANN with its lambda_max when several are swept."""
    method = METHODS[int(overrides.get("transfer.method", config.transfer.method))]
    if method == "dann" and len(tuple(config.sweep.transfer.lambda_max)) > 1:
        return f"dann (lambda_max={overrides['transfer.lambda_max']:g})"
    return method


def _pair_rows(config, pair, result, tca_by_seed) -> list[dict[str, Any]]:
    rows = []
    lambdas = tuple(config.sweep.transfer.lambda_max)
    for i, o in enumerate(result.overrides):
        method = run_label(config, o)
        if len(lambdas) > 1 and method in METHODS and o["transfer.lambda_max"] != lambdas[0]:
            continue  # lambda does not touch the other methods: their runs are duplicates
        rows.append({"pair": pair, "method": method, "seed": o.get("seed", config.seed), "target_accuracy": result.run_metrics(i)["test_accuracy"]})
    for seed, scores in tca_by_seed.items():
        rows += [{"pair": pair, "method": name, "seed": seed, "target_accuracy": acc} for name, acc in scores.items()]
    return rows


def feature_projections(config, data: dict, result: sweep.SweepResult, n: int = 500) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{run label: (source, target)}`` 2-D points: ``n`` source and ``n`` target test points in
    the learned feature space G_f of source-only and of DANN (first seed of each, every swept
    lambda_max), projected on the two leading principal components of both domains' features.

    Runs on every process (a vmapped sweep's state may span hosts); :func:`_plot_features` plots.
    """
    m = config.model
    extractor = dann.FeatureExtractor(tuple(m.conv_features), tuple(m.feature_hidden))
    features = jax.jit(lambda p, x: extractor.apply({"params": p}, x))
    rng = np.random.default_rng(0)
    xs = data["source"]["x"][rng.permutation(len(data["source"]["y"]))[:n]]
    xt = data["target_test"]["x"][rng.permutation(len(data["target_test"]["y"]))[:n]]
    out = {}
    for i, o in enumerate(result.overrides):
        method = run_label(config, o)
        if method.startswith(("source_only", "dann")) and method not in out:
            params = result.run_state(i).params["features"]
            fs, ft = (np.asarray(jax.device_get(features(params, x))) for x in (xs, xt))
            centred = np.concatenate([fs, ft])
            centred = centred - centred.mean(0)
            z = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
            out[method] = (z[: len(fs)], z[len(fs):])
    return out


def _plot_features(points: dict[str, tuple[np.ndarray, np.ndarray]], pair: str, path: str) -> None:
    """One panel per run of :func:`feature_projections`, source and target coloured (Ganin et al.
    2016 show the same with t-SNE): DANN should mix the two domains."""
    if not points:
        return
    plt = report.pyplot()

    fig, axes = plt.subplots(1, len(points), figsize=(4.4 * len(points), 4.0), squeeze=False)
    for ax, (method, (zs, zt)) in zip(axes[0], points.items()):
        ax.scatter(*zs.T, s=5, alpha=0.5, label="source")
        ax.scatter(*zt.T, s=5, alpha=0.5, label="target")
        ax.set(xlabel="PC 1 of the features", ylabel="PC 2")
        ax.set_title(f"{method}: {pair}", fontsize=9)
        ax.legend(fontsize=8, markerscale=2)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Every method on every domain pair; table of target accuracy (mean ± std over seeds).

    Args:
      config: the experiment config (see experiments/domain_adaptation.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary``, ``groups`` (per pair and method) and ``rows``.
      Each pair also gets ``features_<source>_to_<target>.png`` (:func:`feature_projections`).
    """
    if not 0 <= config.transfer.method < len(METHODS):
        raise ValueError(f"transfer.method={config.transfer.method} out of range; accepted 0..{len(METHODS) - 1} ({', '.join(METHODS)})")
    rows, runs = [], []
    for pair in tuple(config.data.pairs):
        data = pair_data(config, pair)
        result = sweep.train(lambda c, data=data: make_problem_from(c, data), config, os.path.join(workdir, pair.replace(">", "_to_")))
        seeds = sorted({o.get("seed", config.seed) for o in result.overrides})
        tca_by_seed = {s: tca_scores(config, data, s) for s in seeds} if config.transfer.tca else {}
        rows += _pair_rows(config, pair, result, tca_by_seed)
        runs += [{"data.pair": pair, **o, "metrics": result.run_metrics(i)} for i, o in enumerate(result.overrides)]
        points = feature_projections(config, data, result)
        if jax.process_index() == 0:
            os.makedirs(workdir, exist_ok=True)
            _plot_features(points, pair, os.path.join(workdir, f"features_{pair.replace('>', '_to_')}.png"))
    table = report.group(rows, ["pair", "method"], "target_accuracy")
    text = report.table(table)
    report.write_table(workdir, text, "domain adaptation, target accuracy")
    summary = {f"{r['pair']}/{r['method']}": {"mean": r["target_accuracy_mean"], "std": r["target_accuracy_std"]} for r in table}
    return {"experiment": config.experiment, "config": config.to_dict(), "metrics": {k: v["mean"] for k, v in summary.items()}, "runs": runs, "summary": summary, "groups": table, "rows": rows}
