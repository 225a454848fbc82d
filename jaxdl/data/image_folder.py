"""A folder of images, one sub-folder per class, decoded with Pillow and resized.

Two layouts: ``path/train/<class>/*.png|jpg`` with ``path/test/<class>/...`` (the same classes),
or ``path/<class>/...`` split here by ``data.test_fraction`` (stratified, ``data.split_seed``).
Classes are numbered in the sorted order of their folder names. Every image becomes RGB of
``data.image_size`` (an int for square images, or ``(height, width)``).

:func:`load` decodes every image into memory (float32 NHWC in [0, 1]); :class:`ImageFolderRecords`
decodes on demand, for streaming (``jaxdl.data.pipeline``). :func:`to_npz` decodes once into an
``.npz`` file of uint8 arrays that ``data.name=npz`` reads without decoding again.
"""

import concurrent.futures
import os

import ml_collections
import numpy as np

from jaxdl.data.core import Dataset, split

EXTENSIONS = (".png", ".jpg", ".jpeg")
_ACCEPTED = "path/train/<class>/*.png|jpg and path/test/<class>/..., or path/<class>/*.png|jpg"


def _class_folders(folder: str) -> dict[str, list[str]]:
    """``{class name: sorted image paths}`` of ``folder``'s sub-folders."""
    classes = sorted(
        d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)) and d[0] != "."
    )
    if not classes:
        raise ValueError(f"{folder} has no class folders; expected {_ACCEPTED}")
    found = {}
    for name in classes:
        class_dir = os.path.join(folder, name)
        files = sorted(
            os.path.join(class_dir, f)
            for f in os.listdir(class_dir)
            if f.lower().endswith(EXTENSIONS) and os.path.isfile(os.path.join(class_dir, f))
        )
        if not files:
            raise ValueError(
                f"{class_dir} is a class folder with no images ({', '.join(EXTENSIONS)})"
            )
        found[name] = files
    return found


def _flatten(found: dict[str, list[str]], classes: list[str]) -> tuple[list[str], np.ndarray]:
    files = [f for name in classes for f in found[name]]
    labels = np.concatenate([np.full(len(found[n]), i, np.int32) for i, n in enumerate(classes)])
    return files, labels


def scan(
    path: str, test_fraction: float = 0.2, split_seed: int = 0
) -> tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray], list[str]]:
    """The training and test files with their labels, and the class names.

    Raises:
      FileNotFoundError: ``path`` is not a folder.
      ValueError: no class folders, a class folder without images, or train and test class sets
        that differ (each named).
    """
    if not path:
        raise ValueError(f"data.name=image_folder needs data.path; expected {_ACCEPTED}")
    path = os.path.expanduser(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"image folder not found: {path}; expected {_ACCEPTED}")
    train_dir, test_dir = os.path.join(path, "train"), os.path.join(path, "test")
    if os.path.isdir(train_dir) != os.path.isdir(test_dir):
        have, missing = (train_dir, test_dir) if os.path.isdir(train_dir) else (test_dir, train_dir)
        raise ValueError(f"{have} exists but {missing} does not; expected {_ACCEPTED}")
    if os.path.isdir(train_dir):
        train, test = _class_folders(train_dir), _class_folders(test_dir)
        if set(train) != set(test):
            only_train, only_test = sorted(set(train) - set(test)), sorted(set(test) - set(train))
            raise ValueError(
                f"the class folders of {train_dir} and {test_dir} differ: only in train: "
                f"{', '.join(only_train) or '-'}; only in test: {', '.join(only_test) or '-'}"
            )
        classes = sorted(train)
        return _flatten(train, classes), _flatten(test, classes), classes
    found = _class_folders(path)
    classes = sorted(found)
    files, labels = _flatten(found, classes)
    train, test = split(np.arange(len(files)), labels, test_fraction, split_seed)
    pick = lambda part: ([files[i] for i in part["x"]], part["y"])  # noqa: E731
    return pick(train), pick(test), classes


def image_shape(image_size) -> tuple[int, int]:
    """``data.image_size`` as (height, width): an int for square images, or a pair."""
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else (image_size,) * 2
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(
            f"data.image_size={image_size!r} must be a positive int or (height, width)"
        )
    return size


