"""No silent NaN or Inf from the closed-form and convex routines, under feature scale and offset.

Property tests (issue 25): features scaled by 1e-3 ... 1e3 and shifted by -1e3 ... 1e3 give finite
results from TCA (exact, jitted and Nystrom; linear and rbf), KMM, the domain classifier, the MMD,
the effective sample size and the multi-task solvers and paths; where the method is invariant the
result is unchanged to a stated tolerance; non-finite inputs raise one line naming the array.

Which invariances hold (and so are tested):
- rbf kernels with the median-heuristic width see only distances relative to their median: TCA
  embeddings, KMM weights and the MMD are unchanged under a common scale and a common offset.
- Linear TCA (the paper's uncentred kernel, mu tr(W^T W)) is unchanged under X -> s X with
  mu -> s^4 mu (K, K L K and K H K scale by s^2, s^4, s^4), but not under an offset: there the
  test asks for finite embeddings that still classify (1-NN accuracy).
- KMM with either kernel is unchanged under a common scale (its objective scales as a whole).
- The domain classifier standardises its features: unchanged under scale and offset.
- Least-squares and logistic multi-task solvers are scale-equivariant: features times s with
  lambda times s (rho1, rho2 times s^2 for cCMTL) give W / s. No intercept: no offset invariance.
"""

import jax
import numpy as np
import pytest
import scipy.linalg

from jaxdl import multitask as mt
from jaxdl.transfer import importance, tca, tca_fit, tca_nystrom

SCALES = (1e-3, 1.0, 1e3)
OFFSETS = (-1e3, 0.0, 1e3)
GRID = [(s, c) for s in SCALES for c in OFFSETS]


def _domains(seed=0, n=60, d=5, nuisance=3.0):
    """Two classes apart in the first two features; the target shifted by ``nuisance`` in the
    last feature (a domain difference a good embedding discards)."""
    rng = np.random.default_rng(seed)
    ys, yt = rng.integers(0, 2, n), rng.integers(0, 2, n)
    means = np.zeros((2, d))
    means[1, :2] = 3.0
    Xs = means[ys] + rng.normal(size=(n, d))
    Xt = means[yt] + rng.normal(size=(n, d))
    Xt[:, -1] += nuisance
    return Xs, ys, Xt, yt


def _scipy_tca(Xs, Xt, dim, mu=1.0):
    """The float64 reference: scipy.linalg.eigh(K H K, K L K + mu I) (accurate at moderate scale
    and offset; beyond them its Cholesky of K L K + mu I is what loses precision)."""
    X = np.concatenate([Xs, Xt])
    K, n_s, n = X @ X.T, len(Xs), len(Xs) + len(Xt)
    l = np.concatenate([np.full(n_s, 1 / n_s), np.full(n - n_s, -1 / (n - n_s))])
    H = np.eye(n) - 1.0 / n
    _, V = scipy.linalg.eigh(K @ H @ K, K @ np.outer(l, l) @ K + mu * np.eye(n))
    Z = K @ V[:, ::-1][:, :dim]
    return Z[:n_s], Z[n_s:]


def _nn1(Zs, ys, Zt, yt):
    """Target accuracy of 1-NN on the source embeddings."""
    Zs, Zt = np.asarray(Zs, np.float64), np.asarray(Zt, np.float64)
    d2 = np.sum((Zt[:, None, :] - Zs[None, :, :]) ** 2, -1)
    return float(np.mean(ys[np.argmin(d2, 1)] == yt))


def _finite(*arrays):
    return all(np.all(np.isfinite(np.asarray(a))) for a in arrays)


def _same_up_to_sign(Z, Z_ref, rtol):
    """Columns equal up to their sign, to ``rtol`` of the reference's largest entry."""
    Z, Z_ref = np.asarray(Z, np.float64), np.asarray(Z_ref, np.float64)
    sign = np.sign(np.sum(Z * Z_ref, 0))
    np.testing.assert_allclose(sign * Z, Z_ref, rtol=0, atol=rtol * np.abs(Z_ref).max())


# ------------------------------------------------------------------------------------------- TCA

