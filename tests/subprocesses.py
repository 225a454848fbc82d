"""Environment for tests that start Python in a subprocess."""

import os

from tests.configs import ROOT


def env(**overrides):
    """This process's environment with the repository first on ``PYTHONPATH``, and ``overrides`` set.

    The caller's ``PYTHONPATH`` is kept after the repository (packages installed with ``--target``
    live there); an override of ``None`` removes that variable.
    """
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    for name, value in overrides.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out
