"""The one training loop: chunks of steps, evaluation, checkpoints, resume, progress, interrupts.

Every task goes through :func:`fit`. It runs one run, or R runs stacked on a leading axis and
vmapped in one program, with either chunk strategy of ``jaxdl.train.steps``. Chunks end at
multiples of ``log_every``, so a run resumed from any checkpoint replays exactly the chunks (and
compiled programs) of an uninterrupted run.

Training data within ``train.device_data_limit_mb`` lives on the device and each chunk draws its
batches there. A problem with a ``train_source`` (files read on demand), or arrays over the limit,
streams its batches through the grain pipeline of ``jaxdl.data.pipeline`` instead, one run at a
time; the iterator's state is saved in each checkpoint, so a resumed streamed run continues with
exactly the batches an uninterrupted one takes.
"""

import contextlib
import dataclasses
import os
import signal
import threading
from typing import Any, Iterator

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import backend
from jaxdl.data import pipeline
from jaxdl.train import checkpoint as checkpoint_lib
from jaxdl.train import metrics as metrics_lib
from jaxdl.train import sharding, steps
from jaxdl.train.problem import Problem
from jaxdl.train.state import TrainState, hparams_to_arrays

STRATEGIES = ("scan", "loop")


class Interrupted(Exception):
    """SIGTERM / SIGINT arrived; the state was checkpointed and the run can be resumed."""


class TrainingDiverged(Exception):
    """The training loss became NaN or Inf; the bad state was not saved."""


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
      state: the final TrainState (stacked on a leading run axis when vmapped).
      train: last chunk's mean training metrics, ``{name: array (R,)}``.
      test: final test metrics, ``{name: array (R,)}``; empty without test data.
      steps: number of steps trained.
      resumed_from: the checkpoint step the run started from (0 for a fresh run).
    """

    state: TrainState
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    steps: int
    resumed_from: int


def total_steps(train: ml_collections.ConfigDict, num_examples: int) -> int:
    """``train.steps`` if set (> 0), else ``train.epochs`` full epochs of ``train.batch_size``."""
    if train.get("steps", 0):
        return int(train.steps)
    if train.get("epochs", 0):
        return int(train.epochs) * max(num_examples // int(train.batch_size), 1)
    raise ValueError("set train.steps or train.epochs to a positive number")


def check_train(train: ml_collections.ConfigDict, num_examples: int) -> int:
    """One-line ValueErrors for ``train.batch_size``, ``train.steps`` and ``train.epochs``, before
    anything is traced; returns the number of steps (:func:`total_steps`)."""
    batch_size = int(train.batch_size)
    if not 0 < batch_size <= num_examples:
        raise ValueError(
            f"train.batch_size={batch_size} must be in 1..{num_examples} (the training set size)"
        )
    for field in ("steps", "epochs"):
        if int(train.get(field, 0)) < 0:
            raise ValueError(
                f"train.{field}={train.get(field)} must be >= 0 "
                "(set train.steps, or train.epochs with steps=0)"
            )
    return total_steps(train, num_examples)


def stack_hparams(hparams: list[dict[str, Any]]) -> dict[str, jax.Array]:
    """Stacks per-run hyper-parameter dicts into one dict of (R,) arrays."""
    arrays = [hparams_to_arrays(h) for h in hparams]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *arrays)


@contextlib.contextmanager
def _interrupt_flag() -> Iterator[threading.Event]:
    """Turns SIGTERM/SIGINT into a flag the loop polls between chunks (main thread only)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _crossed(start: int, end: int, every: int) -> bool:
    return every > 0 and end // every > start // every


def over_device_limit(nbytes: int, train: ml_collections.ConfigDict) -> bool:
    """Whether a training set of ``nbytes`` exceeds ``train.device_data_limit_mb`` and so streams
    through ``jaxdl.data.pipeline`` rather than living on the device."""
    return nbytes > float(train.get("device_data_limit_mb", 1024)) * 2**20


def streams(problem: Problem, train: ml_collections.ConfigDict) -> bool:
    """Whether :func:`fit` streams the problem's training batches through grain: it has a
    ``train_source``, or its arrays exceed ``train.device_data_limit_mb``.

    Streamed batches follow the pipeline's order (``jaxdl.data.pipeline``), not the device
    path's, so the two paths train differently and a run never switches between them.
    """
    if problem.train_source is not None:
        return True
    return over_device_limit(sum(np.asarray(v).nbytes for v in problem.train_data.values()), train)


def _place_data(problem: Problem, streamed: bool, mesh, label: str) -> tuple[Any, Any]:
    """Training and test data: arrays on the device; or, when streamed, no training arrays (the
    pipeline brings the batches) and the test set's source or host arrays."""
    if not streamed:
        place = lambda d: {k: sharding.replicate(np.asarray(v), mesh) for k, v in d.items()}  # noqa: E731
        return place(problem.train_data), place(problem.test_data)
    logging.info("%sstreaming the training batches through grain (jaxdl.data.pipeline)", label)
    if problem.test_source is not None:
        return None, problem.test_source
    return None, {k: np.asarray(v) for k, v in problem.test_data.items()}