_tca_jit = jax.jit(tca, static_argnames=("dim", "mu", "kernel"))


@pytest.mark.parametrize(
    "name, base, spread, nuisance",
    [
        ("nuisance feature +30", 0.0, 1.0, 30.0),
        ("features around 500 +- 100", 500.0, 100.0, 0.0),
        ("features around 500 +- 100, nuisance +30", 500.0, 100.0, 30.0),
    ],
)
def test_tca_issue_repro_gives_finite_embeddings_that_classify(name, base, spread, nuisance):
    # issue 25: tca(Xs, Xt, dim=2, kernel="linear") returned all-NaN embeddings for these
    Xs, ys, Xt, yt = _domains(nuisance=nuisance)
    Xs, Xt = base + spread * Xs, base + spread * Xt
    want = _nn1(*_scipy_tca(Xs, Xt, 2)[:1], ys, _scipy_tca(Xs, Xt, 2)[1], yt)
    for label, (Zs, Zt) in (
        ("float64 (eager)", tca(Xs, Xt, dim=2, kernel="linear")),
        ("float32 (jit)", _tca_jit(Xs.astype(np.float32), Xt.astype(np.float32), dim=2)),
    ):
        assert _finite(Zs, Zt), f"{name}, {label}: TCA embeddings not finite"
        acc = _nn1(Zs, ys, Zt, yt)
        assert acc >= 0.9 and acc == want, f"{name}, {label}: 1-NN {acc:.3f}, reference {want:.3f}"
    if nuisance:  # the embedding discards the shift that defeats 1-NN on the raw features
        assert want > _nn1(Xs, ys, Xt, yt) + 0.3


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("scale, offset", GRID)
def test_tca_finite_under_scale_and_offset(kernel, scale, offset):
    Xs, _, Xt, _ = _domains()
    Xs, Xt = scale * Xs + offset, scale * Xt + offset
    res = tca_fit(Xs, Xt, 2, kernel=kernel)
    assert _finite(res.Zs, res.Zt, res.W, res.eigvals), "exact TCA"
    assert _finite(*_tca_jit(Xs.astype(np.float32), Xt.astype(np.float32), dim=2, kernel=kernel))
    nys = tca_nystrom(Xs, Xt, 2, kernel=kernel, n_landmarks=20)
    assert _finite(nys.Zs, nys.Zt, nys.W, nys.eigvals), "Nystrom TCA"


@pytest.mark.parametrize("scale, offset", GRID)
def test_tca_rbf_unchanged_under_scale_and_offset(scale, offset):
    Xs, _, Xt, _ = _domains()
    ref = tca_fit(Xs, Xt, 3, kernel="rbf")
    res = tca_fit(scale * Xs + offset, scale * Xt + offset, 3, kernel="rbf")
    _same_up_to_sign(np.concatenate([res.Zs, res.Zt]), np.concatenate([ref.Zs, ref.Zt]), 1e-4)
    np.testing.assert_allclose(res.eigvals, ref.eigvals, rtol=1e-4)


@pytest.mark.parametrize("scale", SCALES)
def test_tca_linear_unchanged_under_scale_with_mu_times_s4(scale):
    Xs, _, Xt, _ = _domains()
    ref = tca_fit(Xs, Xt, 3, mu=1.0)
    res = tca_fit(scale * Xs, scale * Xt, 3, mu=scale**4)
    _same_up_to_sign(np.concatenate([res.Zs, res.Zt]), np.concatenate([ref.Zs, ref.Zt]), 1e-4)
    np.testing.assert_allclose(res.eigvals, ref.eigvals, rtol=1e-4)


@pytest.mark.parametrize("offset", OFFSETS)
def test_tca_linear_still_classifies_under_a_common_offset(offset):
    Xs, ys, Xt, yt = _domains()
    Zs, Zt = tca(Xs + offset, Xt + offset, dim=2)
    assert _nn1(Zs, ys, Zt, yt) >= 0.9


