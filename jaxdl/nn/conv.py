"""Convolution: the lecture's 2-D convolution and 1-D / 2-D / 3-D convolution layers.

``convolve2d`` is the signal-processing convolution of the lecture (kernel flipped),

    y[m, n] = sum_i sum_j x[i, j] h[m - i, n - j],

with scipy's ``full`` / ``same`` / ``valid`` output conventions. ``ConvND`` (and its aliases
``Conv1D``, ``Conv2D``, ``Conv3D``) is the deep-learning layer: a cross-correlation over
channels-last inputs with explicit, symmetric zero padding as in PyTorch, so the output size along
each spatial axis is ``floor((n + 2p - k) / s) + 1``.
"""

from collections.abc import Sequence
import functools
import itertools
import math
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
                f"convolve2d: 'valid' mode needs one array at least as large as the other along both "
                f"axes, got shapes {x.shape} and {h.shape}"
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


def _xla_conv(x, kernel, strides, padding):
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=strides,
        padding=padding,
        dimension_numbers=_dimension_numbers(x.ndim - 2),
    )


# XLA:CPU runs a convolution through its fast (Eigen) kernels only in the layout "batch, spatial,
# feature" for the input and output and "spatial, in, out" for the kernel. Autodiff's kernel
# gradient of ``_xla_conv`` is a convolution in another layout (it contracts the batch axis); at
# the top level of a program XLA transposes it into the fast layout, but inside loop bodies (scan,
# nn.scan of a deep ResNet) it does not, and falls back to a generic emitter: one preact_resnet1001
# training step took 15.5 s that way against 5.4 s with ``_kernel_grad``, which writes that
# convolution in the fast layout itself, so it is fast everywhere (benchmarks/cnn_vs_torch.py).
#
# Either x or dy must then be transposed with its examples last (batch <-> channels), the costly
# kind of transpose. For x it is the costlier one: x is a batch norm + ReLU output, and XLA fuses
# that arithmetic into the transpose, which then ran 2.5-3x slower than the bare transpose
# (4.56-4.84 vs 1.60-1.97 ms for 128 x 32 x 32 x 16, two runs). So stride-1 convolutions transpose
# dy fully and x only by moving its batch axis inward (``_kernel_grad_dy_major``: 12.8-15.7 vs
# 15.3-20.4 ms at 32 x 32 x 16 -> 16, 5.2-5.5 vs 6.7-7.2 at 8 x 8 x 64 -> 64). Strided ones with big
# kernels (AlexNet's 11x11 / 4) keep the x-major form: the dy-major form then needs an input
# dilation, which made it 6-16x slower. Numbers: benchmarks/xla_cpu_options.py.
#
# A strided convolution with a small kernel (at most _MAX_OFFSET_DOTS offsets: 3x3, 1x1) takes
# neither: there XLA fused a whole chain of residual additions and batch norms into x's transpose
# (20 operands for ResNet-20's first stride-2 convolution), so ``_kernel_grad_offsets`` computes
# one dot product per kernel offset from strided slices of x, with no transpose of a whole x. In
# the ResNet-20 training step it took 425-469 ms against 480-504 ms for x-major (best of 5 rounds,
# two back-to-back A/B runs). XLA:CPU's dot transposes one operand (the contracted axes go last on
# its left side): each slice of x, or dy once for all offsets, whichever side is smaller. For
# ResNet-20's two stride-2 layers that is dy: 8.75 and 6.07 ms against 12.96 and 6.96 with the
# slices of x transposed and 11.55 and 6.71 for x-major (benchmarks/xla_cpu_options.py, one run).
_MAX_OFFSET_DOTS = 9


def _kernel_grad(x, dy, kernel_shape, strides, padding):
    """d loss / d kernel of ``_xla_conv(x, kernel, strides, padding)`` given ``dy``; ``kernel_shape``.

    Stride 1: :func:`_kernel_grad_dy_major`; strided with at most ``_MAX_OFFSET_DOTS`` kernel
    offsets: :func:`_kernel_grad_offsets`; other strided ones: :func:`_kernel_grad_x_major`.
    """
    if all(s == 1 for s in strides):
        return _kernel_grad_dy_major(x, dy, kernel_shape, strides, padding)
    if math.prod(kernel_shape[:-2]) <= _MAX_OFFSET_DOTS:
        return _kernel_grad_offsets(x, dy, kernel_shape, strides, padding)
    return _kernel_grad_x_major(x, dy, kernel_shape, strides, padding)


