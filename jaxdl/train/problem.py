"""The contract between a task and the trainer: what to initialise, what to minimise, on what data."""

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

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        return len(next(iter(self.train_data.values())))
