"""Orbax checkpoints of the whole TrainState: periodic saves, keep-last-N, exact resume, and
:func:`restore` of a workdir's checkpoint on whatever devices exist."""

import dataclasses
import os
import re
from typing import Any

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxdl.train import sharding
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
      data: also save a grain data iterator's state in each step (item ``data``, next to the
        state's item ``default``), for a streamed run; a Checkpointer without it reads the state
        of such steps too.
    """

    def __init__(self, directory: str, keep: int = 3, data: bool = False):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(
            preservation_policy=ocp.checkpoint_managers.LatestN(max(int(keep), 1)),
            create=False,  # the first save creates it: a run that fails before leaves no empty dir
        )
        # the handlers named up front, so that a new manager can read a saved step's metadata
        handlers = ocp.StandardCheckpointHandler()  # saved as the item "default"
        if data:
            import grain  # pylint: disable=g-import-not-at-top  (streamed runs only)

            handlers = {"default": handlers, "data": grain.checkpoint.CheckpointHandler()}
        self._data = data
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_handlers=handlers
        )

    def latest_step(self) -> int | None:
        """The newest saved step, or None."""
        return self._manager.latest_step()

    def save(self, step: int, state: TrainState, force: bool = False, data: Any = None) -> None:
        """Saves ``state`` as ``step`` (a step at or below the latest is skipped, as Orbax does),
        with the state of the grain iterator ``data`` when this Checkpointer has ``data``."""
        latest = self._manager.latest_step()
        if latest is not None and step <= latest:
            return
        args = ocp.args.StandardSave(to_saveable(state))
        if self._data:
            import grain  # pylint: disable=g-import-not-at-top

            args = ocp.args.Composite(default=args, data=grain.checkpoint.CheckpointSave(data))
        self._manager.save(int(step), args=args, force=force)

    def has_data(self, step: int) -> bool:
        """Whether ``step`` holds a data iterator's state (it was saved by a streamed run)."""
        return os.path.isdir(os.path.join(self.directory, str(int(step)), "data"))

    def restore_data(self, step: int, iterator: Any) -> Any:
        """Sets the grain ``iterator`` (built as the saved one was) to its state saved at
        ``step``; returns it.

        Raises:
          CheckpointMismatchError: the step has no data state, or one that does not fit the
            iterator (a pipeline of another form, e.g. another ``train.data_workers``).
        """
        import grain  # pylint: disable=g-import-not-at-top

        mismatch = CheckpointMismatchError(
            f"the data iterator state at step {step} in {self.directory} is missing or does not "
            "fit this config's input pipeline (other train.data_workers?); resume with the config "
            "it was saved with (its config.json), or use a new --workdir"
        )
        if not self.has_data(step):
            raise mismatch
        try:
            self._manager.restore(
                step, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(iterator))
            )
        except (ValueError, KeyError, TypeError, IndexError, FileNotFoundError) as err:
            logging.info("restoring the data state of step %s failed: %s", step, err)
            raise mismatch from None
        return iterator

    def restore(self, like: TrainState, step: int | None = None) -> TrainState:
        """Restores ``step`` (default: latest) into the structure, shapes and shardings of
        ``like``."""
        step = self._manager.latest_step() if step is None else step
        target = jax.tree.map(_abstract, to_saveable(like))
        mismatch = CheckpointMismatchError(
            f"the checkpoint at step {step} in {self.directory} is incomplete or does not fit the "
            "model this config builds (other shapes, parameters or number of runs); use a new "
            "--workdir, or the config (its config.json) and jaxdl version it was made with"
        )
        # Compare the saved arrays' shapes first: a restore that fails part-way leaves Orbax's
        # pending reads to print tracebacks at exit, after the one-line error.
        if _shapes(self._saved_metadata(step)) not in (None, _shapes(target)):
            logging.info("step %s of %s holds arrays of other shapes", step, self.directory)
            raise mismatch
        args = ocp.args.StandardRestore(target)
        try:
            if self._data:
                restored = self._manager.restore(step, args=ocp.args.Composite(default=args))
                restored = restored["default"]
            else:
                restored = self._manager.restore(step, args=args)
        except (ValueError, KeyError, TypeError, FileNotFoundError) as err:
            logging.info("restoring step %s of %s failed: %s", step, self.directory, err)
            raise mismatch from None
        return from_saveable(restored)

    def restore_saved(self, step: int | None = None, placement: Any = None) -> Any:
        """Restores ``step`` (default: latest) in the structure it was saved with (optax states
        as dicts), every array placed by ``placement(saved_shape_of_step)``, a sharding (default:
        this process's first device).

        Raises:
          FileNotFoundError: no checkpoint, or none at ``step``.
        """
        saved = self._manager.all_steps()
        step = max(saved, default=None) if step is None else int(step)
        if step not in saved:
            raise FileNotFoundError(
                f"no checkpoint {'' if step is None else f'at step {step} '}in {self.directory}; "
                f"saved steps: {', '.join(map(str, sorted(saved))) or 'none'}"
            )
        metadata = self._manager.item_metadata(step)
        tree = (metadata["default"] if self._data else metadata).tree
        where = (placement or _one_device)(tuple(tree["step"].shape) if "step" in tree else ())
        target = jax.tree.map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=where), tree
        )
        if self._data:
            args = ocp.args.Composite(default=ocp.args.StandardRestore(target))
            return self._manager.restore(step, args=args)["default"]
        return self._manager.restore(step, args=ocp.args.StandardRestore(target))

    def _saved_metadata(self, step: int) -> Any:
        """The saved tree's array metadata, or None where Orbax cannot read it."""
        try:
            metadata = self._manager.item_metadata(step)
            return metadata["default"] if self._data else metadata
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