def decode_image(path: str, size: tuple[int, int]) -> np.ndarray:
    """One image file as uint8 RGB (height, width, 3), resized bilinearly when its size differs.

    Raises:
      ValueError: the file is not a readable image (the file and Pillow's reason in one line).
    """
    from PIL import Image  # pylint: disable=g-import-not-at-top  (only image folders need it)

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(image, np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path} is not a readable image: {reason}") from None


class ImageFolderRecords:
    """Random access to an image folder's files: ``records[i]`` is ``(path, label)``.

    :meth:`decode` reads and resizes a list of them; it pickles small (grain's worker processes
    receive it).

    Args:
      files: image paths.
      labels: int labels, one per file.
      image_size: an int or ``(height, width)``.
    """

    def __init__(self, files: list[str], labels: np.ndarray, image_size=32):
        self.files, self.labels = list(files), np.asarray(labels, np.int32)
        self.size = image_shape(image_size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.files[int(index)], int(self.labels[int(index)])

    def read(self, indices: np.ndarray) -> list[tuple[str, int]]:
        """Records ``indices`` (file names and labels; the pixels are read by :meth:`decode`)."""
        return [self[i] for i in indices]

    def decode(self, records) -> dict[str, np.ndarray]:
        """``[(path, label), ...]`` -> ``{"x": uint8 (n, h, w, 3), "y": int32 (n,)}``."""
        x = np.stack([decode_image(path, self.size) for path, _ in records])
        return {"x": x, "y": np.asarray([label for _, label in records], np.int32)}

    def __repr__(self) -> str:
        return f"ImageFolderRecords({len(self.files)} files, size={self.size})"


def sources(
    path: str, image_size=32, test_fraction: float = 0.2, split_seed: int = 0
) -> tuple[ImageFolderRecords, ImageFolderRecords, list[str]]:
    """Training and test records of the folder ``path``, and the class names."""
    size = image_shape(image_size)
    train, test, classes = scan(path, test_fraction, split_seed)
    return ImageFolderRecords(*train, size), ImageFolderRecords(*test, size), classes


def _decode_all(records: ImageFolderRecords) -> np.ndarray:
    """Every image of ``records`` as uint8 (n, h, w, 3), decoded on a few threads (Pillow
    releases the interpreter lock while it decodes)."""
    out = np.empty((len(records), *records.size, 3), np.uint8)
    chunks = np.array_split(np.arange(len(records)), max(1, len(records) // 64))

    def work(idx):
        out[idx] = records.decode(records.read(idx))["x"]

    with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(work, chunks))  # list(): re-raises the first bad file's error here
    return out


def load(path: str, image_size=32, test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
    """Every image decoded into memory: x float32 (n, h, w, 3) in [0, 1], y int32."""
    train, test, classes = sources(path, image_size, test_fraction, split_seed)
    parts = []
    for records in (train, test):
        x = _decode_all(records).astype(np.float32)
        x /= 255.0
        parts.append({"x": x, "y": records.labels})
    name = os.path.basename(os.path.normpath(os.path.expanduser(path)))
    return Dataset(parts[0], parts[1], num_classes=len(classes), name=name)


def load_config(cfg: ml_collections.ConfigDict) -> Dataset:
    """:func:`load` with ``config.data``: ``path``, ``image_size`` (default 32),
    ``test_fraction``, ``split_seed``."""
    return load(
        cfg.get("path", ""),
        cfg.get("image_size", 32),
        cfg.get("test_fraction", 0.2),
        cfg.get("split_seed", 0),
    )


def to_npz(
    path: str, out: str, image_size=32, test_fraction: float = 0.2, split_seed: int = 0
) -> str:
    """Decodes the folder once into ``out`` (.npz of uint8 ``x_train, y_train, x_test, y_test``
    and ``class_names``), which ``data.name=npz`` reads with no image decoding.

    Returns:
      ``out``.
    """
    train, test, classes = sources(path, image_size, test_fraction, split_seed)
    np.savez(
        out,
        x_train=_decode_all(train),
        y_train=train.labels,
        x_test=_decode_all(test),
        y_test=test.labels,
        class_names=np.asarray(classes),
    )
    return out
