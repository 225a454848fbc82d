"""Image classification sets: scikit-learn's bundled digits, Fashion-MNIST, and user files.

Images are float32 NHWC in [0, 1]; labels int32.
"""

import gzip
import os
import struct

import numpy as np

from jaxdl.data.core import Dataset, check_features, check_labels, split

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian package dataset-fashion-mnist
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def digits(test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 8x8 digit images (UCI optical digits, bundled with the package).

    Args:
      test_fraction: held-out share, stratified by class.
      split_seed: seed of the fixed train/test split (independent of the run's seed).

    Returns:
      Dataset with x (n, 8, 8, 1) in [0, 1], y (n,) in 0..9.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int32)
    train, test = split(x, y, test_fraction, split_seed)
    return Dataset(train, test, num_classes=10, name="digits")


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (MNIST / Fashion-MNIST format), raw or gzip-compressed.

    Raises:
      FileNotFoundError: the file is missing.
      ValueError: the header is not IDX or the file is shorter than its header says.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file (expected magic 0x0000<type><ndim>, "
            f"type one of {sorted(_IDX_DTYPES)})"
        )
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) < expected:
        raise ValueError(
            f"{path} is truncated: header says {dims} ({expected} bytes of data), "
            f"file has {len(body)}"
        )
    return np.frombuffer(body[:expected], dtype).reshape(dims)


def _images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim == 3:
        x = x[..., None]
    return x / 255.0 if x.max(initial=0) > 1.0 else x


def idx_files(
    train_images: str, train_labels: str, test_images: str, test_labels: str, name: str = "idx"
) -> Dataset:
    """A classification set from four IDX files (MNIST layout).

    Labels must match images in count.
    """
    parts = []
    for images_path, labels_path in ((train_images, train_labels), (test_images, test_labels)):
        x, y = read_idx(images_path), read_idx(labels_path)
        if len(x) != len(y):
            raise ValueError(
                f"{images_path} has {len(x)} images but {labels_path} has {len(y)} labels"
            )
        x = check_features(os.path.basename(images_path), x)
        parts.append({"x": _images(x), "y": check_labels(os.path.basename(labels_path), y)})
    num_classes = int(max(parts[0]["y"].max(), parts[1]["y"].max())) + 1
    return Dataset(parts[0], parts[1], num_classes=num_classes, name=name)


IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_directory(directory: str, name: str = "idx", hint: str = "") -> Dataset:
    """A classification set from a directory in MNIST layout (the four IDX_NAMES, raw or .gz)."""
    directory = os.path.expanduser(directory)
    paths = []
    for base in IDX_NAMES:
        found = [
            os.path.join(directory, base + ext)
            for ext in (".gz", "")
            if os.path.exists(os.path.join(directory, base + ext))
        ]
        if not found:
            raise FileNotFoundError(
                f"{base}[.gz] not found in {directory}; "
                f"expected the MNIST layout ({', '.join(IDX_NAMES)}){hint}"
            )
        paths.append(found[0])
    return idx_files(*paths, name=name)


def fashion_mnist(directory: str = FASHION_MNIST_DIR) -> Dataset:
    """Fashion-MNIST (60,000 + 10,000 28x28 images) from the Debian package's IDX files."""
    return idx_directory(
        directory, "fashion_mnist", "; install the Debian package dataset-fashion-mnist"
    )


def fashion_mnist_available(directory: str = FASHION_MNIST_DIR) -> bool:
    """Whether the Fashion-MNIST files are installed."""
    return os.path.isdir(directory) and any(
        f.startswith("train-images") for f in os.listdir(directory)
    )


def npz_file(path: str, test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
    """A classification set from a ``.npz`` (loaded with ``allow_pickle=False``).

    The file holds either ``x_train, y_train, x_test, y_test`` or ``x, y`` (then split here).
    """
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"npz file not found: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError):
        raise ValueError(
            f"{path} is not a NumPy .npz archive; write one with numpy.savez(path, x=..., y=...)"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path} holds one array (a .npy file); expected an .npz archive of x, y arrays"
        )
    with archive as f:
        keys = set(f.files)
        if {"x_train", "y_train", "x_test", "y_test"} <= keys:
            pairs = {"x_train": ("x_train", "y_train"), "x_test": ("x_test", "y_test")}
        elif {"x", "y"} <= keys:
            pairs = {"x": ("x", "y")}
        else:
            raise ValueError(
                f"{path} holds arrays {sorted(keys)}; "
                "expected x_train, y_train, x_test, y_test or x, y"
            )
        parts = {}
        for key, (x_key, y_key) in pairs.items():
            x, y = _npz_array(f, x_key, path), _npz_array(f, y_key, path)
            if x.ndim == 0 or y.ndim == 0:
                raise ValueError(
                    f"data: {path}: {x_key} and {y_key} must be arrays with one row per example, "
                    f"got shapes {x.shape} and {y.shape}"
                )
            if len(x) != len(y):
                raise ValueError(
                    f"{path}: {x_key} has {len(x)} examples but {y_key} has {len(y)} labels"
                )
            # checked as stored, so an index points into the file's array
            parts[key] = (_images(check_features(x_key, x)), check_labels(y_key, y))
    if "x" in parts:
        train, test = split(*parts["x"], test_fraction, split_seed)
    else:
        train, test = ({"x": x, "y": y} for x, y in (parts["x_train"], parts["x_test"]))
    num_classes = int(max(train["y"].max(), test["y"].max())) + 1
    return Dataset(train, test, num_classes=num_classes, name=os.path.basename(path))


def _npz_array(archive: np.lib.npyio.NpzFile, key: str, path: str) -> np.ndarray:
    """``archive[key]``; one line when it holds Python objects (which ``allow_pickle=False``
    refuses to read)."""
    try:
        return archive[key]
    except ValueError:
        raise ValueError(
            f"data: {key} in {path} holds Python objects (dtype object); save numeric arrays "
            "(e.g. numpy.savez(path, x=x.astype(np.float32), y=y.astype(np.int64)))"
        ) from None
