"""The contract between a task and the trainer: what to initialise and minimise, on what data."""

import dataclasses
from typing import Any, Callable

import jax
import numpy as np
import optax

PyTree = Any
Batch = dict[str, jax.Array]
HParams = dict[str, jax.Array]

# Paths every run treats as data (traced), whatever the task: a sweep over them is one program.
COMMON_TRACED = ("seed", "opt.lr", "opt.weight_decay")


@dataclasses.dataclass(
    frozen=True, eq=False
)  # hashed by identity: jitted functions are cached per problem
class Problem:
    """A learning problem the trainer can run once, resume, or sweep.

    Attributes:
      init: ``(key, hparams) -> variables``: a dict with ``params`` and any other collections.
      loss: ``(params, model_state, batch, key, hparams) -> (loss, (metrics, new_model_state))``
        for one training batch; ``metrics`` are batch means (scalars).
      evaluate: ``(params, model_state, batch, hparams) -> sums``: per-batch *sums* of the test
        metrics plus ``"count"``; the trainer divides by the total count.
      tx: the optimizer, built with ``optax.inject_hyperparams`` (see ``jaxdl.train.optim``).
      train_data: arrays with a common leading example axis (e.g. ``{"x": (n, ...), "y": (n,)}``).
      test_data: same layout as ``train_data``; may be empty (``{}``) to skip evaluation.
      traced: config paths read from ``hparams`` rather than baked into the program; a sweep
        over only these runs as one vmapped program.
      hparam_names: maps a traced config path to the optimizer hyper-parameter it sets.
      compute_dtype: ``"float32"`` or ``"bfloat16"``: the dtype the train and eval steps run
        ``loss`` and ``evaluate`` in (``jaxdl.train.precision``); ``jaxdl.train.sweep.train``
        sets it from ``train.compute_dtype``.
      train_source: a ``jaxdl.data.pipeline`` source of the training set (read on demand, e.g.
        CIFAR files); when set, ``jaxdl.train.loop.fit`` streams training batches from it
        through grain and ``train_data`` may be empty. Arrays over ``train.device_data_limit_mb``
        stream through the pipeline too.
      test_source: a pipeline source of the test set, evaluated in order (``test_data`` empty).
      host_augment: ``(augment, crop_padding, flip)`` that the pipeline applies to streamed
        training batches (``jaxdl.data.pipeline.batches``); a ``loss`` that augments on the
        device must not augment the batches of a problem that sets it.
    """

    init: Callable[[jax.Array, HParams], PyTree]
    loss: Callable[..., tuple[jax.Array, tuple[dict[str, jax.Array], PyTree]]]
    evaluate: Callable[..., dict[str, jax.Array]]
    tx: optax.GradientTransformation
    train_data: dict[str, np.ndarray]
    test_data: dict[str, np.ndarray]
    traced: tuple[str, ...] = COMMON_TRACED
    hparam_names: tuple[tuple[str, str], ...] = (
        ("opt.lr", "learning_rate"),
        ("opt.weight_decay", "weight_decay"),
    )
    compute_dtype: str = "float32"
    train_source: Any = None
    test_source: Any = None
    host_augment: tuple[str, int, bool] = ("none", 0, False)

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        if self.train_source is not None:
            return len(self.train_source)
        return len(next(iter(self.train_data.values())))
