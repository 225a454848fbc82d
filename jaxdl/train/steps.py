"""Pure step functions: ``state, batch -> state, metrics``, and the chunk runners built on them.

A *chunk* is ``K`` consecutive optimizer steps between two points where the host looks (logging,
evaluation, checkpoints). Two interchangeable strategies run a chunk with identical arithmetic:

- ``scan``: the whole chunk is one ``lax.scan`` (no Python between steps); fastest for dense
  models and on accelerators.
- ``loop``: a Python loop dispatching one jitted step at a time; where it is the faster default
  (conv nets on XLA:CPU) the backend policy says so (:mod:`jaxdl.backend`, docs/design.md).

Data order is a pure function of ``(data_key, epoch)``: step ``s`` reads positions
``[(s mod E) B, (s mod E) B + B)`` of the permutation for epoch ``s // E`` (``E`` steps per epoch,
the last partial batch dropped). Resuming at any step therefore replays the same batches.
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl import backend
from jaxdl.train import optim, precision
from jaxdl.train.problem import Problem
from jaxdl.train.state import TrainState


def init_state(problem: Problem, hparams: dict[str, jax.Array]) -> TrainState:
    """Initialises one run from its hyper-parameters (``hparams['seed']`` gives every key).

    Pure and vmappable over ``hparams``.
    """
    key = jax.random.key(hparams["seed"])
    k_init, k_data, k_step = jax.random.split(key, 3)
    variables = dict(problem.init(k_init, hparams))
    params = variables.pop("params")
    opt_state = problem.tx.init(params)
    injected = {name: hparams[path] for path, name in problem.hparam_names if path in hparams}
    opt_state = optim.set_hyperparams(opt_state, injected)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=opt_state,
        model_state=variables,
        rng=k_step,
        data_key=k_data,
        hparams=hparams,
    )


def train_step(
    problem: Problem, state: TrainState, batch: dict[str, jax.Array]
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One optimizer step on ``batch``; returns the new state and the batch's metrics.

    The loss runs in ``problem.compute_dtype`` (:func:`jaxdl.train.precision.mixed`).
    """
    rng = jax.random.fold_in(state.rng, state.step)
    problem_loss = precision.mixed(problem.loss, problem.compute_dtype, returns_state=True)

    def loss_fn(params):
        return problem_loss(params, state.model_state, batch, rng, state.hparams)

    (loss, (metrics, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = problem.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, **metrics}
    new_state = state.replace(
        step=state.step + 1, params=params, opt_state=opt_state, model_state=model_state
    )
    return new_state, metrics


def batch_indices(
    data_key: jax.Array, start: jax.Array, num_steps: int, num_examples: int, batch_size: int
) -> jax.Array:
    """Example indices for steps ``start .. start + num_steps - 1``.

    Args:
      data_key: the run's data key.
      start: int32 scalar, first step (may be traced).
      num_steps: K, static.
      num_examples: n, static.
      batch_size: B, static; must be <= n.

    Returns:
      int32 array (K, B).
    """
    steps_per_epoch = num_examples // batch_size
    steps = start + jnp.arange(num_steps)
    epoch0 = start // steps_per_epoch
    num_epochs = num_steps // steps_per_epoch + 2  # epochs a chunk of K steps can touch
    perms = jax.vmap(
        lambda e: jax.random.permutation(jax.random.fold_in(data_key, e), num_examples)
    )(epoch0 + jnp.arange(num_epochs))
    starts = (steps // steps_per_epoch - epoch0) * num_examples + (
        steps % steps_per_epoch
    ) * batch_size
    return perms.reshape(-1)[starts[:, None] + jnp.arange(batch_size)[None, :]].astype(
        jnp.int32
    )  # (K, B), no (K, n) copy


def gather(
    data: dict[str, Any], idx: jax.Array, mesh: jax.sharding.Mesh | None = None
) -> dict[str, jax.Array]:
    """Selects examples ``idx`` (B,) from every array of ``data``.

    With a ``"data"`` mesh the batch is split over its devices (data parallelism); jit then
    partitions the step and inserts the gradient all-reduce.
    """
    return constrain({name: jnp.take(value, idx, axis=0) for name, value in data.items()}, mesh)


def constrain(batch: dict[str, jax.Array], mesh: jax.sharding.Mesh | None) -> dict[str, jax.Array]:
    """Splits a batch over a ``"data"`` mesh's devices (when the batch divides evenly)."""
    size = next(iter(batch.values())).shape[0]
    if mesh is not None and mesh.axis_names == ("data",) and size % mesh.size == 0:
        spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
        batch = jax.lax.with_sharding_constraint(batch, spec)
    return batch


def scan_batches(problem: Problem, state: TrainState, batches: dict[str, jax.Array], mesh=None):
    """Like :func:`scan_chunk` for batches gathered on the host: ``batches`` are (K, B, ...)."""
    return jax.lax.scan(
        lambda carry, batch: train_step(problem, carry, constrain(batch, mesh)), state, batches
    )


def batch_step(problem: Problem, state: TrainState, batch: dict[str, jax.Array], mesh=None):
    """One step on a batch gathered on the host (``loop`` strategy, streamed data)."""
    return train_step(problem, state, constrain(batch, mesh))


def scan_chunk(
    problem: Problem,
    state: TrainState,
    data: dict[str, jax.Array],
    num_steps: int,
    batch_size: int,
    mesh=None,
):
    """Runs ``num_steps`` steps inside one ``lax.scan``; returns the state and per-step metrics."""
    idx = batch_indices(state.data_key, state.step, num_steps, problem.num_train, batch_size)

    def body(carry, idx_b):
        return train_step(problem, carry, gather(data, idx_b, mesh))

    return jax.lax.scan(body, state, idx)


def indexed_step(
    problem: Problem,
    state: TrainState,
    data: dict[str, jax.Array],
    idx: jax.Array,
    k: jax.Array,
    mesh=None,
):
    """Step ``k`` of a chunk whose indices ``idx (K, B)`` were drawn up front (``loop``)."""
    return train_step(problem, state, gather(data, idx[k], mesh))


def evaluate(
    problem: Problem, state: TrainState, data: dict[str, jax.Array]
) -> dict[str, jax.Array]:
    """Sums of the test metrics over ``data`` (one batch) for one run."""
    evaluate_fn = precision.mixed(problem.evaluate, problem.compute_dtype, returns_state=False)
    return evaluate_fn(state.params, state.model_state, data, state.hparams)


def compiled(
    problem: Problem,
    kind: str,
    vmapped: bool,
    num_steps: int = 0,
    batch_size: int = 0,
    mesh=None,
    policy: backend.Policy | None = None,
):
    """Jitted (optionally run-vmapped) chunk / step / eval functions, cached per problem.

    ``kind`` is ``"scan"``, ``"step"`` (device data), ``"scan_batches"``, ``"batch_step"`` (host
    data), ``"indices"`` or ``"eval"``; states are donated so buffers are
    reused. ``mesh`` (a ``"data"`` mesh) shards each batch over devices. The programs are compiled
    with the training compiler options of ``policy`` (default :func:`jaxdl.backend.current`).
    """
    return _compiled(
        problem, kind, vmapped, num_steps, batch_size, mesh, policy or backend.current()
    )


@functools.lru_cache(maxsize=None)
def _compiled(problem, kind, vmapped, num_steps, batch_size, mesh, policy):
    """:func:`compiled`, cached per argument (the frozen policy is part of the key)."""
    # under the run vmap, states, host batches and the indices' keys and steps carry the run axis;
    # device data and a step's position in the chunk are shared
    if kind == "scan":
        fn, in_axes = (
            functools.partial(
                scan_chunk, problem, num_steps=num_steps, batch_size=batch_size, mesh=mesh
            ),
            (0, None),
        )
    elif kind == "step":
        fn, in_axes = functools.partial(indexed_step, problem, mesh=mesh), (0, None, 0, None)
    elif kind in ("scan_batches", "batch_step"):
        fn, in_axes = (
            functools.partial(
                scan_batches if kind == "scan_batches" else batch_step, problem, mesh=mesh
            ),
            0,
        )
    elif kind == "indices":
        fn, in_axes = (
            functools.partial(
                batch_indices,
                num_steps=num_steps,
                num_examples=problem.num_train,
                batch_size=batch_size,
            ),
            0,
        )
    elif kind == "eval":
        fn, in_axes = functools.partial(evaluate, problem), (0, None)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    if vmapped:
        fn = jax.vmap(fn, in_axes=in_axes)
    donate = () if kind in ("eval", "indices") else (0,)
    return jax.jit(fn, donate_argnums=donate, compiler_options=policy.compiler_options("train"))
