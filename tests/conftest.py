"""Test-suite settings: strict rank promotion, a persistent compilation cache, one CPU thread pool,
unoptimised native code.

The cache lives per machine (entries are native code), under ``~/.cache/jaxdl-jax`` unless
``JAXDL_TEST_CACHE`` says otherwise; small programs are cached too (docs/design.md).
"""

import os

# The tests' programs are tiny and compiled once each, so compile time is most of the suite's time
# on a fresh machine (an empty cache): LLVM's optimisation level 0 compiled the ResNet tests 2.7x
# faster (147 -> 55 s for test_models_resnet.py's two slowest test functions, 8 tests) and took the
# whole suite, cold, from 16:02 to 10:07 (2 cores, 2 workers). Matrix products and convolutions are
# library calls either way. Subprocesses the tests start inherit these flags (tests/subprocesses.py).
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false --xla_backend_optimization_level=0"
)

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update(
    "jax_compilation_cache_dir",
    os.environ.get("JAXDL_TEST_CACHE", os.path.expanduser("~/.cache/jaxdl-jax")),
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


@pytest.fixture
def x64():
    """Runs the test with 64-bit floats (``jax.enable_x64``)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(autouse=True, scope="session")
def _full_precision_matmuls_on_accelerators():
    """GPUs multiply float32 in TF32 by default; the comparisons with references need float32.

    Checked when the first test runs (jaxdl, imported at collection, has set its XLA:CPU flags).
    """
    if jax.default_backend() != "cpu":
        jax.config.update("jax_default_matmul_precision", "highest")
    yield


@pytest.fixture(autouse=True, scope="module")
def _clear_jax_caches():
    """Long xdist workers accumulate executables; drop them between test modules."""
    yield
    jax.clear_caches()
