"""The image-folder reader on PNG and JPEG files written here, its split, resize and errors."""

import os
import pickle

import ml_collections
import numpy as np
from PIL import Image
import pytest

from jaxdl import data
from jaxdl.data import image_folder


def _write(folder, name, pixels, fmt="PNG"):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    Image.fromarray(pixels).save(path, fmt)
    return path


def _pixels(seed, size=(8, 8)):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _cfg(path, **extra):
    return ml_collections.ConfigDict(
        {"name": "image_folder", "path": str(path), "image_size": 8, **extra}
    )


def test_train_and_test_folders_decode_exactly(tmp_path):
    pixels = {}
    for part, count in (("train", 3), ("test", 1)):
        for c, cls in enumerate(("cat", "dog")):
            for i in range(count):
                pixels[part, cls, i] = _pixels(100 * c + 10 * i + (part == "test"))
                _write(tmp_path / part / cls, f"{i}.png", pixels[part, cls, i])
    ds = data.load(_cfg(tmp_path))
    assert ds.num_classes == 2 and ds.name == tmp_path.name
    assert ds.train["x"].shape == (6, 8, 8, 3) and ds.train["x"].dtype == np.float32
    np.testing.assert_array_equal(ds.train["y"], [0, 0, 0, 1, 1, 1])  # classes in sorted order
    np.testing.assert_array_equal(np.round(ds.train["x"][4] * 255), pixels["train", "dog", 1])
    np.testing.assert_array_equal(np.round(ds.test["x"][1] * 255), pixels["test", "dog", 0])


def test_one_folder_is_split_stratified_and_images_are_resized(tmp_path):
    for c, cls in enumerate(("a", "b", "c")):
        for i in range(5):
            size = (12, 10) if i % 2 else (8, 8)
            fmt, ext = ("JPEG", "JPG") if i == 4 else ("PNG", "png")  # extensions of any case
            _write(tmp_path / cls, f"{i}.{ext}", _pixels(10 * c + i, size), fmt)
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    ds = data.load(_cfg(tmp_path, test_fraction=0.2, image_size=(6, 4)))
    assert ds.train["x"].shape == (12, 6, 4, 3) and ds.test["x"].shape == (3, 6, 4, 3)
    assert sorted(ds.test["y"].tolist()) == [0, 1, 2], "one test image per class"
    again = data.load(_cfg(tmp_path, test_fraction=0.2, image_size=(6, 4)))
    np.testing.assert_array_equal(ds.train["x"], again.train["x"])  # the fixed split
    other = data.load(_cfg(tmp_path, test_fraction=0.2, split_seed=1, image_size=(6, 4)))
    assert not np.array_equal(ds.test["x"], other.test["x"])


def test_records_decode_on_demand_and_pickle_small(tmp_path):
    expected = [_pixels(i) for i in range(4)]
    for i, p in enumerate(expected):
        _write(tmp_path / "train" / f"k{i % 2}", f"{i}.png", p)
        _write(tmp_path / "test" / f"k{i % 2}", f"{i}.png", p)
    train, test, classes = image_folder.sources(str(tmp_path), 8)
    assert classes == ["k0", "k1"] and len(train) == 4 and len(test) == 4
    clone = pickle.loads(pickle.dumps(train))
    batch = clone.decode(clone.read([3, 0]))
    np.testing.assert_array_equal(batch["x"], [expected[3], expected[0]])
    np.testing.assert_array_equal(batch["y"], [1, 0])


def test_to_npz_is_read_by_the_npz_loader(tmp_path):
    for i in range(4):
        _write(tmp_path / "photos" / f"k{i % 2}", f"{i}.png", _pixels(i))
    out = image_folder.to_npz(str(tmp_path / "photos"), str(tmp_path / "photos.npz"), 8, 0.5)
    direct = data.load(_cfg(tmp_path / "photos", test_fraction=0.5))
    converted = data.load(ml_collections.ConfigDict({"name": "npz", "path": out}))
    np.testing.assert_array_equal(converted.train["x"], direct.train["x"])
    np.testing.assert_array_equal(converted.test["y"], direct.test["y"])


