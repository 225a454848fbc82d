"""Proximal operators and the penalties they belong to, for the multi-task solvers.

Every operator here solves ``prox_{τ g}(V) = argmin_W ½‖W − V‖²_F + τ g(W)`` in closed form (or by
an exact finite algorithm) and is written for a weight matrix ``W (d, T)``: rows are features,
columns are tasks, as in MALSAR (Zhou, Chen & Ye 2011, "MALSAR: Multi-tAsk Learning via StructurAl
Regularization"). All of them are pure jnp functions, so they jit, vmap and differentiate.

A :class:`Penalty` pairs a penalty value ``g`` with its prox, so the solver in
``jaxdl.multitask.solvers`` composes them (rMTFL uses a pair acting on ``(P, Q)``).
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

_TINY = 1e-30


class Penalty(NamedTuple):
    """A non-smooth penalty ``g`` and its proximal operator.

    Attributes:
      value: ``params -> scalar``, the penalty g(params) without the strength λ.
      prox: ``(params, tau) -> params``, the exact ``prox_{τ g}``; ``tau`` may be a pytree of the
        same structure as the penalty's strengths (see :func:`pair`).
    """

    value: Callable[[Any], jax.Array]
    prox: Callable[[Any, Any], Any]


def soft_threshold(V, tau):
    """Element-wise soft thresholding, the prox of ``τ‖W‖₁``.

    Args:
      V: array of any shape.
      tau: non-negative threshold (scalar or broadcastable).

    Returns:
      ``sign(V) · max(|V| − τ, 0)``, same shape as ``V``.
    """
    return jnp.sign(V) * jnp.maximum(jnp.abs(V) - tau, 0.0)


def l21_norm(W, axis=1):
    """Group norm ``‖W‖_{2,1}``: the sum of the ℓ2 norms of the rows (``axis=1``) or columns.

    Args:
      W: ``(d, T)`` matrix.
      axis: the axis reduced inside a group; 1 makes the rows the groups (MALSAR's ``‖W‖_{1,2}``).

    Returns:
      Scalar ``Σ_j ‖W_j‖₂``.
    """
    return jnp.sum(jnp.sqrt(jnp.sum(W * W, axis=axis)))


def prox_l21(V, tau, axis=1):
    """Group soft thresholding, the prox of ``τ‖W‖_{2,1}`` (Liu, Ji & Ye 2009, eq. 11).

    Args:
      V: ``(d, T)`` matrix.
      tau: non-negative threshold.
      axis: 1 shrinks rows (joint feature selection), 0 shrinks columns (outlier tasks in rMTFL).

    Returns:
      ``V_j · max(0, 1 − τ/‖V_j‖₂)`` for every group ``j``, shape ``(d, T)``.
    """
    norms = jnp.sqrt(jnp.sum(V * V, axis=axis, keepdims=True))
    return V * jnp.maximum(0.0, 1.0 - tau / jnp.maximum(norms, _TINY))


def l1inf_norm(W):
    """Row-wise ``‖W‖_{∞,1} = Σ_j max_t |W_jt|`` (the q = ∞ member of the ℓq,1 family).

    Args:
      W: ``(d, T)`` matrix.

    Returns:
      Scalar.
    """
    return jnp.sum(jnp.max(jnp.abs(W), axis=1))


def project_l1_ball(V, radius):
    """Euclidean projection of every row of ``V`` onto the ℓ1 ball ``{w: ‖w‖₁ ≤ radius}``.

    The sort-based algorithm of Duchi, Shalev-Shwartz, Singer & Chandra (ICML 2008), Fig. 1.

    Args:
      V: ``(d, T)`` matrix; each row is projected separately.
      radius: non-negative scalar.

    Returns:
      ``(d, T)`` projection.
    """
    A = jnp.abs(V)
    mu = -jnp.sort(-A, axis=1)  # each row in decreasing order
    cumsum = jnp.cumsum(mu, axis=1)
    k = jnp.arange(1, V.shape[1] + 1, dtype=V.dtype)
    # ρ = the largest k with μ_k − (Σ_{i≤k} μ_i − r)/k > 0; the condition holds on a prefix.
    positive = mu - (cumsum - radius) / k[None, :] > 0
    rho = jnp.maximum(jnp.sum(positive, axis=1, keepdims=True), 1)
    theta = (jnp.take_along_axis(cumsum, rho - 1, axis=1) - radius) / rho.astype(V.dtype)
    projected = jnp.sign(V) * jnp.maximum(A - jnp.maximum(theta, 0.0), 0.0)
    inside = jnp.sum(A, axis=1, keepdims=True) <= radius
    return jnp.where(inside, V, projected)


def prox_l1inf(V, tau):
    """Prox of ``τ Σ_j ‖W_j‖_∞`` (rows as groups), by the Moreau decomposition.

    ``prox_{τ‖·‖∞}(v) = v − Π_{‖·‖₁ ≤ τ}(v)``, since the ℓ1 ball is the dual-norm ball of ℓ∞
    (Parikh & Boyd 2014, "Proximal Algorithms", §6.5.1).

    Args:
      V: ``(d, T)`` matrix.
      tau: non-negative threshold.

    Returns:
      ``(d, T)`` matrix.
    """
    return V - project_l1_ball(V, tau)


def trace_norm(W):
    """Nuclear norm ``‖W‖_* = Σ_i σ_i(W)``.

    Args:
      W: ``(d, T)`` matrix.

    Returns:
      Scalar.
    """
    return jnp.sum(jnp.linalg.svd(W, compute_uv=False))


def prox_trace(V, tau):
    """Singular value thresholding, the prox of ``τ‖W‖_*`` (Cai, Candès & Shen 2010, Thm. 2.1).

    Args:
      V: ``(d, T)`` matrix.
      tau: non-negative threshold.

    Returns:
      ``U · diag(max(σ − τ, 0)) · Vᵀ`` with ``V = U diag(σ) Vᵀ`` the thin SVD, shape ``(d, T)``.
    """
    U, s, Vt = jnp.linalg.svd(V, full_matrices=False)
    return (U * jnp.maximum(s - tau, 0.0)[None, :]) @ Vt


def l21() -> Penalty:
    """Rows-as-groups ``‖W‖_{2,1}`` (joint feature selection, MALSAR's Least_L21)."""
    return Penalty(value=l21_norm, prox=prox_l21)


def l1inf() -> Penalty:
    """Rows-as-groups ``Σ_j ‖W_j‖_∞`` (the q = ∞ joint-sparsity penalty)."""
    return Penalty(value=l1inf_norm, prox=prox_l1inf)


def trace() -> Penalty:
    """Nuclear norm (low-rank task matrix, MALSAR's Least_Trace)."""
    return Penalty(value=trace_norm, prox=prox_trace)


def zero() -> Penalty:
    """No penalty: the prox is the identity (used for unpenalised blocks such as intercepts)."""
    return Penalty(
        value=lambda W: jnp.zeros((), jax.tree.leaves(W)[0].dtype), prox=lambda V, tau: V
    )


def pair(first: Penalty, second: Penalty) -> Penalty:
    """A separable penalty on ``(A, B)``: ``λ_A g_A(A) + λ_B g_B(B)``, so its prox splits.

    Its ``value`` returns the vector ``[g_A(A), g_B(B)]`` (the solver dots it with ``(λ_A, λ_B)``);
    its prox takes ``tau = (τ_A, τ_B)`` as a length-2 array.

    Args:
      first: penalty on the first block.
      second: penalty on the second block.

    Returns:
      The combined :class:`Penalty`.
    """

    def value(params):
        A, B = params
        return jnp.stack([first.value(A), second.value(B)])

    def prox(params, tau):
        A, B = params
        return (first.prox(A, tau[0]), second.prox(B, tau[1]))

    return Penalty(value=value, prox=prox)


def columns_l21() -> Penalty:
    """Columns-as-groups ``‖Wᵀ‖_{2,1} = Σ_t ‖w_t‖₂`` (whole tasks switched on or off)."""
    return Penalty(
        value=lambda W: l21_norm(W, axis=0), prox=lambda V, tau: prox_l21(V, tau, axis=0)
    )


def _cluster_spectrum(W, eta, k, bisection_steps=100):
    """Optimal ``M`` of the cCMTL inner problem, in the eigenbasis of ``WᵀW``.

    ``min_M tr(W(ηI + M)⁻¹Wᵀ)`` over ``{tr M = k, 0 ≼ M ≼ I}`` has ``M = Q diag(γ) Qᵀ`` with
    ``WᵀW = Q diag(σ²) Qᵀ`` and ``γ_i = clip(s σ_i − η, 0, 1)``, ``s`` set so that ``Σγ = k``
    (Zhou, Chen & Ye 2011, "Clustered Multi-Task Learning via Alternating Structure Optimization",
    Thm. 3.1); ``s`` is found by bisection since ``Σγ(s)`` is non-decreasing.

    Returns:
      ``(Q (T, T), sigma2 (T,), gamma (T,))``.
    """
    sigma2, Q = jnp.linalg.eigh(W.T @ W)
    sigma2 = jnp.maximum(sigma2, 0.0)
    # floor σ so that Σγ reaches T at the top of the bracket (any γ is optimal where σ = 0)
    floor = jnp.maximum(1e-7 * jnp.sqrt(jnp.max(sigma2)), 1e-15)  # stays normal in float32 at W = 0
    sigma = jnp.maximum(jnp.sqrt(sigma2), floor)
    gamma_of = lambda s: jnp.clip(s * sigma - eta, 0.0, 1.0)

    def step(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        under = jnp.sum(gamma_of(mid)) < k
        return jnp.where(under, mid, lo), jnp.where(under, hi, mid)

    hi = (1.0 + eta) / jnp.min(sigma)
    lo, hi = jax.lax.fori_loop(0, bisection_steps, step, (jnp.zeros_like(hi), hi))
    return Q, sigma2, gamma_of(hi)


@jax.custom_vjp
def relaxed_cluster_norm(W, eta, k):
    """``h(W) = min_M tr(W(ηI + M)⁻¹Wᵀ)`` s.t. ``tr M = k, 0 ≼ M ≼ I`` (cCMTL, Zhou et al. eq. 9).

    A convex, differentiable function of ``W``; its gradient (Danskin) is ``2W(ηI + M*)⁻¹``. The
    custom VJP avoids differentiating through ``eigh`` (undefined at repeated eigenvalues); no
    gradient flows to ``eta`` or ``k``.

    Args:
      W: ``(d, T)`` weights.
      eta: ``ρ2/ρ1 > 0``.
      k: number of clusters, ``1 ≤ k ≤ T``.

    Returns:
      Scalar ``Σ_i σ_i² / (η + γ_i)``.
    """
    _, sigma2, gamma = _cluster_spectrum(W, eta, k)
    return jnp.sum(sigma2 / (eta + gamma))


def _rcn_fwd(W, eta, k):
    Q, sigma2, gamma = _cluster_spectrum(W, eta, k)
    M_inv = (Q / (eta + gamma)[None, :]) @ Q.T
    return jnp.sum(sigma2 / (eta + gamma)), (W, M_inv, eta, k)


def _rcn_bwd(res, g):
    W, M_inv, eta, k = res
    return g * 2.0 * (W @ M_inv), jnp.zeros_like(eta), jnp.zeros_like(k)


relaxed_cluster_norm.defvjp(_rcn_fwd, _rcn_bwd)


def cluster_matrix(W, eta, k):
    """The optimal ``M (T, T)`` of :func:`relaxed_cluster_norm` at ``W`` (cCMTL's task relation)."""
    Q, _, gamma = _cluster_spectrum(W, eta, k)
    return (Q * gamma[None, :]) @ Q.T
