"""Convolution: the lecture's 2-D convolution and 1-D / 2-D / 3-D convolution layers.

``convolve2d`` is the signal-processing convolution of the lecture (kernel flipped),

    y[m, n] = sum_i sum_j x[i, j] h[m - i, n - j],

with scipy's ``full`` / ``same`` / ``valid`` output conventions. ``ConvND`` (and its aliases
``Conv1D``, ``Conv2D``, ``Conv3D``) is the deep-learning layer: a cross-correlation over
channels-last inputs with explicit, symmetric zero padding as in PyTorch, so the output size along
each spatial axis is ``floor((n + 2p - k) / s) + 1``.
"""

from collections.abc import Callable, Sequence
import functools
from typing import Any

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

MODES = ("full", "same", "valid")

IntOrSeq = int | Sequence[int]


def _conv_full(x, h):
    """Full 2-D convolution of 2-D arrays: shape (M + K - 1, N + L - 1)."""
    K, L = h.shape
    # lax.conv_general_dilated is a cross-correlation; correlating with the flipped kernel over an
    # input zero-padded by (K - 1, L - 1) on every side is the convolution sum above.
    h_flipped = h[::-1, ::-1]
    y = lax.conv_general_dilated(
        x[None, None],
        h_flipped[None, None],
        window_strides=(1, 1),
        padding=((K - 1, K - 1), (L - 1, L - 1)),
        precision=lax.Precision.HIGHEST,
    )
    return y[0, 0]


@functools.partial(jax.jit, static_argnames=("mode",))
def _convolve2d(x, h, mode):
    y_full = _conv_full(x, h)
    (M, N), (K, L) = x.shape, h.shape
    if mode == "full":
        return y_full
    if mode == "same":
        # Same size as x, centred in the full output the way scipy.signal.convolve2d centres it.
        m0, n0 = (K - 1) // 2, (L - 1) // 2
        return y_full[m0 : m0 + M, n0 : n0 + N]
    # valid: only outputs that never touch the zero padding; convolution commutes, so the smaller
    # array slides inside the larger one (scipy swaps the inputs the same way).
    m0, n0 = min(M, K) - 1, min(N, L) - 1
    return y_full[m0 : m0 + abs(M - K) + 1, n0 : n0 + abs(N - L) + 1]


def convolve2d(x: jax.Array, h: jax.Array, mode: str = "full") -> jax.Array:
    """True 2-D convolution of two 2-D arrays (kernel flipped), as defined in the lecture.

    Implements y[m, n] = sum_i sum_j x[i, j] h[m - i, n - j] and agrees with
    ``scipy.signal.convolve2d(x, h, mode)`` (zero boundary).

    Args:
      x: input, shape (M, N).
      h: kernel, shape (K, L); may be larger than x.
      mode: "full" -> (M + K - 1, N + L - 1); "same" -> (M, N), centred in the full output as
        scipy does; "valid" -> (|M - K| + 1, |N - L| + 1), which needs one array at least as large
        as the other along both axes.

    Returns:
      y, floating point, shape as given by ``mode``.
    """
    if mode not in MODES:
        raise ValueError(
            f"convolve2d: unknown mode {mode!r}; accepted modes are {', '.join(MODES)}"
        )
    x, h = jnp.asarray(x), jnp.asarray(h)
    if x.ndim != 2 or h.ndim != 2:
        raise ValueError(
            f"convolve2d: x and h must be 2-D arrays, got shapes {x.shape} and {h.shape}"
        )
    if mode == "valid":
        (M, N), (K, L) = x.shape, h.shape
        if not ((M >= K and N >= L) or (K >= M and L >= N)):
            raise ValueError(
                f"convolve2d: 'valid' mode needs one array at least as large as the other along "
                f"both axes, got shapes {x.shape} and {h.shape}"
            )
    dtype = jnp.result_type(x.dtype, h.dtype, jnp.float32)
    return _convolve2d(x.astype(dtype), h.astype(dtype), mode)


def as_ints(value: IntOrSeq, ndim: int, what: str, minimum: int = 0) -> tuple[int, ...]:
    """An int or a length-ndim sequence of ints, each at least ``minimum``, as a tuple of ints."""
    value = (int(value),) * ndim if isinstance(value, int) else tuple(int(v) for v in value)
    if len(value) != ndim:
        raise ValueError(f"{what} must be an int or {ndim} ints, got {value}")
    if any(v < minimum for v in value):
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def check_window_fits(
    spatial: Sequence[int], window: Sequence[int], padding: Sequence[tuple[int, int]], what: str
) -> None:
    """One-line ValueError unless every window fits its zero-padded input (at least one output)."""
    for axis, (n, k, (lo, hi)) in enumerate(zip(spatial, window, padding)):
        if k > n + lo + hi:
            raise ValueError(
                f"{what} {tuple(window)} does not fit the input {tuple(spatial)} padded by "
                f"{tuple(padding)} (spatial axis {axis}: {k} > {n + lo + hi})"
            )


def conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling along one axis: floor((n + 2p - k) / s) + 1.

    Raises a ValueError for a stride below 1 or a kernel longer than the padded input, n + 2p.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if not 1 <= kernel_size <= n + 2 * padding:
        raise ValueError(
            f"kernel_size must lie in [1, n + 2p] = [1, {n + 2 * padding}], got {kernel_size}"
        )
    return (n + 2 * padding - kernel_size) // stride + 1


def _dimension_numbers(ndim: int) -> tuple[str, str, str]:
    spatial = "DHW"[-ndim:]
    return ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")


class ConvND(nn.Module):
    """N-dimensional convolution layer (cross-correlation) on channels-last inputs.

    Symmetric zero padding of ``padding`` on both sides of every spatial axis, as in PyTorch's
    ``nn.Conv{1,2,3}d`` (not XLA's asymmetric "SAME" for strided convolutions). Parameters are
    ``kernel`` of shape (*kernel_size, C_in, features) and, if ``use_bias``, ``bias`` (features,),
    the flax ``nn.Conv`` layout; a PyTorch weight (out, in, *k) maps to it by moving axes 0, 1 last.

    Attributes:
      features: number of output channels (depth of the layer).
      kernel_size: window size, an int or one int per spatial axis.
      stride: an int or one int per spatial axis.
      padding: zero padding on each side, an int or one int per spatial axis.
      use_bias: whether to add a per-channel bias.
      ndim: number of spatial axes (1, 2 or 3).
      kernel_init: initializer of the kernel (He normal by default, for ReLU networks).
      bias_init: initializer of the bias.
      conv_general_dilated: the convolution primitive, with ``lax.conv_general_dilated``'s
        signature (as in flax's ``nn.Conv``); a backend policy may supply a faster one.
    """

    features: int
    kernel_size: IntOrSeq
    stride: IntOrSeq = 1
    padding: IntOrSeq = 0
    use_bias: bool = True
    ndim: int = 2
    kernel_init: Any = nn.initializers.he_normal()
    bias_init: Any = nn.initializers.zeros
    conv_general_dilated: Callable[..., jax.Array] = lax.conv_general_dilated

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Applies the convolution.

        Args:
          x: input, shape (N, *spatial, C_in) with ``ndim`` spatial axes.

        Returns:
          Output, shape (N, *out_spatial, features), out = floor((n + 2p - k) / s) + 1 per axis.
        """
        if self.ndim not in (1, 2, 3):
            raise ValueError(f"ConvND supports 1, 2 or 3 spatial axes, got ndim={self.ndim}")
        if x.ndim != self.ndim + 2:
            raise ValueError(
                f"Conv{self.ndim}D expects inputs of rank {self.ndim + 2} (batch, {self.ndim} "
                f"spatial axes, channels), got shape {x.shape}"
            )
        if self.features < 1:
            raise ValueError(
                f"Conv{self.ndim}D needs features >= 1 (the number of filters), got {self.features}"
            )
        k = as_ints(self.kernel_size, self.ndim, "kernel_size", minimum=1)
        s = as_ints(self.stride, self.ndim, "stride", minimum=1)
        p = as_ints(self.padding, self.ndim, "padding")
        kernel = self.param("kernel", self.kernel_init, (*k, x.shape[-1], self.features))
        if not jnp.issubdtype(x.dtype, jnp.inexact):  # integer images: in the kernel's dtype
            x = x.astype(kernel.dtype)
        padding = [(pi, pi) for pi in p]
        check_window_fits(x.shape[1:-1], k, padding, "convolution kernel")
        y = self.conv_general_dilated(
            x,
            kernel.astype(x.dtype),
            window_strides=s,
            padding=padding,
            dimension_numbers=_dimension_numbers(self.ndim),
        )
        if self.use_bias:
            b = self.param("bias", self.bias_init, (self.features,)).astype(y.dtype)
            y = y + b.reshape((1,) * (y.ndim - 1) + (-1,))
        return y


class Conv1D(ConvND):
    """``ConvND`` over one spatial axis: (N, L, C_in) -> (N, L_out, features)."""

    ndim: int = 1


class Conv2D(ConvND):
    """``ConvND`` over two spatial axes: (N, H, W, C_in) -> (N, H_out, W_out, features)."""

    ndim: int = 2


class Conv3D(ConvND):
    """``ConvND`` over three spatial axes: (N, D, H, W, C_in) -> (N, D_o, H_o, W_o, features)."""

    ndim: int = 3