def _split_over_processes(mesh) -> bool:
    """Whether each process streams only its rows of every batch: a ``"data"`` mesh over
    several processes. Otherwise every process reads whole batches."""
    return mesh is not None and mesh.axis_names == ("data",) and jax.process_count() > 1


def _stream(problem: Problem, config: ml_collections.ConfigDict, total: int, seed: int, mesh):
    """The grain iterator of a streamed run's ``total`` training batches, seeded by the run's
    seed; host augmentation as the problem asks (``Problem.host_augment``)."""
    train = config.train
    source = problem.train_source
    if source is None:
        source = pipeline.ArrayRecords(problem.train_data)
    augment, padding, flip = problem.host_augment
    split = _split_over_processes(mesh)
    return iter(
        pipeline.batches(
            source,
            batch_size=int(train.batch_size),
            num_steps=total,
            seed=seed,
            augment=augment,
            crop_padding=padding,
            flip=flip,
            worker_count=int(train.get("data_workers", 0)),
            shard=pipeline.shard_of_this_process() if split else (0, 1),
        )
    )


def _global(batch: dict[str, np.ndarray], mesh, step_axis: bool) -> dict[str, Any]:
    """This process's rows of a batch (``(K, b, ...)`` with ``step_axis``) as global arrays split
    over a ``"data"`` mesh that spans processes; otherwise the host arrays as they are."""
    if not _split_over_processes(mesh):
        return batch
    spec = jax.sharding.PartitionSpec(*((None, "data") if step_axis else ("data",)))
    where = jax.sharding.NamedSharding(mesh, spec)
    return {k: jax.make_array_from_process_local_data(where, v) for k, v in batch.items()}


def _remove_if_empty(path: str) -> None:
    """Removes ``path`` when it holds nothing: a run that failed before its first row leaves no
    empty log behind."""
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        os.remove(path)


def _check_finite(
    metrics: dict[str, np.ndarray], first: int, last: int, ckpt: checkpoint_lib.Checkpointer
) -> None:
    bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v))]
    if bad:
        raise TrainingDiverged(
            f"training {', '.join(bad)} became NaN/Inf between steps {first} and {last}; stopped. "
            f"Last good checkpoint: step {ckpt.latest_step() or 'none'} in {ckpt.directory} "
            "(lower opt.lr or set opt.clip_norm)"
        )


def evaluate(
    problem: Problem,
    state: TrainState,
    data: dict[str, jax.Array],
    vmapped: bool,
    batch_size: int,
    policy: backend.Policy | None = None,
) -> dict[str, np.ndarray]:
    """Test metrics of every run: sums over batches of ``batch_size`` divided by the count
    (compiled under ``policy``, default :func:`jaxdl.backend.current`).

    ``data`` is arrays (on the device or the host), or a ``jaxdl.data.pipeline`` source, read in
    order, unaugmented, in the same batches.
    """
    if data is None or (isinstance(data, dict) and not data):
        return {}
    if isinstance(data, dict):
        n = len(next(iter(data.values())))
        batches = (
            {k: v[lo : lo + batch_size] for k, v in data.items()} for lo in range(0, n, batch_size)
        )
    else:
        batches = pipeline.in_order(data, batch_size=batch_size)
    eval_fn = steps.compiled(problem, "eval", vmapped, policy=policy)
    sums = None
    for batch in batches:
        part = eval_fn(state, batch)
        sums = part if sums is None else jax.tree.map(jnp.add, sums, part)
    sums = jax.device_get(sums)
    count = np.asarray(sums.pop("count"), np.float64)
    return {name: np.atleast_1d(np.asarray(v, np.float64) / count) for name, v in sums.items()}


def _stepwise(state, num_steps, step, max_ahead=None):
    """``num_steps`` calls of ``step(state, k) -> (state, metrics)``, metrics stacked on axis 0;
    waits for the state every ``max_ahead`` steps (None: only at the end)."""
    collected = []
    for k in range(num_steps):
        state, m = step(state, k)
        collected.append(m)
        if max_ahead and (k + 1) % max_ahead == 0:
            jax.block_until_ready(state)
    return state, jax.tree.map(lambda *xs: jnp.stack(xs), *collected)


def _max_ahead(mesh, policy):
    """The policy's limit on steps dispatched ahead, for a step over several devices."""
    return None if mesh is None or mesh.size == 1 else policy.max_steps_ahead


