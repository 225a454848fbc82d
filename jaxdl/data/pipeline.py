"""Streaming training batches through grain: order -> read -> decode -> augment, in worker processes

For data sets beyond ``train.device_data_limit_mb`` (or that do not fit in memory at all), a grain
``MapDataset`` whose element ``s`` is the batch of training step ``s``:

1. **order**: step ``s`` of epoch ``e = s // E`` (``E = n // B`` steps, the last partial batch
   dropped, as in ``jaxdl.train.steps``) takes positions ``[(s mod E) B, (s mod E) B + B)`` of
   the epoch's permutation, ``numpy.random.default_rng((seed, e)).permutation(n)``;
2. **read**: the records of those examples from the source (a memory map, file names, arrays);
3. **decode**: records -> uint8 or float images and int labels (Pillow for image files);
4. **augment**: a random crop of the zero-padded image and a horizontal flip (the AlexNet-style
   augmentation of ``jaxdl.nn.augment``, here on the host), drawn from grain's per-element
   generator, so that a batch depends on ``(seed, s)`` only;
5. images scaled to float32 in [0, 1].

Because every batch is a pure function of ``(seed, s)``, the batches are the same with 0, 1 or
more worker processes, and an iterator restored from :func:`get_state` continues with exactly the
batches an uninterrupted one would have given. With several JAX processes (multi-host), process
``p`` of ``P`` gets rows ``[p B / P, (p + 1) B / P)`` of each global batch (crop offsets and flips
are drawn for the global batch), so the global batch does not depend on ``P``.

Sources are duck-typed and picklable (worker processes receive them): ``len(source)``,
``source.read(indices)`` and ``source.decode(records) -> {"x": (b, h, w, c), "y": (b,)}``;
``jaxdl.data.cifar.CifarRecords``, ``jaxdl.data.image_folder.ImageFolderRecords`` and
:class:`ArrayRecords` (in-memory arrays) are such sources.

``jaxdl.train.loop.fit`` trains a streamed run on :func:`batches` (its iterator's state in each
checkpoint) and evaluates a test source read by :func:`in_order`; :func:`file_sources` opens
``config.data``'s files as sources without loading them.
"""

import dataclasses
import os
import threading
import time
from typing import Any, Iterator

import numpy as np

AUGMENTATIONS = ("none", "crop_flip")


class ArrayRecords:
    """In-memory arrays (a :class:`jaxdl.data.Dataset` part) as a pipeline source."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {k: v[index] for k, v in self.arrays.items()}

    def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """The examples ``indices``, gathered."""
        return {k: v[indices] for k, v in self.arrays.items()}

    def decode(self, records: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Arrays need no decoding."""
        return records

    def __repr__(self) -> str:
        return f"ArrayRecords({ {k: v.shape for k, v in self.arrays.items()} })"


def shard_of_this_process() -> tuple[int, int]:
    """``(jax.process_index(), jax.process_count())``, as grain's ``ShardByJaxProcess`` reads it."""
    import grain  # pylint: disable=g-import-not-at-top  (slow to import: only when used)

    options = grain.sharding.ShardByJaxProcess(drop_remainder=True)
    return options.shard_index, options.shard_count


class _StepIndices:
    """Step ``s`` -> the example indices of this process's rows of its global batch."""

    def __init__(self, num_examples: int, batch_size: int, seed: int, shard: tuple[int, int]):
        self.n, self.batch_size, self.seed, self.shard = num_examples, batch_size, seed, shard
        self.steps_per_epoch = num_examples // batch_size
        self._orders = {}  # epoch -> permutation, the epochs in use in this process

    def order(self, epoch: int) -> np.ndarray:
        """Epoch ``epoch``'s permutation of the examples, a pure function of (seed, epoch)."""
        order = self._orders.get(epoch)
        if order is None:  # safe on several read threads: each keeps its own reference
            order = np.random.default_rng((self.seed, epoch)).permutation(self.n)
            for old in [e for e in list(self._orders) if e < epoch - 1]:
                self._orders.pop(old, None)  # batches in flight span at most two epochs
            self._orders[epoch] = order
        return order

    def __call__(self, step: int) -> np.ndarray:
        epoch, k = divmod(int(step), self.steps_per_epoch)
        index, count = self.shard
        local = self.batch_size // count
        first = k * self.batch_size + index * local
        return self.order(epoch)[first : first + local]

    def __getstate__(self):
        return {**self.__dict__, "_orders": {}}


class _Read:
    def __init__(self, source):
        self.source = source

    def __call__(self, indices: np.ndarray) -> Any:
        return self.source.read(indices)


class _Decode:
    def __init__(self, source):
        self.source = source

    def __call__(self, records: Any) -> dict[str, np.ndarray]:
        return self.source.decode(records)


def crop_flip(x: np.ndarray, offsets: np.ndarray, flips: np.ndarray, padding: int) -> np.ndarray:
    """Crops every image of ``x`` (b, h, w, c) from its zero-padded copy at ``offsets`` (b, 2) in
    ``[0, 2 padding]`` and mirrors those where ``flips`` (b,) is true (``jaxdl.nn.augment``'s
    crop-then-flip)."""
    _, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0))) if padding else x
    out = np.empty_like(x)
    for i, ((r, c), mirror) in enumerate(zip(offsets, flips)):  # slices: no index arrays
        window = padded[i, r : r + h, c : c + w]
        out[i] = window[:, ::-1] if mirror else window
    return out


