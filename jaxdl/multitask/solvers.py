"""Accelerated proximal gradient (FISTA with backtracking) for the multi-task objectives.

Conventions follow MALSAR (Zhou, Chen & Ye 2011): ``Xs[i] (n_i, d)``, ``ys[i] (n_i,)``, the weight
matrix ``W`` is ``(d, T)`` (column ``w_i`` is task ``i``), no intercept unless asked, and the
least-squares loss is ``Σ_i ½‖X_i w_i − y_i‖²``. Tasks with different ``n_i`` are zero-padded to
``n_max`` with a mask (:func:`jaxdl.multitask.data.stack_tasks`), so one jit-compiled program
serves every task and every λ of a path (``jaxdl.multitask.path``).

The solver is the monotone FISTA of Beck & Teboulle (2009, "Fast gradient-based algorithms for
constrained total variation ...", MFISTA, with the backtracking rule of Beck & Teboulle 2009 SIAM J.
Imaging Sci. §4): it keeps the best point so far, so the objective never increases. The
MALSAR-named entry points (``least_l21``, ``least_trace``, …) are in :mod:`jaxdl.multitask.malsar`.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.multitask import prox

# TaskData, stack_tasks and squared_loss are re-exported; the data layout is jaxdl.multitask.data
from jaxdl.multitask.data import (  # noqa: F401
    LOSSES,
    TaskData,
    predict,
    ridge,
    squared_loss,
    squared_residual,
    stack_tasks,
)

PENALTIES = {
    "l21": prox.l21(),
    "l1inf": prox.l1inf(),
    "trace": prox.trace(),
    "none": prox.zero(),
    "rmtfl": prox.pair(prox.l21(), prox.columns_l21()),
    "l21_intercept": prox.pair(prox.l21(), prox.zero()),
}


class FistaResult(NamedTuple):
    """What :func:`solve` returns.

    Attributes:
      params: the solution (``W (d, T)``, or a tuple for rMTFL / logistic with intercept).
      objective: final objective ``f + λ·g``.
      iterations: number of outer FISTA iterations run.
      residual: scaled prox fixed-point residual at the solution,
        ``L‖W − prox_{λ g/L}(W − ∇f(W)/L)‖_F / max(1, ‖∇f(W)‖_F)`` (0 exactly at an optimum).
      converged: whether the stopping rule fired before ``max_iter``.
      L: the final Lipschitz estimate from backtracking.
      history: ``(max_iter,)`` objective after each iteration (NaN after the last).
    """

    params: Any
    objective: jax.Array
    iterations: jax.Array
    residual: jax.Array
    converged: jax.Array
    L: jax.Array
    history: jax.Array


def _vdot(a, b):
    # a fused multiply-reduce: XLA:CPU's dot of two flattened matrices was much slower
    return sum(jnp.sum(x * y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _axpy(alpha, x, y):
    return jax.tree.map(lambda u, v: alpha * u + v, x, y)


def _prox_step(penalty, lam, y, g, L):
    """``prox_{λg/L}(y − g/L)``."""
    return penalty.prox(_axpy(-1.0 / L, g, y), lam / L)


class Smooth(NamedTuple):
    """The smooth part ``f`` as FISTA evaluates it, with an optional cached auxiliary ``a(x)``.

    For ``f(x) = h(A x) + q(x)`` with ``A`` linear (least squares: ``A x`` are the predictions), the
    auxiliary is ``A x``: FISTA's extrapolated point ``y`` is a linear combination of earlier
    points, so ``A y`` is the same combination of their cached ``A x`` and each iteration needs one
    product with ``A`` (at the prox step) and one with ``Aᵀ`` (the gradient), not two and one.

    Attributes:
      aux: ``x -> a(x)`` (a pytree, combined linearly; ``()`` when nothing is cached).
      value: ``(x, a(x)) -> f(x)``.
      value_and_grad: ``(y, a(y)) -> (f(y), ∇f(y))``.
    """

    aux: Any
    value: Any
    value_and_grad: Any


def plain_smooth(f) -> Smooth:
    """:class:`Smooth` for any differentiable ``f`` (no cache; autodiff for the gradient)."""
    value_and_grad = jax.value_and_grad(f)
    return Smooth(
        aux=lambda x: (), value=lambda x, a: f(x), value_and_grad=lambda y, a: value_and_grad(y)
    )


def linear_smooth(A, h, q, x_like) -> Smooth:
    """:class:`Smooth` for ``f(x) = h(A x) + q(x)``, ``A`` linear, caching ``A x``.

    Args:
      A: linear map ``x -> A x``.
      h: differentiable function of ``A x``.
      q: differentiable function of ``x`` (e.g. a ridge term), cheap to evaluate; ``None`` for 0.
      x_like: an array shaped like ``x`` (for ``Aᵀ = jax.linear_transpose(A)``).
    """
    A_T = jax.linear_transpose(A, x_like)
    h_vg = jax.value_and_grad(h)
    q_vg = None if q is None else jax.value_and_grad(q)

    def value(x, Ax):
        return h(Ax) if q is None else h(Ax) + q(x)

    def value_and_grad(y, Ay):
        hy, gh = h_vg(Ay)
        g = A_T(gh)[0]
        if q_vg is None:
            return hy, g
        qy, gq = q_vg(y)
        return hy + qy, _axpy(1.0, g, gq)

    return Smooth(aux=A, value=value, value_and_grad=value_and_grad)


def _where(c, a, b):
    return jax.tree.map(lambda u, v: jnp.where(c, u, v), a, b)


def _backtrack(smooth, penalty, lam, y, ay, fy, gy, L, eta, max_backtrack):
    """Smallest ``L·eta^k`` satisfying the quadratic upper bound at the prox step (Beck & Teboulle).

    Returns ``(L, z, a(z), f(z), ‖z − y‖²)``; FISTA's stopping rule reuses the last.
    """

    def attempt(L):
        z = _prox_step(penalty, lam, y, gy, L)
        az = smooth.aux(z)
        fz = smooth.value(z, az)
        diff = _axpy(-1.0, y, z)
        diff_sq = _vdot(diff, diff)
        bound = fy + _vdot(gy, diff) + 0.5 * L * diff_sq
        # slack at the loss's round-off level (eigh / SVD in float32 are noisier than a matmul), or
        # near the optimum noise alone would fail the test and inflate L without bound
        ok = fz <= bound + 64 * jnp.finfo(fy.dtype).eps * jnp.abs(fy)
        return L, z, az, fz, diff_sq, ok

    def cond(carry):
        *_, ok, count = carry
        return jnp.logical_and(~ok, count <= max_backtrack)

    def body(carry):
        L, *_, count = carry
        return *attempt(L * eta), count + 1

    # the first attempt outside the loop: after the first iterations of a solve (and along a
    # warm-started path) it is nearly always accepted, and a while loop costs its carries' copies
    first = attempt(L)
    out = jax.lax.cond(
        first[-1], lambda c: c, lambda c: jax.lax.while_loop(cond, body, c), (*first, 1)
    )
    return out[:5]


# below L0 / 2^10 the measured curvature replaces L0: backtracking only raises L, so a guess far
# above the true constant (features at 1e-3 scale with L0 = 1) would make every step tiny
_START_RATIO = 2.0**-10


def start_lipschitz(smooth: Smooth, x0, a0, L0):
    """FISTA's starting Lipschitz estimate: ``L0``, or the secant curvature at ``x0`` where
    that is below ``L0 · 2^-10``.

    The secant ``‖∇f(x1) − ∇f(x0)‖ / ‖x1 − x0‖`` along the gradient step ``x1 = x0 − ∇f(x0)/L0`` is
    a lower bound of the Lipschitz constant (``‖Hg‖/‖g‖`` for a quadratic), so backtracking still
    raises it where needed; it makes the solvers' behaviour free of the features' scale. A guess
    within a factor 2^10 of it is kept as given, so warm-started paths keep their estimates.
    """
    _, g0 = smooth.value_and_grad(x0, a0)
    x1 = _axpy(-1.0 / L0, g0, x0)
    _, g1 = smooth.value_and_grad(x1, smooth.aux(x1))
    dg = _axpy(-1.0, g0, g1)
    g_norm = jnp.sqrt(_vdot(g0, g0))
    secant = L0 * jnp.sqrt(_vdot(dg, dg)) / jnp.where(g_norm > 0, g_norm, 1.0)
    use = (secant > 0) & (secant < L0 * _START_RATIO) & jnp.isfinite(secant)
    return jnp.where(use, secant, L0)


def fista(
    f,
    penalty,
    lam,
    params0,
    *,
    L0=1.0,
    max_iter=1000,
    tol=1e-6,
    eta=2.0,
    max_backtrack=40,
    smooth: Smooth | None = None,
) -> FistaResult:
    """Monotone FISTA with backtracking for ``min f(x) + Σ λ·g(x)`` (Beck & Teboulle 2009, MFISTA).

    Momentum is reset by the gradient-scheme adaptive restart of O'Donoghue & Candès (2015).
    Stops when the relative objective change ``|F_{k−1} − F_k| / |F_{k−1}| ≤ tol`` and the scaled
    gradient-mapping residual at the extrapolated point is ``≤ √tol``.

    Args:
      f: smooth part, ``params -> scalar``; differentiated with ``jax.value_and_grad``.
      penalty: a :class:`jaxdl.multitask.prox.Penalty`.
      lam: penalty strength(s): a scalar, or a vector matching ``penalty.value``'s output.
      params0: starting point (a pytree).
      L0: initial Lipschitz estimate (backtracking only increases it).
      max_iter: maximum outer iterations (static).
      tol: relative objective-change tolerance.
      eta: backtracking growth factor (> 1).
      max_backtrack: maximum backtracking steps per iteration.
      smooth: ``f`` as a :class:`Smooth` with cached auxiliaries (:func:`linear_smooth`); default
        :func:`plain_smooth` ``(f)``.

    Returns:
      A :class:`FistaResult`.
    """
    smooth = plain_smooth(f) if smooth is None else smooth
    F = lambda x, fx: fx + jnp.sum(lam * penalty.value(x))
    dtype = jax.tree.leaves(params0)[0].dtype
    a0 = smooth.aux(params0)
    F0 = F(params0, smooth.value(params0, a0))
    L0 = start_lipschitz(smooth, params0, a0, jnp.asarray(L0, dtype))
    res_tol = jnp.sqrt(jnp.asarray(tol, dtype))

    def cond(state):
        k, *_, done, _ = state
        return jnp.logical_and(k < max_iter, ~done)

    def body(state):
        k, (x, ax), (y, ay), t, L, F_x, _, history = state
        fy, gy = smooth.value_and_grad(y, ay)
        L, z, az, fz, diff_sq = _backtrack(
            smooth, penalty, lam, y, ay, fy, gy, L, eta, max_backtrack
        )
        F_z = F(z, fz)
        better = F_z <= F_x
        x_new, ax_new = _where(better, z, x), _where(better, az, ax)
        F_new = jnp.minimum(F_z, F_x)
        # gradient-scheme adaptive restart (O'Donoghue & Candès 2015, eq. 12): drop the momentum
        # when it points uphill, ⟨y − z, z − x⟩ > 0; it cuts iterations on ill-conditioned (n < d)
        # tasks
        restart = _vdot(_axpy(-1.0, z, y), _axpy(-1.0, x, z)) > 0
        t = jnp.where(restart, 1.0, t)
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        # MFISTA extrapolation: y = x_k + (t/t')(z_k − x_k) + ((t−1)/t')(x_k − x_{k−1}), and the
        # same combination of the cached auxiliaries (a is linear)
        extrapolate = lambda xn, zz, xo: jax.tree.map(
            lambda xn, zz, xo: xn + (t / t_new) * (zz - xn) + ((t - 1.0) / t_new) * (xn - xo),
            xn,
            zz,
            xo,
        )
        y_new, ay_new = extrapolate(x_new, z, x), extrapolate(ax_new, az, ax)
        g_map = L * jnp.sqrt(diff_sq) / jnp.maximum(1.0, jnp.sqrt(_vdot(gy, gy)))
        rel = jnp.abs(F_x - F_new) / jnp.maximum(jnp.abs(F_x), jnp.finfo(dtype).tiny)
        done = jnp.logical_and(rel <= tol, g_map <= res_tol)
        history = history.at[k].set(F_new)
        return k + 1, (x_new, ax_new), (y_new, ay_new), t_new, L, F_new, done, history

    start = (params0, a0)
    init = (
        0,
        start,
        start,
        jnp.ones((), dtype),
        L0,
        F0,
        jnp.zeros((), bool),
        jnp.full((max_iter,), jnp.nan, dtype),
    )
    k, (x, ax), _, _, L, F_x, done, history = jax.lax.while_loop(cond, body, init)
    # x's auxiliary is exact (x is only ever a z or params0), so the gradient reuses it
    residual = fixed_point_residual(f, penalty, lam, x, L, g=smooth.value_and_grad(x, ax)[1])
    return FistaResult(
        params=x,
        objective=F_x,
        iterations=k,
        residual=residual,
        converged=done,
        L=L,
        history=history,
    )


def fixed_point_residual(f, penalty, lam, x, L, g=None):
    """``L‖x − prox_{λg/L}(x − ∇f(x)/L)‖ / max(1, ‖∇f(x)‖)``: zero iff ``x`` is optimal.

    ``g``, when given, is ``∇f(x)`` already computed (``f`` is then not differentiated).
    """
    g = jax.grad(f)(x) if g is None else g
    diff = _axpy(-1.0, x, _prox_step(penalty, lam, x, g, L))
    return L * jnp.sqrt(_vdot(diff, diff)) / jnp.maximum(1.0, jnp.sqrt(_vdot(g, g)))


@functools.partial(jax.jit, static_argnames=("loss", "penalty", "max_iter"))
def solve(
    data: TaskData,
    lam,
    params0,
    hyper=None,
    L0=1.0,
    tol=1e-6,
    *,
    loss="least",
    penalty="l21",
    max_iter=1000,
) -> FistaResult:
    """One jit-compiled FISTA solve of ``LOSSES[loss] + lam · PENALTIES[penalty]``.

    ``lam``, ``params0``, ``hyper``, ``L0`` and ``tol`` are traced, so :func:`jax.vmap` over any of
    them gives one program for a whole path or sweep (``jaxdl.multitask.path``).

    Args:
      data: :class:`TaskData`.
      lam: penalty strength (scalar, or length-2 for the ``rmtfl`` pair).
      params0: starting point with the loss's parameter structure.
      hyper: dict of extra smooth-part constants (``rho_l2``; ``rho1``, ``rho2``, ``k`` for cCMTL).
      L0: initial Lipschitz estimate.
      tol: relative objective-change tolerance.
      loss: a key of ``LOSSES``.
      penalty: a key of ``PENALTIES``.
      max_iter: maximum FISTA iterations.

    Returns:
      A :class:`FistaResult`.
    """
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    hyper = {} if hyper is None else hyper
    # solved on X / sigma, sigma the power of two nearest the designs' RMS, with W * sigma, every
    # strength over sigma (degree-1 penalties) or sigma^2 (ridge, cCMTL) and L over sigma^2: the
    # same problem in exact arithmetic, on which FISTA's start and stopping tests act as at unit
    # scale (sigma = 1, so the same numbers, for features of RMS within sqrt(2) of 1)
    sigma = design_scale(data)
    scaled = lambda p, by: _scale_weights(p, loss, by)
    data = TaskData(data.X / sigma, data.y, data.mask)
    hyper = {k: v / sigma**2 if k in _QUADRATIC_HYPER else v for k, v in hyper.items()}
    f = lambda params: LOSSES[loss](params, data, hyper)
    smooth = None
    if (
        loss == "least"
    ):  # cache the predictions X_i w_i: one product with X and one with Xᵀ per iteration
        smooth = linear_smooth(
            lambda W: predict(data.X, W),
            lambda P: squared_residual(P, data),
            (lambda W: ridge(W, hyper)) if "rho_l2" in hyper else None,
            params0,
        )
    res = fista(
        f,
        PENALTIES[penalty],
        jnp.asarray(lam, data.X.dtype) / sigma,
        scaled(params0, sigma),
        L0=jnp.asarray(L0, data.X.dtype) / sigma**2,
        max_iter=max_iter,
        tol=tol,
        smooth=smooth,
    )
    return res._replace(params=scaled(res.params, 1.0 / sigma), L=res.L * sigma**2)


# smooth-part constants that multiply a term of degree 2 in W (so scale as W^2)
_QUADRATIC_HYPER = ("rho_l2", "rho1", "rho2")


def design_scale(data: TaskData):
    """The power of two nearest the RMS of the designs' real entries (1 for all-zero designs).

    Dividing by a power of two is exact in floating point, so the rescaled problem in
    :func:`solve` differs from the given one only where values would underflow or overflow.
    """
    per_task = data.X.shape[0] == data.mask.shape[0]
    rows = jnp.sum(data.mask) if per_task else data.X.shape[1]
    ms = jnp.sum(data.X * data.X) / jnp.maximum(rows * data.X.shape[-1], 1)
    ok = jnp.isfinite(ms) & (ms > 0)
    k = jnp.round(0.5 * jnp.log2(jnp.where(ok, ms, 1.0)))
    return jnp.ldexp(jnp.ones((), data.X.dtype), jnp.clip(k, -60, 60).astype(jnp.int32))


def _scale_weights(params, loss: str, by):
    """The weight blocks of ``params`` times ``by``; logistic intercepts ``c`` stay as they are."""
    if loss == "logistic":
        W, c = params
        return (W * by, c)
    return jax.tree.map(lambda W: W * by, params)
