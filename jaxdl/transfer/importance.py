"""Instance re-weighting for covariate shift: importance weights w(x) ~ p_t(x) / p_s(x).

Two estimators, both in JAX:

* Kernel mean matching (Huang, Smola, Gretton, Borgwardt & Schoelkopf 2007, "Correcting sample
  selection bias by unlabeled data", Eq. (6)): the quadratic program
  ``min_w 1/2 w^T K w - kappa^T w  s.t.  0 <= w_i <= B,  |sum(w)/n_s - 1| <= eps``,
  ``K_ij = k(x_i, x_j)`` over source points, ``kappa_i = (n_s/n_t) sum_j k(x_i, x'_j)``,
  solved by accelerated projected gradient (FISTA) with an exact projection onto the feasible
  set (bisection on the shift of a clipped vector); no external QP solver.
* A probabilistic domain classifier (logistic regression, target = 1 vs source = 0):
  ``w(x) = (n_s / n_t) p(t | x) / p(s | x)`` (Bickel, Brueckner & Scheffer 2007), fitted by Newton.

plus the weighted losses that use the weights and their effective sample size.

Numerics: features are centred on their pooled mean (in float64 for concrete inputs) and KMM's
kernel is divided by its mean diagonal (the minimiser does not change), so the weights are the
same under a common offset (rbf) and a common scale (both kernels) of the features; the domain
classifier standardises its features. Concrete inputs and results are checked: a NaN or Inf
raises a one-line ValueError naming it.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.transfer.tca import (
    as_2d_inputs,
    check_domain_pair,
    check_finite,
    highest_precision,
    is_concrete,
    kernel_matrix,
    median_gamma,
    pooled_center,
)


def _prepared(fn: str, Xs, Xt):
    """Checked ``(Xs - m, Xt - m, m)`` in float32 (``m`` the pooled mean; tca.pooled_center)."""
    Xs, Xt = as_2d_inputs(Xs, Xt)
    check_domain_pair(Xs, Xt)
    check_finite(fn, Xs=Xs, Xt=Xt)
    return pooled_center(Xs, Xt)


def _source_kernels(Xs, Xt, m, kernel, gamma):
    """``K = k(Xs, Xs)`` and ``k(Xs, Xt) 1`` of the uncentred features ``Xs + m``, ``Xt + m``
    from the centred ones: the rbf kernel does not see m; the linear one is expanded around it."""
    if kernel != "linear":
        return kernel_matrix(Xs, Xs, kernel, gamma), jnp.sum(
            kernel_matrix(Xs, Xt, kernel, gamma), 1
        )
    a = Xs @ m
    K = Xs @ Xs.T + a[:, None] + a[None, :] + m @ m
    return K, Xt.shape[0] * (Xs @ (jnp.mean(Xt, 0) + m) + m @ jnp.mean(Xt, 0) + m @ m)


def _raise_if_not_finite(fn: str, cause: str, **outputs) -> None:
    """One-line ValueError when a concrete output is not finite, with the likely cause."""
    for name, x in outputs.items():
        if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
            raise ValueError(f"{fn}: {name} is not finite; {cause}.")


def _project_box_sum(v, B, lo, hi, n_bisect: int = 64):
    """Euclidean projection of v onto {0 <= w <= B, lo <= sum(w) <= hi}.

    The projection is clip(v - tau, 0, B) for the scalar tau that brings the sum into [lo, hi]
    (KKT of the two constraints); the sum is monotone in tau, so bisection finds it.
    """
    target = jnp.clip(jnp.sum(jnp.clip(v, 0.0, B)), lo, hi)

    def body(_, bounds):
        t_lo, t_hi = bounds
        t = 0.5 * (t_lo + t_hi)
        too_big = jnp.sum(jnp.clip(v - t, 0.0, B)) > target
        return jnp.where(too_big, t, t_lo), jnp.where(too_big, t_hi, t)

    t_lo, t_hi = jax.lax.fori_loop(0, n_bisect, body, (jnp.min(v) - B, jnp.max(v)))
    return jnp.clip(v - 0.5 * (t_lo + t_hi), 0.0, B)


def _max_eig(K, n_iter: int = 100):
    """Largest eigenvalue of the PSD matrix K by power iteration (keeps KMM at O(n^2) memory)."""
    v0 = jnp.ones((K.shape[0],), K.dtype) / jnp.sqrt(K.shape[0])
    v = jax.lax.fori_loop(0, n_iter, lambda _, v: (K @ v) / jnp.linalg.norm(K @ v), v0)
    return v @ K @ v


@functools.partial(jax.jit, static_argnames=("n_iter",))
def _kmm_solve(K, kappa, B, eps, n_iter: int):
    n_s = K.shape[0]
    lo, hi = n_s * (1.0 - eps), n_s * (1.0 + eps)
    step = 1.0 / (1.05 * _max_eig(K) + 1e-12)

    def body(_, carry):
        w, z, t = carry
        w_new = _project_box_sum(z - step * (K @ z - kappa), B, lo, hi)
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        z_new = w_new + ((t - 1.0) / t_new) * (w_new - w)
        return w_new, z_new, t_new

    w0 = _project_box_sum(jnp.ones((n_s,), K.dtype), B, lo, hi)
    w, _, _ = jax.lax.fori_loop(0, n_iter, body, (w0, w0, jnp.ones((), K.dtype)))
    return w


@highest_precision
def kmm_weights(
    Xs, Xt, B: float = 1000.0, eps=None, kernel: str = "rbf", gamma=None, n_iter: int = 2000
):
    """Kernel mean matching weights of the source points (Huang et al. 2007, Eq. (6)).

    Args:
      Xs: ``(n_s, d)`` source features.
      Xt: ``(n_t, d)`` target features.
      B: upper bound on each weight (the paper uses 1000), ``>= 1 + eps``.
      eps: tolerance of ``|sum(w)/n_s - 1| <= eps``; default the paper's
        ``(sqrt(n_s) - 1) / sqrt(n_s)``.
      kernel: "rbf" (default) or "linear".
      gamma: RBF width; default the median heuristic on the pooled data.
      n_iter: accelerated projected-gradient iterations.

    Returns:
      ``(n_s,)`` float32 weights, feasible for the constraints above.
    """
    if kernel not in ("linear", "rbf"):
        raise ValueError(f"Unknown kernel {kernel!r}; accepted ['linear', 'rbf'].")
    Xs, Xt, m = _prepared("kmm_weights", Xs, Xt)
    n_s, n_t = Xs.shape[0], Xt.shape[0]
    if eps is None:
        eps = (n_s**0.5 - 1.0) / n_s**0.5
    if not 0.0 <= eps < 1.0 or B < 1.0 + eps:
        raise ValueError(f"KMM needs 0 <= eps < 1 and B >= 1 + eps; got eps={eps}, B={B}.")
    if kernel == "rbf" and gamma is None:
        gamma = median_gamma(jnp.concatenate([Xs, Xt]))
    K, k_t = _source_kernels(Xs, Xt, m, kernel, gamma)
    # 1/2 w^T K w - kappa^T w over s: the same minimiser, with K's diagonal of mean 1 (1 for rbf)
    s = jnp.mean(jnp.diagonal(K))
    s = jnp.where(s > 0, s, 1.0)
    kappa = (n_s / n_t) * k_t
    w = _kmm_solve(K / s, kappa / s, jnp.float32(B), jnp.float32(eps), n_iter)
    _raise_if_not_finite(
        "kmm_weights",
        "the kernel overflows float32 at these feature magnitudes; divide the features by a "
        "common scale (or pass a smaller gamma)",
        weights=w,
    )
    return w


@highest_precision
def weighted_mmd2(Xs, Xt, w=None, kernel: str = "rbf", gamma=None):
    """Squared MMD between the w-weighted source and the target empirical distributions.

    ``MMD^2 = ||(1/n_s) sum_i w_i phi(x_i) - (1/n_t) sum_j phi(x'_j)||^2`` (Huang et al. 2007).

    Args:
      Xs: ``(n_s, d)`` source; Xt: ``(n_t, d)`` target.
      w: ``(n_s,)`` weights; default all ones (the unweighted MMD).
      kernel: "rbf" or "linear"; gamma: RBF width (default median heuristic on the pooled data).

    Returns:
      Scalar MMD^2 (for the linear kernel, the squared norm of the mean difference computed as
      such, which a common offset of the features leaves exact when ``mean(w) = 1``).
    """
    Xs, Xt, m = _prepared("weighted_mmd2", Xs, Xt)
    n_s, n_t = Xs.shape[0], Xt.shape[0]
    check_finite("weighted_mmd2", w=w)
    w = jnp.ones((n_s,)) if w is None else jnp.asarray(w, jnp.float32)
    a = w / n_s
    b = jnp.full((n_t,), 1.0 / n_t)
    if kernel == "linear":
        diff = a @ Xs - b @ Xt + ((jnp.sum(w) - n_s) / n_s) * m  # exactly 0 * m for unit w
        return diff @ diff
    if kernel == "rbf" and gamma is None:
        gamma = median_gamma(jnp.concatenate([Xs, Xt]))
    return (
        a @ kernel_matrix(Xs, Xs, kernel, gamma) @ a
        - 2.0 * a @ kernel_matrix(Xs, Xt, kernel, gamma) @ b
        + b @ kernel_matrix(Xt, Xt, kernel, gamma) @ b
    )


def _features(Z, quadratic: bool):
    """Standardised features ``Z (n, d)``, their degree-2 monomials if asked, and a bias column."""
    if quadratic:
        iu = jnp.triu_indices(Z.shape[1])
        Z = jnp.concatenate([Z, (Z[:, :, None] * Z[:, None, :])[:, iu[0], iu[1]]], 1)
    return jnp.concatenate([Z, jnp.ones((Z.shape[0], 1), Z.dtype)], 1)


@functools.partial(jax.jit, static_argnames=("n_iter",))
def _fit_logistic(F, y, l2, n_iter: int):
    """L2-regularised logistic regression by Newton's method; the bias (last column) is free."""
    n, p = F.shape
    reg = l2 * jnp.eye(p).at[-1, -1].set(0.0)

    def newton(_, theta):
        prob = jax.nn.sigmoid(F @ theta)
        grad = F.T @ (prob - y) / n + reg @ theta
        hess = (F * (prob * (1.0 - prob))[:, None]).T @ F / n + reg + 1e-8 * jnp.eye(p)
        return theta - jnp.linalg.solve(hess, grad)

    return jax.lax.fori_loop(0, n_iter, newton, jnp.zeros((p,), F.dtype))


@highest_precision
def domain_classifier_weights(
    Xs, Xt, l2: float = 1e-4, quadratic: bool = False, n_iter: int = 25, max_weight=None
):
    """Density-ratio weights of the source points from a logistic domain classifier.

    ``w(x) = p_t(x)/p_s(x) = (n_s/n_t) * p(target | x) / p(source | x) = (n_s/n_t) exp(f(x))`` with
    f the classifier's logit (Bickel et al. 2007). Linear features give the exact ratio for two
    Gaussians with shared covariance; ``quadratic=True`` for unequal covariances.

    Args:
      Xs: ``(n_s, d)`` source; Xt: ``(n_t, d)`` target.
      l2: L2 penalty on the (standardised) feature weights.
      quadratic: add all degree-2 monomials of the standardised features.
      n_iter: Newton iterations.
      max_weight: optional clip of the weights (variance control).

    Returns:
      ``(weights (n_s,), ratio_fn)``; ``ratio_fn(X (n, d)) -> (n,)`` evaluates the ratio anywhere.
    """
    Xs, Xt = as_2d_inputs(Xs, Xt)
    check_domain_pair(Xs, Xt)
    check_finite("domain_classifier_weights", Xs=Xs, Xt=Xt)
    n_s, n_t = Xs.shape[0], Xt.shape[0]
    # standardising makes l2 free of the features' offset and scale; concrete inputs are
    # standardised in float64, so an offset far above the spread keeps its small differences
    if is_concrete(Xs, Xt):
        X64 = np.concatenate([np.asarray(Xs, np.float64), np.asarray(Xt, np.float64)])
        mean, std = X64.mean(0), X64.std(0)
    else:
        X32 = jnp.concatenate([jnp.asarray(Xs, jnp.float32), jnp.asarray(Xt, jnp.float32)])
        mean, std = jnp.mean(X32, 0), jnp.std(X32, 0)
    std = (
        jnp.where(std > 0, std, 1.0) if isinstance(std, jax.Array) else np.where(std > 0, std, 1.0)
    )

    def standardised(X_new):
        if is_concrete(X_new) and isinstance(mean, np.ndarray):
            return jnp.asarray((np.asarray(X_new, np.float64) - mean) / std, jnp.float32)
        return (jnp.asarray(X_new, jnp.float32) - mean[None, :]) / std[None, :]

    y = jnp.concatenate([jnp.zeros((n_s,)), jnp.ones((n_t,))])
    Z = jnp.concatenate([standardised(Xs), standardised(Xt)])
    theta = _fit_logistic(_features(Z, quadratic), y, jnp.float32(l2), n_iter)
    _raise_if_not_finite(
        "domain_classifier_weights",
        "Newton's method diverged; raise l2 (the domains may be separable)",
        classifier=theta,
    )

    def ratio_fn(X_new):
        r = (n_s / n_t) * jnp.exp(_features(standardised(X_new), quadratic) @ theta)
        r = r if max_weight is None else jnp.minimum(r, max_weight)
        _raise_if_not_finite(
            "domain_classifier_weights",
            "exp(logit) overflows float32 where the classifier separates the domains; raise l2 "
            "or set max_weight",
            weights=r,
        )
        return r

    return ratio_fn(Xs), ratio_fn


def effective_sample_size(w):
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of importance weights.

    Equals n for equal weights and 1 when one weight carries all the mass: the number of
    unweighted examples whose average would have the weighted average's variance.

    Args:
      w: ``(n,)`` non-negative weights.

    Returns:
      Scalar in [1, n] (scale-free: any positive multiple of w gives the same; w is divided by
      its largest value first, so neither sum overflows or underflows); 0 for all-zero weights.
    """
    check_finite("effective_sample_size", w=w)
    if is_concrete(w) and np.any(np.asarray(w) < 0):
        i = int(np.flatnonzero(np.asarray(w) < 0)[0])
        raise ValueError(
            f"effective_sample_size: weights must be >= 0; w[{i}] = {np.asarray(w)[i]}"
        )
    w = jnp.asarray(w, jnp.float32)
    top = jnp.max(w)
    w = w / jnp.where(top > 0, top, 1.0)
    total = jnp.sum(w * w)
    return jnp.sum(w) ** 2 / jnp.where(total > 0, total, 1.0)


def weighted_mean(values, w):
    """Importance-weighted average ``sum(w * values) / sum(w)`` of per-example values ``(B,)``."""
    if jnp.shape(w) != jnp.shape(values):
        raise ValueError(
            f"weights shape {jnp.shape(w)} differs from values shape {jnp.shape(values)}."
        )
    total = jnp.sum(w)
    return jnp.sum(w * values) / jnp.where(total != 0, total, 1.0)


def weighted_cross_entropy(logits, labels, w):
    """Importance-weighted softmax cross-entropy.

    Args:
      logits: ``(B, C)``; labels: ``(B,)`` int; w: ``(B,)`` weights.

    Returns:
      Scalar ``sum_i w_i CE_i / sum_i w_i``.
    """
    return weighted_mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels), w)


def weighted_squared_error(preds, targets, w):
    """Importance-weighted mean squared error; preds, targets ``(B,)``, w ``(B,)``."""
    return weighted_mean((preds - targets) ** 2, w)
