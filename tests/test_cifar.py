"""CIFAR-10 / CIFAR-100 binary readers on small files written here, and their one-line errors."""

import os
import pickle

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxdl import data, models
from jaxdl.data import cifar
from jaxdl.tasks import classify
from jaxdl.train import optim
from jaxdl.train.loop import total_steps
from tests.configs import load_config, tiny


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def _cfg(name, path, **extra):
    return ml_collections.ConfigDict({"name": name, "path": str(path), **extra})


def test_cifar10_binary_round_trip(tmp_path):
    x, xt = _images(10, 0), _images(4, 1)
    y, yt = np.arange(10) % 10, np.array([3, 1, 4, 1])
    folder = cifar.write(str(tmp_path), "cifar10", (x, y), (xt, yt))
    # the release's record layout: label byte, then the red, green and blue planes, rows of 32
    raw = np.fromfile(os.path.join(folder, "data_batch_1.bin"), np.uint8)
    assert raw.size == 2 * 3073 and raw[0] == 0 and raw[1 + 1024 + 33] == x[0, 1, 1, 1]
    for path in (tmp_path, folder):  # the parent folder or the release folder
        ds = data.load(_cfg("cifar10", path))
        assert ds.num_classes == 10 and ds.train["x"].dtype == np.float32
        np.testing.assert_array_equal(np.round(ds.train["x"] * 255.0), x)
        np.testing.assert_array_equal(ds.train["y"], y)
        np.testing.assert_array_equal(np.round(ds.test["x"] * 255.0), xt)
        np.testing.assert_array_equal(ds.test["y"], yt)


