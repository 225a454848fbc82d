"""Which directory a run writes to, and the guard that keeps one directory to one config.

A workdir holds one experiment's outputs (config.json, checkpoints, metrics, results.json), and
running the same config there again resumes it. Running a *different* config into it would
resume that config's checkpoint under new settings (a hybrid run) or, with fewer steps, replace
its results; :func:`check` refuses that with one line, before anything is written.
"""

import hashlib
import json
import os
from typing import Any

from absl import logging
import ml_collections

# Fields that change what a run logs or how often it saves, not what it computes: a run resumed
# with other values of these ends with the same parameters.
RESUME_FREE_FIELDS = ("description", "tensorboard", "checkpoint.every_steps", "checkpoint.keep",
                      "train.log_every", "train.eval_every", "train.eval_batch_size",
                      "train.device_data_limit_mb")

# The run's length: free to change (a learning-rate schedule then spans the new length).
LENGTH_FIELDS = ("train.steps", "train.epochs")


def _plain(value: Any) -> Any:
    """JSON's view of a config value (tuples become lists), for comparisons with config.json."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def digest(config: ml_collections.ConfigDict) -> str:
    """Eight hex digits identifying ``config``'s values (equal configs, equal digests)."""
    text = json.dumps(_plain(config.to_dict()), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def default(config: ml_collections.ConfigDict, variant: str | None = None,
            file_config: ml_collections.ConfigDict | None = None) -> str:
    """``runs/<experiment>[-<variant>]``, plus ``-<digest>`` when command-line overrides changed
    the config file's values (``file_config``), so that runs of different configs never share a
    directory and re-running one command resumes its own run."""
    name = config.experiment + (f"-{variant}" if variant else "")
    if file_config is not None and differences(file_config.to_dict(), config.to_dict()):
        name += f"-{digest(config)}"
    return os.path.join("runs", name)


def differences(old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """``"path: old -> new"`` for every field whose value differs, ignoring the ``ignore`` paths."""
    a, b = _flatten(_plain(old)), _flatten(_plain(new))
    return [f"{k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}"
            for k in sorted(set(a) | set(b)) if k not in ignore and a.get(k) != b.get(k)]


def holds_a_run(workdir: str) -> bool:
    """Whether ``workdir`` holds outputs of a run: results, metrics or checkpoints."""
    for _, dirs, files in os.walk(workdir):
        if "results.json" in files or "metrics.jsonl" in files or "checkpoints" in dirs:
            return True
    return False


def latest_checkpoint_step(workdir: str) -> int:
    """The newest checkpoint step under ``workdir`` (any ``checkpoints/<step>`` folder), or 0."""
    steps = [0]
    for root, dirs, _ in os.walk(workdir):
        if os.path.basename(root) == "checkpoints":
            steps += [int(d) for d in dirs if d.isdigit()]
    return max(steps)


def check(config: ml_collections.ConfigDict, workdir: str) -> None:
    """One-line ValueError if ``workdir`` holds a run of another config; nothing is written.

    The same config resumes (fields in :data:`RESUME_FREE_FIELDS` may differ, and so may
    :data:`LENGTH_FIELDS` unless the newest checkpoint lies past the new length). A workdir whose
    earlier attempt left a config.json but no outputs is free to reuse.

    Raises:
        ValueError: ``workdir`` is a file, or holds a run whose config.json differs from ``config``.
    """
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ValueError(f"--workdir {workdir} is a file; give a directory (it is created if missing)")
    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path) or not holds_a_run(workdir):
        return
    with open(path, encoding="utf-8") as f:
        old = json.load(f)
    diff = differences(old, config.to_dict(), RESUME_FREE_FIELDS)
    # the run's length may change (to extend a run, or finish it sooner), though not below its
    # newest checkpoint (loop.fit also refuses that); a schedule then spans the new length
    if diff and all(d.split(":")[0] in LENGTH_FIELDS for d in diff):
        steps, saved = int(config.get("train", {}).get("steps", 0)), latest_checkpoint_step(workdir)
        if steps and saved > steps:
            raise ValueError(f"{workdir} holds a checkpoint at step {saved}, past train.steps={steps}; "
                             f"give a new --workdir (nothing there was changed)")
        if config.get("opt", {}).get("schedule", "constant") != "constant":
            logging.warning("%s: the run's length changed (%s); its %s learning-rate schedule now spans "
                            "the new length, so the steps already taken followed the old one",
                            workdir, "; ".join(diff), config.opt.schedule)
        return
    if diff:
        shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
        raise ValueError(
            f"{workdir} holds a run of another config ({shown}); its results and checkpoints are kept. "
            f"Give a new --workdir, or leave --workdir out (the default depends on the overrides)")
