"""MALSAR's named multi-task solvers (Zhou, Chen & Ye 2011) on the FISTA core of ``solvers``.

Each is ``solvers.solve`` with one loss and one penalty, its arguments checked, and a result type
carrying ``W (d, T)`` plus the solver's report (objective, iterations, optimality residual,
convergence flag). Conventions as in :mod:`jaxdl.multitask.solvers`: ``Xs[i] (n_i, d)``,
``ys[i] (n_i,)``, no intercept unless asked.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.multitask import prox
from jaxdl.multitask.data import TaskData, check_solution, stack_tasks
from jaxdl.multitask.solvers import FistaResult, solve


class MTLResult(NamedTuple):
    """Result of a MALSAR-named solver: ``W (d, T)`` plus the solver's report (see FistaResult)."""

    W: jax.Array
    objective: jax.Array
    iterations: jax.Array
    residual: jax.Array
    converged: jax.Array


class RMTFLResult(NamedTuple):
    """rMTFL result: ``W = P + Q`` with shared-feature part ``P`` and outlier-task part ``Q``."""

    W: jax.Array
    P: jax.Array
    Q: jax.Array
    objective: jax.Array
    iterations: jax.Array
    residual: jax.Array
    converged: jax.Array


class CMTLResult(NamedTuple):
    """cCMTL result: ``W (d, T)``, task relation ``M (T, T)`` and recovered ``clusters (T,)``."""

    W: jax.Array
    M: jax.Array
    clusters: np.ndarray
    objective: jax.Array
    iterations: jax.Array
    residual: jax.Array
    converged: jax.Array


class LogisticResult(NamedTuple):
    """Logistic result: ``W (d, T)`` and intercepts ``c (T,)`` (zeros unless fitted)."""

    W: jax.Array
    c: jax.Array
    objective: jax.Array
    iterations: jax.Array
    residual: jax.Array
    converged: jax.Array


def _check_nonneg(**values):
    """Raises a one-line ValueError for a concrete negative (or NaN) scalar; traced values (under
    jit or a vmap over λ) and arrays pass unchecked."""
    for name, value in values.items():
        if isinstance(value, jax.core.Tracer) or np.ndim(value) != 0:
            continue
        if not float(value) >= 0.0:
            raise ValueError(f"{name} must be a non-negative number, got {value}")


def _report(res: FistaResult):
    return dict(
        objective=res.objective,
        iterations=res.iterations,
        residual=res.residual,
        converged=res.converged,
    )


def _zeros(data: TaskData):
    return jnp.zeros((data.X.shape[-1], data.y.shape[0]), data.X.dtype)


def _start(data: TaskData, W0):
    """The warm start ``W0`` (zeros when None), after a one-line ValueError for a wrong shape."""
    if W0 is None:
        return _zeros(data)
    expected = (data.X.shape[-1], data.y.shape[0])
    if tuple(jnp.shape(W0)) != expected:
        raise ValueError(
            f"W0 must be (d, T) = {expected} (features x tasks), got {tuple(jnp.shape(W0))}"
        )
    return jnp.asarray(W0, data.X.dtype)


def least_l21(Xs, ys, lam, *, q=2, rho_l2=0.0, W0=None, max_iter=1000, tol=1e-6) -> MTLResult:
    """Joint feature selection, MALSAR's Least_L21 (Argyriou et al. 2008; Liu, Ji & Ye 2009).

    Objective: ``min_W Σ_i ½‖X_i w_i − y_i‖² + λ Σ_j ‖W_j‖_q + ρ_L2‖W‖²_F`` with rows ``W_j`` as
    groups, ``q = 2`` (the ℓ2,1 norm) or ``q = inf`` (the ℓ∞,1 norm).

    Args:
      Xs: per-task designs ``(n_i, d)`` (see :func:`stack_tasks` for the accepted forms).
      ys: per-task targets ``(n_i,)``.
      lam: λ ≥ 0.
      q: 2 or ``inf``.
      rho_l2: ρ_L2 ≥ 0.
      W0: optional ``(d, T)`` warm start.
      max_iter: maximum FISTA iterations.
      tol: relative objective-change tolerance.

    Returns:
      :class:`MTLResult` with ``W (d, T)``.
    """
    if q not in (2, np.inf):
        raise ValueError(f"q must be 2 or inf (numpy.inf), got {q!r}")
    _check_nonneg(lam=lam, rho_l2=rho_l2)
    data = stack_tasks(Xs, ys)
    res = solve(
        data,
        lam,
        _start(data, W0),
        {"rho_l2": rho_l2},
        tol=tol,
        loss="least",
        penalty="l21" if q == 2 else "l1inf",
        max_iter=max_iter,
    )
    check_solution("least_l21", res.params, res.objective, data)
    return MTLResult(W=res.params, **_report(res))


