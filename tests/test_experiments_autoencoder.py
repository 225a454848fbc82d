"""The auto-encoder and Wide & Deep experiments end to end (:tiny), resume, and their pieces."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import tasks
from jaxdl.tasks import reconstruct, stacked_ae
from jaxdl.tasks import wide_deep as wide_deep_task
from jaxdl.train import sweep
from tests.configs import tiny


@pytest.fixture(scope="module")
def raw_pixel_probe():
    """Independent reference: scikit-learn logistic regression on standardised digits pixels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from jaxdl import data as data_lib

    c = tiny("autoencoder_denoising")
    ds = data_lib.load(c.data)
    keep = np.sort(np.random.default_rng(0).permutation(len(ds.train["y"]))[: c.probe.max_train])
    x_tr, x_te = (
        ds.train["x"][keep].reshape(len(keep), -1),
        ds.test["x"].reshape(len(ds.test["x"]), -1),
    )
    scaler = StandardScaler().fit(x_tr.astype(np.float64))
    model = LogisticRegression(C=c.probe.C, max_iter=2000).fit(
        scaler.transform(x_tr.astype(np.float64)), ds.train["y"][keep]
    )
    return float(model.score(scaler.transform(x_te.astype(np.float64)), ds.test["y"]))


def test_corrupt_matches_numpy_for_traced_kind_and_level():
    rng = np.random.default_rng(0)
    x, eps, u = (
        rng.random((5, 8, 8, 1), np.float32),
        rng.standard_normal((5, 8, 8, 1)).astype(np.float32),
        rng.random((5, 8, 8, 1), np.float32),
    )
    kinds, levels = jnp.array([0, 0, 1, 1]), jnp.array([0.0, 0.3, 0.0, 0.25])
    got = np.asarray(
        jax.jit(jax.vmap(reconstruct.corrupt, in_axes=(None, 0, 0, None, None)))(
            x, kinds, levels, eps, u
        )
    )
    expected = [x, x + np.float32(0.3) * eps, x, np.where(u < 0.25, 0.0, x)]
    for g, e, name in zip(got, expected, ("AE", "Gaussian 0.3", "masking 0", "masking 0.25")):
        np.testing.assert_allclose(
            g,
            e,
            rtol=1e-6,
            atol=1e-6,
            err_msg=f"{name}: X = X' + s*eps / Vincent et al. masking, numpy reference",
        )
    assert 0.15 < float(np.mean(got[3] == 0)) < 0.35, (
        "masking 0.25 zeroes about a quarter of the entries"
    )


def test_denoising_tiny_one_vmapped_program_plots_probes_and_resume(tmp_path, raw_pixel_probe):
    c = tiny("autoencoder_denoising")
    first = reconstruct.run(c, str(tmp_path))
    runs = first["runs"]
    assert [r["model.noise_level"] for r in runs] == [0.0, 0.5]
    for name in ("error_vs_test_noise.png", "reconstructions.png", "table.txt", "metrics.jsonl"):
        assert os.path.getsize(tmp_path / name) > 0, name
    assert not os.path.exists(tmp_path / "run_0"), (
        "noise kind and level are traced: the sweep must be ONE vmapped program"
    )
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert {r["run"] for r in rows} == {0, 1}
    ae_run, dae_run = (r["metrics"] for r in runs)
    # The traced training level reaches evaluation: the AE's own-noise error is its clean error.
    assert ae_run["test_mse_noisy"] == pytest.approx(ae_run["test_gaussian_mse_at_0"], rel=1e-6)
    assert dae_run["test_mse_noisy"] == pytest.approx(dae_run["test_gaussian_mse_at_0.5"], rel=1e-6)
    for r in (ae_run, dae_run):
        assert r["test_gaussian_mse_at_0.5"] > r["test_gaussian_mse_at_0"], (
            "Gaussian noise of std 0.5 must raise the reconstruction error"
        )
        assert 0.1 < r["probe_accuracy"] <= 1.0
    assert first["metrics"]["probe_accuracy_raw_pixels"] == pytest.approx(
        raw_pixel_probe, abs=1e-9
    ), "sklearn LogisticRegression on standardised pixels"
    second = reconstruct.run(c, str(tmp_path))  # resumes from the final checkpoint
    for a, b in zip(runs, second["runs"]):
        for k in ("test_mse", "test_gaussian_mse_at_0.5", "probe_accuracy"):
            assert b["metrics"][k] == pytest.approx(a["metrics"][k], rel=1e-6), k


