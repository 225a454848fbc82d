"""jaxdl: the classic deep-learning models and learning methods, in JAX.

Subpackages: ``nn`` (layers and cells from the equations), ``models`` (whole networks and the
registry), ``data`` (data sets as arrays), ``train`` (state, steps, loop, checkpoints, sweeps),
``tasks`` (one module per kind of run), ``transfer``, ``multitask`` and ``backend`` (the policy
for what differs per platform). ``import jaxdl`` imports none of them and changes nothing in the
process; each loads on first use (``jaxdl.train.sweep.train`` works after ``import jaxdl``).
"""

import importlib

__version__ = "0.1.0"

SUBPACKAGES = ("backend", "data", "models", "multitask", "nn", "tasks", "train", "transfer")


def __getattr__(name: str):
    """Imports subpackage ``name`` on first access."""
    if name in SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SUBPACKAGES))
