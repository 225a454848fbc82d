"""Data loaders: digits split, IDX and npz user files and their errors."""

import gzip
import os
import struct

import numpy as np
import pytest

from jaxdl import data
from jaxdl.data import core, images


def write_idx(path, array, compress=False):
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + body)


def test_digits_split_is_fixed_and_stratified():
    a, b = images.digits(), images.digits()
    np.testing.assert_array_equal(a.train["y"], b.train["y"])
    assert a.train["x"].shape[1:] == (8, 8, 1) and len(a.train["y"]) + len(a.test["y"]) == 1797
    counts = np.bincount(a.test["y"], minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37, counts


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 4, 5), dtype=np.uint8)
    ext = ".gz" if compress else ""
    write_idx(tmp_path / f"x{ext}", x, compress)
    np.testing.assert_array_equal(images.read_idx(str(tmp_path / f"x{ext}")), x)


def test_idx_dataset_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "tx", rng.integers(0, 256, (6, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "ty", rng.integers(0, 3, (6,), dtype=np.uint8))
    write_idx(tmp_path / "sy", rng.integers(0, 3, (5,), dtype=np.uint8))
    ds = images.idx_files(*(str(tmp_path / n) for n in ("tx", "ty", "tx", "ty")))
    assert ds.train["x"].shape == (6, 4, 4, 1) and ds.train["x"].max() <= 1.0
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        images.idx_files(*(str(tmp_path / n) for n in ("tx", "sy", "tx", "ty")))
    raw = (tmp_path / "tx").read_bytes()
    (tmp_path / "cut").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        images.read_idx(str(tmp_path / "cut"))
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        images.read_idx(str(tmp_path / "junk"))
    with pytest.raises(FileNotFoundError):
        images.read_idx(str(tmp_path / "missing"))


def test_npz_loader(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz", x=rng.uniform(size=(50, 3)).astype(np.float32), y=rng.integers(0, 2, 50)
    )
    ds = images.npz_file(str(tmp_path / "d.npz"))
    assert len(ds.train["y"]) + len(ds.test["y"]) == 50 and ds.num_classes == 2
    np.savez(tmp_path / "bad.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="expected x_train"):
        images.npz_file(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match="data: x in .* holds Python objects"):
        images.npz_file(str(tmp_path / "obj.npz"))
    for name, arrays, match in (
        (
            "floaty.npz",
            dict(x=np.zeros((4, 2)), y=[0.5, 1.0, 0.0, 2.0]),
            r"data: y has 1 non-integer label \(first at index 0: 0.5\)",
        ),
        (
            "negative.npz",
            dict(x=np.zeros((4, 2)), y=[0, -1, 1, 1]),
            r"data: y has 1 negative label \(first at index 1: -1\)",
        ),
        (
            "short.npz",
            dict(x=np.zeros((10, 2)), y=np.arange(7)),
            "x has 10 examples but y has 7 labels",
        ),
        (
            "split.npz",
            dict(x_train=np.zeros((3, 2)), y_train=[0, 1], x_test=np.zeros((2, 2)), y_test=[0, 1]),
            "x_train has 3 examples but y_train has 2",
        ),
    ):
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(ValueError, match=match):
            images.npz_file(str(tmp_path / name))
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="is not a NumPy .npz archive"):
        images.npz_file(str(tmp_path / "text.npz"))
    np.savez(
        tmp_path / "whole.npz", x=np.zeros((6, 2)), y=[0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    )  # integral floats are labels
    assert images.npz_file(str(tmp_path / "whole.npz"), test_fraction=0.5).num_classes == 3


def test_unknown_data_set_lists_choices():
    import ml_collections

    with pytest.raises(ValueError, match="choose one of .*digits"):
        data.load(ml_collections.ConfigDict({"name": "imagenet"}))


def test_idx_directory_in_mnist_layout(tmp_path):
    rng = np.random.default_rng(0)
    for base, shape in zip(images.IDX_NAMES, [(8, 5, 5), (8,), (4, 5, 5), (4,)]):
        array = rng.integers(0, 10 if len(shape) == 1 else 256, shape, dtype=np.uint8)
        write_idx(tmp_path / (base + ".gz"), array, compress=True)
    ds = images.idx_directory(str(tmp_path))
    assert ds.train["x"].shape == (8, 5, 5, 1) and ds.test["y"].shape == (4,)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        images.idx_directory(str(tmp_path))


def test_bad_values_are_named_with_count_and_first_index():
    x = np.zeros((20, 5, 6, 1), np.float32)
    x[12, 3, 4, 0], x[15, 0, 0, 0] = np.nan, np.inf
    with pytest.raises(ValueError) as err:
        core.check_features("x", x)
    assert str(err.value) == (
        "data: x has 2 NaN/Inf values (first at index (12, 3, 4, 0)); "
        "clean the file or drop those rows"
    )
    for bad, match in (
        (np.array(["a", "b"]), "data: x has dtype <U1; features must be numbers"),
        (np.zeros(2, complex), "data: x has dtype complex128"),
    ):
        with pytest.raises(ValueError, match=match):
            core.check_features("x", bad)
    np.testing.assert_array_equal(core.check_labels("y", [0.0, 2.0, 1.0]), [0, 2, 1])
    for y, num_classes, match in (
        ([0.0, np.nan], 0, r"data: y has 1 NaN/Inf value \(first at index 1\)"),
        ([0.0, 1.5, 2.5], 0, r"data: y has 2 non-integer labels \(first at index 1: 1.5\)"),
        ([0, 3, 1, 4], 3, r"data: y has 2 labels outside 0..2 \(first at index 1: 3\)"),
        (["a", "b"], 0, "data: y has shape .* and dtype <U1; class labels are a 1-D array"),
        (np.zeros((3, 2), int), 0, r"data: y has shape \(3, 2\)"),
    ):
        with pytest.raises(ValueError, match=match):
            core.check_labels("y", y, num_classes)
    ds = data.Dataset(
        {"x": np.zeros((3, 2)), "y": np.array([0, 1, 2])},
        {"x": np.zeros((2, 2)), "y": np.array([1, 0])},
        num_classes=2,
    )
    with pytest.raises(
        ValueError, match=r"data: train y has 1 label outside 0..1 \(first at index"
    ):
        core.check_dataset(ds)


def test_idx_files_with_bad_values_are_refused(tmp_path):
    write_idx(tmp_path / "tx", np.zeros((4, 3, 3), np.uint8))
    write_idx(tmp_path / "ty", np.array([0, 1, -2, 1], np.int32))
    with pytest.raises(ValueError, match=r"data: ty has 1 negative label \(first at index 2: -2\)"):
        images.idx_files(*(str(tmp_path / n) for n in ("tx", "ty", "tx", "ty")))


def _nan_npz(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16).astype(np.float32)[..., None]
    x[12, 3, 4, 0] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, x=x, y=digits.target)
    return path


def test_bad_data_is_refused_before_the_workdir_is_touched(tmp_path):
    from jaxdl import tasks
    from tests.configs import tiny

    path = _nan_npz(tmp_path)
    config = tiny("digits_mlp", **{"data.name": "npz", "data.path": str(path)})
    with pytest.raises(ValueError, match=r"data: x has 1 NaN/Inf value \(first at index \(12, 3"):
        tasks.run(config, str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "notes.txt").write_text("mine")
    config.sweep.seed = (0, 1)
    with pytest.raises(ValueError, match="data: x has 1 NaN/Inf value"):
        tasks.run(config, str(tmp_path / "old"))
    assert os.listdir(tmp_path / "old") == ["notes.txt"]


def test_launch_names_the_bad_value_in_one_line(tmp_path):
    from tests.test_launch import launch

    path = _nan_npz(tmp_path)
    code, out, err = launch(
        "--config=experiments/digits_mlp.py:tiny",
        "--config.data.name=npz",
        f"--config.data.path={path}",
        f"--workdir={tmp_path / 'w'}",
    )
    assert code == 2 and "Traceback" not in err, err[-2000:]
    assert err.splitlines()[-1] == (
        "error: data: x has 1 NaN/Inf value (first at index (12, 3, 4, 0)); "
        "clean the file or drop those rows"
    )
    assert not (tmp_path / "w").exists()


def test_sunspots_csv_with_a_nan_is_refused_before_the_workdir_is_touched(tmp_path):
    from jaxdl import tasks
    from tests.configs import tiny

    rows = "\n".join(f"{1700 + i},{'nan' if i == 7 else i % 11}" for i in range(60))
    (tmp_path / "spots.csv").write_text('"YEAR","SUNACTIVITY"\n' + rows + "\n")
    config = tiny(
        "sunspots_forecast",
        **{"data.source": "real", "data.path": str(tmp_path / "spots.csv"), "data.test_years": 10},
    )
    (tmp_path / "w").mkdir()
    with pytest.raises(ValueError) as info:
        tasks.run(config, str(tmp_path / "w"))
    assert str(info.value) == (
        "data: spots.csv SUNACTIVITY has 1 NaN/Inf value (first at index 7); "
        "clean the file or drop those rows"
    )
    assert os.listdir(tmp_path / "w") == []


def test_task_readers_name_the_array_count_and_first_index(tmp_path):
    from jaxdl.data import japanese_vowels

    header = "@problemName JapaneseVowels\n@data\n"
    case = "1.0,2.0:3.0,4.0"
    (tmp_path / "JapaneseVowels_TRAIN.ts").write_text(
        header + f"{case}:1\n1.0,nan:3.0,4.0:2\n{case}:12\n{case}:x\n"
    )
    with pytest.raises(ValueError, match=r"^data: JapaneseVowels_TRAIN.ts x has 1 NaN/Inf value "):
        japanese_vowels.load_japanese_vowels("train", str(tmp_path))
    (tmp_path / "JapaneseVowels_TRAIN.ts").write_text(header + f"{case}:1\n{case}:12\n{case}:x\n")
    with pytest.raises(ValueError) as info:
        japanese_vowels.load_japanese_vowels("train", str(tmp_path))
    assert str(info.value) == (
        "data: JapaneseVowels_TRAIN.ts labels has 2 label(s) outside the speakers 1..9 "
        "(first at index 1: '12')"
    )
