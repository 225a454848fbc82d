"""Where a run's numbers go: ``metrics.jsonl``, TensorBoard event files, and a progress line."""

import json
import math
import os
import re
import sys
import time
from typing import Any

from absl import logging
import jax
import numpy as np


def _scalar(value: Any) -> float:
    return float(np.asarray(value))


def _tensorboardx():
    """tensorboardX's event writer, Event proto and scalar summary, imported without PyTorch where
    PyTorch is not loaded yet (tensorboardX imports torch only to accept torch tensors; jaxdl
    writes Python floats, and importing torch costs seconds)."""
    hidden = "torch" not in sys.modules
    if hidden:
        sys.modules["torch"] = (
            None  # makes tensorboardX's optional `import torch` raise ImportError
        )
    try:
        # pylint: disable=g-import-not-at-top
        from tensorboardX import event_file_writer, summary
        from tensorboardX.proto import event_pb2
    finally:
        if hidden:
            del sys.modules["torch"]
    return event_file_writer, event_pb2, summary


class _EventFile:
    """TensorBoard scalars in one event file, written synchronously: after ``flush`` they are on
    disk (tensorboardX's ``SummaryWriter`` hands events to a background thread, so its ``flush``
    can return before they are written)."""

    def __init__(self, logdir: str):
        os.makedirs(logdir, exist_ok=True)
        event_file_writer, self._event_pb2, self._summary = _tensorboardx()
        self._writer = event_file_writer.EventsWriter(os.path.join(logdir, "events"))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        event = self._event_pb2.Event(
            wall_time=time.time(), step=step, summary=self._summary.scalar(tag, value)
        )
        self._writer.write_event(event)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def label(values: dict[str, Any], sep: str = " ") -> str:
    """Names a run or a group of a sweep by its values: ``opt.lr=0.003 seed=2`` (floats to 3
    significant digits)."""
    return sep.join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )


def tensorboard_names(runs: list[dict[str, Any]]) -> list[str]:
    """Directory names for a sweep's runs in TensorBoard: their swept values
    (``opt.lr=0.003,seed=2``), with characters other than letters, digits and ``._,=+-``
    replaced by ``_``; ``run_<i>_<values>`` where two runs would share a name."""
    names = [re.sub(r"[^A-Za-z0-9._,=+-]", "_", label(r, sep=",")) for r in runs]
    if "" in names or len(set(names)) < len(names):
        names = [f"run_{i}_{n}".rstrip("_") for i, n in enumerate(names)]
    return names


