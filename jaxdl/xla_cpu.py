"""Process settings that make XLA:CPU training faster: library fusions and the host allocator.

Measured on XLA:CPU (jaxlib 0.10, 2-core AMD EPYC; ``benchmarks/xla_cpu_options.py`` prints these
numbers):

* By default XLA:CPU hands convolutions to the YNNPACK library, which is slow at the kernel
  gradient: for a 3x3, 16 -> 16 channel layer on 128 x 32 x 32 inputs it took 34-143 ms against
  10-14 ms for XLA's own (Eigen) convolution in two runs, and at 16 x 16 x 32 and 8 x 8 x 64 the
  forward pass and input gradient also ran 1.6-2.5x slower.
* Matrix products and reductions stay in YNNPACK (batch norm forward + backward, four runs:
  3.1-4.7 ms with XLA's default, 3.1-5.6 ms with only convolutions moved out, within this
  machine's noise). Products moved out as well measured mixed (table 4, and interleaved scratch
  A/Bs, median of per-round ratios):
  - timed alone, the table's five shapes ranged from 1.2x faster outside YNNPACK (the digits CNN's
    patches x kernel) to 1.9x faster inside (the digits MLP's layer), in two runs;
  - the LSTM of benchmarks/lstm_vs_torch.py on one XLA:CPU device with both cores, 1 layer:
    1.16-1.23x faster outside in four A/Bs, but 104.5 -> 85.4 ms a step in one run of table 4 and
    100.7 -> 98.9 ms in another; 2 layers 1.21x in one A/B, 1.00 in another (best rounds
    176.7 -> 173.0 ms);
  - the same LSTM split over one device per core (the benchmark's ``jaxdl_dp``): 1 layer unchanged
    (1.01), 2 layers 10% slower outside (135.0 against 152.3 ms a step);
  - one digits MLP run (3,000 steps, mean of three) 1.57 s outside against 1.78 s inside; the
    32-run MLP sweep of benchmarks/sweep.py (1.01 over 5 pairs), the digits CNN (5% faster inside
    in one A/B, 4.5% slower in another) and ResNet-20 (1.00) within noise.
  With no choice better everywhere, products stay where XLA puts them.

:data:`YNN_FUSION_TYPES` is what stays in YNNPACK; :func:`training_compiler_options` gives it to
one ``jax.jit`` and :func:`set_process_defaults` (run when jaxdl is imported) to every program of
the process, through ``XLA_FLAGS``, if the backend has not started yet and the user has not set the
option.

XLA:CPU allocates each execution's temporaries on its worker threads; glibc serves big requests
from those threads with fresh ``mmap`` pages, so every ResNet-20 step page-faulted ~300 MB in
(73,897 minor faults per step). :func:`tune_malloc` makes glibc reuse its heap instead (one arena,
no ``mmap``, no trimming): 0 faults per step. The step time went from 620 to 616 ms in one run and
from 753 to 694 ms in another, within this machine's noise; the system time the faults cost is what
it saves. The memory stays with the process at its peak. ``launch.py`` and the benchmarks call it.

Set ``JAXDL_XLA_CPU_DEFAULTS=0`` to keep XLA's own defaults when importing jaxdl.
"""

import ctypes
import os

# YNNPACK fusion kinds kept on CPU: everything XLA sends there by default except convolutions.
YNN_FUSION_TYPES = ("individual_dot", "reduce")
YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def training_compiler_options() -> dict[str, str]:
    """``jax.jit(..., compiler_options=...)`` entries that route convolutions to XLA's own kernels."""
    return {YNN_OPTION: ",".join("LIBRARY_FUSION_TYPE_" + t.upper() for t in YNN_FUSION_TYPES)}


def set_process_defaults() -> bool:
    """Adds :data:`YNN_FUSION_TYPES` to ``XLA_FLAGS`` when that can still take effect.

    Returns:
      True if the flag was added; False if ``JAXDL_XLA_CPU_DEFAULTS=0``, ``XLA_FLAGS`` already sets
      the option, or a JAX backend already started (its flags are fixed).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if os.environ.get("JAXDL_XLA_CPU_DEFAULTS", "1") == "0" or YNN_OPTION in flags:
        return False
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top

    if xla_bridge.backends_are_initialized():
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --{YNN_OPTION}={','.join(YNN_FUSION_TYPES)}".strip()
    return True


def tune_malloc() -> bool:
    """Makes glibc reuse freed memory for XLA:CPU's per-step buffers instead of fresh pages.

    Call it before the first JAX computation (threads that already allocated keep their arena).
    Returns False where the C library is not glibc (nothing changes there).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(
        mallopt(param, value) == 1
        for param, value in ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1))
    )
