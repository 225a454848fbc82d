"""Accelerated proximal gradient (FISTA with backtracking) and the MALSAR-named multi-task solvers.

Conventions follow MALSAR (Zhou, Chen & Ye 2011): ``Xs[i] (n_i, d)``, ``ys[i] (n_i,)``, the weight
matrix ``W`` is ``(d, T)`` (column ``w_i`` is task ``i``), no intercept unless asked, and the
least-squares loss is ``Σ_i ½‖X_i w_i − y_i‖²``. Tasks with different ``n_i`` are zero-padded to
``n_max`` with a mask (:func:`jaxdl.multitask.data.stack_tasks`), so one jit-compiled program serves every task and
every λ of a path (``jaxdl.multitask.path``).

The solver is the monotone FISTA of Beck & Teboulle (2009, "Fast gradient-based algorithms for
constrained total variation ...", MFISTA, with the backtracking rule of Beck & Teboulle 2009 SIAM J.
Imaging Sci. §4): it keeps the best point so far, so the objective never increases.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.multitask import prox
# re-exported: the data layout and losses live in jaxdl.multitask.data
from jaxdl.multitask.data import (  # pylint: disable=unused-import
    LOSSES, TaskData, cmtl_loss, logistic_loss, pq_squared_loss, predict, ridge, squared_loss, squared_residual, stack_tasks)


PENALTIES = {"l21": prox.l21(), "l1inf": prox.l1inf(), "trace": prox.trace(), "none": prox.zero(),
             "rmtfl": prox.pair(prox.l21(), prox.columns_l21()),
             "l21_intercept": prox.pair(prox.l21(), prox.zero())}


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
  # a fused multiply-reduce: XLA:CPU's dot of two flattened matrices measured ~60 µs here, ~10x slower
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
  return Smooth(aux=lambda x: (), value=lambda x, a: f(x), value_and_grad=lambda y, a: value_and_grad(y))


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


def _backtrack(smooth, penalty, lam, x, y, ay, fy, gy, L, eta, max_backtrack):
  """Smallest ``L·eta^k`` satisfying the quadratic upper bound at the prox step (Beck & Teboulle).

  Returns ``(L, z, a(z), f(z), s)`` with ``s = [‖z − y‖², ‖∇f(y)‖², ⟨y − z, z − x⟩]``, the
  inner products FISTA's restart and stopping rules need, from the same reduction as the bound.
  """

  def attempt(L):
    z = _prox_step(penalty, lam, y, gy, L)
    az = smooth.aux(z)
    fz = smooth.value(z, az)
    diff = _axpy(-1.0, y, z)
    quad = _vdot(diff, _axpy(0.5 * L, diff, gy))  # ⟨∇f(y), z − y⟩ + (L/2)‖z − y‖², one reduction
    s = [_vdot(diff, diff), _vdot(gy, gy), _vdot(diff, _axpy(-1.0, z, x))]
    # slack at the loss's round-off level (eigh / SVD in float32 are noisier than a matmul), or
    # near the optimum noise alone would fail the test and inflate L without bound
    ok = fz <= fy + quad + 64 * jnp.finfo(fy.dtype).eps * jnp.abs(fy)
    return L, z, az, fz, jnp.stack(s), ok

  def cond(carry):
    *_, ok, count = carry
    return jnp.logical_and(~ok, count <= max_backtrack)

  def body(carry):
    L, *_, count = carry
    return *attempt(L * eta), count + 1

  # the first attempt outside the loop: after the first iterations of a solve (and along a
  # warm-started path) it is nearly always accepted, and a while loop costs its carries' copies
  first = attempt(L)
  out = jax.lax.cond(first[-1], lambda c: c, lambda c: jax.lax.while_loop(cond, body, c),
                     (*first, 1))
  return out[:5]


def fista(f, penalty, lam, params0, *, L0=1.0, max_iter=1000, tol=1e-6, eta=2.0,
          max_backtrack=40, smooth: Smooth | None = None) -> FistaResult:
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
      :func:`plain_smooth` ``(f)``. ``f`` itself is still used for the final residual.

  Returns:
    A :class:`FistaResult`.
  """
  smooth = plain_smooth(f) if smooth is None else smooth
  F = lambda x, fx: fx + jnp.sum(lam * penalty.value(x))
  dtype = jax.tree.leaves(params0)[0].dtype
  a0 = smooth.aux(params0)
  F0 = F(params0, smooth.value(params0, a0))
  res_tol = jnp.sqrt(jnp.asarray(tol, dtype))

  def cond(state):
    k, *_, done, _ = state
    return jnp.logical_and(k < max_iter, ~done)

  def body(state):
    k, (x, ax), (y, ay), t, L, F_x, _, history = state
    fy, gy = smooth.value_and_grad(y, ay)
    L, z, az, fz, (diff_sq, g_sq, uphill) = _backtrack(smooth, penalty, lam, x, y, ay, fy, gy, L,
                                                       eta, max_backtrack)
    F_z = F(z, fz)
    better = F_z <= F_x
    x_new, ax_new = _where(better, z, x), _where(better, az, ax)
    F_new = jnp.minimum(F_z, F_x)
    # gradient-scheme adaptive restart (O'Donoghue & Candès 2015, eq. 12): drop the momentum when
    # it points uphill, ⟨y − z, z − x⟩ > 0; it cuts iterations on ill-conditioned (n < d) tasks
    t = jnp.where(uphill > 0, 1.0, t)
    t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
    # MFISTA extrapolation: y = x_k + (t/t')(z_k − x_k) + ((t−1)/t')(x_k − x_{k−1}), and the same
    # combination of the cached auxiliaries (a is linear)
    extrapolate = lambda xn, zz, xo: jax.tree.map(
        lambda xn, zz, xo: xn + (t / t_new) * (zz - xn) + ((t - 1.0) / t_new) * (xn - xo), xn, zz, xo)
    y_new, ay_new = extrapolate(x_new, z, x), extrapolate(ax_new, az, ax)
    g_map = L * jnp.sqrt(diff_sq) / jnp.maximum(1.0, jnp.sqrt(g_sq))
    rel = jnp.abs(F_x - F_new) / jnp.maximum(jnp.abs(F_x), jnp.finfo(dtype).tiny)
    done = jnp.logical_and(rel <= tol, g_map <= res_tol)
    history = history.at[k].set(F_new)
    return k + 1, (x_new, ax_new), (y_new, ay_new), t_new, L, F_new, done, history

  start = (params0, a0)
  init = (0, start, start, jnp.ones((), dtype), jnp.asarray(L0, dtype), F0,
          jnp.zeros((), bool), jnp.full((max_iter,), jnp.nan, dtype))
  k, (x, _), _, _, L, F_x, done, history = jax.lax.while_loop(cond, body, init)
  return FistaResult(params=x, objective=F_x, iterations=k,
                     residual=fixed_point_residual(f, penalty, lam, x, L), converged=done,
                     L=L, history=history)


