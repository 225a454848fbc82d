"""The yeast multi-label data set: 2,417 genes x 103 features, 14 functional classes.

Elisseeff & Weston (NIPS 2001), MULAN's version (OpenML 40597), bundled as ``yeast.csv.gz`` in the
PyPI package ``river`` (``river.datasets.Yeast``). The file is read directly, without importing
river.
"""

import csv
import gzip
import io
from typing import NamedTuple

import numpy as np

from jaxdl.data import core


class MultiLabelDataset(NamedTuple):
    """Features ``X (n, d)`` float32, labels ``Y (n, L)`` int32 in {0, 1}, and their names."""

    X: np.ndarray
    Y: np.ndarray
    feature_names: tuple
    label_names: tuple


def load_yeast() -> MultiLabelDataset:
    """Loads yeast: ``X (2417, 103)``, ``Y (2417, 14)``.

    Returns:
      :class:`MultiLabelDataset`.

    Raises:
      ValueError: one line (``jaxdl.data.core`` checks): the count and first index of NaN/Inf
        features, or of labels other than 0 / 1 in a ``Class*`` column.
    """
    path = core.package_file(
        "river",
        "datasets",
        "yeast.csv.gz",
        missing="yeast needs the PyPI package 'river': pip install -e '.[mtl]'",
    )
    with gzip.open(path, "rt") as f:
        reader = csv.reader(io.StringIO(f.read()))
        header = next(reader)
        table = np.array(list(reader), dtype=np.float64)
    is_label = np.array([h.startswith("Class") for h in header])
    core.check_features("yeast X", table[:, ~is_label])
    Y = [
        core.check_labels(f"yeast {h}", table[:, j], 2) for j, h in enumerate(header) if is_label[j]
    ]
    return MultiLabelDataset(
        X=table[:, ~is_label].astype(np.float32),
        Y=np.stack(Y, axis=1),
        feature_names=tuple(h for h, l in zip(header, is_label) if not l),
        label_names=tuple(h for h, l in zip(header, is_label) if l),
    )
