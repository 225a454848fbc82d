"""Pooling over the spatial axes of channels-last inputs: max, average, sum, global and adaptive.

Every function works on (N, *spatial, C) with 1, 2 or 3 spatial axes. Windows, strides and
padding follow PyTorch's conventions: symmetric padding, output size floor((n + 2p - k) / s) + 1
(or the ceiling with ``ceil_mode`` for max pooling), max pooling pads with -inf and average pooling
counts the padded zeros in its divisor (``count_include_pad=True``, PyTorch's default).
"""

import functools

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from jaxdl.nn.conv import IntOrSeq, as_ints, check_window_fits


def _window_args(x, window, stride, padding, ceil_mode=False):
    """reduce_window dims, strides and per-axis (lo, hi) padding for (N, *spatial, C) inputs."""
    ndim = x.ndim - 2
    if ndim not in (1, 2, 3):
        raise ValueError(
            f"pooling expects (N, *spatial, C) with 1 to 3 spatial axes, got shape {x.shape}"
        )
    k = as_ints(window, ndim, "window", minimum=1)
    s = as_ints(k if stride is None else stride, ndim, "stride", minimum=1)
    p = as_ints(padding, ndim, "padding")
    if not ceil_mode:  # with ceil_mode a window may overhang the padded input by up to stride - 1
        check_window_fits(x.shape[1:-1], k, [(pi, pi) for pi in p], "pooling window")
    pads = []
    for n, ki, si, pi in zip(x.shape[1:-1], k, s, p):
        if 2 * pi > ki:
            raise ValueError(f"pooling padding must be at most half the window, got {pi} for {ki}")
        hi = pi
        if ceil_mode:
            out = -(-(n + 2 * pi - ki) // si) + 1
            # PyTorch's rule: the last window must start inside the input or its left padding.
            if (out - 1) * si >= n + pi:
                out -= 1
            if out < 1:
                raise ValueError(
                    f"pooling window {k} with stride {s} and ceil_mode does not fit the input "
                    f"{x.shape[1:-1]} padded by {p}"
                )
            hi = max(pi, (out - 1) * si + ki - n - pi)
        pads.append((pi, hi))
    dims = (1, *k, 1)
    strides = (1, *s, 1)
    return dims, strides, [(0, 0), *pads, (0, 0)]


def max_pool(
    x: jax.Array,
    window: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
) -> jax.Array:
    """Max pooling (as torch.nn.MaxPool{1,2,3}d).

    Args:
      x: input, shape (N, *spatial, C).
      window: window size, an int or one per spatial axis.
      stride: stride; defaults to the window.
      padding: implicit -inf padding on both sides, at most half the window.
      ceil_mode: round the output size up instead of down (Caffe's pooling, used by GoogLeNet/C3D).

    Returns:
      Pooled array (N, *out_spatial, C).
    """
    x = jnp.asarray(x)
    dims, strides, pads = _window_args(x, window, stride, padding, ceil_mode)
    k = dims[1:-1]
    if strides == dims and all(p == (0, 0) for p in pads):
        return _max_pool_tiles(x, k)
    return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, pads)


