"""CIFAR-10 and CIFAR-100 from their official *binary* releases.

``cifar-10-batches-bin/``: ``data_batch_1.bin`` .. ``data_batch_5.bin`` and ``test_batch.bin``,
records of 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, rows of 32).
``cifar-100-binary/``: ``train.bin`` and ``test.bin``, records of 2 label bytes (coarse, fine) +
3072 pixel bytes. The pickled "python version" is refused with one line: it needs ``pickle``
(which runs code from the file) and is not what this reader parses.

:func:`load` gives the whole set in memory (float32 NHWC in [0, 1], int32 labels);
:class:`CifarRecords` reads single records from a memory map, for streaming
(``jaxdl.data.pipeline``).
"""

import os

import ml_collections
import numpy as np

from jaxdl.data.core import Dataset

IMAGE_SHAPE = (32, 32, 3)
_PIXELS = 32 * 32 * 3
URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


class _Layout:
    """Where one release keeps its files and how its records are laid out."""

    def __init__(self, name, folder, python_folder, train, test, label_bytes, num_classes):
        self.name, self.folder, self.python_folder = name, folder, python_folder
        self.train, self.test = train, test
        self.label_bytes, self.num_classes = label_bytes, num_classes

    @property
    def record_bytes(self) -> int:
        return self.label_bytes + _PIXELS


LAYOUTS = {
    "cifar10": _Layout(
        "CIFAR-10",
        "cifar-10-batches-bin",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        ("test_batch.bin",),
        1,
        10,
    ),
    "cifar100": _Layout(
        "CIFAR-100", "cifar-100-binary", "cifar-100-python", ("train.bin",), ("test.bin",), 2, 100
    ),
}
CIFAR100_LABELS = ("fine", "coarse")
_PICKLED_NAMES = ("data_batch_1", "batches.meta", "meta", "train", "test")


def _download_hint(layout: _Layout) -> str:
    return f"download the binary version of {layout.name} from {URL} and extract it"


def find_directory(path: str, name: str) -> str:
    """The folder holding ``name``'s binary files: ``path`` itself or its ``cifar-*-bin*`` child.

    Raises:
      ValueError: ``path`` is the pickled "python version", an archive, or not set.
      FileNotFoundError: no binary files found there.
    """
    layout = LAYOUTS[name]
    if not path:
        raise ValueError(
            f"data.name={name} needs data.path=<folder of {layout.folder}>; "
            f"{_download_hint(layout)}"
        )
    path = os.path.expanduser(path)
    if path.endswith((".tar.gz", ".tgz", ".tar")):
        raise ValueError(f"{path} is an archive; extract it first (tar xzf {path})")
    for candidate in (path, os.path.join(path, layout.folder)):
        if all(os.path.isfile(os.path.join(candidate, f)) for f in layout.train + layout.test):
            return candidate
    for candidate in (path, os.path.join(path, layout.python_folder)):
        if os.path.isdir(candidate) and set(os.listdir(candidate)) & set(_PICKLED_NAMES):
            raise ValueError(
                f"{candidate} is the pickled python version of {layout.name}, which jaxdl does not "
                f"read; {_download_hint(layout)} ({layout.folder}/)"
            )
    raise FileNotFoundError(
        f"{layout.name} binary files ({', '.join(layout.train + layout.test)}) not found in "
        f"{path} or {os.path.join(path, layout.folder)}; {_download_hint(layout)}"
    )


def _record_count(path: str, record_bytes: int) -> int:
    """Records in ``path``; a one-line ValueError for an empty file or a partial last record."""
    size = os.path.getsize(path)
    if size == 0 or size % record_bytes:
        raise ValueError(
            f"{path} is truncated: {size} bytes is not a whole number of {record_bytes}-byte "
            f"records ({size // record_bytes} whole, {size % record_bytes} bytes left over)"
        )
    return size // record_bytes


def _check_labels(path: str, labels: np.ndarray, num_classes: int, kind: str) -> None:
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise ValueError(
            f"{path}: record {bad[0]} has {kind}label {labels[bad[0]]}, outside "
            f"0..{num_classes - 1} ({bad.size} such records); is it a file of another release?"
        )


def _label_column(name: str, labels: str) -> tuple[int, int, str]:
    """(label byte, number of classes, label kind) for ``name`` and ``data.cifar100_labels``."""
    if name == "cifar10":
        return 0, 10, ""
    if labels not in CIFAR100_LABELS:
        raise ValueError(
            f"data.cifar100_labels={labels!r}; choose one of {', '.join(CIFAR100_LABELS)}"
        )
    return (1, 100, "fine ") if labels == "fine" else (0, 20, "coarse ")


def decode(records: np.ndarray, label_byte: int, label_bytes: int) -> dict[str, np.ndarray]:
    """Raw records (n, label_bytes + 3072) uint8 -> ``{"x": uint8 (n, 32, 32, 3), "y": int32}``."""
    x = records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return {"x": np.ascontiguousarray(x), "y": records[:, label_byte].astype(np.int32)}