def test_tca_traced_float32_path_matches_float64():
    Xs, _, Xt, _ = _domains(1)
    for kernel in ("linear", "rbf"):
        want = np.concatenate(tca(Xs, Xt, dim=2, kernel=kernel))
        got = np.concatenate(
            _tca_jit(Xs.astype(np.float32), Xt.astype(np.float32), dim=2, kernel=kernel)
        )
        _same_up_to_sign(got, want, 1e-3)


# ------------------------------------------------------------------------- importance weighting


@pytest.mark.parametrize("scale, offset", GRID)
def test_importance_weights_finite_and_unchanged(scale, offset):
    Xs, _, Xt, _ = _domains(2)
    Xs2, Xt2 = scale * Xs + offset, scale * Xt + offset
    # KMM (rbf, median width): unchanged under scale and offset
    w_ref = importance.kmm_weights(Xs, Xt, n_iter=300)
    w = importance.kmm_weights(Xs2, Xt2, n_iter=300)
    assert _finite(w)
    np.testing.assert_allclose(w, w_ref, atol=1e-3, err_msg="KMM rbf weights")
    # KMM (linear): finite everywhere; under scale alone the same weighted-mean match (its kernel
    # has rank d < n_s, so the minimising weights are not unique: compare what they achieve)
    assert _finite(importance.kmm_weights(Xs2, Xt2, kernel="linear", n_iter=300))
    w_lin = importance.kmm_weights(scale * Xs, scale * Xt, kernel="linear", n_iter=300)
    w_lin_ref = importance.kmm_weights(Xs, Xt, kernel="linear", n_iter=300)
    gap = [importance.weighted_mmd2(Xs, Xt, w, kernel="linear") for w in (w_lin, w_lin_ref)]
    np.testing.assert_allclose(gap[0], gap[1], rtol=0.05, atol=1e-4, err_msg="KMM linear")
    # the domain classifier standardises its features: unchanged under scale and offset
    c_ref, _ = importance.domain_classifier_weights(Xs, Xt)
    c, ratio_fn = importance.domain_classifier_weights(Xs2, Xt2)
    assert _finite(c, ratio_fn(Xt2))
    np.testing.assert_allclose(c, c_ref, rtol=1e-3, err_msg="domain-classifier weights")
    # MMD^2: rbf unchanged; linear scales by s^2 and ignores the offset (unit weights)
    m_ref = importance.weighted_mmd2(Xs, Xt)
    np.testing.assert_allclose(importance.weighted_mmd2(Xs2, Xt2), m_ref, rtol=1e-4)
    lin_ref = importance.weighted_mmd2(Xs, Xt, kernel="linear")
    lin = importance.weighted_mmd2(Xs2, Xt2, kernel="linear") / scale**2
    np.testing.assert_allclose(lin, lin_ref, rtol=1e-4)


def test_effective_sample_size_is_scale_free():
    w = np.random.default_rng(0).exponential(size=50).astype(np.float32)
    ref = float(importance.effective_sample_size(w))
    for s in (1e-30, 1e-3, 1e3, 1e30):  # w^2 alone would underflow or overflow float32
        np.testing.assert_allclose(float(importance.effective_sample_size(w * s)), ref, rtol=1e-5)


# ---------------------------------------------------------------------------- non-finite input


def test_non_finite_inputs_raise_one_line_naming_the_array():
    Xs, _, Xt, _ = _domains()
    bad = Xs.copy()
    bad[3, 1] = np.nan
    transfer_calls = {
        "tca": lambda: tca(bad, Xt, 2),
        "tca_nystrom": lambda: tca_nystrom(bad, Xt, 2, n_landmarks=20),
        "kmm_weights": lambda: importance.kmm_weights(bad, Xt, n_iter=10),
        "domain_classifier_weights": lambda: importance.domain_classifier_weights(bad, Xt),
        "weighted_mmd2": lambda: importance.weighted_mmd2(bad, Xt),
    }
    for fn, call in transfer_calls.items():
        with pytest.raises(
            ValueError,
            match=rf"^{fn}: Xs has 1 NaN/Inf value\(s\), the first a NaN at row 3, column 1;",
        ) as e:
            call()
        assert "\n" not in str(e.value)
    with pytest.raises(
        ValueError,
        match=r"^effective_sample_size: w has 1 NaN/Inf value\(s\), the first an Inf at row 2;",
    ):
        importance.effective_sample_size(np.array([1.0, 2.0, np.inf]))
    Xm, ym = _tasks()
    Xm[1] = Xm[1].copy()
    Xm[1][4, 0] = np.inf
    for call in (
        lambda: mt.least_l21(Xm, ym, 1.0),
        lambda: mt.regularization_path(Xm, ym, [1.0, 0.5]),
    ):
        with pytest.raises(
            ValueError,
            match=r"Xs\[1\] has 1 NaN/Inf value\(s\), the first an Inf at index \(4, 0\)",
        ):
            call()


