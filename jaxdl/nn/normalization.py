"""Local response normalisation across channels (Krizhevsky, Sutskever & Hinton 2012, Sec. 3.3)."""

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np


def local_response_norm(
    a: jax.Array, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> jax.Array:
    """Local response normalisation over the channel (last) axis, PyTorch's convention.

    b_c = a_c / (k + alpha / n * sum_{c'} a_{c'}^2)^beta, the sum running over the n = ``size``
    channels c' in [c - n//2, c + (n-1)//2] (zero beyond the edges). This is AlexNet's
    eq. (Sec. 3.3) with alpha divided by n, as in torch.nn.LocalResponseNorm and Caffe; AlexNet's
    own constants (k=2, n=5, alpha=1e-4, beta=0.75) correspond to ``alpha=5e-4`` here.

    Args:
      a: activations, shape (N, ..., C), channels last.
      size: n, the number of neighbouring channels summed over.
      alpha: scale of the sum (divided by n).
      beta: exponent.
      k: additive constant.

    Returns:
      b, same shape as a.
    """
    if size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size}")
    a = jnp.asarray(a)
    dims = (1,) * (a.ndim - 1) + (size,)
    pads = [(0, 0)] * (a.ndim - 1) + [(size // 2, (size - 1) // 2)]
    # A concrete (NumPy) zero makes JAX lower this to its differentiable window sum.
    sq_sum = lax.reduce_window(a * a, np.zeros((), a.dtype), lax.add, dims, (1,) * a.ndim, pads)
    return a / (k + alpha / size * sq_sum) ** beta


class LocalResponseNorm(nn.Module):
    """Module form of ``local_response_norm`` (no parameters).

    Attributes:
      size: number of neighbouring channels n.
      alpha: scale (divided by n, PyTorch's convention).
      beta: exponent.
      k: additive constant.
    """

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    def __call__(self, a: jax.Array) -> jax.Array:
        """Normalises a (N, ..., C) across channels; returns the same shape."""
        return local_response_norm(a, self.size, self.alpha, self.beta, self.k)
