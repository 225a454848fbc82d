"""Unsupervised domain adaptation: source-only vs TCA (+1-NN, +linear) vs DANN vs train-on-target,
per domain pair, with seeds.

Source-only, DANN and train-on-target are the same three-part network (``jaxdl.transfer.dann.DANN``:
by default the paper's MNIST net, conv 5x5 32 -> pool -> conv 5x5 48 -> pool, G_y FC100-FC100,
G_d FC100) and one sweep: the traced ``transfer.method`` sets the gradient-reversal weight
(lambda_p of Ganin et al. 2016 for DANN, 0 otherwise, which leaves the features untouched by the
domain classifier) and which rows carry labels (source rows, or target rows for the
train-on-target upper bound). lambda_p follows the training progress through a step counter kept
in the model state. DANN's ``lambda_max`` is selected per pair and seed on a small labelled
target *validation* split (``data.target_val_size`` points kept apart from the unlabelled training
rows and from the test split); only the selected model's test accuracy is reported.
TCA (Pan et al. 2011) is closed form on pixels: embed a source sample and the target test points
together, then classify the target with 1-NN or logistic regression fitted on the source
embeddings (raw-pixel classifiers are the no-adaptation reference).
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import backend
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
    """``"optmnist>digits"`` -> ``("optmnist", "digits")`` (source > target)."""
    parts = pair.split(">")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"domain pair {pair!r} must read 'source>target', e.g. 'optmnist>digits'")
    return parts[0], parts[1]


def pair_data(config: ml_collections.ConfigDict, pair: str) -> dict[str, dict[str, np.ndarray]]:
    """Source (all labelled), target train (unlabelled for DANN), validation and test, as arrays.

    The target is split (stratified, ``data.split_seed``) into ``data.test_fraction`` for testing,
    then ``data.target_val_size`` labelled validation points for model selection; the rest is
    the unlabelled training data (labelled only for train-on-target).

    Returns:
      ``{"source", "target_train", "target_val", "target_test"}``, each ``{"x", "y"}``; each
      domain is standardised over its own pixels when ``data.standardize``.
    """
    d = config.data
    (xs, ys), (xt, yt) = (finetune_task.load_domain(name, d.size) for name in parse_pair(pair))
    if d.standardize:  # removes the trivial brightness / contrast difference of the domains
        xs, xt = ((x - x.mean()) / (x.std() + 1e-8) for x in (xs, xt))
    t_rest, t_test = data_core.split(xt, yt, d.test_fraction, d.split_seed)
    n_val, n_rest = int(d.target_val_size), len(t_rest["y"])
    if not 0 < n_val < n_rest // 2:
        raise ValueError(
            f"data.target_val_size={n_val} for {pair}: accepted 1..{n_rest // 2 - 1} "
            f"(at most half of the {n_rest} target points left after the test split)"
        )
    t_train, t_val = data_core.split(t_rest["x"], t_rest["y"], n_val / n_rest, d.split_seed + 1)
    return {
        "source": {"x": xs, "y": ys},
        "target_train": t_train,
        "target_val": t_val,
        "target_test": t_test,
    }


def paired_rows(source: dict, target: dict, seed: int) -> dict[str, np.ndarray]:
    """Source and target rows side by side, the smaller domain repeated to the larger one's length.

    A batch of B indices then holds B source and B target examples, as DANN's step needs.
    """
    n = max(len(source["y"]), len(target["y"]))
    rng = np.random.default_rng(seed)
    take = lambda m: np.concatenate([rng.permutation(m) for _ in range(-(-n // m))])[:n]
    i_s, i_t = take(len(source["y"])), take(len(target["y"]))
    return {
        "xs": source["x"][i_s],
        "ys": source["y"][i_s],
        "xt": target["x"][i_t],
        "yt": target["y"][i_t],
    }


def dann_optimizer(opt: ml_collections.ConfigDict, steps: int) -> optax.GradientTransformation:
    """SGD with momentum and the paper's annealing ``mu_p = mu_0 / (1 + 10 p)^0.75`` when
    ``opt.schedule == "dann"`` (Ganin et al. 2016, Sec. 5.2.2); otherwise the config's optimizer."""
    if opt.schedule != "dann":
        return optim.make_optimizer(opt, steps)
    momentum_sgd = ml_collections.ConfigDict({**opt.to_dict(), "name": "momentum"})
    return optim.make_optimizer(momentum_sgd, steps, shape=dann.lr_schedule(steps, lr0=1.0))


