"""One module per kind of run; ``run(config, workdir)`` dispatches on ``config.task``.

(Two modules are helpers, not tasks: ``mtl_figures`` draws ``mtl_solve``'s figures and
``domain_config`` builds the domain-pair experiments' shared config.)

A task module defines ``run(config, workdir) -> dict`` returning the ``results.json`` content
(``jaxdl.train.report.results_dict``; ``report.stage_runs`` and ``results_from_runs`` for a task
trained in several stages) and a one-line module docstring. A task that builds one
fixed network instead of looking ``model.name`` up in ``jaxdl.models`` names it in
``MODEL_NAMES``; another ``model.name`` is then refused instead of ignored. A closed-form task
sets ``TRAINS = False`` (its ``opt`` / ``train`` / ``checkpoint`` fields are unused; setting them
logs a warning). A task may define ``check_config(config)``, run before anything is written, and
``FREE_FIELDS``: schema fields it does not read (placeholders), which a resumed run may change.
"""

import importlib
import os
from types import ModuleType
from typing import Any

from absl import logging
import ml_collections

from jaxdl import backend
from jaxdl import data as data_lib
from jaxdl.train import config as config_lib
from jaxdl.train import report, sweep
from jaxdl.train import workdir as workdir_lib

# Task name -> module (imported on use, so a task's optional dependencies load only when run).
TASKS = {
    "classify": "jaxdl.tasks.classify",
    "families": "jaxdl.tasks.families",  # several networks at equal steps: accuracy vs parameters
    "classify_compare": "jaxdl.tasks.classify_compare",  # classify + per-setting curves and bars
    "approximate": "jaxdl.tasks.approximate",
    "reconstruct": "jaxdl.tasks.reconstruct",
    "stacked_ae": "jaxdl.tasks.stacked_ae",
    "wide_deep": "jaxdl.tasks.wide_deep",
    "mtl_solve": "jaxdl.tasks.mtl_solve",
    "hard_sharing": "jaxdl.tasks.hard_sharing",
    "multilabel": "jaxdl.tasks.multilabel",
    "sequence": "jaxdl.tasks.sequence",
    "gradient_flow": "jaxdl.tasks.gradient_flow",
    "exploding": "jaxdl.tasks.exploding",
    "finetune": "jaxdl.tasks.finetune",
    "transferability": "jaxdl.tasks.transferability",
    "reweight": "jaxdl.tasks.reweight",
    "reweight_toy": "jaxdl.tasks.reweight_toy",
    "domain_adapt": "jaxdl.tasks.domain_adapt",
    # the same task: DANN against its baselines (and TCA if transfer.tca)
    "dann": "jaxdl.tasks.domain_adapt",
    "tca": "jaxdl.tasks.tca",
    "net2net": "jaxdl.tasks.net2net",
    "seq2seq": "jaxdl.tasks.seq2seq",
    "segment": "jaxdl.tasks.segment",
    "video": "jaxdl.tasks.video",
}


def names() -> list[str]:
    """All task names."""
    return sorted(TASKS)


def get(name: str) -> ModuleType:
    """The task module ``name``; ValueError listing the valid names when unknown."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(names())}")
    return importlib.import_module(TASKS[name])


def check_model_name(task: ModuleType, config: ml_collections.ConfigDict) -> None:
    """One-line ValueError when ``task`` builds a fixed network (``MODEL_NAMES``) and ``model.name``
    (or a swept value of it) names another."""
    accepted = getattr(task, "MODEL_NAMES", None)
    if accepted is None or "name" not in config.get("model", {}):
        return
    for name in sweep.values(config, "model.name"):
        if name not in accepted:
            raise ValueError(
                f"model.name={name!r} is not what the {config.task} task builds; accepted: "
                f"{', '.join(accepted)} (its other model.* fields shape it)"
            )


def unused_training_fields(task: ModuleType, config: ml_collections.ConfigDict) -> list[str]:
    """The ``opt`` / ``train`` / ``checkpoint`` fields set away from their defaults for a task that
    takes no optimizer steps (``TRAINS = False``), as ``"path: default -> value"``; [] otherwise."""
    if getattr(task, "TRAINS", True):
        return []
    defaults = config_lib.base("", "", "")
    sections = [s for s in ("opt", "train", "checkpoint") if s in config]
    return workdir_lib.differences(
        {s: defaults[s].to_dict() for s in sections}, {s: config[s].to_dict() for s in sections}
    )


def free_fields(task: ModuleType) -> tuple[str, ...]:
    """Config fields and sections ``task`` does not read, so a resumed run may differ in them: its
    ``FREE_FIELDS`` and, for a task that takes no training steps, ``opt``, ``train`` and
    ``checkpoint``."""
    closed_form = () if getattr(task, "TRAINS", True) else ("opt", "train", "checkpoint")
    return tuple(getattr(task, "FREE_FIELDS", ())) + closed_form


def run(
    config: ml_collections.ConfigDict, workdir: str, policy: backend.Policy | None = None
) -> dict[str, Any]:
    """Runs the experiment ``config`` in ``workdir``: config.json first, results.json last.

    Resumes from the newest checkpoint in ``workdir`` when there is one. A ``workdir`` holding a
    run of another config is refused (``jaxdl.train.workdir.check``) before anything is written.
    The task runs under the backend ``policy`` (default: ``jaxdl.backend.for_platform()``).
    """
    with backend.use(policy or backend.for_platform()):
        return _run(config, workdir)


def _run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """:func:`run` under the current backend policy."""
    config_lib.validate(config)
    sweep.expand(config)  # swept values of the wrong type: refused before the workdir is touched
    task = get(config.task)
    check_model_name(task, config)
    if hasattr(task, "check_config"):
        task.check_config(config)
    unused = unused_training_fields(task, config)
    if unused:
        logging.warning(
            "the %s task takes no training steps; not used: %s", config.task, "; ".join(unused)
        )
    if "data" in config:  # user files read and checked (NaN, labels) before anything is written
        # each setting of swept data.* fields (one config when none is swept)
        runs = [o for o in sweep.expand(config) if any(p.startswith("data.") for p in o)]
        data_lib.preload([sweep.run_config(config, o).data for o in runs or [{}]])
    primary = report.is_writer()  # one writer in a multi-host run
    new_length = workdir_lib.check(config, workdir, free_fields(task))
    try:
        os.makedirs(workdir, exist_ok=True)
        if primary and not new_length:
            report.write_json(os.path.join(workdir, "config.json"), config.to_dict())
    except OSError as err:
        raise OSError(
            f"cannot write to the workdir {workdir} ({err.strerror or err}); "
            "give a writable one with --workdir=DIR"
        ) from None
    results = task.run(config, workdir)
    if primary:
        if new_length:  # the old record stays until the run at its new length succeeds
            report.write_json(os.path.join(workdir, "config.json"), config.to_dict())
        report.write_json(os.path.join(workdir, "results.json"), results)
    return results
