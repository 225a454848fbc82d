"""Generated data sets (:class:`Dataset`): shape segmentation (images -> masks), moving-digit video.

Both wrap the seeded numpy generators (``jaxdl.data.shapes``, ``jaxdl.data.video``): one draw of
``num_train + num_test`` examples with ``data.split_seed``, the first ``num_train`` for training, so
the same config always gives the same arrays. Registry entries (``jaxdl.data.LOADERS``):
``"shapes"`` -> :func:`shapes`, ``"moving_digits"`` -> :func:`moving_digits`.
"""

import ml_collections
import numpy as np

from jaxdl.data import shapes as shapes_lib
from jaxdl.data import video as video_lib
from jaxdl.data.core import Dataset

VIDEO_LABELS = ("combined", "digit", "direction")


def _counts(cfg: ml_collections.ConfigDict, num_train: int, num_test: int) -> tuple[int, int]:
    n_train, n_test = int(cfg.get("num_train", num_train)), int(cfg.get("num_test", num_test))
    if n_train < 1 or n_test < 1:
        raise ValueError(
            f"data.num_train and data.num_test must be >= 1, got {n_train} and {n_test}"
        )
    return n_train, n_test


def _split(arrays: dict[str, np.ndarray], n_train: int) -> tuple[dict, dict]:
    return {k: v[:n_train] for k, v in arrays.items()}, {k: v[n_train:] for k, v in arrays.items()}


def shapes(cfg: ml_collections.ConfigDict) -> Dataset:
    """Per-pixel segmentation of generated rectangles, circles and triangles.

    Args:
      cfg: ``config.data`` with optional ``num_train`` (default 1000), ``num_test`` (200), ``size``
        (32), ``max_shapes`` (3), ``noise`` (0.1), ``split_seed`` (0).

    Returns:
      Dataset with x float32 (n, size, size, 3), y int32 masks (n, size, size) with classes
      ``jaxdl.data.shapes.CLASSES`` (0 background, 1 rectangle, 2 circle, 3 triangle).
    """
    n_train, n_test = _counts(cfg, 1000, 200)
    x, y = shapes_lib.make_shapes(
        n_train + n_test,
        size=int(cfg.get("size", 32)),
        seed=int(cfg.get("split_seed", 0)),
        max_shapes=int(cfg.get("max_shapes", 3)),
        noise=float(cfg.get("noise", 0.1)),
    )
    train, test = _split({"x": x, "y": y}, n_train)
    return Dataset(train, test, num_classes=len(shapes_lib.CLASSES), name="shapes")


def moving_digits(cfg: ml_collections.ConfigDict) -> Dataset:
    """Video classification of 8x8 digits sliding across the frame in one of four directions.

    Args:
      cfg: ``config.data`` with optional ``num_train`` (default 2000), ``num_test`` (500),
        ``frames`` (8), ``size`` (16), ``split_seed`` (0) and ``label``: ``"combined"`` (40
        classes, digit * 4 + direction; default), ``"digit"`` (10) or ``"direction"`` (4, needs
        motion: a single frame cannot tell it).

    Returns:
      Dataset with x float32 (n, frames, size, size, 1) (NDHWC) and y int32 (n,).
    """
    label = cfg.get("label", "combined")
    if label not in VIDEO_LABELS:
        raise ValueError(
            f"unknown data.label {label!r} for moving_digits; "
            f"choose one of {', '.join(VIDEO_LABELS)}"
        )
    n_train, n_test = _counts(cfg, 2000, 500)
    x, digit, direction = video_lib.make_moving_digits(
        n_train + n_test,
        frames=int(cfg.get("frames", 8)),
        size=int(cfg.get("size", 16)),
        seed=int(cfg.get("split_seed", 0)),
    )
    y, num_classes = {
        "combined": (video_lib.combined_labels(digit, direction), 10 * len(video_lib.DIRECTIONS)),
        "digit": (digit, 10),
        "direction": (direction, len(video_lib.DIRECTIONS)),
    }[label]
    train, test = _split({"x": x, "y": np.asarray(y, np.int32)}, n_train)
    return Dataset(train, test, num_classes=num_classes, name=f"moving_digits_{label}")