def least_trace(Xs, ys, lam, *, rho_l2=0.0, W0=None, max_iter=1000, tol=1e-6) -> MTLResult:
    """Low-rank multi-task learning, MALSAR's Least_Trace (Ji & Ye 2009).

    Objective: ``min_W Σ_i ½‖X_i w_i − y_i‖² + λ‖W‖_* + ρ_L2‖W‖²_F``; the prox is singular value
    thresholding.

    Args:
      Xs: per-task designs ``(n_i, d)``.
      ys: per-task targets ``(n_i,)``.
      lam: λ ≥ 0.
      rho_l2: ρ_L2 ≥ 0.
      W0: optional ``(d, T)`` warm start.
      max_iter: maximum FISTA iterations.
      tol: relative objective-change tolerance.

    Returns:
      :class:`MTLResult` with ``W (d, T)``.
    """
    _check_nonneg(lam=lam, rho_l2=rho_l2)
    data = stack_tasks(Xs, ys)
    res = solve(
        data,
        lam,
        _start(data, W0),
        {"rho_l2": rho_l2},
        tol=tol,
        loss="least",
        penalty="trace",
        max_iter=max_iter,
    )
    check_solution("least_trace", res.params, res.objective, data)
    return MTLResult(W=res.params, **_report(res))


RMTFL_LOSSES = ("malsar", "per_task_mean")  # least_rmtfl's loss_scaling


def least_rmtfl(
    Xs, ys, lam1, lam2, *, loss_scaling="malsar", max_iter=1000, tol=1e-6
) -> RMTFLResult:
    """Robust multi-task feature learning, MALSAR's Least_rMTFL (Gong, Ye & Zhang, KDD 2012, eq. 2).

    Objective: ``min_{P,Q} Σ_i ½‖X_i (p_i + q_i) − y_i‖² + λ1‖P‖_{1,2} + λ2‖Qᵀ‖_{1,2}``, where
    ``‖P‖_{1,2} = Σ_j ‖P_j‖₂`` sums row norms (features shared by all tasks) and
    ``‖Qᵀ‖_{1,2} = Σ_i ‖q_i‖₂`` sums column norms (a few outlier tasks); ``W = P + Q``.

    With ``loss_scaling="per_task_mean"`` the loss is Gong, Ye & Zhang's (2012, eq. 2) per-task
    normalised one, ``Σ_i 1/(m n_i) ‖X_i (p_i + q_i) − y_i‖²`` over ``m`` tasks of ``n_i`` samples:
    every task counts alike however many samples it has. It is solved as the MALSAR form on rows
    scaled by ``sqrt(2/(m n_i))``, which is the same objective.

    Args:
      Xs: per-task designs ``(n_i, d)``.
      ys: per-task targets ``(n_i,)``.
      lam1: λ1 ≥ 0 (row sparsity of P).
      lam2: λ2 ≥ 0 (column sparsity of Q).
      loss_scaling: ``"malsar"`` (``Σ_i ½‖·‖²``, the default) or ``"per_task_mean"``.
      max_iter: maximum FISTA iterations.
      tol: relative objective-change tolerance.

    Returns:
      :class:`RMTFLResult` with ``W, P, Q`` all ``(d, T)``.
    """
    _check_nonneg(lam1=lam1, lam2=lam2)
    if loss_scaling not in RMTFL_LOSSES:
        raise ValueError(
            f"loss_scaling must be one of {', '.join(RMTFL_LOSSES)}, got {loss_scaling!r}"
        )
    data = stack_tasks(Xs, ys)
    if loss_scaling == "per_task_mean":
        data = per_task_mean_scaled(data)
    zeros = _zeros(data)
    res = solve(
        data,
        jnp.stack([jnp.asarray(lam1), jnp.asarray(lam2)]),
        (zeros, zeros),
        tol=tol,
        loss="least_pq",
        penalty="rmtfl",
        max_iter=max_iter,
    )
    check_solution("least_rmtfl", res.params, res.objective, data)
    P, Q = res.params
    return RMTFLResult(W=P + Q, P=P, Q=Q, **_report(res))


def per_task_mean_scaled(data: TaskData) -> TaskData:
    """Rows of task ``i`` times ``sqrt(2/(m n_i))``: ``Σ_i ½‖·‖²`` on them is ``Σ_i 1/(m n_i)‖·‖²``.

    Args:
      data: :class:`TaskData` with a per-task design ``X (m, n_max, d)`` (not a shared one).

    Returns:
      The scaled :class:`TaskData` (padding stays zero).
    """
    if data.X.shape[0] != data.y.shape[0]:
        raise ValueError("per-task scaling needs one design per task, not a shared (n, d) design")
    m = data.y.shape[0]
    n = jnp.maximum(jnp.sum(data.mask, axis=1), 1.0)
    s = jnp.sqrt(2.0 / (m * n))
    return TaskData(data.X * s[:, None, None], data.y * s[:, None], data.mask)


