"""jaxdl.backend.xla_cpu: process settings (XLA flag, allocator, opt-outs), compiler options, the
L2 cache probe, and the conv forms with XLA:CPU's fast kernel gradient against references."""

import functools
import subprocess
import sys

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import nn as jnn
from jaxdl.backend import xla_cpu
from tests import subprocesses

TRAIN_OPTIONS = xla_cpu.compiler_options("train")

# Runs in a fresh interpreter (the flag only takes effect before the backend starts); importing
# jaxdl sets nothing, so each case starts from a known XLA_FLAGS.
_SCRIPT = r"""
import os
import jaxdl
from jaxdl.backend import xla_cpu
assert "XLA_FLAGS" not in os.environ
os.environ["JAXDL_XLA_CPU_DEFAULTS"] = "0"
assert not xla_cpu.set_process_defaults()  # opted out
os.environ["JAXDL_XLA_CPU_DEFAULTS"] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_experimental_ynn_fusion_type=individual_dot"
assert not xla_cpu.set_process_defaults()  # the user's own choice stands
os.environ["XLA_FLAGS"] = "--xla_cpu_enable_fast_math=false"
assert xla_cpu.set_process_defaults()
print(os.environ["XLA_FLAGS"])
assert xla_cpu.tune_malloc()
import jax, jax.numpy as jnp
assert float(jnp.sum(jnp.ones(1 << 22))) == 1 << 22  # a 16 MB buffer after the allocator change
assert not xla_cpu.set_process_defaults()  # the flag is there (and the backend has started)
"""


def test_process_defaults_and_allocator_in_a_fresh_process():
    env = subprocesses.env(XLA_FLAGS=None, JAXDL_XLA_CPU_DEFAULTS=None)
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [
        "--xla_cpu_enable_fast_math=false",
        "--xla_cpu_experimental_ynn_fusion_type=individual_dot,reduce",
    ]