def build_model(config: ml_collections.ConfigDict, num_classes: int) -> dann.DANN:
    """The DANN network of ``config.model``: conv blocks ``conv_features`` (none: an MLP G_f),
    Dense ``feature_hidden``, G_y hidden ``label_hidden``, G_d hidden ``domain_hidden``."""
    m = config.model
    return dann.DANN(
        num_classes=num_classes,
        conv_features=tuple(m.conv_features),
        feature_hidden=tuple(m.feature_hidden),
        label_hidden=tuple(m.label_hidden),
        domain_hidden=tuple(m.domain_hidden),
        **backend.current().model_overrides(dann.DANN),  # its conv layer, as models.get does
    )


def num_classes_of(data: dict) -> int:
    """Classes of a pair: one more than the largest label of either domain."""
    return int(max(data["source"]["y"].max(), data["target_test"]["y"].max())) + 1


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
    model = build_model(config, num_classes_of(data))
    steps = total_steps(config.train, len(train["ys"]))
    lambda_p = dann.lambda_schedule(steps, gamma=float(config.transfer.gamma))

    def init(key, hparams):
        variables = model.init(key, jnp.zeros((2,) + train["xs"].shape[1:]), 0.0)
        return {"params": variables["params"], "progress": {"step": jnp.zeros((), jnp.int32)}}

    def loss(params, model_state, batch, rng, hparams):
        method = jnp.asarray(hparams["transfer.method"], jnp.int32)
        step = model_state["progress"]["step"]
        lam = jnp.where(method == 1, hparams["transfer.lambda_max"] * lambda_p(step), 0.0)
        x = jnp.concatenate([batch["xs"], batch["xt"]])
        class_logits, domain_logits = model.apply({"params": params}, x, lam)
        is_target = jnp.concatenate([jnp.zeros_like(batch["ys"]), jnp.ones_like(batch["yt"])])
        labelled = jnp.where(method == 2, is_target, 1 - is_target)  # which rows' labels are used
        labels = jnp.concatenate([batch["ys"], batch["yt"]])
        total, metrics = dann.dann_loss(class_logits, labels, domain_logits, is_target, labelled)
        metrics["lambda"] = lam
        return total, (metrics, {"progress": {"step": step + 1}})

    def evaluate(params, model_state, batch, hparams):
        logits, _ = model.apply({"params": params}, batch["x"], 0.0)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"])
        return {
            "loss": ce.sum(),
            "accuracy": jnp.sum(jnp.argmax(logits, -1) == batch["y"]),
            "count": jnp.asarray(batch["y"].shape[0]),
        }

    return Problem(
        init, loss, evaluate, dann_optimizer(config.opt, steps), train, test, traced=TRACED
    )


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
    Xs, Xt = (
        data[part]["x"][i].reshape(len(i), -1)
        for part, i in (("source", i_s), ("target_test", i_t))
    )
    return Xs, data["source"]["y"][i_s], Xt, data["target_test"]["y"][i_t]


def unit_scale(Xs: np.ndarray, Xt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both domains times one common scale that gives the pooled rows mean squared norm 1.

    The linear kernel's K L K then stays well conditioned against mu I in float32 (raw 256-pixel
    norms made the Cholesky fail).
    """
    scale = 1.0 / np.sqrt(np.mean(np.sum(np.concatenate([Xs, Xt]) ** 2, 1)))
    return Xs * scale, Xt * scale


def classifier_scores(
    Zs: np.ndarray, ys: np.ndarray, Zt: np.ndarray, yt: np.ndarray, C: float
) -> dict[str, float]:
    """Target accuracy of a 1-NN and of an L2 logistic regression (inverse strength ``C``) fitted on
    the source points ``Zs`` and tested on the target points ``Zt``: ``{"1nn", "linear"}``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.concatenate([Zs, Zt]))
    clf = LogisticRegression(max_iter=2000, C=C).fit(scaler.transform(Zs), ys)
    return {
        "1nn": float(np.mean(KNeighborsClassifier(1).fit(Zs, ys).predict(Zt) == yt)),
        "linear": float(np.mean(clf.predict(scaler.transform(Zt)) == yt)),
    }


def tca_embeddings(
    Xs: np.ndarray, Xt: np.ndarray, dim: int, mu: float, kernel: str
) -> tuple[np.ndarray, np.ndarray]:
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
        out.update(
            {
                f"tca_{kernel}_{k}": v
                for k, v in classifier_scores(Zs, ys, Zt, yt, float(t.linear_C)).items()
            }
        )
    return out


