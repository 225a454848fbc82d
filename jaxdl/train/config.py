"""The config skeleton every experiment shares (docs/design.md schema), so experiment files only
state what differs.

Sweepable fields are declared as empty tuples under ``sweep`` because ml_collections can override a
tuple from the command line (``--config.sweep.seed='(0,1,2)'``) but not a list, and a locked
config cannot gain keys.
"""

import dataclasses
import math
from typing import Any

import ml_collections


def base(experiment: str, task: str, description: str) -> ml_collections.ConfigDict:
    """A config with ``seed``, ``data``, ``model``, ``opt``, ``train``, ``checkpoint``, ``sweep``.

    Args:
      experiment: the name written to results.json.
      task: the ``jaxdl.tasks`` registry name that runs it.
      description: one line shown by ``launch.py --list``.
    """
    c = ml_collections.ConfigDict()
    c.experiment = experiment  # name in results.json
    c.description = description  # shown by launch.py --list
    c.task = task  # jaxdl.tasks registry name
    c.seed = 0  # PRNG seed: initialisation, data order, dropout
    c.tensorboard = True  # write TensorBoard event files under workdir/tb

    c.data = ml_collections.ConfigDict()
    c.data.name = "digits"  # jaxdl.data registry name
    c.data.test_fraction = 0.2  # held-out share, stratified
    c.data.split_seed = 0  # the fixed train/test split's seed
    c.data.path = (
        ""  # user data: an .npz file (name=npz) or an MNIST-layout IDX directory (name=idx)
    )

    c.model = ml_collections.ConfigDict()
    c.model.name = "mlp"  # jaxdl.models registry name; other fields are its arguments

    c.opt = ml_collections.ConfigDict()
    c.opt.name = "adam"  # sgd | momentum | nesterov | adam | adamw | adagrad | rmsprop
    c.opt.lr = 1e-3  # peak learning rate
    c.opt.weight_decay = 0.0  # L2 (decoupled for adamw)
    c.opt.momentum = 0.9  # momentum / nesterov
    c.opt.schedule = "constant"  # constant | cosine | warmup_cosine | linear | step
    c.opt.warmup_steps = 0
    c.opt.clip_norm = 0.0  # global-norm gradient clipping; 0 = off

    c.train = ml_collections.ConfigDict()
    c.train.steps = 1000  # optimizer steps; 0 = use train.epochs
    c.train.epochs = 0  # full passes over the training set (when steps = 0)
    c.train.batch_size = 64
    c.train.log_every = 100  # steps per chunk: one progress line and metrics.jsonl row
    c.train.eval_every = 500  # test evaluation period in steps (and at the end)
    c.train.eval_batch_size = 1024
    # larger training sets stream their batches through grain (jaxdl.data.pipeline), in another
    # order than on the device
    c.train.device_data_limit_mb = 1024
    c.train.data_workers = 0  # grain worker processes preparing streamed batches (0: in-process)
    c.train.strategy = (
        "auto"  # auto | scan | loop: a chunk as one lax.scan or a Python loop of jitted steps
    )
    c.train.sweep_strategy = "auto"  # auto | vmap | sequential
    c.train.data_parallel = (
        "auto"  # auto | always | never: split a single run's batch over the devices
    )
    # float32 | bfloat16: the dtype of activations, matmuls and convolutions; parameters, optimizer
    # state, losses and batch-norm statistics stay float32 (jaxdl.train.precision)
    c.train.compute_dtype = "float32"

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.every_steps = 500  # 0 = only at the end
    c.checkpoint.keep = 2  # newest checkpoints kept

    c.sweep = ml_collections.ConfigDict()  # tuples of values; the runs are their product
    sweepable(c, "seed", "opt.lr", "opt.weight_decay")
    return c


# shared-schema fields and the least value each accepts (checked wherever a config has them)
_LEAST = {
    "train.steps": 0,
    "train.epochs": 0,
    "train.batch_size": 1,
    "train.log_every": 1,
    "train.eval_every": 0,
    "train.eval_batch_size": 1,
    "train.data_workers": 0,
    "opt.lr": 0.0,
    "opt.weight_decay": 0.0,
    "opt.warmup_steps": 0,
    "opt.clip_norm": 0.0,
    "checkpoint.every_steps": 0,
    "checkpoint.keep": 1,
}


