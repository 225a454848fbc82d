"""Orbax checkpoints of the whole TrainState: periodic saves, keep-last-N, exact resume."""

import os
from typing import Any

from absl import logging
import jax
import orbax.checkpoint as ocp

from jaxdl.train.state import TrainState, from_saveable, to_saveable


class CheckpointMismatchError(ValueError):
    """The checkpoint in the workdir does not fit the state this config builds."""


class Checkpointer:
    """Saves and restores TrainStates under ``directory`` (use as a context manager).

    Saves are asynchronous; leaving the ``with`` block (or :meth:`close`) waits for them, so the
    last checkpoint is never lost (docs/design.md, MaxText#416).

    Args:
      directory: where step folders go (created).
      keep: how many of the latest checkpoints to keep.
    """

    def __init__(self, directory: str, keep: int = 3):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(
            preservation_policy=ocp.checkpoint_managers.LatestN(max(int(keep), 1)),
            create=True,
        )
        # the handler named up front, so that a new manager can read a saved step's metadata
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_handlers=ocp.StandardCheckpointHandler()
        )

    def latest_step(self) -> int | None:
        """The newest saved step, or None."""
        return self._manager.latest_step()

    def save(self, step: int, state: TrainState, force: bool = False) -> None:
        """Saves ``state`` as ``step`` (a step at or below the latest is skipped, as Orbax does)."""
        latest = self._manager.latest_step()
        if latest is not None and step <= latest:
            return
        self._manager.save(int(step), args=ocp.args.StandardSave(to_saveable(state)), force=force)

    def restore(self, like: TrainState, step: int | None = None) -> TrainState:
        """Restores ``step`` (default: latest) into the structure, shapes and shardings of ``like``."""
        step = self._manager.latest_step() if step is None else step
        target = jax.tree.map(_abstract, to_saveable(like))
        mismatch = CheckpointMismatchError(
            f"the checkpoint at step {step} in {self.directory} is incomplete or does not fit the "
            f"model this config builds (other shapes, parameters or number of runs); use a new --workdir, "
            f"or the config (its config.json) and jaxdl version it was made with"
        )
        # Compare the saved arrays' shapes first: a restore that fails part-way leaves Orbax's
        # pending reads to print tracebacks at exit, after the one-line error.
        if _shapes(self._saved_metadata(step)) not in (None, _shapes(target)):
            logging.info("step %s of %s holds arrays of other shapes", step, self.directory)
            raise mismatch
        try:
            restored = self._manager.restore(step, args=ocp.args.StandardRestore(target))
        except (ValueError, KeyError, TypeError, FileNotFoundError) as err:
            logging.info("restoring step %s of %s failed: %s", step, self.directory, err)
            raise mismatch from None
        return from_saveable(restored)

    def _saved_metadata(self, step: int) -> Any:
        """The saved tree's array metadata, or None where Orbax cannot read it."""
        try:
            return self._manager.item_metadata(step)
        except Exception as err:  # pylint: disable=broad-except  (the restore then reports it)
            logging.info("no metadata for step %s of %s: %s", step, self.directory, err)
            return None

    def wait(self) -> None:
        """Blocks until pending saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _stored_shape(x: Any) -> tuple[int, ...]:
    """The shape an array is stored with: a typed PRNG key array is stored as its key data."""
    if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
        return tuple(jax.eval_shape(jax.random.key_data, x).shape)
    return tuple(x.shape)


def _shapes(tree: Any) -> list[tuple[int, ...]] | None:
    """The sorted stored shapes of the arrays in ``tree``: equal for a checkpoint and a state it can
    restore into, whatever each library calls the tree's keys. None (no comparison) for None or a
    tree without arrays, e.g. metadata in a form this code does not know."""
    shapes = (
        []
        if tree is None
        else [_stored_shape(x) for x in jax.tree.leaves(tree) if hasattr(x, "shape")]
    )
    return sorted(shapes) or None


def _abstract(x: Any) -> Any:
    if isinstance(x, jax.Array):
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding)
    return x