class _Augment:
    """Random crop with zero padding and horizontal flip, drawn for the global batch."""

    def __init__(self, batch_size: int, shard: tuple[int, int], padding: int, flip: bool):
        self.batch_size, self.shard, self.padding, self.flip = batch_size, shard, padding, flip

    def __call__(self, batch: dict[str, np.ndarray], rng: np.random.Generator):
        offsets = rng.integers(0, 2 * self.padding + 1, (self.batch_size, 2))
        flips = rng.random(self.batch_size) < 0.5 if self.flip else np.zeros(self.batch_size, bool)
        index, count = self.shard
        rows = slice(index * self.batch_size // count, (index + 1) * self.batch_size // count)
        return {**batch, "x": crop_flip(batch["x"], offsets[rows], flips[rows], self.padding)}


class _ExitWithParent:
    """A worker's ``worker_init_fn``: ends the worker process once the process that started it is
    gone. Killed with SIGKILL, a main process cannot stop its grain workers, which would wait on
    their full queues for ever (holding its output pipes open)."""

    def __init__(self, parent: int):
        self.parent = parent

    def __call__(self, worker_index: int, worker_count: int) -> None:
        threading.Thread(target=self._watch, daemon=True, name="exit_with_parent").start()

    def _watch(self) -> None:
        while os.getppid() == self.parent:
            time.sleep(1.0)
        os._exit(1)


def _to_float(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    x = batch["x"]
    if x.dtype == np.uint8:
        x = x.astype(np.float32)
        x /= 255.0
    return {**batch, "x": x}


def batches(
    source,
    *,
    batch_size: int,
    num_steps: int,
    seed: int,
    augment: str = "none",
    crop_padding: int = 4,
    flip: bool = True,
    worker_count: int = 0,
    worker_buffer_size: int = 2,
    read_threads: int = 1,
    shard: tuple[int, int] | None = None,
):
    """The grain pipeline of ``num_steps`` training batches from ``source``.

    Args:
      source: ``len``, ``read(indices)`` and ``decode(records)`` (see the module docstring).
      batch_size: the global batch size B (all processes together).
      num_steps: number of batches (training steps); epochs follow one another.
      seed: seeds the order (``seed + epoch``) and the augmentation; an int in [0, 2**32).
      augment: ``"none"`` or ``"crop_flip"``.
      crop_padding: zero padding of the random crop.
      flip: whether ``crop_flip`` also flips.
      worker_count: grain worker processes (0: in this process).
      worker_buffer_size: batches each worker prepares ahead.
      read_threads: threads of this process preparing batches ahead when ``worker_count`` is 0
        (0: each batch is made when asked for).
      shard: ``(process index, process count)``; default: this JAX process's.

    Returns:
      A ``grain.IterDataset``. ``iter()`` gives an iterator whose ``get_state()`` (a JSON-able
      dict) and ``set_state(state)`` resume it exactly, on an iterator of a pipeline built with
      the same arguments; ``grain.checkpoint.CheckpointSave(iterator)`` saves it as an item of an
      Orbax checkpoint.

    Raises:
      ValueError: one line for a batch larger than the data, a batch the processes cannot split
        evenly, an unknown augmentation or a seed out of range.
    """
    import grain  # pylint: disable=g-import-not-at-top

    n = len(source)
    if not 0 < batch_size <= n:
        raise ValueError(f"train.batch_size={batch_size} must be in 1..{n} (the training set size)")
    shard = shard_of_this_process() if shard is None else tuple(shard)
    if batch_size % shard[1]:
        raise ValueError(
            f"train.batch_size={batch_size} must be a multiple of the {shard[1]} processes"
        )
    if augment not in AUGMENTATIONS:
        raise ValueError(
            f"unknown data.augment {augment!r}; choose one of {', '.join(AUGMENTATIONS)}"
        )
    if not 0 <= seed < 2**32:
        raise ValueError(f"the data seed must be in [0, 2**32), got {seed}")
    ds = grain.MapDataset.range(num_steps)
    ds = ds.map(_StepIndices(n, batch_size, seed, shard))
    ds = ds.map(_Read(source)).map(_Decode(source))
    if augment == "crop_flip":
        ds = ds.random_map(_Augment(batch_size, shard, crop_padding, flip), seed=seed)
    ds = ds.map(_to_float)
    ds = ds.to_iter_dataset(
        grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=worker_buffer_size)
    )
    if worker_count > 0:
        from absl import flags  # pylint: disable=g-import-not-at-top

        if not flags.FLAGS.is_parsed():  # grain's workers read its absl flags (defaults here)
            flags.FLAGS.mark_as_parsed()
        ds = ds.mp_prefetch(
            grain.MultiprocessingOptions(
                num_workers=worker_count, per_worker_buffer_size=worker_buffer_size
            ),
            worker_init_fn=_ExitWithParent(os.getpid()),
        )
    return ds


class _Rows:
    """Batch ``i`` of an in-order pass -> the example indices ``[i B, min((i + 1) B, n))``."""

    def __init__(self, num_examples: int, batch_size: int):
        self.n, self.batch_size = num_examples, batch_size

    def __call__(self, i: int) -> np.ndarray:
        return np.arange(i * self.batch_size, min((i + 1) * self.batch_size, self.n))


def in_order(source, *, batch_size: int, read_threads: int = 1, buffer_size: int = 2):
    """Every example of ``source`` once, in order, in batches of ``batch_size`` (the last one
    smaller), unaugmented and scaled as :func:`batches` scales them: for evaluation.

    Args:
      source: ``len``, ``read(indices)`` and ``decode(records)`` (see the module docstring).
      batch_size: examples a batch.
      read_threads: threads preparing batches ahead (Pillow decodes without the interpreter lock).
      buffer_size: batches prepared ahead.

    Returns:
      A ``grain.IterDataset`` of ``{"x": float32 or as stored, "y": ...}`` host batches.
    """
    import grain  # pylint: disable=g-import-not-at-top

    n = len(source)
    ds = grain.MapDataset.range(-(-n // batch_size)).map(_Rows(n, batch_size))
    ds = ds.map(_Read(source)).map(_Decode(source)).map(_to_float)
    return ds.to_iter_dataset(
        grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=buffer_size)
    )


def position(state: dict[str, Any]) -> int | None:
    """How many batches the iterator of :func:`batches` whose ``get_state()`` is ``state`` has
    given (with worker processes, the sum over the workers); None for a state of another form."""
    if "next_index" in state:
        return int(state["next_index"])
    workers = state.get("iterators_in_use_states")
    if isinstance(workers, list) and all("next_index" in w for w in workers):
        return sum(int(w["next_index"]) for w in workers)
    return None


def device_batches(iterator: Iterator[dict[str, np.ndarray]], sharding=None):
    """Yields the iterator's batches as JAX arrays.

    Args:
      iterator: host batches (this process's rows of each global batch).
      sharding: a ``jax.sharding.Sharding`` of the global batch, e.g. over a ``"data"`` mesh;
        every process passes its rows and gets the global array. None: the default device.
    """
    import jax  # pylint: disable=g-import-not-at-top  (worker processes never import jax)

    for batch in iterator:
        if sharding is None:
            yield jax.device_put(batch)
        else:
            yield {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


@dataclasses.dataclass(frozen=True)
class FileSources:
    """A data set read from its files on demand (CIFAR binary files, an image folder).

    Attributes:
      train: the training set's source (``len``, ``read``, ``decode``).
      test: the test set's source.
      num_classes: number of classes.
      input_shape: one image's shape (h, w, c).
    """

    train: Any
    test: Any
    num_classes: int
    input_shape: tuple[int, ...]

    @property
    def train_bytes(self) -> int:
        """The training set's size in memory as ``jaxdl.data.load`` gives it: float32 images
        and int32 labels."""
        return len(self.train) * (int(np.prod(self.input_shape)) + 1) * 4


def file_sources(cfg) -> FileSources | None:
    """``config.data``'s training and test sets as sources read on demand, for the readers that
    can (``cifar10``, ``cifar100``, ``image_folder``); None for the others and for a
    ``data.train_size`` subset, which load into memory (``jaxdl.data.load``).

    Raises:
      ValueError / FileNotFoundError: the readers' one-line errors (files missing, truncated,
        labels outside the release, class folders without images, ...).
    """
    from jaxdl.data import cifar, image_folder  # pylint: disable=g-import-not-at-top

    if cfg.get("train_size", 0):
        return None
    if cfg.name in cifar.LAYOUTS:
        train, test = cifar.sources(
            cfg.get("path", ""), cfg.name, cfg.get("cifar100_labels", "fine")
        )
        return FileSources(train, test, train.num_classes, cifar.IMAGE_SHAPE)
    if cfg.name == "image_folder":
        train, test, classes = image_folder.sources(
            cfg.get("path", ""),
            cfg.get("image_size", 32),
            cfg.get("test_fraction", 0.2),
            cfg.get("split_seed", 0),
        )
        return FileSources(train, test, len(classes), (*train.size, 3))
    return None


def train_source(cfg) -> Any:
    """The streaming source of ``config.data``'s training set: CIFAR records or image files read
    on demand, else the loaded arrays (:class:`ArrayRecords`)."""
    from jaxdl import data as data_lib  # pylint: disable=g-import-not-at-top
    from jaxdl.data import cifar, image_folder  # pylint: disable=g-import-not-at-top

    if cfg.name in cifar.LAYOUTS:
        return cifar.sources(cfg.get("path", ""), cfg.name, cfg.get("cifar100_labels", "fine"))[0]
    if cfg.name == "image_folder":
        return image_folder.sources(
            cfg.get("path", ""),
            cfg.get("image_size", 32),
            cfg.get("test_fraction", 0.2),
            cfg.get("split_seed", 0),
        )[0]
    return ArrayRecords(data_lib.load(cfg).train)
