"""Everything XLA:CPU-specific: compiler options, process settings, and a faster conv layer.

:func:`jaxdl.backend.for_platform` builds the XLA:CPU policy from what this module provides:

* :data:`Conv`, flax's ``nn.Conv`` with :func:`conv_general_dilated`: the kernel gradient written
  in XLA:CPU's fast convolution layout, and first layers (few input channels) as one matrix
  product of the input's patches with the kernel.
* :func:`compiler_options` for programs that run once (``"init"``) or in the training loop
  (``"train"``): a low LLVM optimisation level (matrix products and convolutions are library
  calls, so the element-wise code it optimises matters little and compiling it costs seconds), and
  convolutions kept out of the YNNPACK library, which is slow at their kernel gradient.
* :func:`lstm_feature_major_above` from the core's L2 cache size (:func:`l2_cache_bytes`).
* :func:`setup_process`, for an entry point before the first computation: the YNNPACK setting for
  every program of the process (``XLA_FLAGS``), :func:`tune_malloc`, and :func:`use_cpu_cores`.

Measurements behind these choices: benchmarks/README.md and benchmarks/xla_cpu_options.py.
"""

from collections.abc import Sequence
import ctypes
import functools
import itertools
import logging
import math
import os
import re

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

from jaxdl.nn.conv import check_window_fits, conv_output_size

# ----------------------------------------------------------------------------- compiler options

# YNNPACK fusion kinds kept on CPU: everything XLA sends there by default except convolutions.
YNN_FUSION_TYPES = ("individual_dot", "reduce")
YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"
# LLVM optimisation level per purpose: code that runs once needs no optimisation at all.
OPT_LEVEL = {"init": 0, "train": 1}


def training_compiler_options() -> dict[str, str]:
    """``jax.jit(..., compiler_options=...)`` entries that keep convolutions out of YNNPACK."""
    return {YNN_OPTION: ",".join("LIBRARY_FUSION_TYPE_" + t.upper() for t in YNN_FUSION_TYPES)}


def compiler_options(purpose: str) -> dict[str, object]:
    """XLA options for a program that runs once (``"init"``) or in the training loop (``"train"``).

    Training programs keep convolutions out of YNNPACK themselves, whether or not
    :func:`set_process_defaults` could still set it for the whole process.
    """
    if purpose not in OPT_LEVEL:
        raise ValueError(f"unknown program purpose {purpose!r}; choose one of init, train")
    options: dict[str, object] = {"xla_backend_optimization_level": OPT_LEVEL[purpose]}
    if purpose == "train":
        options.update(training_compiler_options())
    return options


# ----------------------------------------------------------------------------- process settings

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def set_process_defaults() -> bool:
    """Adds :data:`YNN_FUSION_TYPES` to ``XLA_FLAGS`` when that can still take effect.

    Returns:
      True if the flag was added; False if ``JAXDL_XLA_CPU_DEFAULTS=0``, ``XLA_FLAGS`` already sets
      the option, or a JAX backend already started (its flags are fixed).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if os.environ.get("JAXDL_XLA_CPU_DEFAULTS", "1") == "0" or YNN_OPTION in flags:
        return False
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top

    if xla_bridge.backends_are_initialized():
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --{YNN_OPTION}={','.join(YNN_FUSION_TYPES)}".strip()
    return True


def tune_malloc() -> bool:
    """Makes glibc reuse freed memory for XLA:CPU's per-step buffers instead of fresh pages.

    XLA:CPU allocates each execution's temporaries on its worker threads; glibc serves big requests
    from those threads with fresh ``mmap`` pages, which every step then page-faults in. One arena,
    no ``mmap`` and no trimming make it reuse its heap; the memory stays with the process at its
    peak. Call it before the first JAX computation (threads that already allocated keep their
    arena). Returns False where the C library is not glibc (nothing changes there).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(
        mallopt(param, value) == 1
        for param, value in ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1))
    )