def _out_sizes(spatial, kernel_size, strides, padding):
    """Output length along each spatial axis of a convolution with (low, high) ``padding``."""
    return [
        conv_output_size(n + lo + hi, k, s)
        for n, k, s, (lo, hi) in zip(spatial, kernel_size, strides, padding)
    ]


def _offset_slices(x, kernel_size, strides, padding):
    """Per kernel offset k (row-major), x_pad[n, s i + k] for every output position i: the strided
    slice of the zero-padded x that the offset meets, (N, *out, C) each."""
    pads = [(0, 0, 0), *((lo, hi, 0) for lo, hi in padding), (0, 0, 0)]  # lax.pad: negative crops
    x_pad = lax.pad(x, jnp.zeros((), x.dtype), pads)
    out = _out_sizes(x.shape[1:-1], kernel_size, strides, padding)
    slices = []
    for k in itertools.product(*(range(n) for n in kernel_size)):
        window = tuple(slice(k_, k_ + s * (m - 1) + 1, s) for k_, s, m in zip(k, strides, out))
        slices.append(x_pad[(slice(None), *window, slice(None))])
    return slices


def _kernel_grad_offsets(x, dy, kernel_shape, strides, padding, transpose_dy=None):
    """dW[k] = sum_{n, i} x_pad[n, s i + k]ᵀ dy[n, i]: per kernel offset k, one dot product of a
    strided slice of the padded x with dy, contracting examples and positions.

    XLA:CPU's dot wants the contracted axes last in its left operand, so one side is transposed:
    dy once (shared by every offset) where it is the smaller side, ``O < prod(k) * C``, else each
    slice of x. ``transpose_dy`` forces a side (benchmarks/xla_cpu_options.py compares them).
    """
    slices = _offset_slices(x, kernel_shape[:-2], strides, padding)
    if transpose_dy is None:
        transpose_dy = dy.shape[-1] < len(slices) * x.shape[-1]
    axes = tuple(range(x.ndim - 1))
    rows = []
    for x_k in slices:
        operands = (dy, x_k) if transpose_dy else (x_k, dy)
        rows.append(lax.dot_general(*operands, ((axes, axes), ((), ()))))
    dw = jnp.stack(rows)  # (K, O, C) or (K, C, O)
    # one transpose of the stack: XLA turns a transpose of each row back into the other dot
    return (jnp.swapaxes(dw, 1, 2) if transpose_dy else dw).reshape(kernel_shape)


def _kernel_grad_x_major(x, dy, kernel_shape, strides, padding):
    """dW[k, c, o] = sum_{n, i} x_pad[n, s i + k, c] dy[n, i, o]: a convolution of x, with its channels
    as the batch and its examples as the features, by dy (dilated by the strides) as the kernel.
    """
    nd = x.ndim - 2
    # a stride that does not divide the padded extent leaves a remainder the forward pass never
    # reads; cropping it from the high side makes the output exactly the kernel size
    rem = [
        n + lo + hi - k - s * (m - 1)
        for n, (lo, hi), k, s, m in zip(
            x.shape[1:-1], padding, kernel_shape[:-2], strides, dy.shape[1:-1]
        )
    ]
    lhs = jnp.moveaxis(x, (0, -1), (-1, 0))  # (C, *spatial, N)
    rhs = jnp.moveaxis(dy, 0, -2)  # (*out, N, O)
    dw = lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides=(1,) * nd,
        padding=[(lo, hi - r) for (lo, hi), r in zip(padding, rem)],
        rhs_dilation=strides,
        dimension_numbers=_dimension_numbers(nd),
    )
    return jnp.moveaxis(dw, 0, -2)  # (C, *k, O) -> (*k, C, O)


def _kernel_grad_dy_major(x, dy, kernel_shape, strides, padding):
    """dW[k, c, o] = sum_{n, u} x[n, u, c] dy_dil[n, u + p - k, o]: a convolution of dy (dilated by
    the strides), with its channels as the batch and its examples as the features, by x as the
    kernel. Output position j = k_max - 1 - k (dy padded by k_max - 1 - p low), hence the flip.
    """
    nd = x.ndim - 2
    lhs = jnp.moveaxis(dy, (0, -1), (-1, 0))  # (O, *out, N)
    rhs = jnp.moveaxis(x, 0, -2)  # (*spatial, N, C)
    pads = [
        (k - 1 - lo, n - 1 - s * (m - 1) + lo)
        for n, (lo, _), k, s, m in zip(
            x.shape[1:-1], padding, kernel_shape[:-2], strides, dy.shape[1:-1]
        )
    ]
    dw = lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides=(1,) * nd,
        padding=pads,
        lhs_dilation=strides,
        dimension_numbers=_dimension_numbers(nd),
    )
    dw = lax.rev(dw, tuple(range(1, nd + 1)))
    return jnp.moveaxis(dw, 0, -1)  # (O, *k, C) -> (*k, C, O)


