"""Multi-label (yeast) and multi-class (digits): shared vs per-label models, softmax vs one-vs-rest.

Labels are a 0/1 matrix ``Y (n, L)`` (one-hot for multi-class). ``model.sharing``: ``shared`` is
one MLP whose hidden layers feed ``L`` sigmoid outputs (jaxdl.multitask.multilabel.MultiLabelMLP);
``independent`` is one MLP per label (binary relevance), vmapped over labels. ``model.loss``:
``sigmoid`` (binary cross-entropy per label, the multi-label / one-vs-rest loss) or ``softmax``
(cross-entropy over classes, multi-class only). With ``model.hidden=()`` the models are linear:
softmax is multinomial logistic regression and sigmoid is one-vs-rest logistic regression. Each run
is also compared with the library's one-vs-rest logistic regression solved by FISTA
(``jaxdl.multitask.multilabel.one_vs_rest``). Metrics: Hamming loss, subset accuracy, micro and
macro F1 (and accuracy for multi-class).
"""

import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl.data import core as data_core
from jaxdl.data import images
from jaxdl.multitask import multilabel as ml_lib
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import Problem

SHARING = ("shared", "independent")
MODEL_NAMES = ("multilabel_mlp",)  # MultiLabelMLP or IndependentMLP (model.sharing), built here
LOSSES = ("sigmoid", "softmax")


def baseline_config(tiny: bool = False) -> ml_collections.ConfigDict:
    """The experiments' ``config.baseline`` block (one-vs-rest logistic regression by FISTA)."""
    c = ml_collections.ConfigDict()
    c.ovr_C = 1.0  # one-vs-rest logistic: inverse L2 strength (scikit-learn's C)
    c.max_iter = 100 if tiny else 2000  # FISTA iterations
    c.tol = 1e-5 if tiny else 1e-7  # FISTA relative objective-change tolerance
    return c


def load(cfg, seed=0) -> tuple[dict, dict, bool]:
    """Train / test ``{"x": (n, d) z-scored, "y": (n, L) 0/1}`` and whether it is multi-class.

    The split is drawn from ``cfg.split_seed + seed``, so every seed of a sweep is its own split.
    """
    split_seed = int(cfg.split_seed) + int(seed)
    if cfg.name == "yeast":
        from jaxdl.data import yeast  # pylint: disable=g-import-not-at-top

        ds = yeast.load_yeast()
        rng = np.random.default_rng(split_seed)
        order = rng.permutation(len(ds.X))
        n_test = int(round(cfg.test_fraction * len(order)))
        x_tr, x_te = data_core.standardize(ds.X[order[n_test:]], ds.X[order[:n_test]])
        Y = ds.Y.astype(np.float32)
        return {"x": x_tr, "y": Y[order[n_test:]]}, {"x": x_te, "y": Y[order[:n_test]]}, False
    if cfg.name == "digits":
        ds = images.digits(cfg.test_fraction, split_seed)
        flat = lambda s: s["x"].reshape(len(s["x"]), -1)
        x_tr, x_te = data_core.standardize(flat(ds.train), flat(ds.test))
        onehot = lambda s: np.eye(10, dtype=np.float32)[s["y"]]
        return {"x": x_tr, "y": onehot(ds.train)}, {"x": x_te, "y": onehot(ds.test)}, True
    raise ValueError(f"multilabel needs data.name 'yeast' or 'digits', got {cfg.name!r}")


def build_model(config, num_labels) -> nn.Module:
    """The ``model.sharing`` network with ``num_labels`` outputs."""
    if config.model.sharing not in SHARING:
        raise ValueError(
            f"model.sharing must be one of {', '.join(SHARING)}, got {config.model.sharing!r}"
        )
    hidden = tuple(config.model.hidden)
    if config.model.sharing == "shared":
        return ml_lib.MultiLabelMLP(num_labels, hidden)
    return ml_lib.IndependentMLP(num_labels, hidden)


