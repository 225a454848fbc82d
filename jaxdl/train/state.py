"""The training state: everything one run needs to continue, as one pytree."""

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

PyTree = Any


@flax.struct.dataclass
class TrainState:
    """One run's complete state; a checkpoint of it resumes the run exactly.

    Attributes:
      step: int32 scalar, number of optimizer steps taken.
      params: the model's ``params`` collection.
      opt_state: Optax state; injected hyper-parameters (learning rate, weight decay) live here.
      model_state: the other variable collections (e.g. ``batch_stats``); ``{}`` when none.
      rng: typed PRNG key for the per-step randomness (dropout, noise); folded with ``step``.
      data_key: typed PRNG key that fixes the data order: epoch ``e`` is a permutation keyed by
        ``fold_in(data_key, e)``, so the order is a pure function of (seed, epoch).
      hparams: ``{config path: scalar}`` for every value a sweep may vary (``seed``, ``opt.lr``,
        task-specific ones such as ``model.width``). Being data, they can be vmapped.
    """

    step: jax.Array
    params: PyTree
    opt_state: PyTree
    model_state: PyTree
    rng: jax.Array
    data_key: jax.Array
    hparams: dict[str, jax.Array]


def to_saveable(state: TrainState) -> TrainState:
    """Replaces typed PRNG keys by their raw ``uint32`` data, which every checkpointer can store."""
    return state.replace(
        rng=jax.random.key_data(state.rng), data_key=jax.random.key_data(state.data_key)
    )


def from_saveable(state: TrainState) -> TrainState:
    """Inverse of :func:`to_saveable`."""
    return state.replace(
        rng=jax.random.wrap_key_data(state.rng), data_key=jax.random.wrap_key_data(state.data_key)
    )


def hparams_to_arrays(hparams: dict[str, Any]) -> dict[str, jax.Array]:
    """Turns Python scalars into arrays (int32 for ints, float32 otherwise) so they are traced."""
    out = {}
    for name, value in hparams.items():
        dtype = (
            jnp.int32
            if isinstance(value, (bool, int)) and not isinstance(value, float)
            else jnp.float32
        )
        out[name] = jnp.asarray(value, dtype)
    return out
