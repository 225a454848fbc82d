"""What jaxdl.backend.xla_cpu changes, measured: library fusions, conv forms, the allocator.

1. One ResNet-20 convolution layer per stage (batch 128, 3x3, stride 1) and one batch norm:
   milliseconds for the forward pass, the input gradient and the kernel gradient, compiled with
   XLA's default options and with jaxdl's training options (convolutions out of YNNPACK). The
   kernel gradient is timed twice: XLA's autodiff of lax.conv_general_dilated and jaxdl's
   jaxdl.backend.xla_cpu.conv (a convolution written in XLA:CPU's fast layout).
2. The three forms of jaxdl's kernel gradient (jaxdl.backend.xla_cpu), jaxdl's training options,
   x a batch norm + ReLU output computed in the same program (as in a ResNet, where XLA fuses that
   arithmetic into x's transpose): x-major (x transposed examples-last), dy-major (dy
   transposed examples-last, x only batch-inward; strided layers need an input dilation there)
   and offsets (one dot product per kernel offset from strided slices of x, no transpose of a
   whole x).
   Also the bare transpose of x and the same transpose with the batch norm + ReLU fused into it.
   The offsets form is timed in both operand orders of its dot products (XLA:CPU transposes one
   side: each slice of x, or dy once); jaxdl transposes the smaller side.
3. Convolutions over few input channels (first layers), forward + kernel gradient, with
   jaxdl's training options: XLA's convolution (with jaxdl's kernel gradient) against one matrix
   product of x's patches with the kernel (jaxdl.backend.xla_cpu.use_patches picks).
4. Matrix products in YNNPACK (jaxdl's training options) or in XLA's own kernels (the same
   options with products also out of YNNPACK): the shapes of the digits CNN, the digits MLP and
   benchmarks/lstm_vs_torch.py's LSTM, and that LSTM's whole training step (1 layer, one XLA:CPU
   device on both cores).
5. benchmarks/cnn_vs_torch.py's ResNet-20 training step (batch 128, SGD momentum) in two fresh
   processes, without and with jaxdl.backend.xla_cpu.tune_malloc(): milliseconds and minor page
   faults per step.

Each timing is the best of 5 rounds. This process leaves XLA_FLAGS alone (no process-wide
YNNPACK setting) so that "default" really is XLA's default, and runs tables 1-4 with
jaxdl.backend.xla_cpu.tune_malloc() as jaxdl trains (without it, the patches' big temporaries were
fresh pages on every call).

Run:  PYTHONPATH=. python benchmarks/xla_cpu_options.py [--skip-step]
"""

import argparse
import functools
import importlib.util
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxdl.backend import xla_cpu  # noqa: E402

PAD = ((1, 1), (1, 1))


def best_ms(fn, *args, reps=10, rounds=5):
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / reps)
    return 1e3 * best