def _stream_chunk(problem, state, batches, num_steps, strategy, mesh, policy):
    """A chunk on streamed batches: exactly ``num_steps`` of them from the pipeline's iterator
    ``batches`` (never one more: its end waits on the workers), stacked into one ``lax.scan``
    (``scan``) or one jitted step each (``loop``). Returns the state and per-step metrics."""
    if strategy == "scan":
        taken = [next(batches) for _ in range(num_steps)]
        stacked = {k: np.stack([b[k] for b in taken]) for k in taken[0]}  # (K, B, ...)
        scan_fn = steps.compiled(problem, "scan_batches", False, mesh=mesh, policy=policy)
        return scan_fn(state, _global(stacked, mesh, step_axis=True))
    step_fn = steps.compiled(problem, "batch_step", False, mesh=mesh, policy=policy)
    return _stepwise(
        state,
        num_steps,
        lambda s, k: step_fn(s, _global(next(batches), mesh, step_axis=False)),
        _max_ahead(mesh, policy),
    )


def _run_chunk(problem, state, data, num_steps, batch_size, vmapped, strategy, mesh, policy):
    """Advances ``num_steps`` steps; returns the state and per-run mean metrics (host arrays).

    ``data`` is the device arrays, or a streamed run's grain iterator of batches.
    """
    if not isinstance(data, dict):
        state, metrics = _stream_chunk(problem, state, data, num_steps, strategy, mesh, policy)
        step_axis = 0
    elif strategy == "scan":
        state, metrics = steps.compiled(
            problem, "scan", vmapped, num_steps, batch_size, mesh, policy
        )(state, data)
        step_axis = 1 if vmapped else 0
    else:
        idx = steps.compiled(problem, "indices", vmapped, num_steps, batch_size, policy=policy)(
            state.data_key, state.step
        )
        step_fn = steps.compiled(problem, "step", vmapped, mesh=mesh, policy=policy)
        state, metrics = _stepwise(
            state, num_steps, lambda s, k: step_fn(s, data, idx, k), _max_ahead(mesh, policy)
        )
        step_axis = 0
    means = jax.device_get(jax.tree.map(lambda x: jnp.mean(x, axis=step_axis), metrics))
    return state, {k: np.atleast_1d(np.asarray(v)) for k, v in means.items()}


