"""jaxdl: the classic deep-learning models and learning methods, in JAX.

Subpackages: ``nn`` (layers and cells from the equations), ``models`` (whole networks and the
registry), ``data`` (data sets as arrays), ``train`` (state, steps, loop, checkpoints, sweeps),
``tasks`` (one module per kind of run), ``transfer`` and ``multitask``.
"""

__version__ = "0.1.0"