def kernel_grad_table():
    opts = xla_cpu.training_compiler_options()
    x_of = lambda z, scale: jnp.maximum(z * scale + 0.1, 0.0)  # batch norm's affine map + ReLU
    print(
        f"\n{'kernel gradient (batch 128)':<32}{'x-major':>9}{'dy-major':>10}{'offsets xT':>12}"
        f"{'offsets dyT':>13}{'jaxdl uses':>14}  (ms)"
    )
    for h, c, o, s, k in (
        (32, 16, 16, 1, 3),
        (16, 32, 32, 1, 3),
        (8, 64, 64, 1, 3),
        (32, 16, 32, 2, 3),
        (16, 32, 64, 2, 3),
        (16, 32, 64, 2, 1),
    ):
        z = jax.random.normal(jax.random.key(0), (128, h, h, c))
        scale = jax.random.normal(jax.random.key(1), (c,))
        dy = jax.random.normal(jax.random.key(2), (128, h // s, h // s, o))
        pad = ((k // 2, k // 2),) * 2
        forms = (
            xla_cpu._kernel_grad_x_major,
            xla_cpu._kernel_grad_dy_major,
            functools.partial(xla_cpu._kernel_grad_offsets, transpose_dy=False),
            functools.partial(xla_cpu._kernel_grad_offsets, transpose_dy=True),
        )
        ms = [
            best_ms(
                jax.jit(
                    lambda z, scale, dy, f=f: f(x_of(z, scale), dy, (k, k, c, o), (s, s), pad),
                    compiler_options=opts,
                ),
                z,
                scale,
                dy,
            )
            for f in forms
        ]
        used = "dy-major" if s == 1 else "offsets dyT" if o < k * k * c else "offsets xT"
        print(
            f"{f'{h}x{h}x{c} -> {o}, {k}x{k}, stride {s}':<32}{ms[0]:>9.2f}"
            f"{ms[1]:>10.2f}{ms[2]:>12.2f}{ms[3]:>13.2f}{used:>14}"
        )
    z = jax.random.normal(jax.random.key(0), (128, 32, 32, 16))
    scale = jax.random.normal(jax.random.key(1), (16,))
    examples_last = lambda x: jnp.moveaxis(x, (0, -1), (-1, 0))
    bare = best_ms(jax.jit(examples_last, compiler_options=opts), z)
    fused = best_ms(
        jax.jit(lambda z, scale: examples_last(x_of(z, scale)), compiler_options=opts), z, scale
    )
    print(
        f"{'x 128x32x32x16 examples-last':<30}bare transpose {bare:.2f}, "
        f"with batch norm + ReLU fused {fused:.2f}"
    )


def layer_table():
    options = {"XLA default": None, "jaxdl training": xla_cpu.training_compiler_options()}
    print(
        f"{'layer (batch 128)':<26}{'options':<16}{'forward':>9}{'dx':>9}"
        f"{'dw XLA':>9}{'dw jaxdl':>10}  (ms)"
    )
    for h, c in ((32, 16), (16, 32), (8, 64)):
        x = jax.random.normal(jax.random.key(0), (128, h, h, c))
        w = jax.random.normal(jax.random.key(1), (3, 3, c, c))
        dy = jax.random.normal(jax.random.key(2), (128, h, h, c))
        xla = lambda x, w: xla_cpu._xla_conv(x, w, (1, 1), PAD)
        ours = lambda x, w: xla_cpu.conv(x, w, (1, 1), PAD)
        for name, opts in options.items():
            jit = lambda f: jax.jit(f, compiler_options=opts)
            fwd = best_ms(jit(xla), x, w)
            dx = best_ms(jit(lambda x, w, dy: jax.vjp(xla, x, w)[1](dy)[0]), x, w, dy)
            dw_xla = best_ms(jit(lambda x, w, dy: jax.vjp(xla, x, w)[1](dy)[1]), x, w, dy)
            dw_ours = best_ms(jit(lambda x, w, dy: jax.vjp(ours, x, w)[1](dy)[1]), x, w, dy)
            print(
                f"{f'{h}x{h}x{c} -> {c}, 3x3':<26}{name:<16}{fwd:>9.2f}{dx:>9.2f}"
                f"{dw_xla:>9.2f}{dw_ours:>10.2f}"
            )
    x = jax.random.normal(jax.random.key(0), (128, 32, 32, 16))
    bn = nn.BatchNorm(use_running_average=False, momentum=0.9, epsilon=1e-5)
    variables = bn.init(jax.random.key(0), x)

    def loss(params, x):
        y, _ = bn.apply(
            {"params": params, "batch_stats": variables["batch_stats"]}, x, mutable=["batch_stats"]
        )
        return jnp.sum(y * y)

    for name, opts in options.items():
        ms = best_ms(jax.jit(jax.grad(loss, (0, 1)), compiler_options=opts), variables["params"], x)
        print(f"{'batch norm 32x32x16':<26}{name:<16}{'forward + backward':>27} {ms:.2f}")


def dot_table():
    import lstm_vs_torch as lstm  # pylint: disable=g-import-not-at-top
    import optax  # pylint: disable=g-import-not-at-top

    options = {
        "jaxdl training": xla_cpu.training_compiler_options(),
        "products out": {xla_cpu.YNN_OPTION: "LIBRARY_FUSION_TYPE_REDUCE"},
    }
    print(f"\n{'matrix product (forward)':<44}" + "".join(f"{k:>16}" for k in options) + "  (ms)")
    cases = (
        ("digits CNN patches x kernel", (8192, 144), (144, 32)),
        ("digits MLP layer, batch 128", (128, 64), (64, 256)),
        ("LSTM input projection, 32 x 100 steps", (3200, 64), (64, 1024)),
        ("LSTM recurrent step, 32 rows", (32, 256), (256, 1024)),
        ("512 x 256 by 256 x 1024", (512, 256), (256, 1024)),
    )
    for label, a_shape, b_shape in cases:
        a, b = (
            jax.random.normal(jax.random.key(0), a_shape),
            jax.random.normal(jax.random.key(1), b_shape),
        )
        ms = [best_ms(jax.jit(jnp.matmul, compiler_options=o), a, b) for o in options.values()]
        print(f"{label:<44}" + "".join(f"{m:>16.3f}" for m in ms))
    model = lstm._JaxLM(1, "jaxdl")
    x = jax.random.normal(jax.random.key(0), (lstm.B, lstm.T, lstm.D))
    y = jax.random.randint(jax.random.key(1), (lstm.B, lstm.T), 0, lstm.V)
    params, tx = model.init(jax.random.key(2), x[:1])["params"], optax.adam(1e-3)

    def step(params, opt_state, x, y):  # the data as arguments, as in training (not as constants)
        loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(
            model.apply({"params": p}, x), y
        ).mean()
        updates, opt_state = tx.update(jax.grad(loss)(params), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    ms = [
        best_ms(jax.jit(step, compiler_options=o), params, tx.init(params), x, y, reps=5)
        for o in options.values()
    ]
    print(f"{'LSTM benchmark training step, 1 layer':<44}" + "".join(f"{m:>16.1f}" for m in ms))


def patch_table():
    opts = xla_cpu.training_compiler_options()
    print(
        f"\n{'first layers: forward + kernel gradient':<44}{'convolution':>12}{'patches':>9}"
        f"{'jaxdl uses':>12}  (ms)"
    )
    cases = (  # (label, x shape, kernel shape, stride, padding)
        ("digits CNN 8x8x1 -> 16, 3x3", (128, 8, 8, 1), (3, 3, 1, 16), 1, 1),
        ("ResNet-20 32x32x3 -> 16, 3x3", (128, 32, 32, 3), (3, 3, 3, 16), 1, 1),
        ("LeNet 28x28x1 -> 32, 5x5", (128, 28, 28, 1), (5, 5, 1, 32), 1, 2),
        ("32x32x3 -> 16, 3x3, stride 2", (128, 32, 32, 3), (3, 3, 3, 16), 2, 1),
        ("3-D 16x32x32x1 -> 16, 3x3x3 (batch 32)", (32, 16, 32, 32, 1), (3, 3, 3, 1, 16), 1, 1),
        ("32x32x8 -> 16, 3x3", (128, 32, 32, 8), (3, 3, 8, 16), 1, 1),
        ("32x32x16 -> 16, 3x3", (128, 32, 32, 16), (3, 3, 16, 16), 1, 1),
        ("stem 224x224x3 -> 64, 7x7/2 (batch 8)", (8, 224, 224, 3), (7, 7, 3, 64), 2, 3),
    )
    for label, x_shape, k_shape, s, p in cases:
        x = jax.random.normal(jax.random.key(0), x_shape)
        w = jax.random.normal(jax.random.key(1), k_shape)
        nd = len(x_shape) - 2
        args = ((s,) * nd, ((p, p),) * nd)
        ms = []
        for f in (xla_cpu._conv, xla_cpu._patch_conv):
            grad = jax.jit(
                jax.grad(lambda w, x, f=f: jnp.sum(jnp.maximum(f(x, w, *args), 0.0))),
                compiler_options=opts,
            )
            ms.append(best_ms(grad, w, x, reps=2 if nd == 3 else 10))
        patches = xla_cpu.use_patches(x_shape[-1], k_shape[:-2], args[0])
        used = "patches" if patches else "convolution"
        print(f"{label:<44}{ms[0]:>12.2f}{ms[1]:>9.2f}{used:>12}")


_STEP = r"""
import os, resource, sys
sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "benchmarks")]
from jaxdl import backend, models
from jaxdl.backend import xla_cpu
xla_cpu.set_process_defaults()  # the XLA:CPU policy's process settings, the allocator aside
if sys.argv[1] == "1":
  xla_cpu.tune_malloc()
import jax.numpy as jnp, numpy as np
import cnn_vs_torch  # its ResNet-20 training step
x = jnp.asarray(np.random.default_rng(0).normal(size=(128, 32, 32, 3)), jnp.float32)
y = jnp.asarray(np.random.default_rng(1).integers(0, 10, size=128))
with backend.use(backend.for_platform("cpu")):
  run = cnn_vs_torch.make_jax_runner(models.get("resnet20", num_classes=10), x, y)
run(3)
best, faults = float("inf"), []
for _ in range(3):
  f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  best = min(best, run(4) / 4)
  faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 4)
print(f"{1e3 * best:.0f} {min(faults):.0f}")
"""


def step_table():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    print(f"\n{'ResNet-20 step (batch 128)':<34}{'ms/step':>9}{'minor faults/step':>19}")
    for tuned in ("0", "1"):
        proc = subprocess.run(
            [sys.executable, "-c", _STEP, tuned], cwd=root, env=env, capture_output=True, text=True
        )
        if proc.returncode:  # its last line says why, instead of a CalledProcessError traceback
            why = (proc.stderr.strip() or "no output").splitlines()[-1]
            print(f"the ResNet-20 step failed: {why}")
            return
        out = proc.stdout.split()
        label = "with tune_malloc()" if tuned == "1" else "glibc defaults"
        print(f"{label:<34}{out[0]:>9}{out[1]:>19}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-step", action="store_true", help="skip the ResNet-20 training-step table (5.)"
    )
    args = parser.parse_args()
    if not args.skip_step and importlib.util.find_spec("torch") is None:
        print("table 5 needs torch (it runs benchmarks/cnn_vs_torch.py): pip install -e '.[bench]'")
        args.skip_step = True
    xla_cpu.tune_malloc()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs")
    layer_table()
    kernel_grad_table()
    patch_table()
    dot_table()
    if not args.skip_step:
        step_table()


if __name__ == "__main__":
    main()