def read_runs(sweep_dir: str) -> list[dict[str, Any]]:
    """The runs a sweep recorded in ``sweep_dir`` (its ``runs.json``; ``[]`` where none)."""
    # sweep imports this module (through the loop): imported on use
    from jaxdl.train.sweep import RUNS_FILE  # pylint: disable=g-import-not-at-top

    path = os.path.join(sweep_dir, RUNS_FILE)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class MetricWriter:
    """Appends metrics to ``workdir/metrics.jsonl`` and TensorBoard events under ``workdir/tb``.

    One JSON object per line: ``{"step", "split", <metric>: value, ...}``, plus ``"run"`` for the
    members of a vmapped sweep. TensorBoard shows a sweep's runs by their swept values (the
    sweep's ``runs.json``): run i of a vmapped sweep under ``tb/<values>``, and a sequential
    sweep's run (its own ``run_<i>`` directory, see ``jaxdl.train.sweep.run_dir``) under the
    sweep's ``tb/<values>`` too, so that one TensorBoard over the sweep's workdir lists every run
    by name; ``tb/run_<i>`` where runs.json does not list the run.
    """

    def __init__(self, workdir: str, resume_step: int = 0, tensorboard: bool = True):
        # In a multi-host run every process holds the same (replicated) metrics: process 0 writes.
        self.enabled = jax.process_index() == 0
        if not self.enabled:
            return
        os.makedirs(workdir, exist_ok=True)
        self.path = os.path.join(workdir, "metrics.jsonl")
        self._truncate_after(resume_step)
        self._file = open(self.path, "a", encoding="utf-8")
        self._tb_dir = os.path.join(workdir, "tb")
        self._tb_names = tensorboard_names(read_runs(workdir))
        self._tb = {} if tensorboard else None
        parent, name = os.path.split(os.path.normpath(workdir))
        member = re.fullmatch(r"run_(\d+)", name)
        if member:  # one run of a sequential sweep: logged beside the sweep's other runs
            names = tensorboard_names(read_runs(parent))
            i = int(member.group(1))
            if i < len(names):
                self._tb_dir, self._tb_names = os.path.join(parent, "tb", names[i]), []

    def _truncate_after(self, step: int) -> None:
        """Drops lines logged after the checkpoint we resume from: they will be logged again."""
        if not os.path.exists(self.path):
            return
        with open(self.path, encoding="utf-8") as f:
            kept = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= step]
        with open(self.path, "w", encoding="utf-8") as f:
            f.writelines(kept)

    def _tensorboard(self, run: int | None):
        if self._tb is None:
            return None
        if run not in self._tb:
            if run is None:
                sub = self._tb_dir
            else:
                name = self._tb_names[run] if run < len(self._tb_names) else f"run_{run}"
                sub = os.path.join(self._tb_dir, name)
            self._tb[run] = _EventFile(sub)
        return self._tb[run]

    def write(self, step: int, split: str, metrics: dict[str, Any], run: int | None = None) -> None:
        """Records scalar ``metrics`` of ``split`` ("train" / "test") at ``step``."""
        if not self.enabled:
            return
        values = {name: _scalar(v) for name, v in metrics.items()}
        row = {"step": int(step), "split": split, **({} if run is None else {"run": run}), **values}
        self._file.write(json.dumps(row) + "\n")
        tb = self._tensorboard(run)
        if tb is not None:
            for name, value in values.items():
                tb.add_scalar(f"{split}/{name}", value, int(step))

    def flush(self) -> None:
        """Pushes buffered lines and events to disk."""
        if not self.enabled:
            return
        self._file.flush()
        for tb in (self._tb or {}).values():
            tb.flush()

    def close(self) -> None:
        """Flushes and closes every file."""
        if not self.enabled:
            return
        self.flush()
        self._file.close()
        for tb in (self._tb or {}).values():
            tb.close()


def read_metrics(workdir: str) -> list[dict[str, Any]]:
    """The rows of ``workdir/metrics.jsonl`` (empty when absent)."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def last_train_metrics(workdir: str, num_runs: int | None) -> dict[str, np.ndarray]:
    """The newest ``train`` row of ``metrics.jsonl`` as ``{name: (R,)}`` (``num_runs`` None: one
    run)."""
    latest = {
        row.get("run", 0): row for row in read_metrics(workdir) if row.get("split") == "train"
    }
    runs = range(num_runs or 1)
    if not latest or any(r not in latest for r in runs):
        return {}
    names = [k for k in latest[0] if k not in ("step", "split", "run")]
    return {k: np.asarray([latest[r][k] for r in runs]) for k in names}


class Progress:
    """Logs ``step i/N | metrics | steps/s | ETA`` lines; rate measured since the first report."""

    def __init__(self, total_steps: int, first_step: int = 0, label: str = ""):
        self.total = total_steps
        self.label = f"{label} " if label else ""
        self._t0 = None
        self._s0 = first_step

    def report(self, step: int, metrics: dict[str, Any]) -> None:
        """Logs one progress line after ``step`` steps."""
        now = time.perf_counter()
        if self._t0 is None:  # the first chunk includes compilation: time from its end
            self._t0, self._s0 = now, step
            rate_text, eta_text = "compiling done", ""
        else:
            rate = (step - self._s0) / max(now - self._t0, 1e-9)
            eta = (self.total - step) / rate if rate > 0 else math.inf
            rate_text, eta_text = f"{rate:,.0f} steps/s", f" | ETA {_duration(eta)}"
        shown = " ".join(f"{k} {_scalar(v):.4g}" for k, v in metrics.items())
        logging.info(
            "%sstep %d/%d | %s | %s%s", self.label, step, self.total, shown, rate_text, eta_text
        )


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, sec = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}"