def test_compiler_options_compile_and_agree_with_the_default():
    # the option string must be one XLA accepts (a wrong enum name fails at compile time)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 6, 6, 3)), jnp.float32)
    k = jnp.asarray(np.random.default_rng(1).normal(size=(3, 3, 3, 2)), jnp.float32)
    loss = lambda k: jnp.sum(
        jax.lax.conv_general_dilated(
            x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        ** 2
    )
    grad = jax.grad(loss)
    if jax.default_backend() != "cpu":
        pytest.skip("XLA:CPU options")
    for purpose in ("init", "train"):
        options = xla_cpu.compiler_options(purpose)
        ours = jax.jit(grad, compiler_options=options)(k)
        np.testing.assert_allclose(ours, jax.jit(grad)(k), rtol=1e-5, atol=1e-5)
    assert (
        TRAIN_OPTIONS[xla_cpu.YNN_OPTION]
        == (xla_cpu.training_compiler_options()[xla_cpu.YNN_OPTION])
    )
    with pytest.raises(ValueError, match="unknown program purpose 'eval'; choose one of init"):
        xla_cpu.compiler_options("eval")


def test_training_options_keep_only_convolutions_out_of_ynnpack():
    # what XLA:CPU compiled: a YNNPACK fusion is a kCustom fusion with kind "__ynn_fusion"
    if jax.default_backend() != "cpu":
        pytest.skip("YNNPACK is an XLA:CPU library")
    a, b = jnp.ones((32, 256)), jnp.ones((256, 64))
    x, k = jnp.ones((4, 8, 8, 3)), jnp.ones((3, 3, 3, 2))
    programs = {
        "dot": (lambda a, b: a @ b, (a, b)),
        "convolution": (
            lambda x, k: jax.lax.conv_general_dilated(
                x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            ),
            (x, k),
        ),
        "reduce": (lambda a: jnp.sum(a, axis=0), (a,)),
    }
    in_ynn = {
        name: "__ynn_fusion"
        in jax.jit(f, compiler_options=xla_cpu.training_compiler_options())
        .lower(*args)
        .compile()
        .as_text()
        for name, (f, args) in programs.items()
    }
    assert in_ynn == {"dot": True, "convolution": False, "reduce": True}, in_ynn


def test_l2_cache_size_is_read_from_sysfs(tmp_path):
    # index0 is the L1 data cache, index2 the L2 (Linux's sysfs layout)
    for index, level, size in (("index0", 1, "32K"), ("index2", 2, "2048K")):
        (tmp_path / index).mkdir()
        (tmp_path / index / "level").write_text(f"{level}\n")
        (tmp_path / index / "size").write_text(f"{size}\n")
    assert xla_cpu.l2_cache_bytes(str(tmp_path)) == 2 * 1024 * 1024
    assert xla_cpu.l2_cache_bytes(str(tmp_path / "absent")) == xla_cpu._DEFAULT_L2_BYTES


@pytest.mark.parametrize("l2_kib, above", [(512, 181), (1024, 256), (2048, 362)])
def test_lstm_feature_major_above_the_hidden_size_whose_weights_fill_the_l2(l2_kib, above):
    # U is 4 H x H float32, 16 H² bytes: it fits for H <= above, not for H = above + 1
    assert xla_cpu.lstm_feature_major_above(l2_kib * 1024) == above
    assert 16 * above**2 <= l2_kib * 1024 < 16 * (above + 1) ** 2


_GRAD_CASES = [  # (input shape, kernel shape, strides, padding)
    ((3, 9, 9, 2), (3, 3, 2, 4), (1, 1), ((1, 1), (1, 1))),
    ((3, 9, 8, 2), (3, 2, 2, 4), (2, 3), ((1, 0), (2, 1))),
    ((2, 11, 3), (5, 3, 4), (3,), ((2, 2),)),
    ((2, 5, 6, 7, 3), (3, 3, 3, 3, 2), (1, 2, 1), ((1, 1), (0, 0), (2, 2))),
    ((2, 8, 8, 4), (1, 1, 4, 6), (2, 2), ((0, 0), (0, 0))),
]


@pytest.fixture(params=["patches", "convolution"])
def conv_form(request, monkeypatch):
    """Runs a test with conv computing every case as patches times kernel, then none."""
    monkeypatch.setattr(xla_cpu, "use_patches", lambda *args: request.param == "patches")
    return request.param


@pytest.mark.parametrize("shape,kshape,strides,padding", _GRAD_CASES)
def test_conv_and_gradients_match_torch(shape, kshape, strides, padding, conv_form):
    # jitted as the trainer compiles it on CPU (convolutions out of YNNPACK)
    torch = pytest.importorskip("torch")
    nd = len(strides)
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape).astype(np.float32)
    k = rng.normal(size=kshape).astype(np.float32)
    f = lambda x, k: xla_cpu.conv(x, k, strides, padding)
    y = jax.jit(f, compiler_options=TRAIN_OPTIONS)(x, k)
    g = rng.normal(size=y.shape).astype(np.float32)
    dx, dk = jax.jit(lambda x, k, g: jax.vjp(f, x, k)[1](g), compiler_options=TRAIN_OPTIONS)(
        x, k, g
    )
    x_t = torch.from_numpy(np.moveaxis(x, -1, 1).copy()).requires_grad_()
    k_t = torch.from_numpy(np.moveaxis(k, (-1, -2), (0, 1)).copy()).requires_grad_()
    pads = [p for lo_hi in reversed(padding) for p in lo_hi]  # torch's F.pad order: last axis first
    conv_t = getattr(torch.nn.functional, f"conv{nd}d")
    y_t = conv_t(torch.nn.functional.pad(x_t, pads), k_t, stride=strides)
    y_t.backward(torch.from_numpy(np.moveaxis(g, -1, 1).copy()))
    np.testing.assert_allclose(y, np.moveaxis(y_t.detach().numpy(), 1, -1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, np.moveaxis(x_t.grad.numpy(), 1, -1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        dk, np.moveaxis(k_t.grad.numpy(), (0, 1), (-1, -2)), rtol=1e-4, atol=1e-4
    )


# Cases beyond torch's reach (uneven or negative padding) for the comparisons with XLA's autodiff.
_KERNEL_GRAD_CASES = _GRAD_CASES + [
    ((2, 9, 9, 2), (3, 3, 2, 3), (2, 2), ((0, 0), (0, 0))),  # stride leaves a remainder: cropped
    ((2, 10, 3), (4, 3, 2), (3,), ((0, 2),)),
    # stride 1 (the dy-major form of the kernel gradient) with uneven padding, 1-D to 3-D
    ((2, 7, 6, 3), (3, 2, 3, 4), (1, 1), ((2, 0), (0, 1))),
    ((2, 9, 3), (4, 3, 2), (1,), ((0, 2),)),
    ((2, 4, 5, 6, 2), (2, 3, 3, 2, 3), (1, 1, 1), ((1, 0), (1, 1), (0, 2))),
    ((2, 9, 9, 2), (3, 3, 2, 3), (2, 2), ((-1, 0), (1, -1))),  # negative padding crops
]


@pytest.mark.parametrize("shape,kshape,strides,padding", _KERNEL_GRAD_CASES)
def test_conv_gradients_equal_xla_autodiff_also_inside_scan(
    shape, kshape, strides, padding, conv_form
):
    # conv's gradients (as patches x kernel, or XLA's convolution with jaxdl's kernel gradient
    # written in XLA:CPU's fast layout) against autodiff through XLA's convolution, at the top level
    # and in a scan body (where XLA would not change its layout)
    rng = np.random.default_rng(len(shape))
    x = jnp.asarray(rng.normal(size=shape), jnp.float32)
    ks = jnp.asarray(rng.normal(size=(2, *kshape)), jnp.float32)
    ours = lambda x, k: jnp.sum(jnp.sin(xla_cpu.conv(x, k, strides, padding)))
    xla = lambda x, k: jnp.sum(jnp.sin(xla_cpu._xla_conv(x, k, strides, padding)))
    scanned = lambda f: lambda x, ks: jax.lax.scan(lambda c, k: (c + f(x, k), None), 0.0, ks)[0]
    # a sum of float32 terms: the forms (and cuDNN on a GPU) add them in different orders
    np.testing.assert_allclose(jax.jit(ours)(x, ks[0]), xla(x, ks[0]), rtol=1e-5)
    first = lambda f: lambda x, ks: f(x, ks[0])
    for f, ref in ((first(ours), first(xla)), (scanned(ours), scanned(xla))):
        for got, want in zip(jax.jit(jax.grad(f, (0, 1)))(x, ks), jax.grad(ref, (0, 1))(x, ks)):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,kshape,strides,padding", _KERNEL_GRAD_CASES)
def test_every_kernel_gradient_form_equals_autodiff(shape, kshape, strides, padding):
    # conv picks one by stride and kernel size; the others are the benchmark's comparisons
    rng = np.random.default_rng(len(shape))
    x = jnp.asarray(rng.normal(size=shape), jnp.float32)
    dy_shape = (
        shape[0],
        *(
            (n + lo + hi - k) // s + 1
            for n, k, s, (lo, hi) in zip(shape[1:-1], kshape[:-2], strides, padding)
        ),
        kshape[-1],
    )
    dy = jnp.asarray(rng.normal(size=dy_shape), jnp.float32)
    want = jax.vjp(lambda k: xla_cpu._xla_conv(x, k, strides, padding), jnp.zeros(kshape))[1](dy)[0]
    forms = {
        "x-major": xla_cpu._kernel_grad_x_major,
        "dy-major": xla_cpu._kernel_grad_dy_major,
        "offsets, x transposed": functools.partial(
            xla_cpu._kernel_grad_offsets, transpose_dy=False
        ),
        "offsets, dy transposed": functools.partial(
            xla_cpu._kernel_grad_offsets, transpose_dy=True
        ),
    }
    for name, form in forms.items():
        np.testing.assert_allclose(
            jax.jit(form, static_argnums=(2, 3, 4))(x, dy, kshape, strides, padding),
            want,
            rtol=1e-4,
            atol=1e-4,
            err_msg=name,
        )


def test_patch_rule():
    # few input channels, and strided only with small kernels (benchmarks/xla_cpu_options.py)
    assert xla_cpu.use_patches(3, (3, 3), (1, 1))
    assert xla_cpu.use_patches(1, (3, 3, 3), (1, 1, 1))
    assert xla_cpu.use_patches(3, (3, 3), (2, 2))
    assert not xla_cpu.use_patches(3, (7, 7), (2, 2))  # ResNet's stem
    assert not xla_cpu.use_patches(xla_cpu.PATCH_MAX_CHANNELS + 1, (3, 3), (1, 1))
    assert not xla_cpu.use_patches(3, (3, 3), (1, 1), patch_bytes=xla_cpu.PATCH_MAX_BYTES + 1)


def test_patches_over_the_memory_cap_use_xla_convolution(monkeypatch):
    # the same numbers either way; over the cap the program holds XLA's convolution, not the patches
    x, k = jnp.ones((2, 9, 9, 3)), jnp.ones((3, 3, 3, 4))
    f = jax.jit(lambda x, k: xla_cpu.conv(x, k, (1, 1), ((1, 1), (1, 1))))
    below = f.lower(x, k).as_text()
    monkeypatch.setattr(
        xla_cpu, "PATCH_MAX_BYTES", 2 * 9 * 9 * 27 * 4 - 1
    )  # one byte under the patches
    over = jax.jit(lambda x, k: xla_cpu.conv(x, k, (1, 1), ((1, 1), (1, 1)))).lower(x, k).as_text()
    assert "convolution" not in below and "convolution" in over
    np.testing.assert_allclose(
        f(x, k), xla_cpu._xla_conv(x, k, (1, 1), ((1, 1), (1, 1))), rtol=1e-6
    )


def test_flax_conv_with_our_conv_general_dilated_equals_lax():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 7, 7, 3)), jnp.float32)
    for kwargs in (
        {"padding": "SAME", "strides": (2, 2)},
        {"padding": ((1, 1), (0, 2))},
        {"kernel_dilation": (2, 2)},
    ):
        ours = nn.Conv(4, (3, 3), conv_general_dilated=xla_cpu.conv_general_dilated, **kwargs)
        ref = nn.Conv(4, (3, 3), **kwargs)
        params = ref.init(jax.random.key(0), x)
        loss = lambda m: lambda p: jnp.sum(m.apply(p, x) ** 2)
        np.testing.assert_allclose(
            ours.apply(params, x), ref.apply(params, x), rtol=1e-5, atol=1e-5
        )
        chex.assert_trees_all_close(
            jax.grad(loss(ours))(params), jax.grad(loss(ref))(params), rtol=1e-4, atol=1e-4
        )


def test_conv_layer_is_flax_conv_and_conv_nd_takes_the_primitive():
    # the policy's layer builds nn.Conv modules (same names and parameters); ConvND with the
    # backend's primitive computes what it computes with XLA's
    x = jnp.asarray(np.random.default_rng(2).normal(size=(2, 7, 7, 3)), jnp.float32)
    layer = xla_cpu.Conv(4, (3, 3), padding=((1, 1), (1, 1)))
    assert isinstance(layer, nn.Conv)
    ref = jnn.Conv2D(4, 3, padding=1)
    ours = jnn.Conv2D(4, 3, padding=1, conv_general_dilated=xla_cpu.conv_general_dilated)
    params = ref.init(jax.random.key(0), x)
    np.testing.assert_allclose(layer.apply(params, x), ref.apply(params, x), rtol=1e-5, atol=1e-5)
    loss = lambda m: lambda p: jnp.sum(m.apply(p, x) ** 2)
    np.testing.assert_allclose(ours.apply(params, x), ref.apply(params, x), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(
        jax.grad(loss(ours))(params), jax.grad(loss(ref))(params), rtol=1e-4, atol=1e-4
    )
