"""Covariate shift: the 1-D toy (Shimodaira 2000) end to end, its pieces, and the ESS."""

import os

import ml_collections
import numpy as np
import pytest

from jaxdl import tasks
from jaxdl.tasks import finetune, net2net, reweight, reweight_toy
from jaxdl.transfer import importance
from tests.configs import load_config, tiny


def test_effective_sample_size_kish():
    assert float(importance.effective_sample_size(np.ones(40))) == pytest.approx(40.0)
    assert float(importance.effective_sample_size([0.0, 0.0, 5.0])) == pytest.approx(1.0)
    w = np.random.default_rng(0).exponential(size=50)
    kish = w.sum() ** 2 / (w**2).sum()
    assert float(importance.effective_sample_size(w)) == pytest.approx(kish, rel=1e-5)


def test_weighted_fit_matches_numpy_polyfit():
    rng = np.random.default_rng(1)
    x, y, w = rng.normal(size=30), rng.normal(size=30), rng.exponential(size=30)
    # np.polyfit weights the residuals (not their squares): sqrt(w) gives sum_i w_i r_i^2.
    expected = np.polyfit(x, y, 2, w=np.sqrt(w))[::-1]
    np.testing.assert_allclose(
        reweight_toy.fit_polynomial(x, y, w, 2), expected, rtol=1e-8, atol=1e-10
    )


def test_toy_true_weights_are_the_gaussian_density_ratio():
    data = reweight_toy.draw(load_config("covariate_shift_toy"), 0)
    x = data["xs"]
    # p_t / p_s of N(0, 0.3^2) over N(0.5, 0.5^2), written out by hand
    ratio = (0.5 / 0.3) * np.exp(-(x**2) / (2 * 0.09) + (x - 0.5) ** 2 / (2 * 0.25))
    np.testing.assert_allclose(data["w_true"], ratio, rtol=1e-6)


def test_covariate_shift_toy_weighting_halves_the_target_mse(tmp_path):
    result = tasks.run(load_config("covariate_shift_toy"), str(tmp_path))
    m = result["metrics"]
    assert len(result["runs"]) == 3
    assert [g["method"] for g in result["groups"]] == list(reweight_toy.METHODS)
    # Shimodaira 2000 / Huang et al. 2007 Fig. 1: the line fitted to the weighted source is close
    # to the best line under the target; the unweighted one tilts the wrong way.
    for method in ("true", "kmm", "domain_classifier"):
        assert m["target_mse_unweighted"] > 2.0 * m[f"target_mse_{method}"], (method, m)
    assert m["target_mse_true"] > 0.09 * 0.9, "the noise variance 0.3^2 floors the target MSE"
    assert m["ess_unweighted"] == pytest.approx(100.0) and m["ess_true"] < 70.0, m
    assert os.path.getsize(tmp_path / "fits.png") > 0
    assert "ESS" in (tmp_path / "table.txt").read_text()


def test_covariate_shift_toy_refuses_other_sweeps_and_bad_sizes(tmp_path):
    c = tiny("covariate_shift_toy")
    c.sweep.model = ml_collections.ConfigDict({"degree": (1, 3)})
    with pytest.raises(ValueError, match="sweeps only sweep.seed"):
        tasks.run(c, str(tmp_path / "a"))
    with pytest.raises(ValueError, match="data.n_source=1 must be an integer >= 2"):
        tasks.run(tiny("covariate_shift_toy", **{"data.n_source": 1}), str(tmp_path / "b"))


def test_net2net_each_seed_grows_its_own_teacher(tmp_path):
    config = load_config("net2net")
    config.sweep.seed = (0, 1)
    config.transfer.students = ("wider",)
    result = net2net.run(config, str(tmp_path))
    teachers = {r["seed"]: r["metrics"]["teacher_test_accuracy"] for r in result["runs"]}
    assert sorted(teachers) == [0, 1] and len(result["runs"]) == 4, result["runs"]
    assert [g["hparams"] for g in result["summary"]] == [
        {"student": "wider", "transfer.init": 0.0},
        {"student": "wider", "transfer.init": 1.0},
    ]
    assert result["summary"][0]["metrics"]["teacher_test_accuracy"]["std"] == pytest.approx(
        np.std(list(teachers.values())), abs=1e-9
    )
    for g in result["groups"]:  # one epochs-to-teacher value per seed
        assert len(g["epochs_list"]) == 2 and g["reached"].endswith("/2"), g
    grown = next(g for g in result["groups"] if g["init"] == "net2net")
    # function-preserving growth: the grown student starts at (or within an epoch of) its teacher
    assert all(e is not None and e <= 1 for e in grown["epochs_list"]), grown
    assert result["metrics"]["wider_net2net_reached_teacher"] == 1.0


def test_margin_shift_keeps_clear_examples_in_the_source():
    config = load_config("covariate_shift")
    x, y = finetune.load_domain(config.data.name, config.data.size)
    score = reweight.margin_score(x, y)
    pair = reweight.shift_pair(config, x, y, 0, score)
    assert pair.xs.shape[1:] == x.shape[1:] == (4, 4, 1), "4x4 digits: the score column is dropped"
    flat = x.reshape(len(x), -1)
    index = {row.tobytes(): i for i, row in enumerate(flat)}
    source = [score[index[r.tobytes()]] for r in pair.xs.reshape(len(pair.xs), -1)]
    target = [score[index[r.tobytes()]] for r in pair.xt.reshape(len(pair.xt), -1)]
    assert np.mean(source) > np.mean(target) + 0.05, "selection on the margin: clear examples"
    data = reweight.shift_data(config, 0, score)
    W = data["train"]["w"]
    for i, m in enumerate(reweight.METHODS):  # Kish's ESS of each method's weight column
        assert data["ess"][m] == pytest.approx(W[:, i].sum() ** 2 / (W[:, i] ** 2).sum(), rel=1e-4)
    assert data["ess"]["unweighted"] == pytest.approx(len(W)) and data["ess"]["true"] < len(W)
    with pytest.raises(ValueError, match="data.shift_score='pixel' is not valid"):
        reweight.check_config(tiny("covariate_shift", **{"data.shift_score": "pixel"}))
