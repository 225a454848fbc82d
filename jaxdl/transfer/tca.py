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
Inputs are computed in float32 (with full-precision matmuls, :func:`highest_precision`), also
under ``jax_enable_x64``; so are :mod:`jaxdl.transfer.importance`'s weights.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

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
    """Squared Euclidean distances ``(n, m)`` between rows of X ``(n, d)`` and Y ``(m, d)``."""
    d2 = jnp.sum(X * X, 1)[:, None] + jnp.sum(Y * Y, 1)[None, :] - 2.0 * X @ Y.T
    return jnp.maximum(d2, 0.0)


def median_gamma(X):
    """Median heuristic: gamma = 1 / median of the off-diagonal squared distances of X ``(n, d)``."""
    d2 = sq_dists(X, X)
    off = d2[~jnp.eye(X.shape[0], dtype=bool)]
    return 1.0 / jnp.maximum(jnp.median(off), 1e-12)


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

    Cholesky B = C C^T turns it into the symmetric problem ``C^{-1} A C^{-T} v = lambda v`` with
    ``w = C^{-T} v`` (so ``W^T B W = I``, scipy.linalg.eigh's normalisation).

    Args:
      A: ``(n, n)`` symmetric.
      B: ``(n, n)`` symmetric positive definite.
      dim: number of eigenpairs.

    Returns:
      ``(eigvals (dim,), W (n, dim))``, eigenvalues descending.
    """
    C = jnp.linalg.cholesky(B)
    tri = jax.scipy.linalg.solve_triangular
    M = tri(C, tri(C, A, lower=True).T, lower=True)  # C^{-1} A C^{-T}; A symmetric
    M = 0.5 * (M + M.T)
    evals, V = jnp.linalg.eigh(M)
    evals, V = evals[::-1][:dim], V[:, ::-1][:, :dim]
    W = tri(C.T, V, lower=False)
    return evals, W


def _check_args(Xs, Xt, dim, mu, kernel):
    check_domain_pair(Xs, Xt)
    if kernel not in KERNELS:
        raise ValueError(f"Unknown kernel {kernel!r}; accepted {list(KERNELS)}.")
    if not 1 <= dim:
        raise ValueError(f"dim must be >= 1, got {dim}.")
    if not isinstance(mu, jax.core.Tracer) and not mu > 0:  # a traced mu (jit, vmap) goes unchecked
        raise ValueError(f"mu must be > 0 (it keeps K L K + mu I positive definite), got {mu}.")


@highest_precision
def tca_fit(Xs, Xt, dim: int, mu: float = 1.0, kernel: str = "linear", gamma=None) -> TCAResult:
    """Exact TCA (Pan et al. 2011, Sec. IV-A) with its projection and eigenvalues.

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
    Xs, Xt = jnp.asarray(Xs, jnp.float32), jnp.asarray(Xt, jnp.float32)
    _check_args(Xs, Xt, dim, mu, kernel)
    n_s, n_t = Xs.shape[0], Xt.shape[0]
    n = n_s + n_t
    if dim > n:
        raise ValueError(f"dim={dim} exceeds the number of samples n_s + n_t = {n}.")
    X = jnp.concatenate([Xs, Xt])
    if kernel == "rbf" and gamma is None:
        gamma = median_gamma(X)
    K = kernel_matrix(X, X, kernel, gamma)
    L, H = mmd_matrix(n_s, n_t), centering_matrix(n)
    A = K @ H @ K
    B = K @ L @ K + mu * jnp.eye(n)
    eigvals, W = generalized_eigh(0.5 * (A + A.T), 0.5 * (B + B.T), dim)
    Z = K @ W
    return TCAResult(Z[:n_s], Z[n_s:], W, eigvals, gamma)


def tca(Xs, Xt, dim: int, mu: float = 1.0, kernel: str = "linear", gamma=None):
    """Transfer Component Analysis: embeds source and target in a shared ``dim``-D space.

    See ``tca_fit`` for the arguments.

    Returns:
      ``(Zs (n_s, dim), Zt (n_t, dim))``.
    """
    result = tca_fit(Xs, Xt, dim, mu, kernel, gamma)
    return result.Zs, result.Zt


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
    solved in its primal form on Phi: the m x m problem
    ``Phi^T H Phi p = lambda (Phi^T L Phi + mu I) p``, ``Z = Phi P``. mu weighs tr(P^T P); it is
    on a different scale from the exact (dual) problem's mu, since ``Phi^T L Phi = e e^T`` with e
    the difference of the domains' feature means: smaller mu (e.g. 0.1) matches domains more tightly.

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
      A ``TCAResult`` with ``W`` the ``(m, dim)`` primal projection of Phi.
    """
    Xs, Xt = jnp.asarray(Xs, jnp.float32), jnp.asarray(Xt, jnp.float32)
    _check_args(Xs, Xt, dim, mu, kernel)
    n_s = Xs.shape[0]
    X = jnp.concatenate([Xs, Xt])
    m = min(n_landmarks, X.shape[0])
    if dim > m:
        raise ValueError(f"dim={dim} exceeds the number of landmarks {m}.")
    key = jax.random.key(0) if key is None else key
    X_m = X[jax.random.choice(key, X.shape[0], (m,), replace=False)]
    if kernel == "rbf" and gamma is None:
        gamma = median_gamma(X_m)
    K_mm = kernel_matrix(X_m, X_m, kernel, gamma)
    evals, U = jnp.linalg.eigh(0.5 * (K_mm + K_mm.T))
    # Pseudo-inverse square root: drop the numerically null directions of K_mm.
    keep = evals > 1e-6 * jnp.max(evals)
    inv_sqrt = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, evals, 1.0)), 0.0)
    Phi = kernel_matrix(X, X_m, kernel, gamma) @ (U * inv_sqrt[None, :])
    # Phi^T L Phi and Phi^T H Phi without forming n x n matrices.
    e = jnp.mean(Phi[:n_s], 0) - jnp.mean(Phi[n_s:], 0)
    Phi_c = Phi - jnp.mean(Phi, 0, keepdims=True)
    A = Phi_c.T @ Phi_c
    B = jnp.outer(e, e) + mu * jnp.eye(m)
    eigvals, P = generalized_eigh(A, B, dim)
    Z = Phi @ P
    return TCAResult(Z[:n_s], Z[n_s:], P, eigvals, gamma)