# ----------------------------------------------------------------------------------- multi-task


def _tasks(seed=0, T=3, n=20, d=6):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, T))
    W[3:] = 0.0
    Xs = [rng.normal(size=(n, d)) for _ in range(T)]
    ys = [X @ W[:, t] + 0.1 * rng.normal(size=n) for t, X in enumerate(Xs)]
    return Xs, ys


def _mtl_fits(Xs, ys, s):
    """Every solver at features ``Xs`` (already times s) with strengths scaled to match s = 1."""
    signs = [np.sign(y) for y in ys]
    grid = np.asarray([2.0, 1.0, 0.5]) * s
    return {
        "least_l21": mt.least_l21(Xs, ys, 1.0 * s, tol=1e-8).W,
        "least_trace": mt.least_trace(Xs, ys, 1.0 * s, tol=1e-8).W,
        "least_rmtfl": mt.least_rmtfl(Xs, ys, 1.0 * s, 1.0 * s, tol=1e-8).W,
        "least_cmtl": mt.least_cmtl(Xs, ys, s * s, s * s, 2, tol=1e-8).W,
        "logistic_l21": mt.logistic_l21(Xs, signs, 0.01 * s, tol=1e-8).W,
        "path scan": mt.regularization_path(Xs, ys, grid, tol=1e-8).params,
        "path vmap": mt.regularization_path(Xs, ys, grid, mode="vmap", tol=1e-8).params,
        "cross_validate": mt.cross_validate(Xs, ys, grid, k=2, tol=1e-8).W,
    }


@pytest.fixture(scope="module")
def mtl_reference():
    Xs, ys = _tasks()
    return {k: np.asarray(v) for k, v in _mtl_fits(Xs, ys, 1.0).items()}


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_mtl_solvers_scale_equivariant(scale, mtl_reference):
    # before, FISTA started at L0 = 1 and only raised it: at 1e-3 scale it stopped far from the
    # optimum (relative error 0.1) and logistic_l21 after one step at W = 0
    Xs, ys = _tasks()
    fits = _mtl_fits([scale * X for X in Xs], ys, scale)
    for name, W in fits.items():
        W, ref = scale * np.asarray(W, np.float64), mtl_reference[name]
        assert _finite(W), name
        err = np.linalg.norm(W - ref) / np.linalg.norm(ref)
        assert err < 1e-2, f"{name} at scale {scale:g}: relative error {err:.2e}"


@pytest.mark.parametrize("offset", [-1e3, 1e3])
def test_mtl_solvers_finite_under_offset(offset):
    Xs, ys = _tasks()
    for name, W in _mtl_fits([X + offset for X in Xs], ys, 1.0).items():
        assert _finite(W), f"{name} at offset {offset:g}"


def test_results_beyond_float32_raise_one_line_naming_the_cause():
    Xs, _, Xt, _ = _domains()
    with pytest.raises(
        ValueError, match=r"^tca: Z.* overflow float32 \(largest \|feature\| \d\.\d+e\+25\)"
    ):
        tca(1e25 * Xs, 1e25 * Xt, 2)
    Xm, ym = _tasks()
    with pytest.raises(ValueError, match=r"^least_l21: the solution is not finite"):
        mt.least_l21(Xm, [1e25 * y for y in ym], 1.0)
