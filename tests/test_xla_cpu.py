"""jaxdl.xla_cpu: the XLA flag set at import, its opt-outs, and the glibc allocator settings."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import xla_cpu
from jaxdl.train import steps
from tests import subprocesses

# Runs in a fresh interpreter (the flag only takes effect before the backend starts). The import
# itself is opted out, so that each case below starts from a known XLA_FLAGS.
_SCRIPT = r"""
import os
os.environ["JAXDL_XLA_CPU_DEFAULTS"] = "0"
from jaxdl import xla_cpu
assert "XLA_FLAGS" not in os.environ
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


def test_training_compiler_options_compile_and_agree_with_the_default():
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
    ours = jax.jit(grad, compiler_options=xla_cpu.training_compiler_options())(k)
    np.testing.assert_allclose(ours, jax.jit(grad)(k), rtol=1e-5, atol=1e-5)
    if jax.default_backend() == "cpu":
        assert (
            steps.compiler_options("train")[xla_cpu.YNN_OPTION]
            == xla_cpu.training_compiler_options()[xla_cpu.YNN_OPTION]
        )


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
