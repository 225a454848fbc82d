"""Recurrent experiments end to end (:tiny): adding problem over lags, sunspots, JapaneseVowels,
gradient flow; lag-as-data exactness; sunspot persistence baseline; one resume."""

import json
import os
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import models
from jaxdl.tasks import exploding, gradient_flow, sequence
from jaxdl.train import report
from tests.configs import tiny

# ---------------------------------------------------------------- lag as data


def test_adding_inputs_follow_le_et_al_form():
    rng = np.random.default_rng(0)
    v, u = (
        rng.uniform(size=(64, 30)).astype(np.float32),
        rng.uniform(size=(64, 2)).astype(np.float32),
    )
    for lag in (2, 7, 30):
        x, lengths, y = jax.jit(sequence.adding_inputs)(v, u, jnp.int32(lag))
        marker = np.asarray(x[..., 1])
        # numpy reference of the construction: one marker in [0, lag//2), one in [lag//2, lag)
        first, second = (
            np.floor(u[:, 0] * (lag // 2)).astype(int),
            lag // 2 + np.floor(u[:, 1] * (lag - lag // 2)).astype(int),
        )
        expected = np.zeros_like(marker)
        expected[np.arange(64), first] = 1
        expected[np.arange(64), second] = 1
        np.testing.assert_array_equal(
            marker, expected, err_msg=f"markers of lag {lag} (numpy reference)"
        )
        np.testing.assert_allclose(
            y,
            v[np.arange(64), first] + v[np.arange(64), second],
            rtol=1e-6,
            err_msg="target = sum of the marked values",
        )
        assert np.all(np.asarray(lengths) == lag) and np.all(marker[:, lag:] == 0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padded_lag_equals_the_short_sequence(cell):
    # One program for every lag is only honest if a lag-L run inside max-length arrays computes
    # exactly the length-L problem: compare against the model run on the truncated sequence.
    rng = np.random.default_rng(1)
    v, u = rng.uniform(size=(8, 20)).astype(np.float32), rng.uniform(size=(8, 2)).astype(np.float32)
    model = models.get(f"{cell}_regressor", out_features=1, features=6)
    lag = 9
    x, lengths, _ = sequence.adding_inputs(jnp.asarray(v), jnp.asarray(u), lag)
    params = model.init(jax.random.key(0), x, lengths)
    padded = model.apply(params, x, lengths)
    short = model.apply(params, x[:, :lag])
    chex.assert_trees_all_close(padded, short, atol=1e-6, rtol=1e-6)


def test_bad_lag_and_data_name_raise_value_error():
    with pytest.raises(ValueError, match="data.lag values"):
        sequence.load_data(tiny("rnn_long_range", **{"sweep.data.lag": (4, 40)}))
    with pytest.raises(ValueError, match="accepted: adding, sunspots, japanese_vowels"):
        sequence.load_data(tiny("rnn_long_range", **{"data.name": "mnist"}))


def test_sunspot_persistence_baseline_is_last_year():
    config = tiny("sunspots_forecast")
    train, test, info = sequence.load_data(config)
    series = sequence.synthetic_sunspots(seed=config.data.split_seed)
    n = config.data.test_years
    # Independent of the windowing: persistence predicts s[t] by s[t-1] over the last n years.
    expected = np.sqrt(np.mean((series[-n:] - series[-n - 1 : -1]) ** 2))
    np.testing.assert_allclose(
        info["persistence_rmse"],
        expected,
        rtol=1e-5,
        err_msg="persistence RMSE from the raw series",
    )
    np.testing.assert_allclose(
        test["y"] * info["std"] + info["mean"], series[-n:], rtol=1e-4, atol=1e-3
    )
    assert train["x"].shape == (len(series) - config.data.window - n, config.data.window, 1)


# ---------------------------------------------------------------- experiments end to end


def test_rnn_long_range_tiny_selects_each_cells_lr_on_validation(tmp_path):
    config = tiny("rnn_long_range")
    results = sequence.run(config, str(tmp_path))
    sw = config.sweep
    cells, lags, lrs, seeds = sw.model.cell, sw.data.lag, sw.opt.lr, sw.seed
    runs = results["runs"]
    assert len(runs) == len(cells) * len(lags) * len(lrs) * len(seeds)
    for cell in cells:
        assert not os.path.exists(tmp_path / cell / "run_0"), "one vmapped program, not runs"
        with open(tmp_path / cell / "metrics.jsonl") as f:
            logged = {json.loads(line).get("run") for line in f}
        assert logged == set(range(len(runs) // len(cells))), f"{cell}: one program, got {logged}"
        mine = [r for r in runs if r["model.cell"] == cell]
        # the selection, recomputed from the runs' validation success alone (no test data)
        val = {
            lr: np.mean([r["metrics"]["val_success"] for r in mine if r["opt.lr"] == lr])
            for lr in lrs
        }
        best = [lr for lr in lrs if val[lr] == max(val.values())]
        assert results["metrics"][f"{cell}_selected_lr"] in best
        chosen = results["metrics"][f"{cell}_selected_lr"]
        for lag in lags:
            test = [
                r["metrics"]["test_success"]
                for r in mine
                if r["opt.lr"] == chosen and r["data.lag"] == lag
            ]
            assert len(test) == len(seeds)
            expected = {"mean": pytest.approx(np.mean(test)), "std": pytest.approx(np.std(test))}
            group = report.find_group(
                results["summary"], {"model.cell": cell, "data.lag": lag, "opt.lr": chosen}
            )
            assert group["n"] == len(seeds) and group["metrics"]["test_success"] == expected
            assert results["metrics"][f"{cell}_lag{lag}_test_success"] == expected["mean"]
    assert [(r["cell"], r["lag"]) for r in results["table"]] == [
        (c, l) for c in cells for l in lags
    ]
    assert (tmp_path / "success_vs_lag.png").exists()
    assert "learning-rate selection on the validation split" in (tmp_path / "table.txt").read_text()


def test_adding_validation_split_is_a_separate_draw():
    config = tiny("rnn_long_range")
    train, test, info = sequence.load_data(config)
    assert info["val"]["v"].shape == (config.data.num_val, config.data.max_lag)
    no_val = sequence.load_data(tiny("rnn_long_range", **{"data.num_val": 0}))
    np.testing.assert_array_equal(no_val[0]["v"], train["v"], err_msg="train set moved")
    np.testing.assert_array_equal(no_val[1]["v"], test["v"], err_msg="test set moved")
    assert no_val[2] == {}
    seen = np.concatenate([train["v"][:, 0], test["v"][:, 0]])
    assert not np.isin(info["val"]["v"][:, 0], seen).any()


def test_sunspots_tiny_reports_rmse_and_persistence(tmp_path):
    results = sequence.run(tiny("sunspots_forecast"), str(tmp_path))
    m = results["metrics"]
    assert np.isfinite(m["gru_test_rmse"]) and m["gru_test_rmse"] > 0
    # the mean of each seed's RMSE (not the square root of the mean MSE), with its spread
    rmse = [np.sqrt(r["metrics"]["test_mse"]) for r in results["runs"]]
    np.testing.assert_allclose(m["gru_test_rmse"], np.mean(rmse), rtol=1e-6)
    (group,) = results["summary"]
    assert group["hparams"] == {"model.cell": "gru"}
    np.testing.assert_allclose(group["metrics"]["test_rmse"]["std"], np.std(rmse), rtol=1e-6)
    assert results["table"][0]["test_rmse"] == pytest.approx(np.mean(rmse), rel=1e-6)
    assert results["table"][0]["test_rmse_std"] == pytest.approx(np.std(rmse), rel=1e-6)
    assert m["persistence_rmse"] > 0
    assert [r["cell"] for r in results["table"]] == ["gru", "persistence"]
    assert len(results["runs"]) == 2  # two seeds, one vmapped program
    assert (tmp_path / "test_rmse.png").exists()


def test_japanese_vowels_tiny_resumes_exactly(tmp_path):
    config = tiny("japanese_vowels")
    first = sequence.run(config, str(tmp_path))
    assert 0.0 <= first["metrics"]["lstm_test_accuracy"] <= 1.0
    assert (tmp_path / "test_accuracy.png").exists()
    ckpt = tmp_path / "lstm" / "checkpoints"
    steps = sorted(int(s) for s in os.listdir(ckpt) if s.isdigit())
    assert steps[-1] == config.train.steps and len(steps) >= 2
    shutil.rmtree(ckpt / str(steps[-1]))  # as if interrupted after the previous checkpoint
    second = sequence.run(config, str(tmp_path))
    for k, v in first["metrics"].items():
        np.testing.assert_allclose(
            second["metrics"][k], v, rtol=1e-5, err_msg=f"{k} after resuming from step {steps[-2]}"
        )


def test_japanese_vowels_missing_package_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sktime" else real(name, *a)
    )
    with pytest.raises(ModuleNotFoundError, match=r"\.\[seq\]"):
        sequence.load_data(tiny("japanese_vowels", **{"data.source": "real"}))


def test_gradient_flow_tiny_vanishes_for_the_vanilla_rnn(tmp_path):
    config = tiny("rnn_gradient_flow")
    results = gradient_flow.run(config, str(tmp_path))
    m = results["metrics"]
    # Bengio et al. (1994): with |tanh'| <= 1 and an orthogonal U the RNN's input gradient shrinks
    # with the lag.
    assert m["rnn_init_ratio_lag11"] < m["rnn_init_ratio_lag5"] < m["rnn_init_ratio_lag1"] <= 1.0
    # a sweep's results: one entry per seed, and the metrics are their means
    assert [r["seed"] for r in results["runs"]] == list(config.sweep.seed)
    mean = np.mean([r["metrics"]["rnn_init_ratio_lag5"] for r in results["runs"]])
    (group,) = results["summary"]
    assert group["hparams"] == {} and group["n"] == len(config.sweep.seed)
    assert group["metrics"]["rnn_init_ratio_lag5"]["mean"] == pytest.approx(mean)
    assert m["rnn_init_ratio_lag5"] == pytest.approx(mean)
    # A GRU whose b_z keeps the carry (z_t is the share replaced) passes more gradient back than
    # the zero-bias GRU, whose carry halves each step.
    assert m["gru_bz-2_init_ratio_lag11"] > 10 * m["gru_bz0_init_ratio_lag11"], m
    norms = np.load(tmp_path / "gradient_norms.npz")
    assert norms["lstm_init"].shape == (len(config.sweep.seed), config.data.max_lag)
    assert set(norms) == {"rnn_init", "lstm_init", "gru_bz0_init", "gru_bz-2_init"}
    assert np.all(np.isfinite(norms["rnn_init"])) and (tmp_path / "gradient_vs_lag.png").exists()


def test_gradient_flow_refuses_sweeps_other_than_seeds_and_cells(tmp_path):
    with pytest.raises(ValueError, match="cannot sweep opt.lr"):
        gradient_flow.run(tiny("rnn_gradient_flow", **{"sweep.opt.lr": (0.1, 0.01)}), str(tmp_path))


def test_gradient_flow_trained_metrics_have_each_seeds_value_and_std(tmp_path):
    config = tiny("rnn_gradient_flow", **{"train.steps": 10, "sweep.model.cell": ("rnn",)})
    results = gradient_flow.run(config, str(tmp_path))
    trained = [k for k in results["metrics"] if "_trained_test_" in k]
    assert "rnn_trained_test_mse" in trained
    for k in trained:  # each seed's trained metric, and a real std over them
        values = [r["metrics"][k] for r in results["runs"]]
        assert len(values) == len(config.sweep.seed), (k, values)
        assert k != "rnn_trained_test_mse" or values[0] != values[1], (
            "two seeds, two trained models"
        )
        assert results["summary"][0]["metrics"][k] == {
            "mean": pytest.approx(np.mean(values)),
            "std": pytest.approx(np.std(values)),
        }


def test_rnn_exploding_tiny_grows_with_the_spectral_radius_and_clipping_bounds_it(tmp_path):
    config = tiny("rnn_exploding")
    results = exploding.run(config, str(tmp_path))
    m, last = results["metrics"], config.report_lags[-1]
    # Pascanu et al. (2013): ρ(U) = 1 (orthogonal) vanishes with the lag, ρ(U) = 3 grows with it.
    assert m[f"gain1_init_ratio_lag{last}"] < 0.1 < 10 < m[f"gain3_init_ratio_lag{last}"], m
    # Unclipped SGD at ρ = 3 meets gradients orders of magnitude larger than the clipped run's
    # (or diverges); the clipped runs end finite.
    clipped = m["gain3_clip1_max_grad_norm"]
    assert m["gain3_clip0_diverged"] == 1 or m["gain3_clip0_max_grad_norm"] > 100 * clipped, m
    for gain in config.recurrent_gains:
        assert np.isfinite(m[f"gain{gain:g}_clip1_test_mse"])
        assert m[f"gain{gain:g}_clip1_diverged"] == 0
    n = len(config.sweep.seed)
    steps, grad = exploding.curves(str(tmp_path / "gain3_clip1"), "grad_norm", n)
    assert grad.shape == (n, config.train.steps // config.train.log_every)
    assert steps[-1] == config.train.steps and np.all(np.isfinite(grad))
    assert [r["seed"] for r in results["runs"]] == list(config.sweep.seed)
    assert (tmp_path / "exploding.png").exists() and (tmp_path / "table.txt").exists()