def test_denoising_seeds_are_averaged_per_setting(tmp_path):
    out = reconstruct.run(tiny("autoencoder_denoising", **{"sweep.seed": (0, 1)}), str(tmp_path))
    assert len(out["runs"]) == 4
    lines = [
        line
        for line in (tmp_path / "table.txt").read_text().splitlines()
        if line.startswith(("AE", "DAE"))
    ]
    assert [line.split()[0] for line in lines] == ["AE", "DAE"], "one row per setting, seeds merged"
    ae = [r["metrics"]["probe_accuracy"] for r in out["runs"] if r["model.noise_level"] == 0.0]
    assert f"{np.mean(ae):.4g} ± {np.std(ae):.2g}" in lines[0]


def test_plain_ae_trains_once_and_is_tested_under_both_kinds(tmp_path):
    c = tiny("autoencoder_denoising", **{"sweep.model.noise_kind": (0, 1)})
    out = reconstruct.run(c, str(tmp_path))
    # at level 0 both kinds would train the same model: 3 runs, not 4
    assert [(r["model.noise_kind"], r["model.noise_level"]) for r in out["runs"]] == [
        (0, 0.0),
        (0, 0.5),
        (1, 0.5),
    ]
    table = (tmp_path / "table.txt").read_text()
    header = table.splitlines()[0].split("  ")
    assert {"clean", "gaussian 0.5", "masking 0.5"} <= {h.strip() for h in header}, header
    assert [line.split()[0] for line in table.splitlines() if line.startswith(("AE", "DAE"))] == [
        "AE",
        "DAE",
        "DAE",
    ]
    # the AE's masking error against NumPy: its reconstruction of the masked test images
    from jaxdl import data as data_lib

    ds = data_lib.load(c.data)
    x = ds.test["x"]
    u = reconstruct.test_noise(c, x)["u"]
    model = reconstruct.build_model(c, ds.input_shape)
    result = sweep.train(
        reconstruct.make_problem, c, str(tmp_path), reconstruct.distinct_runs(c)
    )  # restores the final state
    x_hat = np.asarray(
        model.apply({"params": result.run_state(0).params}, np.where(u < 0.5, 0.0, x))
    )
    expected = float(np.mean(np.square(x_hat - x)))
    assert out["runs"][0]["metrics"]["test_masking_mse_at_0.5"] == pytest.approx(expected, rel=1e-4)


def test_bad_noise_settings_are_one_line_errors(tmp_path):
    for overrides, message in (
        ({"sweep.model.noise_kind": (0, 2)}, "model.noise_kind=2 is not valid"),
        ({"model.noise_level": -0.1, "sweep.model.noise_level": ()}, "out of range"),
    ):
        with pytest.raises(ValueError, match=message):
            reconstruct.run(tiny("autoencoder_denoising", **overrides), str(tmp_path))


def test_stacked_greedy_pretraining_probes(tmp_path, raw_pixel_probe):
    c = tiny("autoencoder_features")
    out = stacked_ae.run(c, str(tmp_path))
    m = out["metrics"]
    for stage in ("layer_0", "layer_1", "finetune", "scratch"):
        assert os.path.isdir(tmp_path / stage / "checkpoints"), stage
    assert os.path.getsize(tmp_path / "filters.png") > 0
    assert m["probe_accuracy_raw_pixels"] == pytest.approx(raw_pixel_probe, abs=1e-9), (
        "sklearn LogisticRegression on standardised pixels"
    )
    assert m["probe_accuracy_greedy_layer_0"] > 0.5, (
        "first pre-trained layer's codes should separate digits far above chance (0.1)"
    )
    assert all(
        np.isfinite(m[k])
        for k in ("layer_0_test_mse", "layer_1_test_mse", "finetuned_test_mse", "scratch_test_mse")
    )
    with pytest.raises(ValueError, match="sweeps only sweep.seed"):
        stacked_ae.run(
            tiny("autoencoder_features", **{"sweep.opt.lr": (1e-3, 1e-2)}), str(tmp_path / "lr")
        )