def _one_device(step_shape: tuple[int, ...]) -> jax.sharding.Sharding:
    return jax.sharding.SingleDeviceSharding(jax.local_devices()[0])


def _run_sharding(step_shape: tuple[int, ...]) -> jax.sharding.Sharding:
    """A sweep's run axis split over every device when the runs divide evenly among them (as
    ``jaxdl.train.sweep.train`` trains it); a single run, or runs that do not divide, on one."""
    runs = step_shape[0] if step_shape else 0
    if not runs or runs % jax.device_count():
        return _one_device(step_shape)
    return sharding.state_sharding(sharding.make_mesh("runs"), vmapped=True) or _one_device(())


def _state(tree: dict[str, Any]) -> Any:
    """A restored tree as a TrainState with typed PRNG keys, when it is one."""
    if set(tree) != {f.name for f in dataclasses.fields(TrainState)}:
        return tree
    return from_saveable(TrainState(**tree))


def restore(workdir: str, step: int | None = None) -> Any:
    """The newest (or ``step``'s) checkpoint of a workdir, on the devices that exist now.

    Works whatever device count saved it: the arrays are read into the current devices'
    shardings, built from the checkpoint's own metadata (docs/design.md, Orbax). A vmapped sweep's
    state keeps its leading run axis, split over the devices when the runs divide evenly among
    them; a sequential sweep's runs (``run_<i>/``) are stacked on that axis, all at the same step.

    Args:
      workdir: a run's ``--workdir`` (its ``checkpoints/`` or its sweep's ``run_<i>/checkpoints``).
      step: the saved step to restore; default the newest.

    Returns:
      A ``jaxdl.train.state.TrainState`` (``.params``, ``.step``, ``.hparams``, ...; optimizer
      states as the dicts and lists Orbax stores), every leaf with a leading run axis for a sweep.

    Raises:
      FileNotFoundError: no checkpoint there, or none at ``step``.
      ValueError: a sequential sweep whose runs are at different steps.
    """
    directory = os.path.join(workdir, "checkpoints")
    if os.path.isdir(directory):
        with Checkpointer(directory) as ckpt:
            return _state(ckpt.restore_saved(step, _run_sharding))
    names = os.listdir(workdir) if os.path.isdir(workdir) else []
    runs = sorted(
        (int(name[4:]), os.path.join(workdir, name, "checkpoints"))
        for name in names
        if re.fullmatch(r"run_\d+", name)
    )
    if not runs:
        raise FileNotFoundError(
            f"no checkpoint in {workdir}: it has neither checkpoints/ nor run_<i>/checkpoints/ "
            "(give a run's --workdir)"
        )
    trees, at = [], []
    for _, directory in runs:
        with Checkpointer(directory) as ckpt:
            at.append(ckpt.latest_step() if step is None else step)
            trees.append(ckpt.restore_saved(step) if at[-1] is not None else None)
    if len(set(at)) > 1 or None in at:
        shown = ", ".join(
            f"run_{i}: {s if s is not None else 'none'}" for (i, _), s in zip(runs, at)
        )
        raise ValueError(
            f"the runs of the sweep in {workdir} are at different steps ({shown}); restore one "
            "with restore(<workdir>/run_<i>) or give a step they all saved"
        )
    stacked = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)
    where = _run_sharding((len(trees),))
    return _state(jax.tree.map(lambda x: jax.device_put(x, where), stacked))
