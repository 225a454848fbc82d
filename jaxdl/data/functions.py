"""Continuous target functions on [0, 1]^m, for the universal approximation experiment."""

import numpy as np

from jaxdl.data.core import Dataset


def _sine(x):
    return np.sin(2 * np.pi * x.sum(axis=1)) / 2 + 0.5


def _bumps(x):
    centers = np.linspace(0.2, 0.8, 3)
    d = x[:, :, None] - centers  # (n, m, 3)
    return np.exp(-np.sum(d**2, axis=1) / 0.01).sum(axis=1) / 1.5


def _product(x):
    return np.prod(np.sin(np.pi * x), axis=1)


def _step(x):
    # continuous but steep: a hard case that needs many units
    return 1.0 / (1.0 + np.exp(-40.0 * (x.mean(axis=1) - 0.5)))


FUNCTIONS = {"sine": _sine, "bumps": _bumps, "product": _product, "step": _step}


def target_function(
    function: str = "sine", dim: int = 1, num_train: int = 1024, num_test: int = 1024, seed: int = 0
) -> Dataset:
    """Samples x uniformly from [0, 1]^dim and returns y = f(x), a continuous function.

    Args:
      function: one of ``FUNCTIONS``.
      dim: input dimension m.
      num_train, num_test: sample sizes.
      seed: sampling seed.

    Returns:
      Dataset with x (n, dim) float32 and y (n, 1) float32 in [0, 1].
    """
    if function not in FUNCTIONS:
        raise ValueError(
            f"unknown data.function {function!r}; choose one of {', '.join(FUNCTIONS)}"
        )
    if dim < 1:
        raise ValueError(f"data.dim={dim} must be >= 1")
    rng = np.random.default_rng(seed)
    parts = []
    for n in (num_train, num_test):
        x = rng.uniform(size=(n, dim)).astype(np.float32)
        parts.append({"x": x, "y": FUNCTIONS[function](x).astype(np.float32)[:, None]})
    return Dataset(parts[0], parts[1], num_classes=0, name=f"{function}_{dim}d")
