"""Environment for tests that start Python in a subprocess."""

import os

import jax

from tests.configs import ROOT


def env(**overrides):
    """This process's environment, the repository first on ``PYTHONPATH``, ``overrides`` set.

    The caller's ``PYTHONPATH`` is kept after the repository (packages installed with ``--target``
    live there); an override of ``None`` removes that variable. The subprocess shares the suite's
    persistent compilation cache (tests/conftest.py), so the same program launched twice, or in a
    later run of the suite, is compiled once.
    """
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    for option in (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
    ):
        out[option.upper()] = str(getattr(jax.config, option))
    for name, value in overrides.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out
