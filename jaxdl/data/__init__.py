"""Data sets as arrays: bundled digits (default), Fashion-MNIST, user IDX / npz files, generated sets.

``load(config.data)`` returns a :class:`Dataset` by ``config.data.name``; ``names()`` lists them.
"""

from typing import Callable

from absl import logging
import ml_collections

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
    logging.warning("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist): using the bundled digits")
    return _digits(cfg)


def _idx(cfg):
    return images.idx_directory(cfg.path)


def _npz(cfg):
    return images.npz_file(cfg.path, cfg.get("test_fraction", 0.2), cfg.get("split_seed", 0))


def _function(cfg):
    return functions.target_function(cfg.get("function", "sine"), cfg.get("dim", 1), cfg.get("num_train", 1024), cfg.get("num_test", 1024), cfg.get("split_seed", 0))


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

    Raises:
      ValueError: unknown name (the message lists the valid ones) or bad options.
    """
    if cfg.name not in LOADERS:
        raise ValueError(f"unknown data set data.name={cfg.name!r}; choose one of {', '.join(names())}")
    return LOADERS[cfg.name](cfg)


__all__ = ["Dataset", "load", "names", "split", "standardize"]
