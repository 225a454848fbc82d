"""Data sets as arrays: bundled digits (default), Fashion-MNIST, user IDX / npz files, generated sets.

``load(config.data)`` returns a :class:`Dataset` by ``config.data.name``; ``names()`` lists them.
"""

import dataclasses
from typing import Callable

from absl import logging
import ml_collections
import numpy as np

from jaxdl.data import functions, generated, images
from jaxdl.data.core import Dataset, split, standardize


def _digits(cfg):
    return images.digits(cfg.get("test_fraction", 0.2), cfg.get("split_seed", 0))


def _fashion_mnist(cfg):
    return images.fashion_mnist(cfg.get("path") or images.FASHION_MNIST_DIR)


def _fashion_or_digits(cfg):
    """Fashion-MNIST when the Debian package is installed, else the bundled digits."""
    if images.fashion_mnist_available(cfg.get("path") or images.FASHION_MNIST_DIR):
        return _fashion_mnist(cfg)
    logging.warning(
        "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist): using the bundled digits"
    )
    return _digits(cfg)


def _idx(cfg):
    return images.idx_directory(cfg.path)


def _npz(cfg):
    return images.npz_file(cfg.path, cfg.get("test_fraction", 0.2), cfg.get("split_seed", 0))


def _function(cfg):
    return functions.target_function(
        cfg.get("function", "sine"),
        cfg.get("dim", 1),
        cfg.get("num_train", 1024),
        cfg.get("num_test", 1024),
        cfg.get("split_seed", 0),
    )


LOADERS: dict[str, Callable[[ml_collections.ConfigDict], Dataset]] = {
    "digits": _digits,
    "fashion_mnist": _fashion_mnist,
    "fashion_mnist_or_digits": _fashion_or_digits,
    "idx": _idx,
    "npz": _npz,
    "function": _function,
    "shapes": generated.shapes,
    "moving_digits": generated.moving_digits,
}


def names() -> list[str]:
    """Names accepted by ``config.data.name``."""
    return sorted(LOADERS)


def load(cfg: ml_collections.ConfigDict) -> Dataset:
    """Loads the data set ``cfg.name`` with the options in ``cfg``.

    ``cfg.train_size`` (optional, 0 = all) keeps that many training examples, drawn with
    ``cfg.split_seed``; the test set is unchanged.

    Raises:
      ValueError: unknown name (the message lists the valid ones) or bad options.
    """
    if cfg.name not in LOADERS:
        raise ValueError(
            f"unknown data set data.name={cfg.name!r}; choose one of {', '.join(names())}"
        )
    ds = LOADERS[cfg.name](cfg)
    n, total = int(cfg.get("train_size", 0)), len(ds.train["y"])
    if not n:
        return ds
    if not 0 < n <= total:
        raise ValueError(
            f"data.train_size={n} must be in 1..{total} (the training set size), or 0 for all"
        )
    # a fixed uniform draw (split_seed), the same for every run: small-data regimes
    keep = np.sort(np.random.default_rng(cfg.get("split_seed", 0)).permutation(total)[:n])
    return dataclasses.replace(ds, train={k: v[keep] for k, v in ds.train.items()})


__all__ = ["Dataset", "load", "names", "split", "standardize"]