def use_cpu_cores(num_devices: int = 0) -> int:
    """Splits XLA:CPU into ``num_devices`` devices; 0 means one per core this process may use.

    One XLA:CPU device runs each operation on all cores, which for the small matmuls of research
    models costs more in synchronisation than it gains. With several devices a sweep shards its
    runs (a single run's batch only where ``train.data_parallel`` says so; see
    ``jaxdl.train.sweep.data_parallel``). Call it before JAX initialises its backends (before the
    first computation); afterwards, or when ``JAX_NUM_CPU_DEVICES`` or XLA's
    ``--xla_force_host_platform_device_count`` already sets the count, it changes nothing.

    Returns:
      The number of XLA:CPU devices that will be (or already are) in use.
    """
    if num_devices < 0:
        raise ValueError(
            f"number of CPU devices must be >= 0 (0 = one per core), got {num_devices}"
        )
    # read from the environment, not jax.devices(): that would start the backend, and a multi-host
    # launch calls jax.distributed.initialize after this
    # (XLA takes the last of repeated flags, and a quoted value)
    forced = re.findall(
        r"--xla_force_host_platform_device_count=[\"']?(\d+)", os.environ.get("XLA_FLAGS", "")
    )
    if os.environ.get("JAX_NUM_CPU_DEVICES") or forced:
        return int(os.environ.get("JAX_NUM_CPU_DEVICES") or forced[-1])
    num_devices = num_devices or len(os.sched_getaffinity(0))
    if num_devices > 1:
        _patient_collectives()
    try:
        jax.config.update("jax_num_cpu_devices", num_devices)
    except RuntimeError:  # backends already initialised: keep what they have
        logging.info(
            "JAX is already initialised; keeping its %d CPU device(s)", len(jax.devices("cpu"))
        )
        return len(jax.devices("cpu"))
    return num_devices


COLLECTIVE_TIMEOUT_S = 300


