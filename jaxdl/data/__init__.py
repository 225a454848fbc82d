"""Data sets as arrays: bundled digits (default), Fashion-MNIST, user IDX / npz files, generated.

``load(config.data)`` returns a :class:`Dataset` by ``config.data.name``; ``names()`` lists them.
"""

import dataclasses
import json
import os
from typing import Callable

from absl import logging
import ml_collections
import numpy as np

from jaxdl.data import cifar, functions, generated, image_folder, images
from jaxdl.data.core import Dataset, check_dataset, split, standardize


def _digits(cfg):
    return images.digits(cfg.get("test_fraction", 0.2), cfg.get("split_seed", 0))


def _fashion_mnist(cfg):
    return images.fashion_mnist(cfg.get("path") or images.FASHION_MNIST_DIR)


def _fashion_or_digits(cfg):
    """Fashion-MNIST when the Debian package is installed, else the bundled digits."""
    if images.fashion_mnist_available(cfg.get("path") or images.FASHION_MNIST_DIR):
        return _fashion_mnist(cfg)
    logging.warning(
        "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist): "
        "using the bundled digits"
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
    "cifar10": lambda cfg: cifar.load_config(cfg, "cifar10"),  # binary release at data.path
    "cifar100": lambda cfg: cifar.load_config(cfg, "cifar100"),  # binary; cifar100_labels
    "image_folder": image_folder.load_config,  # data.path/<class>/*.png|jpg, data.image_size
}


def names() -> list[str]:
    """Names accepted by ``config.data.name``."""
    return sorted(LOADERS)


def load(cfg: ml_collections.ConfigDict) -> Dataset:
    """Loads the data set ``cfg.name`` with the options in ``cfg``.

    ``cfg.train_size`` (optional, 0 = all) keeps that many training examples, drawn with
    ``cfg.split_seed``; the test set is unchanged.

    Every array is checked (``jaxdl.data.core.check_dataset``): NaN/Inf values, labels outside
    ``0..num_classes-1`` and non-numeric dtypes get one line naming the array, the count and the
    first index.

    Raises:
      ValueError: unknown name (the message lists the valid ones), bad options or bad data.
    """
    if cfg.name not in LOADERS:
        raise ValueError(
            f"unknown data set data.name={cfg.name!r}; choose one of {', '.join(names())}"
        )
    ds = _PRELOADED.get(_key(cfg)) or check_dataset(LOADERS[cfg.name](cfg))
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


# user files read by preload(), until the next preload: {_key(data config): Dataset}
_PRELOADED: dict[str, Dataset] = {}


def _key(cfg: ml_collections.ConfigDict) -> str:
    """The data config and, when it names a file, that file's size and modification time."""
    path = os.path.expanduser(str(cfg.get("path") or ""))
    stamp = os.stat(path) if path and os.path.exists(path) else None
    return json.dumps(
        [cfg.to_dict(), stamp and (stamp.st_size, stamp.st_mtime_ns)], sort_keys=True, default=str
    )


def preload(cfgs: list[ml_collections.ConfigDict]) -> None:
    """Reads and checks the user files (``data.path``) of the data configs ``cfgs``, so that bad
    data is refused before a run writes anything; :func:`load` then returns them without reading
    the files again. Configs of bundled or generated sets, or of names :func:`load` does not know,
    are left to :func:`load`. Sets that can stream from their files (CIFAR, image folders:
    ``jaxdl.data.pipeline.file_sources``) are only opened and checked as far as that reads them
    (record sizes and labels, class folders), not loaded: a run may never load them whole.

    Raises:
      ValueError / FileNotFoundError: as :func:`load`.
    """
    from jaxdl.data import pipeline  # pylint: disable=g-import-not-at-top  (imports this module)

    _PRELOADED.clear()
    for cfg in cfgs:
        key = _key(cfg)
        if cfg.get("name") in LOADERS and cfg.get("path") and key not in _PRELOADED:
            if pipeline.file_sources(cfg) is not None:
                continue
            _PRELOADED[key] = check_dataset(LOADERS[cfg.name](cfg))
            load(cfg)  # its other options (train_size) checked too


__all__ = ["Dataset", "load", "names", "preload", "split", "standardize"]
