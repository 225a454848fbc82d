"""Attention for encoder-decoder models: additive (Bahdanau) and multiplicative (Luong).

Both score one query (a decoder state) against the T encoder states, normalise the scores with a
softmax over the valid positions and return the weighted sum of the values (the context vector).
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

_LUONG_SCORES = ("dot", "general")


def masked_softmax(scores_BT: Array, mask_BT: Array | None) -> Array:
    """Softmax over the last axis where ``mask_BT`` is True; masked positions get exactly zero.

    Args:
      scores_BT: (B, T) scores.
      mask_BT: (B, T) bool or None. A row with no valid position gets all-zero weights.

    Returns:
      (B, T) weights summing to one over the valid positions of each row.
    """
    if mask_BT is None:
        return jax.nn.softmax(scores_BT, axis=-1)
    neg = jnp.finfo(scores_BT.dtype).min
    scores_BT = jnp.where(mask_BT, scores_BT, neg)
    w = jnp.exp(scores_BT - jnp.max(scores_BT, axis=-1, keepdims=True))
    w = jnp.where(mask_BT, w, 0.0)
    return w / jnp.maximum(jnp.sum(w, axis=-1, keepdims=True), jnp.finfo(w.dtype).tiny)


def _check(
    query_BQ: Array, keys_BTK: Array, values_BTV: Array | None, mask_BT: Array | None
) -> Array:
    """The values (the keys when None), after one-line ValueErrors for inconsistent shapes."""
    if query_BQ.ndim != 2 or keys_BTK.ndim != 3 or query_BQ.shape[0] != keys_BTK.shape[0]:
        raise ValueError(
            f"attention expects query (B, Q) and keys (B, T, K) with the same B, got "
            f"{query_BQ.shape} and {keys_BTK.shape}"
        )
    values_BTV = keys_BTK if values_BTV is None else values_BTV
    if values_BTV.ndim != 3 or values_BTV.shape[:2] != keys_BTK.shape[:2]:
        raise ValueError(
            f"attention values must be (B, T, V) = {keys_BTK.shape[:2]} + (V,) like the keys, "
            f"got {values_BTV.shape}"
        )
    if mask_BT is not None:
        shape = jnp.shape(mask_BT)
        if len(shape) != 2 or any(m not in (1, n) for m, n in zip(shape, keys_BTK.shape[:2])):
            raise ValueError(
                f"attention mask must be (B, T) = {keys_BTK.shape[:2]} or broadcast to it, "
                f"got {shape}"
            )
    return values_BTV


class AdditiveAttention(nn.Module):
    """Bahdanau et al. 2015 (appendix A.1.2): e_j = v_aᵀ tanh(W_a s + U_a h_j), α = softmax(e).

    Attributes:
      features: size of the hidden layer of the alignment model (n' in the paper).
      kernel_init: initializer of ``W_a (Q, n')``, ``U_a (K, n')`` and ``v_a (n',)``.
      project_keys: False when the caller passes the keys already projected, ``U_a h_j``
        (B, T, n'), and owns ``U_a``: it does not depend on the decoder step, so a decoder computes
        it once per source sequence instead of at every step (Bahdanau et al. 2015, A.1.2).
    """

    features: int
    kernel_init: Callable[..., Array] = nn.initializers.lecun_normal()
    project_keys: bool = True

    @nn.compact
    def __call__(
        self,
        query_BQ: Array,
        keys_BTK: Array,
        values_BTV: Array | None = None,
        mask_BT: Array | None = None,
    ) -> tuple[Array, Array]:
        """Attends.

        Args:
          query_BQ: (B, Q) decoder state s.
          keys_BTK: (B, T, K) encoder states h_j (``U_a h_j``, (B, T, n'), if not ``project_keys``).
          values_BTV: (B, T, V) values to average; the keys by default.
          mask_BT: (B, T) bool, True at valid positions.

        Returns:
          ``(context (B, V), weights (B, T))``.
        """
        values_BTV = _check(query_BQ, keys_BTK, values_BTV, mask_BT)
        W_a = self.param("W_a", self.kernel_init, (query_BQ.shape[-1], self.features))
        if self.project_keys:
            keys_BTN = keys_BTK @ self.param(
                "U_a", self.kernel_init, (keys_BTK.shape[-1], self.features)
            )
        elif keys_BTK.shape[-1] != self.features:
            raise ValueError(
                f"projected keys must have {self.features} features, got {keys_BTK.shape}"
            )
        else:
            keys_BTN = keys_BTK
        v_a = self.param("v_a", nn.initializers.normal(self.features**-0.5), (self.features,))
        e_BT = jnp.tanh((query_BQ @ W_a)[:, None, :] + keys_BTN) @ v_a
        alpha_BT = masked_softmax(e_BT, mask_BT)
        return jnp.einsum("bt,btv->bv", alpha_BT, values_BTV), alpha_BT


class MultiplicativeAttention(nn.Module):
    """Luong et al. 2015 (eq. 8): score(h_t, h̄_s) = h_tᵀ h̄_s ("dot") or h_tᵀ W_a h̄_s ("general").

    Attributes:
      score: "dot" (query and keys of equal size) or "general" (learned ``W_a (Q, K)``).
      scale: divide the scores by sqrt(K) (Vaswani et al. 2017); off in Luong et al.
    """

    score: str = "general"
    scale: bool = False
    kernel_init: Callable[..., Array] = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(
        self,
        query_BQ: Array,
        keys_BTK: Array,
        values_BTV: Array | None = None,
        mask_BT: Array | None = None,
    ) -> tuple[Array, Array]:
        """Attends; arguments and returns as in :class:`AdditiveAttention`."""
        values_BTV = _check(query_BQ, keys_BTK, values_BTV, mask_BT)
        if self.score not in _LUONG_SCORES:
            raise ValueError(f"score={self.score!r} is not a Luong score; accepted: dot, general")
        Q, K = query_BQ.shape[-1], keys_BTK.shape[-1]
        if self.score == "general":
            W_a = self.param("W_a", self.kernel_init, (Q, K))
            query_BQ = query_BQ @ W_a
        elif Q != K:
            raise ValueError(f"dot attention needs query and key sizes equal, got {Q} and {K}")
        e_BT = jnp.einsum("bk,btk->bt", query_BQ, keys_BTK)
        if self.scale:
            e_BT = e_BT / jnp.sqrt(K).astype(e_BT.dtype)
        alpha_BT = masked_softmax(e_BT, mask_BT)
        return jnp.einsum("bt,btv->bv", alpha_BT, values_BTV), alpha_BT


def make_attention(kind: str, features: int) -> nn.Module:
    """Builds an attention module by name: "additive" (Bahdanau), "dot" or "general" (Luong).

    Args:
      kind: the attention kind.
      features: alignment-model width (additive only).

    Returns:
      An unbound attention module.
    """
    if kind == "additive":
        return AdditiveAttention(features)
    if kind in _LUONG_SCORES:
        return MultiplicativeAttention(kind)
    raise ValueError(f"attention={kind!r} is unknown; accepted: additive, dot, general")
