"""The in-memory data set type shared by every loader, and the deterministic split."""

import dataclasses

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
