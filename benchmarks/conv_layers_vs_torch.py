"""Where a CNN training step's time goes: one conv layer's three parts, jaxdl against PyTorch.

For each 3x3 convolution shape of ResNet-20 (32x32 input) and of the digits CNN, batch 128, it
times the forward pass, the input gradient and the kernel gradient, each as its own jitted program
in jaxdl (``jaxdl.backend.xla_cpu.conv`` and its VJP, with the XLA:CPU policy's training compiler
options) and as PyTorch's ``conv2d`` / ``aten.convolution_backward`` on CPU, alternating rounds,
and prints the median milliseconds and jaxdl's speed relative to PyTorch's (PyTorch time / jaxdl
time) for each part.

  PYTHONPATH=. python benchmarks/conv_layers_vs_torch.py [--rounds 7]
"""

import argparse
import sys

import jax
import jax.numpy as jnp
import lstm_vs_torch  # the benchmarks' interleaved timing (this script's folder is on sys.path)
import numpy as np

try:
    import torch
except ImportError:  # the peer: one line saying what to install, not a traceback
    sys.exit("benchmarks/conv_layers_vs_torch.py needs torch, its peer: pip install -e '.[bench]'")

from jaxdl.backend import xla_cpu

# (model, spatial size, input channels, output channels, stride)
SHAPES = (
    ("resnet20", 32, 16, 16, 1),
    ("resnet20", 16, 32, 32, 1),
    ("resnet20", 8, 64, 64, 1),
    ("resnet20", 32, 16, 32, 2),
    ("resnet20", 16, 32, 64, 2),
    ("digits_cnn", 8, 16, 32, 1),
)
PARTS = ("forward", "input_grad", "kernel_grad")


def jax_parts(x, kernel, dy, stride):
    """Closures timing jaxdl's forward, input gradient and kernel gradient (each jitted alone)."""
    opts = xla_cpu.compiler_options("train")
    f = lambda x, k: xla_cpu.conv(x, k, (stride, stride), ((1, 1), (1, 1)))
    programs = {
        "forward": jax.jit(f, compiler_options=opts),
        "input_grad": jax.jit(
            lambda x, k, dy: jax.vjp(lambda x_: f(x_, k), x)[1](dy)[0], compiler_options=opts
        ),
        "kernel_grad": jax.jit(
            lambda x, k, dy: jax.vjp(lambda k_: f(x, k_), k)[1](dy)[0], compiler_options=opts
        ),
    }
    x, kernel, dy = map(jnp.asarray, (x, kernel, dy))
    args = {"forward": (x, kernel), "input_grad": (x, kernel, dy), "kernel_grad": (x, kernel, dy)}
    return {
        p: (lambda g, a: lambda: jax.block_until_ready(g(*a)))(programs[p], args[p]) for p in PARTS
    }


def torch_parts(x, kernel, dy, stride):
    """The same three parts in PyTorch (NCHW, OIHW)."""
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    kt = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
    dyt = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy())

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            dyt, xt, kt, None, [stride] * 2, [1, 1], [1, 1], False, [0, 0], 1, mask
        )

    return {
        "forward": lambda: torch.nn.functional.conv2d(xt, kt, None, stride, 1),
        "input_grad": backward([True, False, False]),
        "kernel_grad": backward([False, True, False]),
    }


def median_ms(runs, rounds, reps=5):
    """Median milliseconds per call of each closure, the closures alternating round by round."""
    for run in runs.values():
        run(), run()
    times = lstm_vs_torch._interleaved_times(runs, rounds, reps, "wall")  # pylint: disable=protected-access
    return {k: 1e3 * float(np.median(v)) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    xla_cpu.setup_process(cpu_devices=None)  # as launch.py's XLA:CPU policy (one device here)
    rng = np.random.default_rng(0)
    print(
        f"jax {jax.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"batch {args.batch}, "
        f"3x3 kernels, padding 1; median ms (jaxdl speed relative to PyTorch's)"
    )
    print(f"{'model':<11}{'layer':<22}" + "".join(f"{p:>26}" for p in PARTS))
    for model, n, cin, cout, stride in SHAPES:
        x = rng.normal(size=(args.batch, n, n, cin)).astype(np.float32)
        kernel = (0.1 * rng.normal(size=(3, 3, cin, cout))).astype(np.float32)
        dy = rng.normal(size=(args.batch, n // stride, n // stride, cout)).astype(np.float32)
        runs = {("jax", p): r for p, r in jax_parts(x, kernel, dy, stride).items()}
        runs.update({("torch", p): r for p, r in torch_parts(x, kernel, dy, stride).items()})
        ms = median_ms(runs, args.rounds)
        cells = "".join(
            f"{f'{ms[jax_p]:.2f} vs {ms[torch_p]:.2f} ({ms[torch_p] / ms[jax_p]:.2f}x)':>26}"
            for jax_p, torch_p in ((("jax", p), ("torch", p)) for p in PARTS)
        )
        print(f"{model:<11}{f'{n}x{n}x{cin} -> {cout}, /{stride}':<22}{cells}", flush=True)


if __name__ == "__main__":
    main()