def predict(logits, multiclass):
    """0/1 predictions ``(n, L)``: the arg-max class (multi-class) or every label with logit > 0."""
    if multiclass:
        return jax.nn.one_hot(jnp.argmax(logits, -1), logits.shape[-1], dtype=jnp.int32)
    return (logits > 0).astype(jnp.int32)


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Data, the ``model.sharing`` network, the ``model.loss`` objective and the optimizer."""
    train, test, multiclass = load(config.data, config.seed)
    if config.model.loss not in LOSSES or (config.model.loss == "softmax" and not multiclass):
        raise ValueError(
            f"model.loss must be one of {', '.join(LOSSES)} (softmax only for a multi-class "
            f"data set), got {config.model.loss!r} on {config.data.name}"
        )
    L = train["y"].shape[1]
    model = build_model(config, L)

    def objective(logits, Y):
        if config.model.loss == "softmax":
            return optax.softmax_cross_entropy(logits, Y)
        return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, Y), axis=-1)

    def init(key, hparams):
        return model.init(key, train["x"][:1])

    def loss(params, model_state, batch, key, hparams):
        logits = model.apply({"params": params}, batch["x"])
        hamming = jnp.mean(predict(logits, multiclass) != batch["y"])
        return jnp.mean(objective(logits, batch["y"])), ({"hamming_loss": hamming}, model_state)

    def evaluate(params, model_state, batch, hparams):
        logits = model.apply({"params": params}, batch["x"])
        wrong = predict(logits, multiclass) != batch["y"]
        return {
            "loss": jnp.sum(objective(logits, batch["y"])),
            "hamming_loss": jnp.sum(jnp.mean(wrong, axis=1)),
            "subset_accuracy": jnp.sum(~jnp.any(wrong, axis=1)),
            "count": jnp.asarray(batch["x"].shape[0]),
        }

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["y"])))
    return Problem(init, loss, evaluate, tx, train, test)


def scores(Y, Y_hat, multiclass) -> dict[str, float]:
    """Hamming loss, subset accuracy, micro / macro F1 (and accuracy) of 0/1 predictions."""
    out = {
        "hamming_loss": ml_lib.hamming_loss(Y, Y_hat),
        "subset_accuracy": ml_lib.subset_accuracy(Y, Y_hat),
        "f1_micro": ml_lib.f1_micro(Y, Y_hat),
        "f1_macro": ml_lib.f1_macro(Y, Y_hat),
    }
    if multiclass:
        out["accuracy"] = jnp.mean(jnp.argmax(Y_hat, 1) == jnp.argmax(Y, 1))
    return {k: float(v) for k, v in out.items()}


def _plot(groups, workdir) -> None:
    """Bars of every model's test metrics, mean ± std over seeds (``report.summarize_rows``)."""
    plt = report.pyplot()
    names = [
        n
        for n in ("accuracy", "subset_accuracy", "f1_micro", "f1_macro", "hamming_loss")
        if n in groups[0]["metrics"]
    ]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    width = 0.8 / len(groups)
    for j, g in enumerate(groups):
        ax.bar(
            np.arange(len(names)) + j * width,
            [g["metrics"][n]["mean"] for n in names],
            width,
            yerr=[g["metrics"][n]["std"] for n in names],
            capsize=2,
            label=f"{g['hparams']['model']} ({g['n']} seeds)",
        )
    labels = [f"{n}\n(lower is better)" if n == "hamming_loss" else n for n in names]
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, labels, fontsize=8)
    ax.set(
        ylabel="test-set value (mean ± std)",
        ylim=(0, 1.35),
        yticks=np.linspace(0, 1, 6),
        title="test metrics by model",
    )
    ax.legend(fontsize=7, loc="upper right")  # above the bars, which end at 1
    report.save_figure(fig, os.path.join(workdir, "metrics.png"))


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every run of the sweep, adds one-vs-rest logistic (FISTA) on each seed's split,
    returns the metrics table (each run, and mean ± std over seeds per model)."""
    # the seed also draws the split: every run names its (untraced) sharing, so that each one is
    # built from its own config rather than vmapped over the first seed's data
    overrides = [{"model.sharing": config.model.sharing, **o} for o in sweep.expand(config) or [{}]]
    result = sweep.train(make_problem, config, workdir, overrides)
    rows, splits = [], {}
    for i, o in enumerate(result.overrides):
        cfg = sweep.run_config(config, o)
        if cfg.seed not in splits:
            splits[cfg.seed] = load(cfg.data, cfg.seed)
        train, test, multiclass = splits[cfg.seed]
        model = build_model(cfg, test["y"].shape[1])
        logits = model.apply({"params": result.run_state(i).params}, test["x"])
        name = f"{cfg.model.sharing} {cfg.model.loss} mlp{tuple(cfg.model.hidden)}"
        rows.append(
            {
                "model": name,
                "seed": cfg.seed,
                **scores(test["y"], predict(logits, multiclass), multiclass),
            }
        )
    ovr_name = f"one-vs-rest logistic (FISTA, C={config.baseline.ovr_C})"
    ovr_rows = []
    for seed, (train, test, multiclass) in splits.items():
        ovr = ml_lib.one_vs_rest(
            train["x"],
            train["y"].astype(np.int32),
            C=float(config.baseline.ovr_C),
            max_iter=int(config.baseline.max_iter),
            tol=float(config.baseline.tol),
        )
        ovr_rows.append(
            {
                "model": ovr_name,
                "seed": seed,
                **scores(
                    test["y"], predict(ovr.decision_function(test["x"]), multiclass), multiclass
                ),
            }
        )
    metric_names = [k for k in rows[0] if k not in ("model", "seed")]
    by_model = report.summarize_rows(rows + ovr_rows, ["model"], metric_names)  # over the seeds
    if report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        _plot(by_model, workdir)
        shown = [
            {
                "model": g["hparams"]["model"],
                "seeds": g["n"],
                **{k: report.mean_std_text(**g["metrics"][k]) for k in metric_names},
            }
            for g in by_model
        ]
        report.write_table(
            workdir,
            report.table(shown) + "\n\n" + report.table(rows + ovr_rows),
            "test metrics (mean ± std over seeds, then every run)",
        )
    # F1 is not a mean over examples: computed here, not in evaluate
    names = ("f1_micro", "f1_macro") + (("accuracy",) if multiclass else ())
    ovr = report.find_group(by_model, {"model": ovr_name})["metrics"]
    extra = {f"ovr_logistic/{k}": ovr[k]["mean"] for k in metric_names}
    extra.update({f"ovr_logistic/{k}_std": ovr[k]["std"] for k in metric_names})
    return report.results_dict(
        config.experiment,
        config,
        result,
        extra=extra,
        run_metrics=[{f"test_{k}": r[k] for k in names} for r in rows],
        table=rows + ovr_rows,
        table_summary=by_model,
    )
