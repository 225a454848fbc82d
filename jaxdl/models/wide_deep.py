"""Wide & Deep (Cheng et al. 2016, "Wide & Deep Learning for Recommender Systems").

Wide part (Eq. 1): a generalized linear model y = w^T x + b over the sparse one-hot categorical
features and the hashed cross-product transformations phi_k(x). Deep part (Eq. 2): each categorical
feature embedded, concatenated with the numeric features, fed through a ReLU MLP. Joint logit
(Eq. 3): w_wide^T [x, phi(x)] + w_deep^T a^(l_f) + b. The two parts live under the params keys
"wide" and "deep" so `jaxdl.train.ftrl.wide_deep_optimizer` can route FTRL and AdaGrad to them.
"""

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
MODES = ("wide_deep", "wide", "deep")


class Wide(nn.Module):
    """The wide part: w^T x + b over one-hot categorical and hashed cross features (Eq. 1).

    A one-hot x makes w^T x a sum of looked-up weights, so the weights are one flat vector `w` over
    the concatenated vocabularies (categorical tables first, then the cross tables).

    Attributes:
      table_sizes: size of each one-hot table (categorical vocabularies with OOV, then crosses).
      num_numeric: number of real-valued features added to x with their own weights ``w_numeric``
        (0 = none, the one-hot model alone).
    """

    table_sizes: Sequence[int]
    num_numeric: int = 0

    @nn.compact
    def __call__(self, indices: Array, numeric: Optional[Array] = None) -> Array:
        """Args: indices (B, F) int, one index per table; numeric (B, num_numeric) float, read only
        when ``num_numeric > 0``. Returns: (B,) wide logits."""
        if indices.shape[-1] != len(self.table_sizes):
            raise ValueError(
                f"Wide: got {indices.shape[-1]} index columns, expected "
                f"{len(self.table_sizes)} (one per table)."
            )
        offsets = np.concatenate([[0], np.cumsum(self.table_sizes)[:-1]]).astype(np.int32)
        # Zeros: the start of FTRL-Proximal (z = 0) and of the paper's logistic regression.
        w = self.param("w", nn.initializers.zeros, (int(sum(self.table_sizes)),))
        b = self.param("b", nn.initializers.zeros, ())
        logit = jnp.sum(w[indices + offsets[None, :]], axis=-1) + b
        if self.num_numeric:
            if numeric is None or numeric.shape[-1] != self.num_numeric:
                raise ValueError(
                    f"Wide: expected {self.num_numeric} numeric columns, got "
                    f"{None if numeric is None else numeric.shape[-1]}."
                )
            w_numeric = self.param("w_numeric", nn.initializers.zeros, (self.num_numeric,))
            logit += _floating(numeric) @ w_numeric
        return logit


def _floating(x: Array) -> Array:
    """``x`` as float32 when it holds integers; a floating ``x`` keeps its dtype (bfloat16 under
    ``train.compute_dtype=bfloat16``, so the layers after it compute in it)."""
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


class Deep(nn.Module):
    """The deep part: embeddings of each categorical feature plus numeric features into a ReLU MLP.

    a^(l+1) = ReLU(W^(l) a^(l) + b^(l)) (Eq. 2); the last layer is a bias-free linear read-out
    w_deep^T a^(l_f) (the joint bias lives in the wide part).

    Attributes:
      vocab_sizes: embedding-table size per categorical column (OOV included).
      embed_dim: embedding width (the paper used 32).
      hidden: widths of the hidden ReLU layers (the paper: 1024, 512, 256).
    """

    vocab_sizes: Sequence[int]
    embed_dim: int = 8
    hidden: Sequence[int] = (64, 32)

    @nn.compact
    def __call__(self, categorical: Array, numeric: Array) -> Array:
        """Args: categorical (B, C) int; numeric (B, D) float. Returns: (B,) deep logits."""
        if categorical.shape[-1] != len(self.vocab_sizes):
            raise ValueError(
                f"Deep: got {categorical.shape[-1]} categorical columns, expected "
                f"{len(self.vocab_sizes)} (one per vocab size)."
            )
        embedded = [
            nn.Embed(v, self.embed_dim, name=f"embed_{j}")(categorical[:, j])
            for j, v in enumerate(self.vocab_sizes)
        ]
        a = jnp.concatenate(embedded + [_floating(numeric)], axis=-1)
        for l, width in enumerate(self.hidden):
            a = nn.relu(nn.Dense(width, name=f"dense_{l}")(a))
        return nn.Dense(1, use_bias=False, name="logit")(a)[:, 0]


class WideDeep(nn.Module):
    """Wide & Deep joint model for binary classification (Cheng et al. 2016, Eq. 3).

    Attributes:
      vocab_sizes: per categorical column, vocabulary size including the OOV bucket
        (`jaxdl.data.adult.TabularEncoder.vocab_sizes`).
      cross_sizes: per hashed cross, its number of buckets (`TabularEncoder.cross_sizes`).
      embed_dim: deep embedding width.
      hidden: deep hidden widths.
      mode: "wide_deep" (joint), "wide" (linear model only) or "deep" (MLP only, plus a bias).
      wide_numeric: the wide part also takes the numeric features linearly (the census set-up).
    """

    vocab_sizes: Sequence[int]
    cross_sizes: Sequence[int] = ()
    embed_dim: int = 8
    hidden: Sequence[int] = (64, 32)
    mode: str = "wide_deep"
    wide_numeric: bool = False

    @nn.compact
    def __call__(
        self,
        categorical: Array,
        numeric: Array,
        crosses: Optional[Array] = None,
        train: bool = False,
    ) -> Array:
        """Joint logit of P(y = 1 | x) = sigmoid(logit).

        Args:
          categorical: (B, C) int vocabulary indices, 0 = OOV.
          numeric: (B, D) float standardised numeric features (used by the deep part, and by the
            wide part when ``wide_numeric``).
          crosses: (B, K) int hashed cross indices (used by the wide part); None when K = 0.
          train: unused (no dropout or batch norm); every model takes it.

        Returns:
          (B,) logits.
        """
        if self.mode not in MODES:
            raise ValueError(f"WideDeep: unknown mode {self.mode!r}; accepted: {MODES}.")
        if crosses is None:
            crosses = jnp.zeros((categorical.shape[0], 0), jnp.int32)
        logit = jnp.zeros(categorical.shape[:1], jnp.float32)
        if self.mode in ("wide_deep", "wide"):
            indices = jnp.concatenate([categorical, crosses.astype(categorical.dtype)], axis=-1)
            num_numeric = numeric.shape[-1] if self.wide_numeric else 0
            wide = Wide(tuple(self.vocab_sizes) + tuple(self.cross_sizes), num_numeric, name="wide")
            logit += wide(indices, numeric)
        if self.mode in ("wide_deep", "deep"):
            deep = Deep(self.vocab_sizes, self.embed_dim, self.hidden, name="deep")
            logit += deep(categorical, numeric)
        if self.mode == "deep":
            logit += self.param("b", nn.initializers.zeros, ())
        return logit


MODELS = {"wide_deep": WideDeep}