def _patient_collectives() -> None:
    """Lets XLA:CPU's collectives wait ``COLLECTIVE_TIMEOUT_S`` for every device to arrive.

    XLA's default terminates the program after 40 s, which a loaded machine can reach; a deadlock
    (docs/design.md, "XLA:CPU collectives") still fails within the timeout. Flags the user set in
    ``XLA_FLAGS`` are kept.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    for name in (
        "xla_cpu_collective_timeout_seconds",
        "xla_cpu_collective_call_terminate_timeout_seconds",
    ):
        if f"--{name}=" not in flags:
            flags += f" --{name}={COLLECTIVE_TIMEOUT_S}"
    os.environ["XLA_FLAGS"] = flags.strip()


def setup_process(cpu_devices: int | None = 0) -> None:
    """XLA:CPU's process settings, for an entry point before the first JAX computation.

    Keeps convolutions out of YNNPACK for every program (:func:`set_process_defaults`; set
    ``JAXDL_XLA_CPU_DEFAULTS=0`` to keep XLA's default), tunes glibc's allocator
    (:func:`tune_malloc`) and splits the cores into ``cpu_devices`` devices (:func:`use_cpu_cores`;
    0 one per core, None leaves the count alone).
    """
    set_process_defaults()
    tune_malloc()
    if cpu_devices is not None:
        use_cpu_cores(cpu_devices)


# ----------------------------------------------------------------------------- LSTM layout

_DEFAULT_L2_BYTES = 512 * 1024  # where the size cannot be read


def l2_cache_bytes(root: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """The L2 cache size of CPU 0 from Linux's sysfs (``root``), else :data:`_DEFAULT_L2_BYTES`."""
    try:
        for index in sorted(os.listdir(root)):
            with open(os.path.join(root, index, "level")) as f:
                if f.read().strip() != "2":
                    continue
            with open(os.path.join(root, index, "size")) as f:
                size = f.read().strip().upper()
            scale = {"K": 1024, "M": 1024 * 1024}.get(size[-1:], 1)
            return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return _DEFAULT_L2_BYTES


def lstm_feature_major_above(l2_bytes: int | None = None) -> int:
    """The largest LSTM hidden size H whose recurrent weights (4 H x H float32, 16 H² bytes) fit the
    L2 cache (``l2_bytes``, default :func:`l2_cache_bytes`).

    While U fits, repacking it at every batch-major step is cheap; beyond, the hand-BPTT loops run
    faster feature-major, with U as the matmul's fixed left operand.
    """
    l2_bytes = l2_cache_bytes() if l2_bytes is None else l2_bytes
    return math.isqrt(l2_bytes // 16)


# ----------------------------------------------------------------------------- convolution


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
# nn.scan of a deep ResNet) it does not, and falls back to a slow generic emitter.
# ``_kernel_grad`` writes that convolution in the fast layout itself, so it is fast everywhere.
#
# Either x or dy must then be transposed with its examples last (batch <-> channels), the costly
# kind of transpose. For x it is the costlier one: x is usually a batch norm + ReLU output, and
# XLA fuses that arithmetic into the transpose. So stride-1 convolutions transpose dy fully and x
# only by moving its batch axis inward (``_kernel_grad_dy_major``). Strided ones with big kernels
# (AlexNet's 11x11 / 4) keep the x-major form: the dy-major form then needs an input dilation,
# which is much slower.
#
# A strided convolution with a small kernel (at most _MAX_OFFSET_DOTS offsets: 3x3, 1x1) takes
# neither: there XLA fuses a whole chain of residual additions and batch norms into x's transpose,
# so ``_kernel_grad_offsets`` computes one dot product per kernel offset from strided slices of x,
# with no transpose of a whole x.
_MAX_OFFSET_DOTS = 9


def _kernel_grad(x, dy, kernel_shape, strides, padding):
    """d loss / d kernel (of shape ``kernel_shape``) of ``_xla_conv(x, kernel, strides, padding)``
    given ``dy``.

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
    """dW[k, c, o] = sum_{n, i} x_pad[n, s i + k, c] dy[n, i, o]: a convolution of x, with its
    channels as the batch and its examples as the features, by dy (dilated by the strides) as the
    kernel.
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
# temporary prod(k) times the size of x) with the kernel it is faster, up to PATCH_MAX_CHANNELS
# input channels (with more it is slower); strided convolutions need at most _MAX_OFFSET_DOTS
# kernel offsets (ResNet's strided 7x7 stem is slower as patches). Above PATCH_MAX_BYTES of patches
# (a cap on memory, not a speed limit: a batch of C3D clips would need gigabytes) XLA's
# convolution runs instead.
PATCH_MAX_CHANNELS = 4
PATCH_MAX_BYTES = 2**29


def use_patches(
    channels: int, kernel_size: Sequence[int], strides: Sequence[int], patch_bytes: int = 0
) -> bool:
    """Whether :func:`conv` computes as patches times kernel: for at most ``PATCH_MAX_CHANNELS``
    input channels and patches of at most ``PATCH_MAX_BYTES`` (``patch_bytes``), unless strided with
    more than ``_MAX_OFFSET_DOTS`` kernel offsets."""
    return (
        channels <= PATCH_MAX_CHANNELS
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
    dx = _input_grad(x, kernel, strides, padding, dy)
    return dx, dw.reshape(kernel.shape).astype(kernel.dtype)


_patch_conv.defvjp(_patch_conv_fwd, _patch_conv_bwd)


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
    offset for strided kernels of up to 9 offsets). A convolution over at most
    ``PATCH_MAX_CHANNELS`` input channels (a first layer) is one matrix product of x's patches with
    the kernel instead (:func:`use_patches`). Reverse-mode differentiable; forward mode through it
    is not supported.

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
    """``lax.conv_general_dilated`` with :func:`conv`'s gradients where it applies (channels-last,
    no dilation, one group, default precision), else XLA's; for
    ``flax.linen.Conv(conv_general_dilated=...)`` and ``jaxdl.nn.ConvND``."""
    ndim = lhs.ndim - 2
    channels_last = dimension_numbers is not None and lax.conv_dimension_numbers(
        lhs.shape, rhs.shape, dimension_numbers
    ) == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _dimension_numbers(ndim))
    plain = (
        not kwargs
        and precision is None
        and feature_group_count == 1
        and all(d is None or all(v == 1 for v in d) for d in (lhs_dilation, rhs_dilation))
        and channels_last
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


# flax's nn.Conv with :func:`conv_general_dilated`; the modules it builds are nn.Conv, so their
# names and parameters are nn.Conv's (one object, so that equal policies compare equal)
Conv = functools.partial(nn.Conv, conv_general_dilated=conv_general_dilated)