def _input_grad(x, kernel, strides, padding, dy):
    """d loss / d x of ``_xla_conv(x, kernel, strides, padding)`` given ``dy``: XLA's own."""
    return jax.vjp(lambda x_: _xla_conv(x_, kernel, strides, padding), x)[1](dy)[0]


# A convolution over few input channels (a first layer: grey or RGB images, video frames) is slow
# in XLA:CPU's convolution kernels, forward and kernel gradient alike. Written as one matrix
# product of the input's patches (im2col: the kernel's offsets side by side, prod(k) * C columns, a
# temporary prod(k) times the size of x) with the kernel, forward + kernel gradient took, batch 128
# (benchmarks/xla_cpu_options.py, one run):
#   digits CNN's 8x8x1 -> 16, 3x3          0.96 -> 0.29 ms
#   ResNet-20's 32x32x3 -> 16, 3x3        16.35 -> 6.91 ms
#   LeNet's 28x28x1 -> 32, 5x5            23.33 -> 9.65 ms
#   32x32x3 -> 16, 3x3, stride 2           5.86 -> 1.72 ms
#   16x32x32x1 -> 16, 3x3x3 (batch 32)    568.3 -> 59.9 ms
# At 8 input channels it was slower (17.54 -> 19.38 ms), at 16 much slower (21.78 -> 35.67), hence
# at most PATCH_MAX_CHANNELS; and so was ResNet's strided 7x7 stem (39.12 -> 56.29 ms, batch 8 at
# 224x224x3), so strided convolutions need at most _MAX_OFFSET_DOTS kernel offsets. The patches
# are one temporary array (226 MB in the 3-D case); above PATCH_MAX_BYTES (a cap on memory, not a
# measured speed limit: a batch of 32 C3D clips of 16x112x112x3 would need 2 GB) XLA's convolution
# runs instead. Accelerators keep their own convolution.
PATCH_MAX_CHANNELS = 4
PATCH_MAX_BYTES = 2**29


def use_patches(
    channels: int, kernel_size: Sequence[int], strides: Sequence[int], patch_bytes: int = 0
) -> bool:
    """Whether :func:`conv` computes as patches times kernel: on CPU, for at most
    ``PATCH_MAX_CHANNELS`` input channels and patches of at most ``PATCH_MAX_BYTES`` (``patch_bytes``),
    unless strided with more than ``_MAX_OFFSET_DOTS`` offsets."""
    return (
        jax.default_backend() == "cpu"
        and channels <= PATCH_MAX_CHANNELS
        and patch_bytes <= PATCH_MAX_BYTES
        and (all(s == 1 for s in strides) or math.prod(kernel_size) <= _MAX_OFFSET_DOTS)
    )