def method_of(config: ml_collections.ConfigDict, overrides: dict[str, Any]) -> str:
    """The method name of the run with ``overrides``."""
    return METHODS[int(overrides.get("transfer.method", config.transfer.method))]


def runs_to_train(config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
    """The sweep without duplicates: lambda_max only changes DANN, so source-only and
    train-on-target runs are kept at the first swept lambda_max only."""
    lambdas = tuple(config.sweep.transfer.lambda_max)
    return [
        o
        for o in sweep.expand(config)
        if not lambdas or method_of(config, o) == "dann" or o["transfer.lambda_max"] == lambdas[0]
    ]


def select_dann(
    config: ml_collections.ConfigDict, pair: str, data: dict, result: sweep.SweepResult
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Selects DANN's ``lambda_max`` per seed by accuracy on the labelled target validation split.

    Args:
      config: the experiment config.
      pair: the pair's name.
      data: the output of :func:`pair_data` (its ``target_val`` is read, never the test split).
      result: the pair's sweep.

    Returns:
      ``(rows, chosen)``: one row per seed ``{"pair", "seed", "val_accuracy@<lambda>" ...,
      "selected_lambda_max"}`` and ``{seed: index of the selected run}``. Ties go to the smaller
      lambda_max.
    """
    model = build_model(config, num_classes_of(data))
    predict = jax.jit(lambda p, x: jnp.argmax(model.apply({"params": p}, x, 0.0)[0], -1))
    val = data["target_val"]
    by_seed: dict[int, list[tuple[float, float, int]]] = {}
    for i, o in enumerate(result.overrides):
        if method_of(config, o) == "dann":
            lam = float(o.get("transfer.lambda_max", config.transfer.lambda_max))
            predicted = np.asarray(predict(result.run_state(i).params, val["x"]))
            acc = float(np.mean(predicted == val["y"]))
            by_seed.setdefault(int(o.get("seed", config.seed)), []).append((lam, acc, i))
    rows, chosen = [], {}
    for seed, cands in by_seed.items():
        lam, _, i = max(sorted(cands), key=lambda c: c[1])  # first maximum: the smallest lambda
        chosen[seed] = i
        rows.append(
            {
                "pair": pair,
                "seed": seed,
                **{f"val_accuracy@{c[0]:g}": c[1] for c in cands},
                "selected_lambda_max": lam,
            }
        )
    return rows, chosen


def _pair_rows(config, pair, result, chosen, tca_by_seed) -> list[dict[str, Any]]:
    """Target test accuracy per (method, seed): DANN's selected run only."""
    rows = []
    for i, o in enumerate(result.overrides):
        method, seed = method_of(config, o), int(o.get("seed", config.seed))
        if method != "dann" or chosen.get(seed) == i:
            rows.append(
                {
                    "pair": pair,
                    "method": method,
                    "seed": seed,
                    "target_accuracy": result.run_metrics(i)["test_accuracy"],
                }
            )
    for seed, scores in tca_by_seed.items():
        rows += [
            {"pair": pair, "method": name, "seed": seed, "target_accuracy": acc}
            for name, acc in scores.items()
        ]
    return rows


def feature_projections(
    config, data: dict, result: sweep.SweepResult, runs: dict[str, int], n: int = 500
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{label: (source, target)}`` 2-D points: ``n`` source and ``n`` target test points in the
    learned feature space G_f of the runs ``{label: run index}``, projected on the two leading
    principal components of both domains' features.

    Runs on every process (a vmapped sweep's state may span hosts); :func:`_plot_features` plots.
    """
    m = config.model
    extractor = dann.FeatureExtractor(
        tuple(m.conv_features),
        tuple(m.feature_hidden),
        **backend.current().model_overrides(dann.FeatureExtractor),
    )
    features = jax.jit(lambda p, x: extractor.apply({"params": p}, x))
    rng = np.random.default_rng(0)
    xs = data["source"]["x"][rng.permutation(len(data["source"]["y"]))[:n]]
    xt = data["target_test"]["x"][rng.permutation(len(data["target_test"]["y"]))[:n]]
    out = {}
    for label, i in runs.items():
        params = result.run_state(i).params["features"]
        fs, ft = (np.asarray(jax.device_get(features(params, x))) for x in (xs, xt))
        centred = np.concatenate([fs, ft])
        centred = centred - centred.mean(0)
        z = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
        out[label] = (z[: len(fs)], z[len(fs) :])
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


def _plot_accuracy(table: list[dict[str, Any]], path: str) -> None:
    """``accuracy.png``: target test accuracy per method (bars, mean ± std over seeds) per pair."""
    plt = report.pyplot()
    pairs = list(dict.fromkeys(g["pair"] for g in table))
    methods = list(dict.fromkeys(g["method"] for g in table))
    acc = {(g["pair"], g["method"]): g for g in table}
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(2.5 + 0.4 * len(methods) * len(pairs), 4.0))
    cmap = plt.get_cmap("tab10")
    for j, method in enumerate(methods):
        gs = [acc.get((p, method)) for p in pairs]
        ax.bar(
            np.arange(len(pairs)) + (j - (len(methods) - 1) / 2) * width,
            [g["target_accuracy_mean"] if g else np.nan for g in gs],
            width,
            yerr=[g["target_accuracy_std"] if g else 0.0 for g in gs],
            capsize=2,
            color=cmap(j % 10),
            label=method,
        )
    ax.set_xticks(np.arange(len(pairs)), pairs)
    ax.set(xlabel="source > target", ylabel="target test accuracy", ylim=(0.0, 1.0))
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Every method on every domain pair; table of target accuracy (mean ± std over seeds).

    Args:
      config: the experiment config (see experiments/domain_adaptation.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary``,
      ``groups`` (per pair and method), ``rows`` and ``selection`` (:func:`select_dann`). The
      workdir gets ``accuracy.png`` and, per pair, ``features_<source>_to_<target>.png``
      (:func:`feature_projections`: source-only and the selected DANN of the first seed).
    """
    if not 0 <= config.transfer.method < len(METHODS):
        raise ValueError(
            f"transfer.method={config.transfer.method} out of range; accepted "
            f"0..{len(METHODS) - 1} ({', '.join(METHODS)})"
        )
    rows, runs, selection = [], [], []
    for pair in tuple(config.data.pairs):
        data = pair_data(config, pair)
        pair_dir = os.path.join(workdir, pair.replace(">", "_to_"))
        result = sweep.train(
            lambda c, data=data: make_problem_from(c, data),
            config,
            pair_dir,
            overrides=runs_to_train(config) or None,
        )
        chosen_rows, chosen = select_dann(config, pair, data, result)
        selection += chosen_rows
        seeds = sorted({int(o.get("seed", config.seed)) for o in result.overrides})
        tca_by_seed = {s: tca_scores(config, data, s) for s in seeds} if config.transfer.tca else {}
        rows += _pair_rows(config, pair, result, chosen, tca_by_seed)
        runs += report.stage_runs(result, {"data.pair": pair})
        first = {}
        for i, o in enumerate(result.overrides):
            method, seed = method_of(config, o), int(o.get("seed", config.seed))
            if method == "source_only" or (method == "dann" and chosen.get(seed) == i):
                first.setdefault(method, i)
        points = feature_projections(config, data, result, first)
        if report.is_writer():
            os.makedirs(workdir, exist_ok=True)
            name = f"features_{pair.replace('>', '_to_')}.png"
            _plot_features(points, pair, os.path.join(workdir, name))
    table = report.group(rows, ["pair", "method"], "target_accuracy")
    shown = [
        {
            "pair": g["pair"],
            "method": g["method"],
            "runs": g["runs"],
            "target accuracy": report.mean_std_text(
                g["target_accuracy_mean"], g["target_accuracy_std"]
            ),
        }
        for g in table
    ]
    text = (
        report.table(shown) + "\n\nDANN lambda_max selected on the labelled target validation "
        f"split ({int(config.data.target_val_size)} points; test labels unused):\n"
        + report.table(selection)
    )
    if report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        report.write_table(workdir, text, "domain adaptation, target accuracy")
        _plot_accuracy(table, os.path.join(workdir, "accuracy.png"))
    # the comparison's groups: target accuracy per pair and method (DANN's selected runs, TCA)
    summary = report.summarize_rows(rows, ["pair", "method"], ["target_accuracy"])
    return report.results_from_runs(
        config.experiment,
        config,
        runs,
        summary=summary,
        metrics={f"{r['pair']}/{r['method']}": r["target_accuracy_mean"] for r in table},
        groups=table,
        rows=rows,
        selection=selection,
    )
