"""The one training loop: chunks of steps, evaluation, checkpoints, resume, progress, interrupts.

Every task goes through :func:`fit`. It runs one run, or R runs stacked on a leading axis and
vmapped in one program, with either chunk strategy of ``jaxdl.train.steps``. Chunks end at
multiples of ``log_every``, so a run resumed from any checkpoint replays exactly the chunks (and
compiled programs) of an uninterrupted run.
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
                f"train.{field}={train.get(field)} must be >= 0 (set train.steps, or train.epochs with steps=0)"
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


def _place_data(problem: Problem, limit_mb: float, mesh, label: str) -> tuple[dict, dict]:
    """Training and test arrays on the device when they fit ``limit_mb``, else left on the host.

    On the device, whole chunks run with no host round trip; on the host, batches are gathered
    there with the same indices, so both give the same results.
    """
    nbytes = sum(np.asarray(v).nbytes for v in problem.train_data.values())
    if nbytes <= limit_mb * 2**20:
        place = lambda d: {k: sharding.replicate(np.asarray(v), mesh) for k, v in d.items()}  # noqa: E731
    else:
        logging.info(
            "%straining data (%.0f MB) > train.device_data_limit_mb: streaming batches from the host",
            label,
            nbytes / 2**20,
        )
        place = lambda d: {k: np.asarray(v) for k, v in d.items()}  # noqa: E731
    return place(problem.train_data), place(problem.test_data)


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
    (compiled under ``policy``, default :func:`jaxdl.backend.current`)."""
    if not data:
        return {}
    n = len(next(iter(data.values())))
    eval_fn = steps.compiled(problem, "eval", vmapped, policy=policy)
    sums = None
    for lo in range(0, n, batch_size):
        part = eval_fn(state, {k: v[lo : lo + batch_size] for k, v in data.items()})
        sums = part if sums is None else jax.tree.map(jnp.add, sums, part)
    sums = jax.device_get(sums)
    count = np.asarray(sums.pop("count"), np.float64)
    return {name: np.atleast_1d(np.asarray(v, np.float64) / count) for name, v in sums.items()}


def _stepwise(state, num_steps, step):
    """``num_steps`` calls of ``step(state, k) -> (state, metrics)``, metrics stacked on axis 0."""
    collected = []
    for k in range(num_steps):
        state, m = step(state, k)
        collected.append(m)
    return state, jax.tree.map(lambda *xs: jnp.stack(xs), *collected)


def _host_chunk(problem, state, data, num_steps, batch_size, vmapped, strategy, mesh, policy):
    """A chunk on streamed data: the same indices as on device, gathered on the host.

    Returns the state, the metrics and their step axis.
    """
    idx = np.asarray(
        steps.compiled(problem, "indices", vmapped, num_steps, batch_size, policy=policy)(
            state.data_key, state.step
        )
    )
    if strategy == "scan":
        batches = {k: v[idx] for k, v in data.items()}  # (K, B, ...) or (R, K, B, ...)
        state, metrics = steps.compiled(problem, "scan_batches", vmapped, mesh=mesh, policy=policy)(
            state, batches
        )
        return state, metrics, 1 if vmapped else 0
    step_fn = steps.compiled(problem, "batch_step", vmapped, mesh=mesh, policy=policy)
    # one step's batch at a time: (B, ...) or (R, B, ...)
    batch = lambda k: {name: v[idx[:, k] if vmapped else idx[k]] for name, v in data.items()}
    return (*_stepwise(state, num_steps, lambda s, k: step_fn(s, batch(k))), 0)


def _run_chunk(problem, state, data, num_steps, batch_size, vmapped, strategy, mesh, policy):
    """Advances ``num_steps`` steps; returns the state and per-run mean metrics (host arrays)."""
    if isinstance(next(iter(data.values())), np.ndarray):
        state, metrics, step_axis = _host_chunk(
            problem, state, data, num_steps, batch_size, vmapped, strategy, mesh, policy
        )
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
        state, metrics = _stepwise(state, num_steps, lambda s, k: step_fn(s, data, idx, k))
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

    data, test_data = _place_data(
        problem, float(train.get("device_data_limit_mb", 1024)), mesh, label
    )
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
            os.path.join(workdir, "checkpoints"), keep=config.checkpoint.get("keep", 3)
        ) as ckpt,
    ):
        start = ckpt.latest_step() or 0
        if start > total:
            raise ValueError(
                f"the checkpoint in {ckpt.directory} is at step {start}, past this config's "
                f"{total} steps; give a new --workdir (nothing there was changed)"
            )
        if start:
            state = ckpt.restore(state)
            logging.info(
                "%sresuming from the checkpoint at step %d in %s", label, start, ckpt.directory
            )
        writer = metrics_lib.MetricWriter(
            workdir, resume_step=start, tensorboard=config.get("tensorboard", True)
        )
        progress = metrics_lib.Progress(total, start, label)
        step, train_metrics, test_metrics = start, {}, {}
        try:
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
                    ckpt.save(step, state, force=stopping)
                writer.flush()
                if stopping and step < total:
                    ckpt.wait()
                    raise Interrupted(
                        f"interrupted at step {step}/{total}; checkpoint saved in {ckpt.directory}; run the same command to resume"
                    )
            if start == total:  # finished earlier: report the restored state and its logged metrics
                test_metrics = evaluate(problem, state, test_data, vmapped, eval_batch, policy)
                train_metrics = metrics_lib.last_train_metrics(
                    workdir, len(hparams) if vmapped else None
                )
        finally:
            if writer is not None:
                writer.close()
                _remove_if_empty(os.path.join(workdir, "metrics.jsonl"))
    return FitResult(
        state=state, train=train_metrics, test=test_metrics, steps=total, resumed_from=start
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
