"""The domain pair (optdigits form), DANN's network and model selection, and TCA's mu curve."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import domains
from jaxdl.tasks import domain_adapt, tca
from jaxdl.transfer import dann
from tests.configs import load_config, tiny


def test_optdigits_form_counts_set_pixels_of_the_scaled_bounding_box():
    square = np.zeros((28, 28), np.float32)
    square[4:24, 6:26] = 1.0  # 20x20: the bounding box fills the 32x32 frame
    bar = np.zeros((28, 28), np.float32)
    bar[10:20, 2:22] = 0.9  # 10 tall, 20 wide: scaled to 16x32, centred in rows 8..23
    out = domains.optdigits_form(np.stack([square, bar, np.zeros((28, 28), np.float32)]))
    assert out.shape == (3, 8, 8) and out.dtype == np.float32
    # UCI optdigits: each 8x8 level counts the set pixels of a 4x4 block of the 32x32 bitmap
    np.testing.assert_array_equal(out[0], np.full((8, 8), 16.0))
    expected_bar = np.zeros((8, 8), np.float32)
    expected_bar[2:6] = 16.0
    np.testing.assert_array_equal(out[1], expected_bar)
    np.testing.assert_array_equal(out[2], 0.0)  # an empty image stays empty


def test_optdigits_form_keeps_grey_levels_below_the_threshold_unset():
    img = np.zeros((28, 28), np.float32)
    img[4:24, 4:24] = 0.4
    img[4:24, 4:14] = 0.8  # only the left half is above 0.5: bounding box 20 tall, 10 wide
    out = domains.optdigits_form(img[None])[0]
    # a 32x16 box centred in columns 8..23, i.e. block columns 2..5: 32 * 16 set pixels
    assert out.sum() == 32 * 16, out
    np.testing.assert_array_equal(out[:, 2:6], 16.0)


def test_dann_network_is_the_papers_mnist_architecture_at_8x8():
    model = dann.DANN(
        num_classes=10,
        conv_features=(32, 48),
        feature_hidden=(),
        label_hidden=(100, 100),
        domain_hidden=(100,),
    )
    x = jnp.zeros((3, 8, 8, 1))
    variables = model.init(jax.random.key(0), x, 0.0)
    shapes = jax.tree.map(lambda a: a.shape, variables["params"])
    # Ganin et al. 2016, Fig. 4a: conv 5x5 32, pool, conv 5x5 48, pool; FC100-FC100-10; FC100-1
    assert shapes["features"]["conv_0"]["kernel"] == (5, 5, 1, 32)
    assert shapes["features"]["conv_1"]["kernel"] == (5, 5, 32, 48)
    assert shapes["label"]["dense_0"]["kernel"] == (2 * 2 * 48, 100)  # 8 -> 4 -> 2 after pooling
    assert shapes["label"]["dense_1"]["kernel"] == (100, 100)
    assert shapes["label"]["head"]["kernel"] == (100, 10)
    assert shapes["domain"]["dense_0"]["kernel"] == (192, 100)
    assert shapes["domain"]["head"]["kernel"] == (100, 1)
    class_logits, domain_logits = model.apply(variables, x, 0.5)
    assert class_logits.shape == (3, 10) and domain_logits.shape == (3,)


def test_default_config_is_the_registered_pair_with_the_papers_network():
    config = load_config("domain_adaptation", None)
    assert tuple(config.data.pairs) == ("optmnist>digits", "digits>optmnist")
    assert config.data.size == 8 and tuple(config.model.conv_features) == (32, 48)
    assert len(config.sweep.seed) >= 3 and len(config.sweep.transfer.lambda_max) > 1
    assert tuple(load_config("tca_domains", None).transfer.tca_mus) == (0.01, 0.1, 1.0, 10.0, 100.0)


def test_target_splits_are_disjoint_and_the_validation_size_is_checked():
    config = tiny("domain_adaptation")
    data = domain_adapt.pair_data(config, "digits>digits_rot90")
    sizes = {k: len(v["y"]) for k, v in data.items()}
    assert sizes == {"source": 1797, "target_train": 1338, "target_val": 100, "target_test": 359}
    keys = {
        k: {x.tobytes() for x in data[k]["x"]}
        for k in ("target_train", "target_val", "target_test")
    }
    assert not keys["target_val"] & keys["target_test"]
    assert not keys["target_val"] & keys["target_train"]
    with pytest.raises(ValueError, match="data.target_val_size=900 for digits>digits_rot90"):
        domain_adapt.pair_data(
            tiny("domain_adaptation", **{"data.target_val_size": 900}), "digits>digits_rot90"
        )


def test_runs_to_train_drops_the_lambda_duplicates_of_the_other_methods():
    config = load_config("domain_adaptation", None)
    runs = domain_adapt.runs_to_train(config)
    lambdas, seeds = tuple(config.sweep.transfer.lambda_max), tuple(config.sweep.seed)
    assert len(runs) == len(seeds) * (2 + len(lambdas))
    dann_runs = [o for o in runs if o["transfer.method"] == 1]
    assert sorted({o["transfer.lambda_max"] for o in dann_runs}) == sorted(lambdas)


def test_domain_adaptation_selects_lambda_on_validation_and_reports_that_run(tmp_path):
    config = load_config("domain_adaptation")
    result = domain_adapt.run(config, str(tmp_path))
    acc = {g["method"]: g["target_accuracy_mean"] for g in result["groups"]}
    assert set(acc) == {
        "source_only",
        "dann",
        "train_on_target",
        "raw_1nn",
        "raw_linear",
        "tca_linear_1nn",
        "tca_linear_linear",
    }, acc
    # digits -> rotated digits: labels of the target itself must beat the source-trained model
    assert acc["train_on_target"] > acc["source_only"] + 0.1, acc
    # one run per method and lambda_max: source-only and train-on-target are not repeated
    assert len(result["runs"]) == 4
    (sel,) = result["selection"]
    lambdas = tuple(config.sweep.transfer.lambda_max)
    vals = [sel[f"val_accuracy@{lam:g}"] for lam in lambdas]
    assert sel["selected_lambda_max"] == lambdas[int(np.argmax(vals))]  # first maximum
    chosen = [
        r
        for r in result["runs"]
        if r["transfer.method"] == 1 and r["transfer.lambda_max"] == sel["selected_lambda_max"]
    ]
    assert acc["dann"] == pytest.approx(chosen[0]["metrics"]["test_accuracy"])
    for name in ("accuracy.png", "features_digits_to_digits_rot90.png", "table.txt"):
        assert os.path.getsize(tmp_path / name) > 0, name
    assert "selected_lambda_max" in (tmp_path / "table.txt").read_text()


def test_tca_task_prints_the_mu_curve_at_the_reported_dimension(tmp_path):
    config = load_config("tca_domains")
    result = tca.run(config, str(tmp_path))
    mus = sorted(set(config.transfer.tca_mus) | {config.transfer.tca_mu})
    at_dim = [
        g
        for g in result["groups"]
        if g["kernel"] != tca.RAW and g["dim"] == config.transfer.tca_dim
    ]
    assert sorted({g["mu"] for g in at_dim}) == mus
    assert all(np.isfinite(g["target_accuracy_mean"]) and g["runs"] == 2 for g in at_dim)
    table = (tmp_path / "table.txt").read_text()
    assert all(f" {mu:g} " in table or f" {mu} " in table for mu in mus), table
    assert os.path.getsize(tmp_path / "accuracy_vs_dim_and_mu.png") > 0
