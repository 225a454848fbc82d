"""Regularisation paths over a λ grid, as one program, and k-fold cross-validation over λ.

Two interchangeable strategies give the same solutions (to the solver tolerance):

* ``mode="vmap"``: every λ solved from zero at once, :func:`jax.vmap` over the jitted FISTA solve —
  one program; its ``while`` loop runs until the slowest λ has converged (docs/design.md).
* ``mode="scan"``: λ visited in the given order inside one :func:`jax.lax.scan`, each solve
  warm-started from the previous solution and Lipschitz estimate (the classic pathwise strategy of
  glmnet / MALSAR's ``opts.init = 1``); best on a decreasing grid.

For the least-squares loss with a row-separable penalty (``l21``, ``l1inf``) the scan solves each
λ on a working set of feature rows (the previous support, then the strong rule's ranking; every
row left out is checked against the KKT condition, and the full problem is the fallback), so its
matrix products shrink from ``d`` to 64 rows (:func:`working_set_size`).

On CPU the warm-started scan is the default (benchmarks/mtl_path.py compares it with vmap and
scikit-learn; benchmarks/README.md has the figures); vmap pays for its slowest member and for cold
starts, and is meant for accelerators or for sweeps of independent problems.

Cross-validation folds are masks over the padded task data, so all folds share shapes and are
vmapped too.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.multitask import data as mtl_data
from jaxdl.multitask import solvers


def lambda_max_l21(Xs, ys) -> jax.Array:
    """Smallest λ at which ``W = 0`` solves Least_L21: ``max_j ‖(∇f(0))_j‖₂`` over feature rows.

    Args:
      Xs: per-task designs (any form accepted by :func:`solvers.stack_tasks`).
      ys: per-task targets.

    Returns:
      Scalar ``max_j ‖[X_1ᵀy_1, …, X_Tᵀy_T]_j‖₂``.
    """
    data = solvers.stack_tasks(Xs, ys)
    W0 = jnp.zeros((data.X.shape[-1], data.y.shape[0]), data.X.dtype)
    G = jax.grad(solvers.squared_loss)(W0, data, {})
    return jnp.max(ROW_DUAL_NORMS["l21"](G))


def lambda_grid(lam_max, num=50, ratio=1e-2) -> jax.Array:
    """A decreasing geometric grid from ``lam_max`` to ``ratio · lam_max``.

    Args:
      lam_max: largest λ (e.g. :func:`lambda_max_l21`).
      num: number of values.
      ratio: smallest / largest, in (0, 1].

    Returns:
      ``(num,)`` array.
    """
    if not 0.0 < ratio <= 1.0 or num < 1:
        raise ValueError(f"need num >= 1 and 0 < ratio <= 1, got num={num}, ratio={ratio}")
    return lam_max * jnp.logspace(0.0, np.log10(ratio), num)


def _zeros_like_params(data, loss):
    W = jnp.zeros((data.X.shape[-1], data.y.shape[0]), data.X.dtype)
    if loss == "least_pq":
        return (W, W)
    if loss == "logistic":
        return (W, jnp.zeros((data.y.shape[0],), data.X.dtype))
    return W


# row-wise dual norms of the row-separable penalties: row j of W is zero at the optimum iff
# dual(∇f(W))_j ≤ λ (the KKT condition that a working set is checked against)
ROW_DUAL_NORMS = {
    "l21": lambda G: jnp.sqrt(jnp.sum(G * G, axis=1)),
    "l1inf": lambda G: jnp.sum(jnp.abs(G), axis=1),
}


def _working_set_solve(data, lam, W, G, L, hyper, tol, *, penalty, max_iter, size):
    """One least-squares λ of a path on a working set of ``size`` feature rows, checked by KKT.

    The rows kept are the nonzero rows of the previous solution ``W`` and then the rows with the
    largest ``dual(∇f(W))_j``, the score of the sequential strong rule (Tibshirani et al. 2012), so
    the sub-problem's designs are ``(·, n, size)`` instead of ``(·, n, d)``. Every row left out
    must satisfy the KKT condition ``dual(∇f)_j ≤ λ`` at the sub-problem's solution; if one does
    not (the support outgrew ``size``), the full problem is solved, warm-started from it. Either
    way the result solves the full problem.

    Returns:
      ``(FistaResult, ∇f(W_new))`` with ``params`` of full size ``(d, T)``.
    """
    dual = ROW_DUAL_NORMS[penalty]
    score = jnp.where(jnp.any(W != 0, axis=1), jnp.inf, dual(G))
    _, rows = jax.lax.top_k(score, size)
    sub = solvers.TaskData(jnp.take(data.X, rows, axis=-1), data.y, data.mask)
    res = solvers.solve(
        sub, lam, W[rows], hyper, L, tol, loss="least", penalty=penalty, max_iter=max_iter
    )
    W_new = jnp.zeros_like(W).at[rows].set(res.params)
    f = lambda W: solvers.squared_loss(W, data, hyper)
    G_new = jax.grad(f)(W_new)
    outside = jnp.ones(W.shape[0], bool).at[rows].set(False)
    # the slack matches FISTA's stopping accuracy (its gradient-mapping test is at √tol)
    violated = jnp.any(outside & (dual(G_new) > lam * (1.0 + jnp.sqrt(tol))))

    def full(_):
        out = solvers.solve(
            data, lam, W_new, hyper, res.L, tol, loss="least", penalty=penalty, max_iter=max_iter
        )
        return out._replace(iterations=out.iterations + res.iterations), jax.grad(f)(out.params)

    def kept(_):
        residual = solvers.fixed_point_residual(
            f, solvers.PENALTIES[penalty], lam, W_new, res.L, g=G_new
        )
        return res._replace(params=W_new, residual=residual), G_new

    return jax.lax.cond(violated, full, kept, None)


def working_set_size(penalty, loss, d, working_set="auto"):
    """The static working-set size a least-squares path uses, or ``None`` for the full problem.

    Args:
      penalty: the path's penalty.
      loss: the path's loss.
      d: number of features.
      working_set: ``"auto"`` (64 rows when ``d > 128`` for a row-separable penalty — ``l21``,
        ``l1inf`` — and the ``least`` loss), an int, or ``None`` (no working set).

    Returns:
      The number of rows, or ``None`` where the path solves the full problem (other losses and
      penalties, or a working set of at least ``d`` rows).
    """
    if (
        working_set is not None
        and working_set != "auto"
        and (not isinstance(working_set, (int, np.integer)) or working_set < 1)
    ):
        raise ValueError(f"working_set must be 'auto', None or a positive int, got {working_set!r}")
    if working_set is None or loss != "least" or penalty not in ROW_DUAL_NORMS:
        return None
    if working_set == "auto":
        return 64 if d > 128 else None
    return int(working_set) if working_set < d else None


def solve_over_grid(solve, grid, params0, mode):
    """``solve(g, params0, L0) -> FistaResult`` at every point of ``grid``, in one program.

    Args:
      solve: one problem's solver at grid point ``g`` from ``params0`` with Lipschitz guess ``L0``.
      grid: ``(K, ...)`` grid points.
      params0: the cold start.
      mode: ``"vmap"`` (every point from ``params0`` at once) or ``"scan"`` (the points in order,
        each warm-started from the previous solution and Lipschitz estimate).

    Returns:
      The results, stacked on a leading ``(K,)`` axis.
    """
    if mode == "vmap":
        return jax.vmap(lambda g: solve(g, params0, 1.0))(grid)

    def step(carry, g):
        res = solve(g, *carry)
        return (res.params, res.L), res

    L0 = jnp.ones((), jax.tree.leaves(params0)[0].dtype)
    return jax.lax.scan(step, (params0, L0), grid)[1]


@functools.partial(jax.jit, static_argnames=("loss", "penalty", "max_iter", "mode", "working_set"))
def _path(data, lams, hyper, tol, *, loss, penalty, max_iter, mode, working_set=None):
    params0 = _zeros_like_params(data, loss)
    if mode == "scan" and working_set is not None:

        def screened(carry, lam):
            W, G, L = carry
            res, G = _working_set_solve(
                data, lam, W, G, L, hyper, tol, penalty=penalty, max_iter=max_iter, size=working_set
            )
            return (res.params, G, res.L), res

        G0 = jax.grad(solvers.squared_loss)(params0, data, hyper)
        return jax.lax.scan(screened, (params0, G0, jnp.ones((), data.X.dtype)), lams)[1]

    solve = functools.partial(solvers.solve, loss=loss, penalty=penalty, max_iter=max_iter)
    return solve_over_grid(
        lambda lam, p0, L0: solve(data, lam, p0, hyper, L0, tol), lams, params0, mode
    )


def regularization_path(
    Xs,
    ys,
    lams,
    *,
    loss="least",
    penalty="l21",
    hyper=None,
    mode="scan",
    max_iter=1000,
    tol=1e-6,
    working_set="auto",
) -> solvers.FistaResult:
    """Solves ``LOSSES[loss] + λ · PENALTIES[penalty]`` for every λ of a grid in one program.

    Args:
      Xs: per-task designs (any form accepted by :func:`solvers.stack_tasks`).
      ys: per-task targets.
      lams: ``(K,)`` grid (``(K, 2)`` for the rMTFL pair); decreasing suits ``mode="scan"``.
      loss: a key of ``solvers.LOSSES`` (``least``, ``logistic``, ``least_pq``).
      penalty: a key of ``solvers.PENALTIES`` (``l21``, ``l1inf``, ``trace``, ``rmtfl``, …).
      hyper: extra smooth-part constants (e.g. ``{"rho_l2": 0.1}``).
      mode: ``"scan"`` (warm-started sequence, the CPU default) or ``"vmap"`` (all λ at once,
        from 0).
      max_iter: maximum FISTA iterations per λ.
      tol: relative objective-change tolerance.
      working_set: for ``mode="scan"`` with the ``least`` loss and the ``l21`` or ``l1inf``
        penalty, solve each λ on this many feature rows (ranked by the strong rule, checked by KKT,
        the full problem as fallback; :func:`working_set_size`): ``"auto"``, an int, or ``None``.
        The solutions are the full problem's either way.

    Returns:
      A :class:`solvers.FistaResult` whose leaves have a leading ``(K,)`` axis; ``params`` is
      ``(K, d, T)`` for ``W``. ``iterations`` counts the working-set and fallback solves together.
    """
    if mode not in ("vmap", "scan"):
        raise ValueError(f"mode must be 'vmap' or 'scan', got {mode!r}")
    if loss not in solvers.LOSSES or penalty not in solvers.PENALTIES:
        raise ValueError(
            f"unknown loss {loss!r} or penalty {penalty!r}; losses: "
            f"{sorted(solvers.LOSSES)}, penalties: {sorted(solvers.PENALTIES)}"
        )
    data = solvers.stack_tasks(Xs, ys)
    lams = jnp.asarray(lams, data.X.dtype)
    if np.any(np.asarray(lams) < 0):
        raise ValueError("every λ of the grid must be non-negative")
    size = (
        working_set_size(penalty, loss, data.X.shape[-1], working_set) if mode == "scan" else None
    )
    res = _path(
        data,
        lams,
        {} if hyper is None else hyper,
        jnp.asarray(tol, data.X.dtype),
        loss=loss,
        penalty=penalty,
        max_iter=max_iter,
        mode=mode,
        working_set=size,
    )
    mtl_data.check_solution("regularization_path", res.params, res.objective, data)
    return res


class CVResult(NamedTuple):
    """k-fold cross-validation over a λ grid.

    Attributes:
      lams: ``(K,)`` the grid.
      mse: ``(K,)`` validation mean squared error, pooled over tasks, averaged over folds.
      mse_std: ``(K,)`` standard deviation of the fold errors.
      best_lam: the λ with the smallest ``mse``.
      W: ``(d, T)`` refit on all the data at ``best_lam``.
    """

    lams: jax.Array
    mse: jax.Array
    mse_std: jax.Array
    best_lam: jax.Array
    W: jax.Array


def fold_ids(mask, k, seed=0) -> np.ndarray:
    """Assigns every real sample of every task to one of ``k`` folds, shuffled within each task.

    Args:
      mask: ``(T, n_max)`` sample mask of :class:`solvers.TaskData`.
      k: number of folds (≥ 2).
      seed: shuffling seed.

    Returns:
      ``(T, n_max)`` integer fold ids (−1 on padding).
    """
    if k < 2:
        raise ValueError(f"k-fold cross-validation needs k >= 2, got {k}")
    mask = np.asarray(mask) > 0
    rng = np.random.default_rng(seed)
    ids = np.full(mask.shape, -1)
    for t in range(mask.shape[0]):
        n_t = int(mask[t].sum())
        if n_t < k:
            raise ValueError(f"task {t} has {n_t} samples, fewer than k={k} folds")
        ids[t, np.flatnonzero(mask[t])] = rng.permutation(n_t) % k
    return ids


# penalties of a single weight matrix W (d, T) that cross_validate tunes
CV_PENALTIES = ("l21", "l1inf", "trace")


def cross_validate(
    Xs, ys, lams, *, k=5, seed=0, penalty="l21", mode="scan", max_iter=1000, tol=1e-6
) -> CVResult:
    """k-fold cross-validation of a least-squares multi-task solver over λ.

    MALSAR's CrossValidation1Param.

    Folds split every task's samples; all ``k × K`` solves run as one vmapped program.

    Args:
      Xs: per-task designs.
      ys: per-task targets.
      lams: ``(K,)`` grid.
      k: number of folds.
      seed: fold-shuffling seed.
      penalty: ``l21``, ``l1inf`` or ``trace``.
      mode: path strategy per fold (``scan`` or ``vmap``).
      max_iter: maximum FISTA iterations per λ.
      tol: relative objective-change tolerance.

    Returns:
      :class:`CVResult`.
    """
    if penalty not in CV_PENALTIES:
        raise ValueError(
            f"cross_validate: unknown penalty {penalty!r}; accepted: {', '.join(CV_PENALTIES)}"
        )
    if mode not in ("vmap", "scan"):
        raise ValueError(f"mode must be 'vmap' or 'scan', got {mode!r}")
    data = solvers.stack_tasks(Xs, ys)
    ids = jnp.asarray(fold_ids(data.mask, k, seed))
    lams = jnp.asarray(lams, data.X.dtype)
    if lams.ndim != 1 or (not isinstance(lams, jax.core.Tracer) and np.any(np.asarray(lams) < 0)):
        raise ValueError(f"lams must be a 1-D grid of non-negative values, got shape {lams.shape}")
    tol = jnp.asarray(tol, data.X.dtype)

    def fold_error(f):
        train_mask = data.mask * (ids != f)
        val_mask = data.mask * (ids == f)
        train = solvers.TaskData(data.X, data.y * train_mask, train_mask)
        res = _path(
            train, lams, {}, tol, loss="least", penalty=penalty, max_iter=max_iter, mode=mode
        )
        return mtl_data.masked_mse(data.X, data.y, val_mask, res.params)  # (K,)

    errors = jax.jit(jax.vmap(fold_error))(jnp.arange(k))  # (k, K)
    mse = jnp.mean(errors, axis=0)
    best = lams[jnp.argmin(mse)]
    W = solvers.solve(
        data,
        best,
        jnp.zeros((data.X.shape[-1], data.y.shape[0]), data.X.dtype),
        tol=tol,
        loss="least",
        penalty=penalty,
        max_iter=max_iter,
    ).params
    mtl_data.check_solution("cross_validate", (W, errors), jnp.mean(errors), data)
    return CVResult(lams=lams, mse=mse, mse_std=jnp.std(errors, axis=0), best_lam=best, W=W)
