"""Training: TrainState, optimizers, pure step functions, the loop, checkpoints, sweeps, sharding.

Typical use from a task: build a :class:`Problem` and call ``sweep.train(make_problem, config,
workdir)``; it resumes, logs, checkpoints, and vmaps or loops over the runs of a sweep. The
submodules load on first use (``jaxdl.train.sweep`` after ``import jaxdl.train``).
"""

import importlib
import pkgutil

from jaxdl.train.problem import Problem
from jaxdl.train.state import TrainState

# every module of this package, by name
SUBMODULES = tuple(m.name for m in pkgutil.iter_modules(__path__))


def __getattr__(name: str):
    """Imports submodule ``name`` on first access."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Problem", "TrainState"]