def fit(
    problem: Problem,
    hparams: list[dict[str, Any]],
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    vmapped: bool,
    strategy: str,
    mesh: jax.sharding.Mesh | None = None,
    label: str = "",
    policy: backend.Policy | None = None,
) -> FitResult:
    """Trains one run (``vmapped=False``) or R runs in one program (``vmapped=True``).

    Resumes from the newest checkpoint in ``workdir/checkpoints``; writes ``metrics.jsonl`` and
    TensorBoard events to ``workdir``.

    Args:
      problem: what to train (see ``jaxdl.train.problem.Problem``).
      hparams: one dict per run, ``{traced config path: value}``; exactly one unless vmapped.
      config: the experiment config (uses ``train`` and ``checkpoint``).
      workdir: output directory.
      vmapped: stack the runs on a leading axis and vmap every step over it.
      strategy: ``"scan"`` (chunk = one lax.scan) or ``"loop"`` (Python loop of jitted steps).
      mesh: optional device mesh; the run axis (vmapped) or batch axis is sharded over it.
      label: prefix for progress lines.
      policy: the backend policy whose compiler options the programs get (default
        :func:`jaxdl.backend.current`).

    Raises:
      Interrupted: after SIGTERM/SIGINT, once the state is checkpointed.
      TrainingDiverged: when the loss becomes NaN/Inf (the last good checkpoint is kept).
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"unknown train.strategy {strategy!r}; choose one of auto, {', '.join(STRATEGIES)}"
        )
    if not vmapped and len(hparams) != 1:
        raise ValueError(f"a single run takes one hparams dict, got {len(hparams)}")
    policy = policy or backend.current()
    train = config.train
    eval_batch = int(train.get("eval_batch_size", 1024))
    batch_size = int(train.batch_size)
    total = check_train(train, problem.num_train)
    chunk = max(1, min(int(train.get("log_every", 100)), total))
    eval_every = int(train.get("eval_every", 0))
    ckpt_every = int(config.checkpoint.get("every_steps", 0))

    streamed = streams(problem, train)
    if streamed and vmapped:
        raise ValueError(
            "streamed training data (a data source, or arrays over train.device_data_limit_mb) "
            "trains one run at a time; set train.sweep_strategy=sequential"
        )
    data, test_data = _place_data(problem, streamed, mesh, label)
    hp = stack_hparams(hparams) if vmapped else hparams_to_arrays(hparams[0])
    init = jax.vmap(steps.init_state, in_axes=(None, 0)) if vmapped else steps.init_state
    state = jax.jit(
        init,
        static_argnums=0,
        out_shardings=sharding.state_sharding(mesh, vmapped),
        compiler_options=policy.compiler_options("init"),
    )(problem, hp)

    writer = None
    # the flag outlives the checkpointer, so a signal while the last save is written waits for it
    with (
        _interrupt_flag() as stop,
        checkpoint_lib.Checkpointer(
            os.path.join(workdir, "checkpoints"),
            keep=config.checkpoint.get("keep", 3),
            data=streamed,
        ) as ckpt,
    ):
        start = ckpt.latest_step() or 0
        if start > total:
            raise ValueError(
                f"the checkpoint in {ckpt.directory} is at step {start}, past this config's "
                f"{total} steps; give a new --workdir (nothing there was changed)"
            )
        if start:
            _check_data_path(ckpt, start, streamed)
            state = ckpt.restore(state)
            logging.info(
                "%sresuming from the checkpoint at step %d in %s", label, start, ckpt.directory
            )
        writer = metrics_lib.MetricWriter(
            workdir, resume_step=start, tensorboard=config.get("tensorboard", True)
        )
        progress = metrics_lib.Progress(total, start, label)
        step, train_metrics, test_metrics = start, {}, {}
        batches = None  # a streamed run's grain iterator
        try:
            if streamed and start < total:
                data = batches = _stream(problem, config, total, int(hparams[0]["seed"]), mesh)
                if start:
                    _restore_batches(ckpt, start, batches)
            while step < total:
                n = min(chunk - step % chunk, total - step)
                state, train_metrics = _run_chunk(
                    problem, state, data, n, batch_size, vmapped, strategy, mesh, policy
                )
                _check_finite(train_metrics, step, step + n, ckpt)
                prev, step = step, step + n
                _write(writer, step, "train", train_metrics, vmapped)
                progress.report(step, {k: np.mean(v) for k, v in train_metrics.items()})
                if _crossed(prev, step, eval_every) or step == total:
                    test_metrics = evaluate(problem, state, test_data, vmapped, eval_batch, policy)
                    _write(writer, step, "test", test_metrics, vmapped)
                stopping = (
                    stop.is_set()
                )  # read once: a signal between two reads must not skip the save
                if _crossed(prev, step, ckpt_every) or step == total or stopping:
                    ckpt.save(step, state, force=stopping, data=batches)
                writer.flush()
                if stopping and step < total:
                    ckpt.wait()
                    raise Interrupted(
                        f"interrupted at step {step}/{total}; checkpoint saved in "
                        f"{ckpt.directory}; run the same command to resume"
                    )
            if start == total:  # finished earlier: report the restored state and its logged metrics
                test_metrics = evaluate(problem, state, test_data, vmapped, eval_batch, policy)
                train_metrics = metrics_lib.last_train_metrics(
                    workdir, len(hparams) if vmapped else None
                )
        finally:
            if batches is not None and hasattr(batches, "close"):  # stops the worker processes
                batches.close()
            if writer is not None:
                writer.close()
                _remove_if_empty(os.path.join(workdir, "metrics.jsonl"))
    return FitResult(
        state=state, train=train_metrics, test=test_metrics, steps=total, resumed_from=start
    )


def _check_data_path(ckpt: checkpoint_lib.Checkpointer, step: int, streamed: bool) -> None:
    """One line when the checkpoint at ``step`` was saved by a run on the other data path
    (streamed batches against device data), whose batch order differs."""
    if ckpt.has_data(step) == streamed:
        return
    saved, now = ("device", "streamed") if streamed else ("streamed", "device")
    raise checkpoint_lib.CheckpointMismatchError(
        f"the checkpoint at step {step} in {ckpt.directory} was saved by a run with {saved} "
        f"training data, and this run's is {now} (a data source, or train.device_data_limit_mb); "
        "the batch orders differ: resume with the config it was saved with (its config.json), "
        "or use a new --workdir"
    )


def _restore_batches(ckpt: checkpoint_lib.Checkpointer, step: int, batches) -> None:
    """Sets the streamed run's iterator to its state saved at ``step`` and checks that it stands
    at that step."""
    ckpt.restore_data(step, batches)
    position = pipeline.position(batches.get_state())
    if position is not None and position != step:
        raise checkpoint_lib.CheckpointMismatchError(
            f"the data iterator state at step {step} in {ckpt.directory} stands at batch "
            f"{position}, not {step}; the checkpoint is inconsistent: use a new --workdir"
        )


def _write(
    writer: metrics_lib.MetricWriter,
    step: int,
    split: str,
    values: dict[str, np.ndarray],
    vmapped: bool,
) -> None:
    if not vmapped:
        writer.write(step, split, {k: v[0] for k, v in values.items()})
        return
    num_runs = len(next(iter(values.values()))) if values else 0
    for r in range(num_runs):
        writer.write(step, split, {k: v[r] for k, v in values.items()}, run=r)