def _patches(x, kernel_size, strides, padding):
    """(N, *out, prod(k) * C): x_pad[n, s i + k, c] at column k * C + c, k in row-major order, the
    order of ``kernel.reshape(-1, O)``."""
    return jnp.concatenate(_offset_slices(x, kernel_size, strides, padding), axis=-1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _patch_conv(x, kernel, strides, padding):
    patches = _patches(x, kernel.shape[:-2], strides, padding)
    return lax.dot_general(
        patches, kernel.reshape(-1, kernel.shape[-1]), (((x.ndim - 1,), (0,)), ((), ()))
    )


def _patch_conv_fwd(x, kernel, strides, padding):
    return _patch_conv(x, kernel, strides, padding), (x, kernel)


def _patch_conv_bwd(strides, padding, residuals, dy):
    x, kernel = residuals
    # the patches are recomputed from x (XLA reuses the forward's where both run in one program)
    patches = _patches(x, kernel.shape[:-2], strides, padding)
    axes = tuple(range(x.ndim - 1))
    dw = lax.dot_general(patches, dy, ((axes, axes), ((), ())))
    return _input_grad(x, kernel, strides, padding, dy), dw.reshape(kernel.shape).astype(
        kernel.dtype
    )


_patch_conv.defvjp(_patch_conv_fwd, _patch_conv_bwd)
# how a traced _patch_conv shows in a jaxpr (jaxdl.train.sweep.uses_convolution looks for it)
patch_conv_name = _patch_conv.__name__


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv(x, kernel, strides, padding):
    return _xla_conv(x, kernel, strides, padding)


def _conv_fwd(x, kernel, strides, padding):
    return _xla_conv(x, kernel, strides, padding), (x, kernel)


def _conv_bwd(strides, padding, residuals, dy):
    x, kernel = residuals
    return (
        _input_grad(x, kernel, strides, padding, dy),
        _kernel_grad(x, dy, kernel.shape, strides, padding).astype(kernel.dtype),
    )


_conv.defvjp(_conv_fwd, _conv_bwd)


def conv(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: Sequence[tuple[int, int]]
) -> jax.Array:
    """Cross-correlation of channels-last ``x`` (N, *spatial, C) with ``kernel`` (*k, C, O).

    The function ``lax.conv_general_dilated`` computes with these layouts (no dilation, one group).
    Its kernel gradient is a convolution in XLA:CPU's fast layout wherever it runs (also inside
    loops), in the form that transposes the least (dy-major at stride 1; one dot product per kernel
    offset for strided kernels of up to 9 offsets), and importing jaxdl keeps that convolution out
    of YNNPACK, which is slow at it (:mod:`jaxdl.xla_cpu`). On CPU, a convolution over at most
    ``PATCH_MAX_CHANNELS`` input channels (a first layer) is one matrix product of x's patches with
    the kernel instead (:func:`use_patches`). Reverse-mode differentiable; forward mode through it is
    not supported.

    Args:
      x: input, shape (N, *spatial, C) with 1 to 3 spatial axes.
      kernel: shape (*kernel_size, C, O).
      strides: one stride per spatial axis.
      padding: one (low, high) zero-padding pair per spatial axis.

    Returns:
      Shape (N, *out, O) with out = floor((n + low + high - k) / s) + 1 per axis.
    """
    strides = tuple(int(s) for s in strides)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    if any(s < 1 for s in strides):
        raise ValueError(f"convolution strides must be >= 1, got {strides}")
    check_window_fits(x.shape[1:-1], kernel.shape[:-2], padding, "convolution kernel")
    out = _out_sizes(x.shape[1:-1], kernel.shape[:-2], strides, padding)
    patch_bytes = x.shape[0] * math.prod(out) * math.prod(kernel.shape[:-1]) * x.dtype.itemsize
    if use_patches(x.shape[-1], kernel.shape[:-2], strides, patch_bytes):
        return _patch_conv(x, kernel, strides, padding)
    return _conv(x, kernel, strides, padding)


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    precision=None,
    **kwargs,
):
    """``lax.conv_general_dilated`` for ``flax.linen.Conv(conv_general_dilated=...)``: :func:`conv`
    where it applies (channels-last, no dilation, one group), else XLA's."""
    ndim = lhs.ndim - 2
    plain = (
        not kwargs
        and precision is None
        and feature_group_count == 1
        and all(d is None or all(v == 1 for v in d) for d in (lhs_dilation, rhs_dilation))
        and dimension_numbers
        == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _dimension_numbers(ndim))
    )
    if plain:
        pads = (
            lax.padtype_to_pads(lhs.shape[1:-1], rhs.shape[:-2], window_strides, padding)
            if isinstance(padding, str)
            else padding
        )
        return conv(lhs, rhs, window_strides, pads)
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        precision=precision,
        **kwargs,
    )


# flax's nn.Conv with :func:`conv_general_dilated` (the kernel gradient of :func:`conv`); the
# modules it builds are nn.Conv, so their names and parameters are nn.Conv's
Conv = functools.partial(nn.Conv, conv_general_dilated=conv_general_dilated)


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
    """

    features: int
    kernel_size: IntOrSeq
    stride: IntOrSeq = 1
    padding: IntOrSeq = 0
    use_bias: bool = True
    ndim: int = 2
    kernel_init: Any = nn.initializers.he_normal()
    bias_init: Any = nn.initializers.zeros

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
                f"Conv{self.ndim}D expects inputs of rank {self.ndim + 2} (batch, {self.ndim} spatial "
                f"axes, channels), got shape {x.shape}"
            )
        if self.features < 1:
            raise ValueError(
                f"Conv{self.ndim}D needs features >= 1 (the number of filters), got {self.features}"
            )
        k = as_ints(self.kernel_size, self.ndim, "kernel_size", minimum=1)
        s = as_ints(self.stride, self.ndim, "stride", minimum=1)
        p = as_ints(self.padding, self.ndim, "padding")
        kernel = self.param("kernel", self.kernel_init, (*k, x.shape[-1], self.features))
        if not jnp.issubdtype(
            x.dtype, jnp.inexact
        ):  # integer images: compute in the kernel's dtype
            x = x.astype(kernel.dtype)
        y = conv(x, kernel.astype(x.dtype), s, [(pi, pi) for pi in p])
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