def fixed_point_residual(f, penalty, lam, x, L, g=None):
  """``L‖x − prox_{λg/L}(x − ∇f(x)/L)‖ / max(1, ‖∇f(x)‖)``: zero iff ``x`` is optimal.

  ``g``, when given, is ``∇f(x)`` already computed (``f`` is then not differentiated).
  """
  g = jax.grad(f)(x) if g is None else g
  diff = _axpy(-1.0, x, _prox_step(penalty, lam, x, g, L))
  return L * jnp.sqrt(_vdot(diff, diff)) / jnp.maximum(1.0, jnp.sqrt(_vdot(g, g)))


@functools.partial(jax.jit, static_argnames=("loss", "penalty", "max_iter"))
def solve(data: TaskData, lam, params0, hyper=None, L0=1.0, tol=1e-6, *, loss="least",
          penalty="l21", max_iter=1000) -> FistaResult:
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
  hyper = {} if hyper is None else hyper
  f = lambda params: LOSSES[loss](params, data, hyper)
  smooth = None
  if loss == "least":  # cache the predictions X_i w_i: one product with X and one with Xᵀ per iteration
    smooth = linear_smooth(lambda W: predict(data.X, W), lambda P: squared_residual(P, data),
                           (lambda W: ridge(W, hyper)) if "rho_l2" in hyper else None, params0)
  return fista(f, PENALTIES[penalty], jnp.asarray(lam, data.X.dtype), params0, L0=L0,
               max_iter=max_iter, tol=tol, smooth=smooth)


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
  """cCMTL result: ``W (d, T)``, the task relation ``M (T, T)`` and recovered ``clusters (T,)``."""

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
  for name, value in values.items():
    if not np.isscalar(value) and np.ndim(value) != 0:
      continue  # traced or batched values are checked by the caller
    if not float(value) >= 0.0:
      raise ValueError(f"{name} must be a non-negative number, got {value}")


def _report(res: FistaResult):
  return dict(objective=res.objective, iterations=res.iterations, residual=res.residual,
              converged=res.converged)


