"""The grain streaming pipeline: order from the seed, exact resume from the iterator state (also
through an Orbax checkpoint), the same batches with 0, 1 or 2 worker processes and any number of
JAX processes, and the host augmentation."""

import json

import grain
import numpy as np
import orbax.checkpoint as ocp
from PIL import Image
import pytest

from jaxdl.data import cifar, image_folder, pipeline


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    cifar.write_random(str(folder), num_train=96, num_test=8, seed=1)
    return cifar.sources(str(folder), "cifar10")[0]


def _take(ds, count, state=None):
    iterator = iter(ds)
    if state is not None:
        iterator.set_state(state)
    out = [next(iterator) for _ in range(count)]
    state = iterator.get_state()
    if hasattr(iterator, "close"):
        iterator.close()
    return [{k: np.array(v) for k, v in b.items()} for b in out], state


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["x"], y["x"])
        np.testing.assert_array_equal(x["y"], y["y"])


def _batches(source, **kw):
    args = dict(batch_size=16, num_steps=20, seed=7, augment="crop_flip", shard=(0, 1))
    return pipeline.batches(source, **{**args, **kw})


def test_order_is_a_pure_function_of_the_seed_and_epoch(records):
    plain = _batches(records, augment="none")
    first, _ = _take(plain, 12)
    again, _ = _take(_batches(records, augment="none"), 12)
    _same(first, again)
    other, _ = _take(_batches(records, augment="none", seed=8), 12)
    assert not np.array_equal(first[0]["y"], other[0]["y"])
    everything = records.decode(records.read(np.arange(len(records))))
    per_epoch = len(records) // 16  # 6 steps: every example exactly once per epoch
    for epoch in range(2):
        xs = np.concatenate([b["x"] for b in first[epoch * per_epoch : (epoch + 1) * per_epoch]])
        found = sorted(
            int(np.flatnonzero((everything["x"] == np.round(x * 255)).all(axis=(1, 2, 3)))[0])
            for x in xs
        )
        assert found == list(range(len(records))), epoch
    assert not np.array_equal(first[0]["x"], first[per_epoch]["x"]), "each epoch reshuffled"
    assert first[0]["x"].dtype == np.float32 and first[0]["y"].dtype == np.int32


def test_state_restores_the_exact_following_batches(records):
    for workers in (0, 1):
        ds = _batches(records, worker_count=workers)
        uninterrupted, _ = _take(ds, 9)
        _, state = _take(ds, 4)
        state = json.loads(json.dumps(state))  # what a checkpoint stores
        resumed, _ = _take(_batches(records, worker_count=workers), 5, state)
        _same(resumed, uninterrupted[4:])


def test_state_round_trips_through_an_orbax_checkpoint(records, tmp_path):
    ds = _batches(records)
    uninterrupted, _ = _take(ds, 6)
    iterator = iter(ds)
    for _ in range(2):
        next(iterator)
    with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
        manager.save(2, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(iterator)))
        manager.wait_until_finished()
    fresh = iter(_batches(records))
    with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
        manager.restore(2, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(fresh)))
    _same([next(fresh) for _ in range(4)], uninterrupted[2:])


def test_zero_one_and_two_workers_give_the_same_batches(records, tmp_path):
    expected, _ = _take(_batches(records, worker_count=0), 8)
    for workers in (1, 2):
        got, _ = _take(_batches(records, worker_count=workers), 8)
        _same(got, expected)
    for i in range(6):  # an image folder decoded by Pillow in the workers
        pixels = np.random.default_rng(i).integers(0, 256, (6, 5, 3), dtype=np.uint8)
        (tmp_path / "images" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / "images" / f"c{i % 2}" / f"{i}.png")
    files, labels = image_folder.scan(str(tmp_path / "images"), 0.5)[0]
    folder = image_folder.ImageFolderRecords(files, labels, (4, 4))
    args = dict(batch_size=2, num_steps=4, crop_padding=1)
    expected, _ = _take(_batches(folder, **args), 4)
    got, _ = _take(_batches(folder, worker_count=2, **args), 4)
    _same(got, expected)


def test_each_process_reads_its_rows_of_the_global_batch(records):
    whole, _ = _take(_batches(records), 7)
    parts = [_take(_batches(records, shard=(p, 4)), 7)[0] for p in range(4)]
    for step, batch in enumerate(whole):
        for key in ("x", "y"):
            np.testing.assert_array_equal(
                np.concatenate([part[step][key] for part in parts]), batch[key]
            )


def test_host_crop_and_flip_follow_the_device_augmentation():
    x = np.arange(2 * 3 * 4 * 1, dtype=np.uint8).reshape(2, 3, 4, 1) + 1
    out = pipeline.crop_flip(x, np.array([[0, 0], [2, 1]]), np.array([False, True]), 1)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    np.testing.assert_array_equal(out[0], padded[0, 0:3, 0:4])
    np.testing.assert_array_equal(out[1], padded[1, 2:5, 1:5][:, ::-1])
    unchanged = pipeline.crop_flip(x, np.zeros((2, 2), int), np.zeros(2, bool), 0)
    np.testing.assert_array_equal(unchanged, x)


def test_arrays_stream_too_and_bad_arguments_get_one_line():
    arrays = {"x": np.arange(40, dtype=np.float32).reshape(10, 2, 2, 1), "y": np.arange(10)}
    batches, _ = _take(_batches(pipeline.ArrayRecords(arrays), batch_size=5, augment="none"), 4)
    np.testing.assert_array_equal(batches[0]["x"][:, 0, 0, 0] / 4, batches[0]["y"])
    assert sorted(np.concatenate([b["y"] for b in batches[:2]])) == list(range(10))
    source = pipeline.ArrayRecords(arrays)
    with pytest.raises(ValueError, match="batch_size=6 must be a multiple of the 4 processes"):
        _batches(source, batch_size=6, shard=(0, 4))
    with pytest.raises(ValueError, match="batch_size=11 must be in 1..10"):
        _batches(source, batch_size=11)
    with pytest.raises(ValueError, match="unknown data.augment 'mixup'"):
        _batches(source, batch_size=5, augment="mixup")