def _tiled(x, k):
    """``x`` cropped to whole ``k`` tiles and reshaped to (N, o_1, k_1, …, o_d, k_d, C)."""
    out = [n // ki for n, ki in zip(x.shape[1:-1], k)]
    x = x[(slice(None), *(slice(0, o * ki) for o, ki in zip(out, k)), slice(None))]
    shape = [x.shape[0]]
    for o, ki in zip(out, k):
        shape += [o, ki]
    return x.reshape(*shape, x.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool_tiles(x, k):
    """Max pooling with stride = window and no padding: a reshape and a max over the tile axes.

    XLA:CPU lowers ``reduce_window`` max and its gradient (``select_and_scatter``) to index-tracking
    windows and a scatter, a large share of a small CNN's training step; these are fused elementwise
    passes.
    """
    tiles = _tiled(x, k)
    return jnp.max(tiles, axis=tuple(range(2, tiles.ndim - 1, 2)))


def _max_pool_tiles_fwd(x, k):
    y = _max_pool_tiles(x, k)
    return y, (x, y)


def _max_pool_tiles_bwd(k, residuals, g):
    """The gradient goes to the first maximum of each tile in row-major order, as in PyTorch."""
    x, y = residuals
    tiles = _tiled(x, k)
    axes = tuple(range(2, tiles.ndim - 1, 2))
    top = jnp.expand_dims(y, axes)
    # row-major position of every element inside its tile, broadcast over the tile axes
    pos = sum(
        lax.broadcasted_iota(jnp.int32, tiles.shape, axis) * int(np.prod(k[i + 1 :]))
        for i, axis in enumerate(axes)
    )
    first = jnp.min(jnp.where(tiles == top, pos, int(np.prod(k))), axis=axes, keepdims=True)
    g_tiles = jnp.where(pos == first, jnp.expand_dims(g, axes), jnp.zeros((), g.dtype))
    dx = g_tiles.reshape(x.shape[0], *(o * ki for o, ki in zip(g.shape[1:-1], k)), x.shape[-1])
    pad = (
        [(0, 0)] + [(0, n - o * ki) for n, o, ki in zip(x.shape[1:-1], g.shape[1:-1], k)] + [(0, 0)]
    )
    return (jnp.pad(dx, pad),)


_max_pool_tiles.defvjp(_max_pool_tiles_fwd, _max_pool_tiles_bwd)


def sum_pool(
    x: jax.Array, window: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0
) -> jax.Array:
    """Sum pooling: the sum over each window (zero padding). Shapes as ``max_pool``."""
    x = jnp.asarray(x)
    dims, strides, pads = _window_args(x, window, stride, padding)
    return lax.reduce_window(x, np.zeros((), x.dtype), lax.add, dims, strides, pads)


def avg_pool(
    x: jax.Array, window: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0
) -> jax.Array:
    """Average pooling, padded zeros counted (torch.nn.AvgPool{1,2,3}d defaults).

    Args:
      x: input, shape (N, *spatial, C).
      window: window size, an int or one per spatial axis.
      stride: stride; defaults to the window.
      padding: zero padding on both sides, at most half the window.

    Returns:
      sum_pool(x) / prod(window), shape (N, *out_spatial, C).
    """
    x = jnp.asarray(x)
    dims, strides, pads = _window_args(x, window, stride, padding)
    total = lax.reduce_window(x, np.zeros((), x.dtype), lax.add, dims, strides, pads)
    return total / np.prod(dims)


def global_avg_pool(x: jax.Array) -> jax.Array:
    """Mean over all spatial axes: (N, *spatial, C) -> (N, C)."""
    if x.ndim < 3:
        raise ValueError(f"global_avg_pool expects (N, *spatial, C), got shape {x.shape}")
    return jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))


def _adaptive_matrix(n: int, m: int) -> np.ndarray:
    """(m, n) averaging matrix of torch adaptive pooling, bin i = [floor(in/m), ceil((i+1)n/m))."""
    P = np.zeros((m, n), np.float32)
    for i in range(m):
        start, end = (i * n) // m, -(-((i + 1) * n) // m)
        P[i, start:end] = 1.0 / (end - start)
    return P


def adaptive_avg_pool(x: jax.Array, output_size: IntOrSeq) -> jax.Array:
    """Adaptive average pooling to a fixed spatial size (torch.nn.AdaptiveAvgPool{1,2,3}d).

    Args:
      x: input, shape (N, *spatial, C).
      output_size: target size, an int or one per spatial axis.

    Returns:
      (N, *output_size, C); each output averages PyTorch's bin of the input (bins may overlap).
    """
    ndim = x.ndim - 2
    if ndim not in (1, 2, 3):
        raise ValueError(
            f"adaptive_avg_pool expects (N, *spatial, C) with 1 to 3 spatial axes, got {x.shape}"
        )
    out = as_ints(output_size, ndim, "output_size", minimum=1)
    for axis, m in enumerate(out, start=1):
        if x.shape[axis] == m:
            continue  # identity bins: skip the matmul
        P = jnp.asarray(_adaptive_matrix(x.shape[axis], m), x.dtype)
        x = jnp.moveaxis(jnp.tensordot(P, x, axes=((1,), (axis,))), 0, axis)
    return x