def _zeros(data: TaskData):
  return jnp.zeros((data.X.shape[-1], data.y.shape[0]), data.X.dtype)


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
  res = solve(data, lam, _zeros(data) if W0 is None else W0, {"rho_l2": rho_l2}, tol=tol,
              loss="least", penalty="l21" if q == 2 else "l1inf", max_iter=max_iter)
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
  res = solve(data, lam, _zeros(data) if W0 is None else W0, {"rho_l2": rho_l2}, tol=tol,
              loss="least", penalty="trace", max_iter=max_iter)
  return MTLResult(W=res.params, **_report(res))


def least_rmtfl(Xs, ys, lam1, lam2, *, max_iter=1000, tol=1e-6) -> RMTFLResult:
  """Robust multi-task feature learning, MALSAR's Least_rMTFL (Gong, Ye & Zhang, KDD 2012, eq. 2).

  Objective: ``min_{P,Q} Σ_i ½‖X_i (p_i + q_i) − y_i‖² + λ1‖P‖_{1,2} + λ2‖Qᵀ‖_{1,2}``, where
  ``‖P‖_{1,2} = Σ_j ‖P_j‖₂`` sums row norms (features shared by all tasks) and
  ``‖Qᵀ‖_{1,2} = Σ_i ‖q_i‖₂`` sums column norms (a few outlier tasks); ``W = P + Q``.

  Args:
    Xs: per-task designs ``(n_i, d)``.
    ys: per-task targets ``(n_i,)``.
    lam1: λ1 ≥ 0 (row sparsity of P).
    lam2: λ2 ≥ 0 (column sparsity of Q).
    max_iter: maximum FISTA iterations.
    tol: relative objective-change tolerance.

  Returns:
    :class:`RMTFLResult` with ``W, P, Q`` all ``(d, T)``.
  """
  _check_nonneg(lam1=lam1, lam2=lam2)
  data = stack_tasks(Xs, ys)
  zeros = _zeros(data)
  res = solve(data, jnp.stack([jnp.asarray(lam1), jnp.asarray(lam2)]), (zeros, zeros), tol=tol,
              loss="least_pq", penalty="rmtfl", max_iter=max_iter)
  P, Q = res.params
  return RMTFLResult(W=P + Q, P=P, Q=Q, **_report(res))


def least_cmtl(Xs, ys, rho1, rho2, k, *, max_iter=1000, tol=1e-6, seed=0) -> CMTLResult:
  """Convex clustered MTL, MALSAR's Least_CMTL: the cCMTL relaxation of Zhou, Chen & Ye (NIPS 2011).

  Objective (Zhou et al. 2011, eq. 9):
  ``min_{W, M} Σ_i ½‖X_i w_i − y_i‖² + ρ1 η(1+η) tr(W(ηI + M)⁻¹Wᵀ)``, ``η = ρ2/ρ1``, subject to
  ``tr M = k, 0 ≼ M ≼ I``. ``M`` is eliminated in closed form (:func:`prox.relaxed_cluster_norm`),
  leaving a smooth convex problem in ``W`` solved by FISTA. Clusters are recovered by k-means on the
  rows of the top-``k`` eigenvectors of ``M`` (a spectral relaxation of k-means on the tasks).

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
  hyper = {"rho1": jnp.asarray(rho1, dtype), "rho2": jnp.asarray(rho2, dtype),
           "k": jnp.asarray(k, dtype)}
  res = solve(data, 0.0, _zeros(data), hyper, tol=tol, loss="least_cmtl", penalty="none",
              max_iter=max_iter)
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


def logistic_l21(Xs, ys, lam, *, fit_intercept=False, rho_l2=0.0, max_iter=1000,
                 tol=1e-6) -> LogisticResult:
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
    raise ValueError(f"logistic_l21 labels must be -1 or +1, got values {np.unique(labels)[:5]}")
  c0 = jnp.zeros((data.y.shape[0],), data.X.dtype)
  penalty = "l21_intercept" if fit_intercept else "l21"
  lam_ = jnp.stack([jnp.asarray(lam), jnp.zeros(())]) if fit_intercept else lam
  if fit_intercept:
    res = solve(data, lam_, (_zeros(data), c0), {"rho_l2": rho_l2}, tol=tol, loss="logistic",
                penalty=penalty, max_iter=max_iter)
    W, c = res.params
  else:
    res = solve(data, lam_, _zeros(data), {"rho_l2": rho_l2, "c": c0}, tol=tol,
                loss="logistic_noc", penalty=penalty, max_iter=max_iter)
    W, c = res.params, c0
  return LogisticResult(W=W, c=c, **_report(res))