class CifarRecords:
    """Random access to the records of CIFAR binary files, one memory map per file.

    ``records[i]`` is record ``i`` of the files in order (uint8, label bytes + 3072 pixel bytes);
    :meth:`decode` turns a list of them into images and labels. The maps open lazily in each
    process, so the object pickles small (grain's worker processes receive it).

    Args:
      files: the binary files, read in this order.
      name: ``"cifar10"`` or ``"cifar100"``.
      labels: CIFAR-100's ``"fine"`` (default) or ``"coarse"`` labels.

    Raises:
      ValueError: a truncated file (named, with its size) or a label outside the release's range.
    """

    def __init__(self, files: list[str], name: str = "cifar10", labels: str = "fine"):
        layout = LAYOUTS[name]
        self.files, self.name, self.labels = list(files), name, labels
        self.record_bytes, self.label_bytes = layout.record_bytes, layout.label_bytes
        self.label_byte, self.num_classes, kind = _label_column(name, labels)
        counts = [_record_count(f, self.record_bytes) for f in self.files]
        self.offsets = np.cumsum([0] + counts)
        for f in self.files:  # one pass over the label bytes: a wrong file fails here, not mid-run
            column = self._map(f)[:, self.label_byte]
            _check_labels(f, column, self.num_classes, kind)
        self._maps = None

    def _map(self, path: str) -> np.ndarray:
        return np.memmap(path, np.uint8, "r").reshape(-1, self.record_bytes)

    def _all_maps(self) -> list[np.ndarray]:
        if self._maps is None:
            self._maps = [self._map(f) for f in self.files]
        return self._maps

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        f = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return np.asarray(self._all_maps()[f][index - self.offsets[f]])

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Records ``indices`` as one (n, record bytes) array (a gather per file)."""
        indices = np.asarray(indices, np.int64)
        out = np.empty((len(indices), self.record_bytes), np.uint8)
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        for f, records in enumerate(self._all_maps()):
            sel = np.flatnonzero(which == f)
            if sel.size:
                out[sel] = records[indices[sel] - self.offsets[f]]
        return out

    def decode(self, records) -> dict[str, np.ndarray]:
        """Stacked raw records -> ``{"x": uint8 (n, 32, 32, 3), "y": int32 (n,)}``."""
        return decode(
            np.asarray(records).reshape(-1, self.record_bytes), self.label_byte, self.label_bytes
        )

    def __getstate__(self):
        return {**self.__dict__, "_maps": None}

    def __repr__(self) -> str:
        return f"CifarRecords({self.name}, {self.labels}, {self.files})"


def sources(path: str, name: str, labels: str = "fine") -> tuple[CifarRecords, CifarRecords]:
    """The training and test records of the release ``name`` found at ``path``."""
    directory = find_directory(path, name)
    layout = LAYOUTS[name]
    return tuple(
        CifarRecords([os.path.join(directory, f) for f in files], name, labels)
        for files in (layout.train, layout.test)
    )


def load(path: str, name: str = "cifar10", labels: str = "fine") -> Dataset:
    """The whole release in memory: x float32 (n, 32, 32, 3) in [0, 1], y int32.

    Args:
      path: the folder of the binary files, or the folder that holds it.
      name: ``"cifar10"`` or ``"cifar100"``.
      labels: CIFAR-100's ``"fine"`` (100 classes, default) or ``"coarse"`` (20) labels.
    """
    train, test = sources(path, name, labels)
    parts = []
    for records in (train, test):
        arrays = records.decode(np.concatenate([records._map(f) for f in records.files]))
        x = arrays["x"].astype(np.float32)
        x /= 255.0  # in place: CIFAR-10's training images take 614 MB as float32
        parts.append({"x": x, "y": arrays["y"]})
    return Dataset(parts[0], parts[1], num_classes=train.num_classes, name=name)


def load_config(cfg: ml_collections.ConfigDict, name: str) -> Dataset:
    """:func:`load` with ``config.data``: ``path`` and, for CIFAR-100, ``cifar100_labels``."""
    return load(cfg.get("path", ""), name, cfg.get("cifar100_labels", "fine"))


def write(
    directory: str,
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    coarse: tuple[np.ndarray, np.ndarray] | None = None,
) -> str:
    """Writes images and labels in ``name``'s binary layout under ``directory/<release folder>``.

    For tests and benchmarks (generated data), and to convert 32x32 RGB images to the fast format.

    Args:
      directory: parent folder (created).
      name: ``"cifar10"`` or ``"cifar100"``.
      train: ``(x uint8 (n, 32, 32, 3), y (n,))``; CIFAR-10's records are split evenly over the
        five batch files, as in the release.
      test: the same for the test file.
      coarse: CIFAR-100's coarse labels for train and test (default: fine label // 5).

    Returns:
      The release folder.
    """
    layout = LAYOUTS[name]
    folder = os.path.join(directory, layout.folder)
    os.makedirs(folder, exist_ok=True)
    for part, files, (x, y) in ((0, layout.train, train), (1, layout.test, test)):
        x = np.asarray(x, np.uint8)
        if x.shape[1:] != IMAGE_SHAPE:
            raise ValueError(f"CIFAR images are {IMAGE_SHAPE}, got {x.shape[1:]}")
        pixels = x.transpose(0, 3, 1, 2).reshape(len(x), _PIXELS)
        labels = [np.asarray(y, np.uint8)[:, None]]
        if layout.label_bytes == 2:
            c = np.asarray(y) // 5 if coarse is None else np.asarray(coarse[part])
            labels = [c.astype(np.uint8)[:, None]] + labels
        records = np.concatenate(labels + [pixels], axis=1)
        for f, chunk in zip(files, np.array_split(records, len(files))):
            chunk.tofile(os.path.join(folder, f))
    return folder


def write_random(
    directory: str, name: str = "cifar10", num_train: int = 100, num_test: int = 20, seed: int = 0
) -> str:
    """Writes uniform-noise images with cycling labels in ``name``'s binary layout: smoke runs and
    tests of the readers and pipelines without the real data. Returns the release folder."""
    rng = np.random.default_rng(seed)
    classes = LAYOUTS[name].num_classes
    parts = [
        (rng.integers(0, 256, (n, *IMAGE_SHAPE), dtype=np.uint8), np.arange(n) % classes)
        for n in (num_train, num_test)
    ]
    return write(directory, name, *parts)
