"""Synthetic multi-task problems with a planted structure, recovery metrics and baselines.

Each generator returns ``(X (T, n, d) or (n, d) shared, y (T, n), truth)`` where ``truth`` holds the
planted ``W (d, T)`` and the structure (support, rank, outliers or clusters), so a test can check
that a solver recovers it. Targets are ``y_i = X_i w_i + σ ε``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Truth(NamedTuple):
    """The planted structure of a synthetic problem.

    Attributes:
      W: ``(d, T)`` true weights.
      support: ``(d,)`` bool, rows used by the shared part (all True when not sparse).
      outliers: ``(T,)`` bool, tasks with an extra dense column (rMTFL).
      clusters: ``(T,)`` int task-cluster labels (zeros when not clustered).
    """

    W: jax.Array
    support: jax.Array
    outliers: jax.Array
    clusters: jax.Array


def _designs(key, T, n, d, shared_X):
    shape = (n, d) if shared_X else (T, n, d)
    return jax.random.normal(key, shape)


def _targets(key, X, W, noise):
    clean = (X @ W).T if X.ndim == 2 else jnp.einsum("tnd,dt->tn", X, W)
    return clean + noise * jax.random.normal(key, clean.shape)


def _truth(W, support=None, outliers=None, clusters=None):
    d, T = W.shape
    return Truth(
        W=W,
        support=jnp.ones((d,), bool) if support is None else support,
        outliers=jnp.zeros((T,), bool) if outliers is None else outliers,
        clusters=jnp.zeros((T,), jnp.int32) if clusters is None else clusters,
    )


def shared_sparse(key, T=10, d=50, n=30, s=5, noise=0.1, shared_X=False):
    """Joint sparsity: every task uses the same ``s`` feature rows (the Least_L21 model).

    Args:
      key: a ``jax.random.key``.
      T, d, n: tasks, features, samples per task.
      s: number of non-zero rows.
      noise: σ of the Gaussian target noise.
      shared_X: one ``(n, d)`` design for all tasks (as scikit-learn's MultiTaskLasso needs).

    Returns:
      ``(X, y (T, n), Truth)``.
    """
    k_rows, k_w, k_x, k_e = jax.random.split(key, 4)
    support = jnp.zeros((d,), bool).at[jax.random.permutation(k_rows, d)[:s]].set(True)
    W = jax.random.normal(k_w, (d, T)) * support[:, None]
    X = _designs(k_x, T, n, d, shared_X)
    return X, _targets(k_e, X, W, noise), _truth(W, support=support)


def low_rank(key, T=10, d=50, n=30, r=2, noise=0.1):
    """Low rank: ``W = A Bᵀ`` with ``A (d, r)``, ``B (T, r)`` (the Least_Trace model).

    Returns:
      ``(X (T, n, d), y (T, n), Truth)``.
    """
    k_a, k_b, k_x, k_e = jax.random.split(key, 4)
    W = jax.random.normal(k_a, (d, r)) @ jax.random.normal(k_b, (T, r)).T / np.sqrt(r)
    X = _designs(k_x, T, n, d, False)
    return X, _targets(k_e, X, W, noise), _truth(W)


def outlier_tasks(key, T=10, d=50, n=30, s=5, n_outliers=2, noise=0.1, scale=1.0):
    """rMTFL model: ``W = P + Q``; ``P`` has ``s`` shared rows, ``Q`` ``n_outliers`` dense columns.

    Returns:
      ``(X (T, n, d), y (T, n), Truth)`` with ``Truth.outliers`` marking the outlier tasks.
    """
    k_p, k_q, k_o, k_y = jax.random.split(key, 4)
    X, _, truth = shared_sparse(k_p, T, d, n, s, noise)
    outliers = jnp.zeros((T,), bool).at[jax.random.permutation(k_o, T)[:n_outliers]].set(True)
    Q = scale * jax.random.normal(k_q, (d, T)) * outliers[None, :]
    W = truth.W + Q
    return X, _targets(k_y, X, W, noise), _truth(W, support=truth.support, outliers=outliers)


def task_clusters(key, T=12, d=20, n=30, k=3, spread=0.1, noise=0.1):
    """Clustered tasks: ``w_i = c_{g(i)} + spread · ε_i``, ``k`` random centres (the CMTL model).

    Returns:
      ``(X (T, n, d), y (T, n), Truth)`` with ``Truth.clusters`` the labels ``g``.
    """
    k_c, k_e, k_x, k_y = jax.random.split(key, 4)
    clusters = jnp.arange(T) % k
    centres = jax.random.normal(k_c, (d, k))
    W = centres[:, clusters] + spread * jax.random.normal(k_e, (d, T))
    X = _designs(k_x, T, n, d, False)
    return X, _targets(k_y, X, W, noise), _truth(W, clusters=clusters.astype(jnp.int32))


def support_f1(W_hat, support, threshold=1e-8) -> float:
    """F1 of the recovered row support (rows with ``max_t |W_jt| > threshold``) against the truth.

    Args:
      W_hat: ``(d, T)`` estimate.
      support: ``(d,)`` bool true support.
      threshold: magnitude below which a row counts as zero.

    Returns:
      F1 in [0, 1].
    """
    pred = np.max(np.abs(np.asarray(W_hat)), axis=1) > threshold
    true = np.asarray(support, bool)
    tp = np.sum(pred & true)
    denom = 2 * tp + np.sum(pred & ~true) + np.sum(~pred & true)
    return 1.0 if denom == 0 else float(2 * tp / denom)


def numerical_rank(W, rtol=1e-6) -> int:
    """Number of singular values above ``rtol · σ_max``."""
    s = np.linalg.svd(np.asarray(W), compute_uv=False)
    return int(np.sum(s > rtol * max(s[0], np.finfo(float).tiny))) if s.size else 0


def cluster_purity(labels_true, labels_pred) -> float:
    """Purity: the fraction of tasks in the majority true cluster of their predicted cluster."""
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    hits = sum(np.bincount(labels_true[labels_pred == c]).max() for c in np.unique(labels_pred))
    return float(hits / labels_true.size)


def adjusted_rand(labels_true, labels_pred) -> float:
    """Adjusted Rand index (scikit-learn's ``adjusted_rand_score``)."""
    from sklearn.metrics import adjusted_rand_score  # pylint: disable=g-import-not-at-top

    return float(adjusted_rand_score(np.asarray(labels_true), np.asarray(labels_pred)))


def single_task_baseline(X, y, method="ridge", alpha=1.0) -> np.ndarray:
    """Independent single-task ridge or lasso per task (scikit-learn), no intercept.

    Args:
      X: ``(T, n, d)`` designs or a list of ``(n_i, d)``.
      y: ``(T, n)`` targets or a list of ``(n_i,)``.
      method: ``"ridge"`` or ``"lasso"``.
      alpha: scikit-learn's regularisation strength.

    Returns:
      ``(d, T)`` weights.
    """
    from sklearn import linear_model  # pylint: disable=g-import-not-at-top

    models = {"ridge": linear_model.Ridge, "lasso": linear_model.Lasso}
    if method not in models:
        raise ValueError(f"method must be 'ridge' or 'lasso', got {method!r}")
    cols = [
        models[method](alpha=alpha, fit_intercept=False).fit(np.asarray(X_i), np.asarray(y_i)).coef_
        for X_i, y_i in zip(X, y)
    ]
    return np.stack(cols, axis=1)
