"""Which directory a run writes to, and the guard that keeps one directory to one config.

A workdir holds one experiment's outputs (config.json, checkpoints, metrics, results.json), and
running the same config there again resumes it. Running a *different* config into it would
resume that config's checkpoint under new settings (a hybrid run) or, with fewer steps, replace
its results; :func:`check` refuses that with one line, before anything is written.
"""

import functools
import hashlib
import json
import os
from typing import Any

from absl import logging
import ml_collections

from jaxdl.train import config as config_lib
from jaxdl.train.report import json_value
from jaxdl.train.sweep import flatten

# Fields that change what a run logs or how often it saves, not what it computes: a run resumed
# with other values of these ends with the same parameters. (train.device_data_limit_mb is not
# one: it decides whether batches stream, which orders them differently.)
RESUME_FREE_FIELDS = (
    "description",
    "tensorboard",
    "checkpoint.every_steps",
    "checkpoint.keep",
    "train.log_every",
    "train.eval_every",
    "train.eval_batch_size",
)

# The run's length: free to change, to extend or shorten a run (a learning-rate schedule then
# spans the new length; jaxdl.train.loop.fit refuses a checkpoint past it).
LENGTH_FIELDS = ("train.steps", "train.epochs")


def digest(config: ml_collections.ConfigDict) -> str:
    """Eight hex digits identifying what ``config`` computes: equal for configs that differ only in
    :data:`RESUME_FREE_FIELDS` and :data:`LENGTH_FIELDS`, which share one run."""
    values = {
        k: v
        for k, v in flatten(json_value(config.to_dict())).items()
        if k not in RESUME_FREE_FIELDS + LENGTH_FIELDS
    }
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]


def default(
    config: ml_collections.ConfigDict,
    variant: str | None = None,
    file_config: ml_collections.ConfigDict | None = None,
) -> str:
    """``runs/<experiment>[-<variant>]``, plus ``-<digest>`` when command-line overrides changed
    what the config file's run computes (``file_config``), so that runs of different configs never
    share a directory, re-running one command resumes its own run, and ``--config.train.steps``
    extends it."""
    name = config.experiment + (f"-{variant}" if variant else "")
    if file_config is not None and differences(
        file_config.to_dict(), config.to_dict(), RESUME_FREE_FIELDS + LENGTH_FIELDS
    ):
        name += f"-{digest(config)}"
    return os.path.join("runs", name)


_NO_DEFAULT = object()  # a field outside the skeleton: never a retired default


@functools.cache
def _skeleton_defaults() -> dict[str, Any]:
    """The shared skeleton's fields (``jaxdl.train.config.base``), flattened as in config.json."""
    return flatten(json_value(config_lib.base("", "", "").to_dict()))


def _retired_default(path: str) -> Any:
    """The value a field that an experiment stopped declaring held while it was unread: the shared
    skeleton's default, or an empty sweep; a sentinel otherwise."""
    return _skeleton_defaults().get(path, [] if path.startswith("sweep.") else _NO_DEFAULT)


def differences(
    old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = (), retired: bool = False
) -> list[str]:
    """``"path: old -> new"`` for every field whose value differs.

    Args:
      old: the recorded config (e.g. a config.json).
      new: the config to compare.
      ignore: paths, or sections (``"opt"`` covers ``opt.*``), that may differ.
      retired: also accept a field that ``new`` lacks while ``old`` holds it at
        :func:`_retired_default` (an experiment stopped declaring a field it did not read), and
        a skeleton field that ``old`` lacks while ``new`` holds it at the skeleton's default (a
        record from before the skeleton gained it, e.g. ``train.compute_dtype``).
    """
    # as config.json holds them (tuples as lists, NaN as null): record and config compare equal
    a, b = flatten(json_value(old)), flatten(json_value(new))
    ignored = lambda k: any(k == p or k.startswith(p + ".") for p in ignore)
    dropped = lambda k: retired and k not in b and a[k] == _retired_default(k)
    added = lambda k: retired and k not in a and b[k] == _skeleton_defaults().get(k, _NO_DEFAULT)
    return [
        f"{k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k) and not ignored(k) and not dropped(k) and not added(k)
    ]


def holds_a_run(workdir: str) -> bool:
    """Whether ``workdir`` holds outputs of a run: a results.json, a saved checkpoint or logged
    metrics (an attempt that failed before any of these leaves nothing to protect)."""
    for root, dirs, files in os.walk(workdir):
        if "results.json" in files:
            return True
        if "metrics.jsonl" in files and os.path.getsize(os.path.join(root, "metrics.jsonl")) > 0:
            return True
        if os.path.basename(root) == "checkpoints" and any(d.isdigit() for d in dirs):
            return True
    return False


def check(config: ml_collections.ConfigDict, workdir: str, free: tuple[str, ...] = ()) -> bool:
    """One-line ValueError if ``workdir`` holds a run of another config; nothing is written.

    The same config resumes: fields in :data:`RESUME_FREE_FIELDS` and ``free`` (fields or sections
    the task does not read) may differ, and so may :data:`LENGTH_FIELDS`; so may a field the
    recorded run had at the skeleton's default and ``config`` no longer declares (``retired`` in
    :func:`differences`). A workdir whose earlier attempt left a config.json but no outputs is
    free to reuse.

    Returns:
      True when ``workdir`` holds a run that ``config`` continues with another length: write its
      config.json only once the run succeeds (a length below its checkpoint is refused by
      ``jaxdl.train.loop.fit``, and the old record must then stay).

    Raises:
      ValueError: ``workdir`` is a file, or holds a run whose config.json differs from ``config``.
    """
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ValueError(
            f"--workdir {workdir} is a file; give a directory (it is created if missing)"
        )
    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path) or not holds_a_run(workdir):
        return False
    with open(path, encoding="utf-8") as f:
        old = json.load(f)
    diff = differences(old, config.to_dict(), RESUME_FREE_FIELDS + tuple(free), retired=True)
    if not diff:
        return False
    if all(d.split(":")[0] in LENGTH_FIELDS for d in diff):
        if config.get("opt", {}).get("schedule", "constant") != "constant":
            logging.warning(
                "%s: the run's length changed (%s); its %s learning-rate schedule now spans "
                "the new length, so the steps already taken followed the old one",
                workdir,
                "; ".join(diff),
                config.opt.schedule,
            )
        return True
    shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
    raise ValueError(
        f"{workdir} holds a run of another config ({shown}); its results and checkpoints are kept. "
        f"Give another --workdir (without --workdir, command-line overrides get their own "
        f"runs/<experiment>-<digest>)"
    )
