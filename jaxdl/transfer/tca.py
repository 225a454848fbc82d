"""Transfer Component Analysis (Pan, Tsang, Kwok & Yang 2011, IEEE Trans. Neural Networks 22(2)).

TCA finds a projection W of the empirical kernel map in which the MMD between the source and
target domains is small while the data variance is kept (Sec. IV-A):

    min_W  tr(W^T K L K W) + mu tr(W^T W)   s.t.  W^T K H K W = I_m,

whose solution is the m leading eigenvectors of ``(K L K + mu I)^{-1} K H K``, i.e. of the
generalised symmetric eigenproblem ``K H K w = lambda (K L K + mu I) w``. Embeddings: Z = K W.

mu convention: mu multiplies the *regulariser* tr(W^T W) (as in the brief and the authors' and
most public implementations). The paper writes mu in front of tr(W^T K L K W) instead; the two
agree with ``mu_here = 1 / mu_paper`` (the eigenvectors are the same).

K is (n_s + n_t)^2 and the exact solve O(n^3): ``tca_nystrom`` is the large-n variant.
Results are float32, also under ``jax_enable_x64``, as are :mod:`jaxdl.transfer.importance`'s
weights. ``tca_fit`` on concrete arrays solves in float64 on the host; traced (jit, vmap) it
runs in float32 with full-precision matmuls (:func:`highest_precision`), as does the rest.

Numerics (docs/design.md, "float32 kernel eigenproblems and offsets"): ``K L K + mu I`` is
``mu I + v v^T`` with ``v = K l``, so its inverse square root is closed form and no Cholesky
factorisation is taken (in float32 one fails once ``|v|^2`` dwarfs mu, e.g. features around 500).
The problem becomes the SVD of ``Y = (H K) (K L K + mu I)^{-1/2}``, since ``K H K = (H K)^T (H K)``;
the SVD keeps the small components that an eigendecomposition of ``Y^T Y`` would square away.
The pooled mean is taken out of the features first (in float64 for concrete inputs), and the
linear kernel is handled as ``H K`` plus its column means, built from the centred features and
that mean: the same kernel, without the cancellation of a large common offset. Non-finite inputs
or results raise a one-line ValueError.

Invariances (tests/test_finite.py): with the rbf kernel and the median-heuristic width the
embedding is unchanged by a common scale or offset of the features. The linear kernel is the
paper's uncentred ``X X^T``: features times s give the same embedding with mu times s^4 (mu is
relative to the kernel's scale, so standardise features or scale mu with them), and a common
offset changes it (the solution stays finite and exact).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

KERNELS = ("linear", "rbf")


class TCAResult(NamedTuple):
    """Output of ``tca_fit``.

    Attributes:
      Zs: ``(n_s, dim)`` source embeddings.
      Zt: ``(n_t, dim)`` target embeddings.
      W: ``(n, dim)`` (exact) or ``(m, dim)`` (Nystrom) projection, normalised W^T B W = I.
      eigvals: ``(dim,)`` leading generalised eigenvalues, descending.
      gamma: the RBF width used (None for the linear kernel).
    """

    Zs: jax.Array
    Zt: jax.Array
    W: jax.Array
    eigvals: jax.Array
    gamma: float | None


def highest_precision(fn):
    """Decorator: runs ``fn`` with full-float32 matmuls.

    Kernel eigenproblems and QPs are too sensitive for the TF32 / bf16 passes that GPUs and TPUs
    use for float32 matmuls by default.
    """

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return fn(*args, **kwargs)

    return wrapped


def check_domain_pair(Xs, Xt) -> None:
    """Raises a one-line ValueError unless Xs ``(n_s, d)`` and Xt ``(n_t, d)`` are matching 2-D."""
    if Xs.ndim != 2 or Xt.ndim != 2:
        raise ValueError(
            f"Source and target must be 2-D (n, d); got shapes {Xs.shape} and {Xt.shape}."
        )
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(
            f"Source and target feature sizes differ: {Xs.shape[1]} vs {Xt.shape[1]}; "
            "bring both domains to the same number of features."
        )


def sq_dists(X, Y):
    """Squared Euclidean distances ``(n, m)`` between rows of X ``(n, d)`` and Y ``(m, d)``.

    Both sets are first shifted by X's mean (distances do not change), so a large common offset
    does not cancel away the differences in ``|x|^2 + |y|^2 - 2 x.y``.
    """
    c = jnp.mean(X, 0, keepdims=True)
    X, Y = X - c, Y - c
    d2 = jnp.sum(X * X, 1)[:, None] + jnp.sum(Y * Y, 1)[None, :] - 2.0 * X @ Y.T
    return jnp.maximum(d2, 0.0)


def median_gamma(X):
    """Median heuristic: gamma = 1 / median of the off-diagonal squared distances of X (n, d).

    Scale-free (X times s gives gamma / s^2); 1.0 when every point is the same.
    """
    d2 = sq_dists(X, X)
    med = jnp.median(d2[~np.eye(X.shape[0], dtype=bool)])  # a concrete mask: jit-able
    return jnp.where(med > 0, 1.0 / jnp.where(med > 0, med, 1.0), 1.0)


def kernel_matrix(X, Y, kernel: str = "linear", gamma=None):
    """The kernel matrix k(X, Y).

    Args:
      X: ``(n, d)`` rows.
      Y: ``(m, d)`` rows.
      kernel: ``"linear"`` (``x.y``) or ``"rbf"`` (``exp(-gamma ||x - y||^2)``).
      gamma: the rbf width; required for rbf (see :func:`median_gamma`).

    Returns:
      ``(n, m)`` kernel values.
    """
    if kernel == "linear":
        return X @ Y.T
    if kernel == "rbf":
        return jnp.exp(-gamma * sq_dists(X, Y))
    raise ValueError(f"Unknown kernel {kernel!r}; accepted {list(KERNELS)}.")


def mmd_matrix(n_s: int, n_t: int):
    """The MMD matrix L ``(n, n)`` of Pan et al. (2011), Eq. (3): tr(K L) = MMD^2 of the means."""
    l = jnp.concatenate([jnp.full((n_s,), 1.0 / n_s), jnp.full((n_t,), -1.0 / n_t)])
    return jnp.outer(l, l)


def centering_matrix(n: int):
    """H = I - (1/n) 1 1^T ``(n, n)``."""
    return jnp.eye(n) - jnp.full((n, n), 1.0 / n)


def generalized_eigh(A, B, dim: int):
    """Leading ``dim`` solutions of ``A w = lambda B w`` for symmetric A and SPD B.

    ``B = U diag(b) U^T`` by a symmetric eigensolver turns it into the symmetric problem
    ``B^{-1/2} A B^{-1/2} v = lambda v`` with ``w = B^{-1/2} v`` (so ``W^T B W = I``,
    scipy.linalg.eigh's normalisation). Unlike a Cholesky factorisation, which returns NaN once
    round-off makes B indefinite, eigenvalues of B below ``n eps max(b)`` are floored there.

    Args:
      A: ``(n, n)`` symmetric.
      B: ``(n, n)`` symmetric positive definite.
      dim: number of eigenpairs.

    Returns:
      ``(eigvals (dim,), W (n, dim))``, eigenvalues descending.
    """
    b, U = jnp.linalg.eigh(0.5 * (B + B.T))
    floor = B.shape[0] * jnp.finfo(b.dtype).eps * jnp.max(jnp.abs(b))
    inv_sqrt = (U / jnp.sqrt(jnp.maximum(b, floor))[None, :]) @ U.T
    M = inv_sqrt @ A @ inv_sqrt
    evals, V = jnp.linalg.eigh(0.5 * (M + M.T))
    evals, V = evals[::-1][:dim], V[:, ::-1][:, :dim]
    return evals, inv_sqrt @ V


def rank_one_inv_sqrt(v, mu):
    """``X -> (mu I + v v^T)^{-1/2} X`` in closed form, for ``X (n, k)``.

    The matrix has eigenvalue ``mu + |v|^2`` along ``u = v / |v|`` and ``mu`` elsewhere, so its
    inverse square root is ``mu^{-1/2} (I + c u u^T)`` with ``c = (1 + |v|^2 / mu)^{-1/2} - 1``:
    exact at any scale of v (``c -> -1`` when ``|v|^2 / mu`` overflows), with no factorisation.
    """
    norm = jnp.sqrt(jnp.sum(v * v))
    u = v / jnp.where(norm > 0, norm, 1.0)
    c = jax.lax.rsqrt(1.0 + (norm / jnp.sqrt(mu)) ** 2) - 1.0
    return lambda X: (X + c * jnp.outer(u, u @ X)) / jnp.sqrt(mu)


def _first_bad(name: str, x) -> str | None:
    """``"<name> has <k> NaN/Inf value(s), the first at row i[, column j]"`` or None."""
    a = np.asarray(x)
    if not np.issubdtype(a.dtype, np.inexact):
        return None
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    idx = np.argwhere(bad)[0]
    kind = "a NaN" if np.isnan(a[tuple(idx)]) else "an Inf"
    where = f"row {idx[0]}" + (f", column {idx[1]}" if len(idx) > 1 else "") if len(idx) else ""
    return f"{name} has {int(bad.sum())} NaN/Inf value(s), the first {kind} at {where}"


def check_finite(fn: str, **arrays) -> None:
    """One-line ValueError naming the first of ``arrays`` holding a NaN or Inf.

    The message names the routine ``fn``, the array, the count and the first index, e.g.
    ``"tca: Xs has 1 NaN/Inf value(s), the first a NaN at row 3, column 0; ..."``. Traced arrays
    (under jit or vmap) and None pass unchecked.
    """
    for name, x in arrays.items():
        if x is None or isinstance(x, jax.core.Tracer):
            continue
        bad = _first_bad(name, x)
        if bad:
            raise ValueError(f"{fn}: {bad}; remove or impute them (every value must be finite).")


def is_concrete(*xs) -> bool:
    """True when none of ``xs`` is traced (so values can be read and checked on the host)."""
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(xs))


def as_2d_inputs(Xs, Xt):
    """Concrete inputs as NumPy arrays in their own precision (float64 stays float64 until
    :func:`pooled_center`), traced ones as they are; integers and lists become float arrays."""
    conv = lambda X: X if isinstance(X, jax.core.Tracer) else np.asarray(X)
    Xs, Xt = conv(Xs), conv(Xt)
    fl = lambda X: (
        X.astype(np.float32) if isinstance(X, np.ndarray) and X.dtype.kind in "biu" else X
    )
    return fl(Xs), fl(Xt)


def pooled_center(Xs, Xt):
    """``(Xs - m, Xt - m, m)`` in float32 with ``m`` the pooled mean of both domains' rows.

    Concrete inputs are centred in float64 before the cast, so an offset much larger than the
    spread (features around 1e3 varying by 1e-3) keeps its small differences; traced inputs are
    centred in float32.
    """
    if is_concrete(Xs, Xt):
        Xs64, Xt64 = np.asarray(Xs, np.float64), np.asarray(Xt, np.float64)
        m = np.concatenate([Xs64, Xt64]).mean(0)
        f32 = lambda a: jnp.asarray(a, jnp.float32)
        return f32(Xs64 - m), f32(Xt64 - m), f32(m)
    Xs, Xt = jnp.asarray(Xs, jnp.float32), jnp.asarray(Xt, jnp.float32)
    m = jnp.mean(jnp.concatenate([Xs, Xt]), 0)
    return Xs - m[None, :], Xt - m[None, :], m


def _check_args(Xs, Xt, dim, mu, kernel, fn="tca"):
    check_domain_pair(Xs, Xt)
    if kernel not in KERNELS:
        raise ValueError(f"Unknown kernel {kernel!r}; accepted {list(KERNELS)}.")
    if not 1 <= dim:
        raise ValueError(f"dim must be >= 1, got {dim}.")
    if not isinstance(mu, jax.core.Tracer) and not mu > 0:  # a traced mu (jit, vmap) goes unchecked
        raise ValueError(f"mu must be > 0 (it keeps K L K + mu I positive definite), got {mu}.")
    check_finite(fn, Xs=Xs, Xt=Xt)


def centred_kernel_parts(Xc, m, n_s: int, kernel: str, gamma, xp=jnp):
    """H K, ``v = K l`` and the column means of K, from the pooled-centred features ``Xc``
    and their mean m (``xp`` is jax.numpy, or NumPy for the float64 solve).

    The linear kernel ``K = X X^T`` of ``X = Xc + 1 m^T`` is never formed:
    ``H K = Xc X^T = Xc Xc^T + a 1^T`` (``a = Xc m``), its column means are ``a + |m|^2`` and
    ``K l = Xc delta + m.delta`` with ``delta = Xc^T l`` the difference of the domain means, so a
    large common offset is not added to (and rounded against) the differences between samples.
    The rbf kernel only sees differences, so ``Xc`` gives it unchanged.

    Returns:
      ``(HK (n, n), v (n,), kbar (n,))`` with ``K = HK + 1 kbar^T``.
    """
    n = Xc.shape[0]
    l = xp.concatenate([xp.full((n_s,), 1.0 / n_s), xp.full((n - n_s,), -1.0 / (n - n_s))])
    l = l.astype(Xc.dtype)
    if kernel == "linear":
        a = Xc @ m
        delta = Xc.T @ l
        return Xc @ Xc.T + a[:, None], Xc @ delta + m @ delta, a + m @ m
    if xp is jnp:
        K = kernel_matrix(Xc, Xc, kernel, gamma)
    else:
        sq = np.sum(Xc * Xc, 1)
        K = np.exp(-gamma * np.maximum(sq[:, None] + sq[None, :] - 2.0 * Xc @ Xc.T, 0.0))
    kbar = xp.mean(K, 0)
    return K - kbar[None, :], K @ l, kbar


def rank_one_inv_sqrt_np(v, mu):
    """NumPy twin of :func:`rank_one_inv_sqrt` (for the float64 solve)."""
    norm = np.sqrt(np.sum(v * v))
    u = v / (norm if norm > 0 else 1.0)
    c = 1.0 / np.sqrt(1.0 + (norm / np.sqrt(mu)) ** 2) - 1.0
    return lambda X: (X + c * np.outer(u, u @ X)) / np.sqrt(mu)


def _tca_solve_float64(Xc, m, mu, gamma, *, n_s: int, dim: int, kernel: str):
    """:func:`_tca_solve` in float64 NumPy, for concrete inputs."""
    HK, v, kbar = centred_kernel_parts(Xc, m, n_s, kernel, gamma, xp=np)
    inv_sqrt = rank_one_inv_sqrt_np(v, mu)
    _, sigma, Vt = np.linalg.svd(inv_sqrt(HK.T).T, full_matrices=False)
    W = inv_sqrt(Vt[:dim].T)
    Z = HK @ W + (kbar @ W)[None, :]
    return Z, W, sigma[:dim] ** 2, np.all(np.isfinite(HK))


@functools.partial(jax.jit, static_argnames=("n_s", "dim", "kernel"))
def _tca_solve(Xc, m, mu, gamma, *, n_s: int, dim: int, kernel: str):
    """The exact TCA solve (module docstring); also returns whether K was finite."""
    HK, v, kbar = centred_kernel_parts(Xc, m, n_s, kernel, gamma)
    inv_sqrt = rank_one_inv_sqrt(v, mu)  # (K L K + mu I)^{-1/2}, symmetric
    Y = inv_sqrt(HK.T).T  # H K (K L K + mu I)^{-1/2}
    _, sigma, Vt = jnp.linalg.svd(Y, full_matrices=False)  # descending; Y^T Y = V sigma^2 V^T
    W = inv_sqrt(Vt[:dim].T)
    Z = HK @ W + (kbar @ W)[None, :]  # K W, the common part added once per column
    return Z, W, sigma[:dim] ** 2, jnp.all(jnp.isfinite(HK))


@highest_precision
def tca_fit(Xs, Xt, dim: int, mu: float = 1.0, kernel: str = "linear", gamma=None) -> TCAResult:
    """Exact TCA (Pan et al. 2011, Sec. IV-A) with its projection and eigenvalues.

    Stable under feature offset and scale (module docstring). Called with concrete arrays, it
    solves in float64 on the host (NumPy / LAPACK) and checks inputs and results: a NaN or Inf
    raises a one-line ValueError naming it. Traced (under jit, or vmapped over mu or gamma), the
    same formulation runs in float32 as one XLA program, unchecked.

    Args:
      Xs: ``(n_s, d)`` source features.
      Xt: ``(n_t, d)`` target features.
      dim: output dimension m (``<= n_s + n_t``).
      mu: weight of tr(W^T W) (see the module docstring for the paper's convention), > 0.
      kernel: "linear" (``K = X X^T``) or "rbf" (``exp(-gamma ||x - x'||^2)``).
      gamma: RBF width; default the median heuristic on the pooled data (``median_gamma``).

    Returns:
      A ``TCAResult``.
    """
    Xs, Xt = as_2d_inputs(Xs, Xt)
    _check_args(Xs, Xt, dim, mu, kernel)
    n_s, n_t = Xs.shape[0], Xt.shape[0]
    n = n_s + n_t
    if dim > n:
        raise ValueError(f"dim={dim} exceeds the number of samples n_s + n_t = {n}.")
    if is_concrete(Xs, Xt, mu, gamma):  # the float64 solve, on the host
        X = np.concatenate([np.asarray(Xs, np.float64), np.asarray(Xt, np.float64)])
        m = X.mean(0)
        Xc = X - m
        if kernel == "rbf" and gamma is None:
            gamma = median_gamma(jnp.asarray(Xc, jnp.float32))
        g = 0.0 if gamma is None else float(gamma)
        out = _tca_solve_float64(Xc, m, float(mu), g, n_s=n_s, dim=dim, kernel=kernel)
        with np.errstate(over="ignore", invalid="ignore"):
            Z, W, eigvals = (jnp.asarray(a, jnp.float32) for a in out[:3])
        _check_result("tca", kernel, Xs, Xt, out[3], Z=Z, W=W, eigvals=eigvals)
        return TCAResult(Z[:n_s], Z[n_s:], W, eigvals, gamma)
    Xs_c, Xt_c, m = pooled_center(Xs, Xt)
    Xc = jnp.concatenate([Xs_c, Xt_c])
    if kernel == "rbf" and gamma is None:
        gamma = median_gamma(Xc)
    Z, W, eigvals, _ = _tca_solve(
        Xc,
        m,
        jnp.asarray(mu, jnp.float32),
        jnp.asarray(0.0 if gamma is None else gamma, jnp.float32),
        n_s=n_s,
        dim=dim,
        kernel=kernel,
    )
    return TCAResult(Z[:n_s], Z[n_s:], W, eigvals, gamma)


def _check_result(fn, kernel, Xs, Xt, finite_K, **outputs) -> None:
    """One-line ValueError when a concrete result of ``fn`` holds a NaN or Inf, naming the cause."""
    bad = [name for name, x in outputs.items() if not np.all(np.isfinite(np.asarray(x)))]
    if not bad:
        return
    big = max(float(np.max(np.abs(np.asarray(X, np.float64)), initial=0.0)) for X in (Xs, Xt))
    cause = (
        f"the {kernel} kernel matrix is not finite in float32 (largest |feature| {big:.3g})"
        if not bool(finite_K)
        else f"{' and '.join(bad)} overflow float32 (largest |feature| {big:.3g})"
    )
    raise ValueError(f"{fn}: {cause}; divide the features by a common scale first.")


def tca(Xs, Xt, dim: int, mu: float = 1.0, kernel: str = "linear", gamma=None):
    """Transfer Component Analysis: embeds source and target in a shared ``dim``-D space.

    See ``tca_fit`` for the arguments.

    Returns:
      ``(Zs (n_s, dim), Zt (n_t, dim))``.
    """
    result = tca_fit(Xs, Xt, dim, mu, kernel, gamma)
    return result.Zs, result.Zt


@functools.partial(jax.jit, static_argnames=("n_s", "dim"))
def _primal_solve(Phi_c, phi_mean, mu, *, n_s: int, dim: int):
    """TCA in its primal form on features ``Phi = Phi_c + 1 phi_mean^T`` ``(n, p)`` given centred
    (``tca_nystrom``'s docstring); the mean is added to ``Z`` once per column."""
    e = jnp.mean(Phi_c[:n_s], 0) - jnp.mean(Phi_c[n_s:], 0)
    inv_sqrt = rank_one_inv_sqrt(e, mu)  # (e e^T + mu I)^{-1/2}
    _, sigma, Vt = jnp.linalg.svd(inv_sqrt(Phi_c.T).T, full_matrices=False)
    P = inv_sqrt(Vt[:dim].T)
    return Phi_c @ P + (phi_mean @ P)[None, :], P, sigma[:dim] ** 2


@highest_precision
def tca_nystrom(
    Xs,
    Xt,
    dim: int,
    mu: float = 1.0,
    kernel: str = "rbf",
    gamma=None,
    n_landmarks: int = 256,
    key=None,
) -> TCAResult:
    """TCA on Nystrom features: O(n m^2) time and O(n m) memory instead of O(n^3) / O(n^2).

    With m landmarks (a random subset of the pooled data) the features are
    ``Phi = K_nm K_mm^{-1/2}`` (so ``Phi Phi^T`` is the Nystrom approximation of K), and TCA is
    solved in its primal form on Phi: the problem
    ``Phi^T H Phi p = lambda (Phi^T L Phi + mu I) p``, ``Z = Phi P``, by the SVD of
    ``H Phi (e e^T + mu I)^{-1/2}`` (``Phi^T L Phi = e e^T`` with e the difference of the
    domains' feature means, so the inverse square root is closed form, as in ``tca_fit``). mu
    weighs tr(P^T P); it is on a different scale from the exact (dual) problem's mu: smaller mu
    (e.g. 0.1) matches domains more tightly. For the linear kernel ``Phi = X`` itself (padded
    with zero columns up to dim), whose ``Phi Phi^T`` is K exactly.

    Args:
      Xs: ``(n_s, d)`` source features.
      Xt: ``(n_t, d)`` target features.
      dim: output dimension (``<= n_landmarks``).
      mu: regulariser weight, > 0.
      kernel: "rbf" or "linear".
      gamma: RBF width; default the median heuristic on the landmarks.
      n_landmarks: m (capped at n_s + n_t).
      key: typed PRNG key choosing the landmarks; default ``jax.random.key(0)``.

    Returns:
      A ``TCAResult`` with ``W`` the ``(m, dim)`` primal projection of Phi (``(max(d, dim), dim)``
      for the linear kernel).
    """
    Xs, Xt = as_2d_inputs(Xs, Xt)
    _check_args(Xs, Xt, dim, mu, kernel, fn="tca_nystrom")
    n_s = Xs.shape[0]
    Xs_c, Xt_c, mean = pooled_center(Xs, Xt)
    Xc = jnp.concatenate([Xs_c, Xt_c])
    m = min(n_landmarks, Xc.shape[0])
    if dim > m:
        raise ValueError(f"dim={dim} exceeds the number of landmarks {m}.")
    if kernel == "linear":
        pad = max(0, dim - Xc.shape[1])
        Phi_c = jnp.concatenate([Xc, jnp.zeros((Xc.shape[0], pad), Xc.dtype)], 1)
        phi_mean = jnp.concatenate([mean, jnp.zeros((pad,), Xc.dtype)])
    else:
        key = jax.random.key(0) if key is None else key
        X_m = Xc[jax.random.choice(key, Xc.shape[0], (m,), replace=False)]
        if gamma is None:
            gamma = median_gamma(X_m)
        K_mm = kernel_matrix(X_m, X_m, kernel, gamma)
        evals, U = jnp.linalg.eigh(0.5 * (K_mm + K_mm.T))
        # Pseudo-inverse square root: drop the numerically null directions of K_mm.
        keep = evals > 1e-6 * jnp.max(evals)
        inv_sqrt = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, evals, 1.0)), 0.0)
        Phi = kernel_matrix(Xc, X_m, kernel, gamma) @ (U * inv_sqrt[None, :])
        phi_mean = jnp.mean(Phi, 0)
        Phi_c = Phi - phi_mean[None, :]
    mu = jnp.asarray(mu, jnp.float32)
    Z, P, eigvals = _primal_solve(Phi_c, phi_mean, mu, n_s=n_s, dim=dim)
    if is_concrete(Z, P, eigvals, Phi_c):
        finite_K = np.all(np.isfinite(np.asarray(Phi_c)))
        _check_result("tca_nystrom", kernel, Xs, Xt, finite_K, Z=Z, eigvals=eigvals)
    return TCAResult(Z[:n_s], Z[n_s:], P, eigvals, gamma)