def test_bad_folders_and_files_get_one_line_naming_them(tmp_path):
    def refused(path, pattern, error=ValueError):
        with pytest.raises(error, match=pattern) as err:
            data.load(_cfg(path))
        assert "\n" not in str(err.value)

    _write(tmp_path / "empty_class" / "a", "0.png", _pixels(0))
    os.makedirs(tmp_path / "empty_class" / "b")
    (tmp_path / "empty_class" / "b" / "readme.txt").write_text("x")
    refused(tmp_path / "empty_class", r"empty_class/b is a class folder with no images")

    for part, classes in (("train", ("a", "b", "c")), ("test", ("a", "b", "d"))):
        for cls in classes:
            _write(tmp_path / "differ" / part / cls, "0.png", _pixels(1))
    refused(tmp_path / "differ", "differ: only in train: c; only in test: d")

    _write(tmp_path / "bad" / "a", "0.png", _pixels(2))
    (tmp_path / "bad" / "a" / "1.png").write_bytes(b"this is no png")
    good = _write(tmp_path / "bad" / "b", "0.png", _pixels(3))
    refused(tmp_path / "bad", r"bad/a/1.png is not a readable image: cannot identify")
    os.remove(tmp_path / "bad" / "a" / "1.png")
    raw = open(good, "rb").read()
    (tmp_path / "bad" / "b" / "1.png").write_bytes(raw[: len(raw) // 2])  # a truncated file
    refused(tmp_path / "bad", r"bad/b/1.png is not a readable image: image file is truncated")

    _write(tmp_path / "half" / "train" / "a", "0.png", _pixels(4))
    refused(tmp_path / "half", "half/train exists but .*half/test does not")
    refused(tmp_path / "missing", "image folder not found", FileNotFoundError)
    os.makedirs(tmp_path / "flat")
    _write(tmp_path / "flat", "0.png", _pixels(5))
    refused(tmp_path / "flat", "flat has no class folders")
    with pytest.raises(ValueError, match=r"data.image_size=0 must be a positive int"):
        data.load(_cfg(tmp_path / "differ", image_size=0))


def test_a_folder_over_the_limit_streams_the_same_with_zero_and_one_worker(tmp_path):
    # the classify task on a PNG folder over train.device_data_limit_mb: the files are read,
    # decoded and augmented in the grain pipeline, in this process or in a worker process, and
    # both give the same parameters and metrics, bit for bit
    import jax

    from jaxdl import tasks
    from jaxdl.train import checkpoint
    from tests.configs import tiny

    for part, count in (("train", 8), ("test", 3)):
        for c, cls in enumerate(("ant", "bee", "cow")):
            for i in range(count):
                pixel = _pixels(100 * c + 10 * i + (part == "test"), (12, 12))
                _write(tmp_path / "data" / part / cls, f"{i}.png", pixel)
    fields = {"data.name": "image_folder", "data.path": str(tmp_path / "data")}
    fields.update({"data.image_size": 8, "data.augment": "crop_flip", "data.crop_padding": 2})
    fields.update({"train.device_data_limit_mb": 0, "train.batch_size": 8, "train.steps": 12})
    fields.update({"train.log_every": 6, "train.eval_every": 12, "checkpoint.every_steps": 6})
    results, params = {}, {}
    for workers in (0, 1):
        config = tiny("digits_mlp", **fields, **{"train.data_workers": workers})
        workdir = str(tmp_path / f"workers_{workers}")
        results[workers] = tasks.run(config, workdir)
        assert os.listdir(os.path.join(workdir, "checkpoints", "12", "data")), "streamed"
        state = checkpoint.restore(workdir)
        assert int(state.step) == 12
        params[workers] = [np.asarray(x) for x in jax.tree.leaves(state.params)]
    m = results[0]["metrics"]
    assert np.isfinite(m["train_loss"]) and np.isfinite(m["test_loss"])
    assert 0.0 <= m["test_accuracy"] <= 1.0
    assert results[1]["metrics"] == m
    for x, y in zip(params[0], params[1]):
        np.testing.assert_array_equal(x, y)