def test_stacked_ae_seeds_give_mean_and_std(tmp_path):
    c = tiny(
        "autoencoder_features", **{"sweep.seed": (0, 1), "train.steps": 10, "finetune.steps": 0}
    )
    out = stacked_ae.run(c, str(tmp_path))
    assert [r["seed"] for r in out["runs"]] == [0, 1] and os.path.isdir(
        tmp_path / "seed_1" / "layer_0"
    )
    name = "probe_accuracy_greedy_layer_0"
    values = [r["metrics"][name] for r in out["runs"]]
    assert values[0] != values[1], "each seed initialises its own stack"
    (group,) = out["summary"]  # seeds only: one group
    assert group["metrics"][name]["mean"] == pytest.approx(np.mean(values))
    assert group["metrics"][name]["std"] == pytest.approx(np.std(values))
    assert "±" in open(tmp_path / "table.txt").read()


def test_auc_rank_statistic_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    scores = np.round(y + rng.standard_normal(300), 1)  # rounding makes ties
    assert wide_deep_task.auc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12), (
        "sklearn.metrics.roc_auc_score"
    )
    assert wide_deep_task.auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75), (
        "sklearn docs' roc_auc_score example"
    )
    with pytest.raises(ValueError, match="both classes"):
        wide_deep_task.auc([0.1, 0.2], [1, 1])


def write_adult_like_csv(path, n=800, seed=0):
    """A synthetic Adult-like table (8 categorical + 6 numeric + income) with a learnable label."""
    import pandas as pd

    from jaxdl.data import adult

    rng = np.random.default_rng(seed)
    frame = {c: rng.choice([f"{c}_{j}" for j in range(4)], n) for c in adult.CATEGORICAL_COLUMNS}
    for c in adult.NUMERIC_COLUMNS:
        frame[c] = rng.normal(40, 10, n).round()
    signal = (
        (frame["education"] == "education_0") * 2.0
        + (frame["age"] - 40) / 10
        + rng.normal(0, 0.5, n)
    )
    frame["income"] = np.where(signal > 0.5, ">50K", "<=50K")
    pd.DataFrame(frame).to_csv(path, index=False)


def test_wide_deep_tiny_three_modes_auc_and_resume(tmp_path):
    path = tmp_path / "adult_like.csv"
    write_adult_like_csv(path)
    c = tiny("wide_deep_adult", **{"data.path": str(path)})
    out = wide_deep_task.run(c, str(tmp_path / "w"))
    assert [r["model.mode"] for r in out["runs"]] == ["wide", "deep", "wide_deep"]
    for mode in ("wide", "deep", "wide_deep"):
        assert 0.0 <= out["metrics"][f"test_auc_{mode}"] <= 1.0
    assert out["metrics"]["test_auc_wide_deep"] > 0.7, (
        "label = f(education, age) + small noise: the joint model must rank it well"
    )
    wide, deep, joint = (r["metrics"] for r in out["runs"])
    assert np.isnan(deep["wide_zero_fraction"]) and 0.0 <= joint["wide_zero_fraction"] <= 1.0
    assert (tmp_path / "w" / "roc.png").stat().st_size > 0 and (
        tmp_path / "w" / "run_2" / "checkpoints"
    ).is_dir()
    again = wide_deep_task.run(
        c, str(tmp_path / "w")
    )  # every mode resumes from its final checkpoint
    assert [r["metrics"]["test_auc"] for r in again["runs"]] == [
        r["metrics"]["test_auc"] for r in out["runs"]
    ]
    with pytest.raises(ValueError, match="model.mode='both' is not valid"):
        wide_deep_task.run(
            tiny("wide_deep_adult", **{"data.path": str(path), "sweep.model.mode": ("both",)}),
            str(tmp_path / "bad"),
        )


@pytest.mark.parametrize("path, value", [("data.name", "digits"), ("opt.name", "adam")])
def test_wide_deep_refuses_a_data_set_or_optimizer_it_does_not_implement(tmp_path, path, value):
    with pytest.raises(
        ValueError,
        match=f"{path}='{value}': the wide_deep task trains on adult with ftrl\\+adagrad only",
    ):
        tasks.run(tiny("wide_deep_adult", **{path: value}), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")