def least_cmtl(Xs, ys, rho1, rho2, k, *, max_iter=1000, tol=1e-6, seed=0) -> CMTLResult:
    """Convex clustered MTL, MALSAR's Least_CMTL: cCMTL, the relaxation of Zhou, Chen & Ye (2011).

    Objective (Zhou et al. 2011, eq. 9):
    ``min_{W, M} Σ_i ½‖X_i w_i − y_i‖² + ρ1 η(1+η) tr(W(ηI + M)⁻¹Wᵀ)``, ``η = ρ2/ρ1``, subject to
    ``tr M = k, 0 ≼ M ≼ I``. ``M`` is eliminated in closed form
    (:func:`prox.relaxed_cluster_norm`), leaving a smooth convex problem in ``W`` solved by FISTA.
    Clusters are recovered by k-means on the rows of the top-``k`` eigenvectors of ``M`` (a
    spectral relaxation of k-means on the tasks).

    Args:
      Xs: per-task designs ``(n_i, d)``.
      ys: per-task targets ``(n_i,)``.
      rho1: ρ1 > 0 (clustering strength).
      rho2: ρ2 > 0 (ridge strength; η = ρ2/ρ1).
      k: number of task clusters, ``1 ≤ k ≤ T``.
      max_iter: maximum FISTA iterations.
      tol: relative objective-change tolerance.
      seed: seed of the k-means that labels the clusters.

    Returns:
      :class:`CMTLResult` with ``W (d, T)``, ``M (T, T)`` and integer ``clusters (T,)``.
    """
    data = stack_tasks(Xs, ys)
    T = data.y.shape[0]
    if not (float(rho1) > 0 and float(rho2) > 0):
        raise ValueError(f"rho1 and rho2 must be positive, got rho1={rho1}, rho2={rho2}")
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= T):
        raise ValueError(f"k must be an integer number of clusters in [1, T={T}], got {k!r}")
    dtype = data.X.dtype
    hyper = {
        "rho1": jnp.asarray(rho1, dtype),
        "rho2": jnp.asarray(rho2, dtype),
        "k": jnp.asarray(k, dtype),
    }
    res = solve(
        data,
        0.0,
        _zeros(data),
        hyper,
        tol=tol,
        loss="least_cmtl",
        penalty="none",
        max_iter=max_iter,
    )
    check_solution("least_cmtl", res.params, res.objective, data)
    M = prox.cluster_matrix(res.params, hyper["rho2"] / hyper["rho1"], hyper["k"])
    return CMTLResult(W=res.params, M=M, clusters=cluster_tasks(M, k, seed), **_report(res))


def cluster_tasks(M, k, seed=0) -> np.ndarray:
    """Task clusters from a task-relation matrix: k-means on its top-``k`` eigenvectors' rows.

    Args:
      M: ``(T, T)`` symmetric task relation (cCMTL's ``M``, or ``WᵀW``).
      k: number of clusters.
      seed: k-means seed.

    Returns:
      ``(T,)`` integer labels.
    """
    from sklearn.cluster import KMeans  # pylint: disable=g-import-not-at-top

    _, Q = np.linalg.eigh(np.asarray(M, np.float64))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(Q[:, -k:])


def logistic_l21(
    Xs, ys, lam, *, fit_intercept=False, rho_l2=0.0, max_iter=1000, tol=1e-6
) -> LogisticResult:
    """ℓ2,1-regularised multi-task logistic regression, MALSAR's Logistic_L21.

    Objective: ``min_{W,c} Σ_i (1/n_i) Σ_j log(1 + exp(−y_ij (x_ijᵀ w_i + c_i))) + λ‖W‖_{2,1}
    + ρ_L2‖W‖²_F`` with labels ``y_ij ∈ {−1, +1}`` as in MALSAR; ``c = 0`` unless
    ``fit_intercept`` (the intercepts are not penalised).

    Args:
      Xs: per-task designs ``(n_i, d)``.
      ys: per-task labels in {−1, +1}, ``(n_i,)``.
      lam: λ ≥ 0.
      fit_intercept: learn a per-task intercept ``c_i``.
      rho_l2: ρ_L2 ≥ 0.
      max_iter: maximum FISTA iterations.
      tol: relative objective-change tolerance.

    Returns:
      :class:`LogisticResult` with ``W (d, T)`` and ``c (T,)``.
    """
    _check_nonneg(lam=lam, rho_l2=rho_l2)
    data = stack_tasks(Xs, ys)
    labels = np.asarray(data.y)[np.asarray(data.mask) > 0]
    if not np.all(np.isin(labels, (-1.0, 1.0))):
        raise ValueError(
            f"logistic_l21 labels must be -1 or +1, got values {np.unique(labels)[:5]}"
        )
    c0 = jnp.zeros((data.y.shape[0],), data.X.dtype)
    penalty = "l21_intercept" if fit_intercept else "l21"
    lam_ = jnp.stack([jnp.asarray(lam), jnp.zeros(())]) if fit_intercept else lam
    if fit_intercept:
        res = solve(
            data,
            lam_,
            (_zeros(data), c0),
            {"rho_l2": rho_l2},
            tol=tol,
            loss="logistic",
            penalty=penalty,
            max_iter=max_iter,
        )
        W, c = res.params
    else:
        res = solve(
            data,
            lam_,
            _zeros(data),
            {"rho_l2": rho_l2, "c": c0},
            tol=tol,
            loss="logistic_noc",
            penalty=penalty,
            max_iter=max_iter,
        )
        W, c = res.params, c0
    check_solution("logistic_l21", (W, c), res.objective, data)
    return LogisticResult(W=W, c=c, **_report(res))