def validate(c: ml_collections.ConfigDict) -> None:
    """One-line ValueError for a shared-schema value out of range, the config's or a swept one's,
    so that a run is refused before its workdir is touched."""
    for path, least in _LEAST.items():
        *parents, leaf = path.split(".")
        node, swept = c, c.get("sweep", {})
        for p in parents:
            node, swept = node.get(p, {}), swept.get(p, {}) if hasattr(swept, "get") else {}
        if not hasattr(node, "get") or leaf not in node:
            continue
        values = [(node[leaf], "")] + [
            (v, f" (in sweep.{path})")
            for v in (swept.get(leaf, ()) if hasattr(swept, "get") else ())
        ]
        for v, where in values:
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or v < least
            ):
                raise ValueError(
                    f"{path}={v!r}{where} must be a number >= {least}"
                    + (" (the training set size at most)" if path == "train.batch_size" else "")
                )
    train = c.get("train")
    if hasattr(train, "get") and "compute_dtype" in train:
        from jaxdl.train import precision  # pylint: disable=g-import-not-at-top

        precision.check(train.compute_dtype)


def _plain(value: Any) -> bool:
    """Whether ``value`` can come from the command line: None, a number, a string, or a tuple of
    those (not a layer class or a function)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    return isinstance(value, (tuple, list)) and all(_plain(v) for v in value)


def model_fields(c: ml_collections.ConfigDict, name: str | None = None) -> dict[str, Any] | None:
    """The ``model`` fields ``--config.model.<field>`` may add to ``c``, with their defaults.

    A task that builds its model from every ``model`` field (``models.get(model.name, **fields)``)
    names the arguments it sets itself in ``TASK_MODEL_ARGUMENTS`` (``jaxdl.tasks.classify``); for
    such a task these are the other arguments of the model ``name`` (default ``model.name``) whose
    defaults are plain values (``dataclasses.MISSING`` where the model requires one). A layer class
    (``conv``) or function stays the code's.

    Returns:
      ``{field: default}``, or None when the task reads only the ``model`` fields it declares.
    """
    from jaxdl import models, tasks  # pylint: disable=g-import-not-at-top

    name = c.model.get("name") if name is None else name
    task = tasks.get(c.task)
    set_by_task = getattr(task, "TASK_MODEL_ARGUMENTS", None)
    if set_by_task is None or name not in models.names():
        return None
    return {
        k: v
        for k, v in models.defaults(name).items()
        if k not in set_by_task and (v is dataclasses.MISSING or _plain(v))
    }


def drop(c: ml_collections.ConfigDict, *paths: str) -> None:
    """Removes the fields at dotted ``paths`` that a task does not read, with their ``sweep``
    entries, so that setting them on the command line is an error rather than silently ignored.

    Not for the shared schema of docs/design.md (``seed``, ``model.name``, ``data.name``, ``opt.*``,
    ``train.*``, ``checkpoint.*``), which every experiment keeps: code outside the package reads it.
    """
    for path in paths:
        for root in (c, c.sweep):
            *parents, leaf = path.split(".")
            node = root
            for part in parents:
                node = node.get(part) if node is not None else None
            if node is not None and leaf in node:
                del node[leaf]


def sweepable(c: ml_collections.ConfigDict, *paths: str) -> None:
    """Declares ``sweep.<path> = ()`` for each dotted path, so that the command line can set it."""
    for path in paths:
        *parents, leaf = path.split(".")
        node = c.sweep
        for part in parents:
            if part not in node:
                node[part] = ml_collections.ConfigDict()
            node = node[part]
        node[leaf] = ()


def check_variant(name: str, variant: str | None, variants: tuple[str, ...] = ("tiny",)) -> None:
    """Raises the one-line error for an unknown ``:variant`` of experiment ``name``."""
    if variant not in (None, "") and variant not in variants:
        raise ValueError(
            f"unknown variant {variant!r} of {name}; choose one of {', '.join(variants)} (or none)"
        )