def test_cifar100_fine_and_coarse_labels(tmp_path):
    x, fine = _images(6, 2), np.array([0, 99, 50, 7, 12, 64])
    cifar.write(str(tmp_path), "cifar100", (x, fine), (x[:2], fine[:2]))
    ds = data.load(_cfg("cifar100", tmp_path))
    assert ds.num_classes == 100
    np.testing.assert_array_equal(ds.train["y"], fine)
    coarse = data.load(_cfg("cifar100", tmp_path, cifar100_labels="coarse"))
    assert coarse.num_classes == 20
    np.testing.assert_array_equal(coarse.train["y"], fine // 5)
    with pytest.raises(ValueError, match="cifar100_labels='both'; choose one of fine, coarse"):
        data.load(_cfg("cifar100", tmp_path, cifar100_labels="both"))


def test_records_read_single_and_gathered_examples(tmp_path):
    x, y = _images(15, 3), np.arange(15) % 10
    cifar.write(str(tmp_path), "cifar10", (x, y), (x[:5], y[:5]))
    train, test = cifar.sources(str(tmp_path), "cifar10")
    assert len(train) == 15 and len(test) == 5
    idx = np.array([14, 0, 7, 3, 3])  # across the five batch files, in any order
    decoded = train.decode(train.read(idx))
    np.testing.assert_array_equal(decoded["x"], x[idx])
    np.testing.assert_array_equal(decoded["y"], y[idx])
    np.testing.assert_array_equal(train.decode([train[i] for i in idx])["x"], x[idx])
    clone = pickle.loads(pickle.dumps(train))  # as grain's worker processes receive it
    np.testing.assert_array_equal(clone.decode(clone.read(idx))["y"], y[idx])
    assert len(pickle.dumps(train)) < 2000, "the memory maps must not be pickled"


def test_truncated_record_names_the_file(tmp_path):
    folder = cifar.write(
        str(tmp_path), "cifar10", (_images(5, 0), np.zeros(5)), (_images(1, 1), [0])
    )
    path = os.path.join(folder, "data_batch_3.bin")
    with open(path, "ab") as f:
        f.write(b"\0" * 100)
    with pytest.raises(ValueError, match=r"data_batch_3.bin is truncated: 3173 bytes .* 100 bytes"):
        data.load(_cfg("cifar10", tmp_path))


def test_label_outside_the_release_names_the_file_and_record(tmp_path):
    labels = np.array([1, 2, 3, 200, 4, 5, 6, 7, 8, 9])  # byte 200: not a CIFAR-10 label
    cifar.write(str(tmp_path), "cifar10", (_images(10, 0), labels), (_images(1, 1), [0]))
    with pytest.raises(ValueError, match=r"data_batch_2.bin: record 1 has label 200, outside 0..9"):
        data.load(_cfg("cifar10", tmp_path))


def test_python_version_missing_files_and_archives_get_one_line(tmp_path):
    pickled = tmp_path / "cifar-10-batches-py"
    pickled.mkdir()
    for name in ("data_batch_1", "batches.meta", "test_batch"):
        (pickled / name).write_bytes(b"\x80")
    for path in (tmp_path, pickled):
        with pytest.raises(ValueError, match="pickled python version of CIFAR-10") as err:
            data.load(_cfg("cifar10", path))
        assert "\n" not in str(err.value) and "binary version" in str(err.value)
    with pytest.raises(FileNotFoundError, match="CIFAR-100 binary files .* not found"):
        data.load(_cfg("cifar100", tmp_path / "nothing"))
    with pytest.raises(ValueError, match="extract it first"):
        data.load(_cfg("cifar10", tmp_path / "cifar-10-binary.tar.gz"))
    with pytest.raises(ValueError, match="needs data.path"):
        data.load(_cfg("cifar10", ""))


# ---------------------------------------------------------------- the CIFAR experiments (:tiny)


@pytest.mark.parametrize("name", ["resnet20_cifar", "wrn_cifar"])
def test_cifar_experiments_tiny_on_generated_binary_files(tmp_path, name):
    cifar.write_random(str(tmp_path / "data"), num_train=64, num_test=16)
    results = classify.run(tiny(name, **{"data.path": str(tmp_path / "data")}), str(tmp_path / "w"))
    m = results["metrics"]
    assert np.isfinite(m["train_loss"]) and np.isfinite(m["test_loss"])
    assert 0.0 <= m["test_accuracy"] <= 1.0


def test_cifar_experiments_are_the_papers_recipes():
    for name, count, decay, drops in (
        ("resnet20_cifar", 269_722, 1e-4, {32_000: 0.1, 48_000: 0.01}),
        ("wrn_cifar", 36_479_194, 5e-4, {60 * 390: 0.2, 120 * 390: 0.04, 160 * 390: 0.008}),
    ):
        c = load_config(name, None)
        model = models.get(c.model.name, num_classes=10, **classify.model_kwargs(c))
        variables = jax.eval_shape(
            lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
        )
        # He et al. 2016 Table 6: 0.27M; Zagoruyko & Komodakis 2016 Table 1: 36.5M
        assert models.param_count(variables) == count, name
        assert (c.opt.lr, c.opt.momentum, c.opt.weight_decay) == (0.1, 0.9, decay)
        assert (c.data.augment, c.data.crop_padding, c.train.batch_size) == ("crop_flip", 4, 128)
        steps = total_steps(c.train, 50_000)
        assert steps == {"resnet20_cifar": 64_000, "wrn_cifar": 200 * 390}[name]
        shape, previous = optim.schedule_shape(c.opt, steps), 1.0
        for step, scale in drops.items():  # the rate drops at the papers' iterations
            assert float(shape(step - 1)) == pytest.approx(previous), (name, step)
            assert float(shape(step)) == pytest.approx(scale), (name, step)
            previous = scale


# ---------------------------------------------------------------- streaming from the files


def test_cifar_over_the_limit_streams_from_its_files_and_is_never_loaded_whole(
    tmp_path, monkeypatch
):
    from jaxdl import tasks
    from jaxdl.data import pipeline
    from jaxdl.train import loop

    cifar.write_random(str(tmp_path / "data"), num_train=64, num_test=24)
    fields = {"data.name": "cifar10", "data.path": str(tmp_path / "data")}
    fields.update({"data.augment": "crop_flip", "data.crop_padding": 4, "data.flip": True})
    config = tiny("digits_mlp", **fields, **{"model.dropout_rate": 0.0})
    in_memory = classify.make_problem(config)
    config.train.device_data_limit_mb = 0
    problem = classify.make_problem(config)
    assert isinstance(problem.train_source, cifar.CifarRecords) and not problem.train_data
    assert isinstance(problem.test_source, cifar.CifarRecords) and not problem.test_data
    assert problem.host_augment == ("crop_flip", 4, True) and loop.streams(problem, config.train)
    assert in_memory.train_source is None and in_memory.host_augment[0] == "none"
    # the streamed loss does not augment again on the device: it ignores the step's key
    params = in_memory.init(jax.random.key(0), {})["params"]
    batch = {k: jnp.asarray(v[:8]) for k, v in data.load(config.data).train.items()}
    losses = {
        name: [float(p.loss(params, {}, batch, jax.random.key(k), {})[0]) for k in (1, 2)]
        for name, p in (("streamed", problem), ("in memory", in_memory))
    }
    assert losses["streamed"][0] == losses["streamed"][1]
    assert losses["in memory"][0] != losses["in memory"][1]
    # the test set read in order from its files gives the in-memory metrics exactly
    from jaxdl.train import steps

    state = steps.init_state(problem, {"seed": jnp.asarray(0)})
    from_files = loop.evaluate(problem, state, problem.test_source, False, 10)
    from_arrays = loop.evaluate(problem, state, data.load(config.data).test, False, 10)
    assert from_files.keys() == from_arrays.keys() == {"loss", "accuracy"}
    for name in from_files:
        np.testing.assert_array_equal(from_files[name], from_arrays[name])
    # a whole run (preload included) without loading the set into memory
    monkeypatch.setattr(cifar, "load", lambda *a, **k: pytest.fail("CIFAR loaded whole"))
    results = tasks.run(config, str(tmp_path / "run"))
    assert 0.0 <= results["metrics"]["test_accuracy"] <= 1.0
    assert os.listdir(tmp_path / "run" / "checkpoints" / "40" / "data")
    assert pipeline.file_sources(ml_collections.ConfigDict({"name": "digits"})) is None
