"""jaxdl: the classic deep-learning models and learning methods, in JAX.

Subpackages: ``nn`` (layers and cells from the equations), ``models`` (whole networks and the
registry), ``data`` (data sets as arrays), ``train`` (state, steps, loop, checkpoints, sweeps),
``tasks`` (one module per kind of run), ``transfer`` and ``multitask``.

Importing jaxdl before the first JAX computation keeps XLA:CPU's convolutions out of YNNPACK for
the whole process (:mod:`jaxdl.xla_cpu`; ``JAXDL_XLA_CPU_DEFAULTS=0`` turns this off).
"""

from jaxdl import xla_cpu as _xla_cpu

_xla_cpu.set_process_defaults()

__version__ = "0.1.0"
