"""Test-suite settings: strict rank promotion, a persistent compilation cache, one CPU thread pool,
unoptimised native code, and a hung test's stacks on the console (pyproject.toml's timeout).

The cache lives per machine (entries are native code), under ``~/.cache/jaxdl-jax`` unless
``JAXDL_TEST_CACHE`` says otherwise; small programs are cached too (docs/design.md).
"""

import faulthandler
import os
import sys
import threading

# The tests' programs are tiny and compiled once each, so compile time is most of the suite's time
# on a fresh machine (an empty cache): LLVM's optimisation level 0 compiled the ResNet tests 2.7x
# faster (147 -> 55 s for test_models_resnet.py's two slowest test functions, 8 tests) and took the
# whole suite, cold, from 16:02 to 10:07 (2 cores, 2 workers). Matrix products and convolutions are
# library calls either way. Subprocesses the tests start inherit these flags
# (tests/subprocesses.py).
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false --xla_backend_optimization_level=0"
)

import jax  # noqa: E402
import pytest  # noqa: E402

from jaxdl.backend import xla_cpu  # noqa: E402

# Convolutions out of YNNPACK in every program, as launch.py's XLA:CPU policy sets up (the tests'
# own jitted convolutions included); JAXDL_XLA_CPU_DEFAULTS=0 keeps XLA's default.
xla_cpu.set_process_defaults()

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

    Checked when the first test runs (after the XLA flags above are set).
    """
    if jax.default_backend() != "cpu":
        jax.config.update("jax_default_matmul_precision", "highest")
    yield


@pytest.fixture(autouse=True, scope="module")
def _clear_jax_caches():
    """Long xdist workers accumulate executables; drop them between test modules."""
    yield
    jax.clear_caches()


_timers: dict[str, threading.Timer] = {}


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # without pytest-timeout: unused
def pytest_timeout_set_timer(item, settings):
    """pytest-timeout's ``thread`` method (pyproject.toml), with the stacks where they are seen.

    The plugin writes them to pytest's terminal, which an xdist worker does not show; this writes
    every thread's stack (``faulthandler``) to the worker's stderr, which reaches the console, then
    ends the worker: xdist reports the test as crashed, and the other workers carry on (none
    replaces it: ``--max-worker-restart=0``). The ``signal`` method stays the plugin's own.
    """
    if settings.method != "thread" or not settings.timeout:
        return None

    def dump_and_exit():
        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture:
            capture.suspend_global_capture(in_=True)
        sys.stderr.write(
            f"\n{'+' * 20} Timeout: {item.nodeid} ran over {settings.timeout:g} s; "
            f"the stack of every thread (most recent call first):\n"
        )
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(settings.timeout, dump_and_exit)
    timer.daemon = True
    timer.start()
    _timers[item.nodeid] = timer
    return True


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # without pytest-timeout: unused
def pytest_timeout_cancel_timer(item):
    """Stops the timer :func:`pytest_timeout_set_timer` started for ``item``."""
    timer = _timers.pop(item.nodeid, None)
    if timer is None:
        return None
    timer.cancel()
    return True
