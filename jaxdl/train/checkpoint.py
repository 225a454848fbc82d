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
    last checkpoint is never lost (shared/PITFALLS.md, MaxText#416).

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
        self._manager = ocp.CheckpointManager(self.directory, options=options)

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
        try:
            restored = self._manager.restore(step, args=ocp.args.StandardRestore(target))
        except (ValueError, KeyError, TypeError, FileNotFoundError) as err:
            logging.info("restoring step %s of %s failed: %s", step, self.directory, err)
            raise CheckpointMismatchError(
                f"the checkpoint at step {step} in {self.directory} is incomplete or does not fit the "
                f"model this config builds (other shapes, parameters or number of runs); use a new --workdir, "
                f"or the config (its config.json) and jaxdl version it was made with"
            ) from None
        return from_saveable(restored)

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


def _abstract(x: Any) -> Any:
    if isinstance(x, jax.Array):
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding)
    return x
