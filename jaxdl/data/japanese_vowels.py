"""JapaneseVowels (Kudo et al. 1999; UCI / UEA archive): 12 LPC cepstrum channels, lengths 7-29,
9 speakers; 270 training and 370 test utterances.

The ``.ts`` files ship inside the sktime wheel (``sktime/datasets/data/JapaneseVowels/``); they
are parsed here directly, without importing sktime. ``pip install --no-deps sktime`` provides
them, or pass ``data_dir=`` to a folder holding ``JapaneseVowels_{TRAIN,TEST}.ts``.
"""

import os

import numpy as np

from jaxdl.data import core

NUM_CHANNELS, NUM_CLASSES, MAX_LENGTH = 12, 9, 29
_RELATIVE = os.path.join("datasets", "data", "JapaneseVowels")


def _bundled_dir() -> str:
    return core.package_file(
        "sktime",
        _RELATIVE,
        missing="JapaneseVowels ships in the sktime wheel: "
        "pip install --no-deps sktime (or pass data_dir=)",
    )


def parse_ts(text: str) -> tuple[list[np.ndarray], list[str]]:
    """Parses a multivariate ``.ts`` file (sktime / UEA format) with class labels.

    Args:
      text: the file's content: ``#`` comments, ``@`` headers, then after ``@data`` one case per
        line, channels separated by ``:``, values by ``,``, the class label last.

    Returns:
      ``(series, labels)``: one (length, channels) float32 array and one label string per case.
    """
    series, labels, in_data = [], [], False
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *channels, label = line.split(":")
        try:
            rows = [np.array(c.split(","), np.float32) for c in channels]
            series.append(np.stack(rows, axis=-1))
        except ValueError as e:
            raise ValueError(
                f".ts line {number}: channels must be equal-length numbers ({e})"
            ) from None
        labels.append(label.strip())
    if not in_data:
        raise ValueError("not a .ts file: no @data line")
    return series, labels


def load_japanese_vowels(split: str = "train", data_dir: str | None = None):
    """Loads one split, zero-padded to 29 steps.

    Args:
      split: "train" or "test".
      data_dir: folder with ``JapaneseVowels_TRAIN.ts`` / ``_TEST.ts``; sktime's copy if None.

    Returns:
      ``x (N, 29, 12) float32, lengths (N,) int32, labels (N,) int32 in 0..8`` (speaker - 1).

    Raises:
      ValueError: one line naming the file's array (``jaxdl.data.core`` checks): the count and
        first index of NaN/Inf values in x, or of labels that are not speakers 1..9.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} is unknown; accepted: train, test")
    path = os.path.join(data_dir or _bundled_dir(), f"JapaneseVowels_{split.upper()}.ts")
    with open(path, encoding="utf-8") as f:
        series, labels = parse_ts(f.read())
    T = max(MAX_LENGTH, max(len(s) for s in series))
    x = np.zeros((len(series), T, series[0].shape[-1]), np.float32)
    for n, s in enumerate(series):
        x[n, : len(s)] = s
    lengths = np.array([len(s) for s in series], np.int32)
    name = os.path.basename(path)
    core.check_features(f"{name} x", x)
    return x, lengths, _speakers(f"{name} labels", labels)


def _speakers(name: str, labels: list[str]) -> np.ndarray:
    """The speaker labels 1..9 as class indices 0..8; one-line ValueError naming ``name``, the
    count and first index of labels that are not numbers or not speakers 1..9."""
    values = np.full(len(labels), np.nan)
    for n, label in enumerate(labels):
        try:
            values[n] = float(label)
        except ValueError:
            pass
    bad = ~np.isfinite(values) | (values != np.round(values))
    bad |= (values < 1) | (values > NUM_CLASSES)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"data: {name} has {int(bad.sum())} label(s) outside the speakers 1..{NUM_CLASSES} "
            f"(first at index {first}: {labels[first]!r})"
        )
    return core.check_labels(name, values - 1, NUM_CLASSES)
