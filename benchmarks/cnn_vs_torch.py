"""Training throughput of small CNNs in JAX (jaxdl) against the same models in PyTorch on CPU.

Runs side by side in one process, alternating JAX and PyTorch rounds so that background load hits
both alike, and prints images/s and the JAX / PyTorch ratio (of the best rounds, and the median of
the ratios of back-to-back rounds, steadier while the machine's speed drifts) for
  * the digits CNN (two 3x3 conv layers, 8x8x1 input, batch 128),
  * CIFAR ResNet-20 (He et al. 2016, option A; 32x32x3, batch 128),
and the compile time of preact_resnet1001 forward + backward (nn.scan(nn.remat(unit))).
Both frameworks train with SGD (momentum 0.9) on softmax cross-entropy; JAX's step is jitted
with donated buffers, dispatched from a Python loop, and built and compiled under the platform's
backend policy as launch.py runs it (jaxdl.backend: on CPU the conv layer with XLA:CPU's fast
kernel gradient, convolutions kept out of YNNPACK); warm-up steps are excluded. The max pooling
is jaxdl's (stride = window: a reshape and a max, gradient to the first maximum as in torch). The
process starts with the policy's process settings, as launch.py does (glibc's allocator tuned);
torch, in the same process, runs with the same allocator settings. --cpu_devices=2 splits the JAX
batch over two XLA:CPU devices (its all-reduce can deadlock on 2 cores).

  PYTHONPATH=. python benchmarks/cnn_vs_torch.py            # full run (a few minutes)
  PYTHONPATH=. python benchmarks/cnn_vs_torch.py --quick    # short run
  XLA_FLAGS=... PYTHONPATH=. python benchmarks/cnn_vs_torch.py   # try XLA:CPU options
"""

import argparse
import functools
import os
import sys
import time
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import optax

try:
    import torch
except ImportError:  # the peer: one line saying what to install, not a traceback
    sys.exit("benchmarks/cnn_vs_torch.py needs torch, its peer: pip install -e '.[bench]'")

from jaxdl import backend, models
from jaxdl.nn import pooling
from jaxdl.train import sharding

LR, MOMENTUM = 0.05, 0.9


class DigitsCNN(nn.Module):
    """conv3x3(16)-ReLU-conv3x3(32)-ReLU-maxpool2-dense(10) for 8x8x1 digits (NHWC)."""

    conv: Any = nn.Conv

    @nn.compact
    def __call__(self, x, train=False):
        del train
        x = nn.relu(self.conv(16, (3, 3), padding=((1, 1), (1, 1)))(x))
        x = nn.relu(self.conv(32, (3, 3), padding=((1, 1), (1, 1)))(x))
        x = pooling.max_pool(x, 2)
        return nn.Dense(10)(x.reshape((x.shape[0], -1)))


def torch_digits_cnn():
    """The same digits CNN in PyTorch (NCHW)."""
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1),
        tnn.ReLU(),
        tnn.Conv2d(16, 32, 3, padding=1),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(32 * 4 * 4, 10),
    )


class _TorchCifarBlock(torch.nn.Module):
    """ResNet-20 basic block with the option-A shortcut, as in jaxdl.models.resnet."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        tnn = torch.nn
        self.c1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = tnn.BatchNorm2d(cout)
        self.c2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = tnn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        if self.stride != 1 or self.pad:
            x = torch.nn.functional.pad(
                x[:, :, :: self.stride, :: self.stride],
                (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2),
            )
        return torch.relu(x + y)


def torch_resnet20(num_classes=10):
    """CIFAR ResNet-20 (option A) in PyTorch (NCHW)."""
    tnn = torch.nn
    layers, cin = [tnn.Conv2d(3, 16, 3, 1, 1, bias=False), tnn.BatchNorm2d(16), tnn.ReLU()], 16
    for i in range(3):
        for j in range(3):
            layers.append(_TorchCifarBlock(cin, 16 * 2**i, 2 if i and not j else 1))
            cin = 16 * 2**i
    return tnn.Sequential(
        *layers, tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(cin, num_classes)
    )


def make_jax_runner(model, x, y):
    """Returns run(steps) -> seconds for a jitted, donated SGD-momentum train step."""
    variables = model.init(jax.random.key(0), x)
    params, stats = variables["params"], variables.get("batch_stats", {})
    tx = optax.sgd(LR, momentum=MOMENTUM)
    opt_state = tx.init(params)

    @functools.partial(
        jax.jit,
        donate_argnums=(0, 1, 2),
        compiler_options=backend.current().compiler_options("train"),
    )
    def step(params, stats, opt_state, x, y):
        def loss_fn(p):
            logits, upd = model.apply(
                {"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
            )
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), upd

        (loss, upd), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), upd.get("batch_stats", {}), opt_state, loss

    state = [params, stats, opt_state]
    mesh = sharding.make_mesh("data")
    if mesh is not None:  # one XLA:CPU device per core: the batch is split, the state replicated
        state = [jax.device_put(v, NamedSharding(mesh, P())) for v in state]
        x, y = (jax.device_put(v, NamedSharding(mesh, P("data"))) for v in (x, y))

    def run(steps):
        t0 = time.perf_counter()
        for _ in range(steps):
            state[0], state[1], state[2], loss = step(*state, x, y)
        jax.block_until_ready(loss)
        return time.perf_counter() - t0

    return run


def make_torch_runner(model, x, y, channels_last=False):
    """Returns run(steps) -> seconds for a PyTorch SGD-momentum train step."""
    model.train()
    x, y = (
        torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy()),
        torch.from_numpy(np.asarray(y).astype(np.int64)),
    )
    if channels_last:
        model, x = (
            model.to(memory_format=torch.channels_last),
            x.to(memory_format=torch.channels_last),
        )
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(steps):
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        loss.item()
        return time.perf_counter() - t0

    return run


def compare(name, runners, batch, steps, rounds, warmup):
    """Alternates the runners for ``rounds`` rounds; returns each one's images/s per round."""
    for run in runners.values():
        run(warmup)
    rates = {k: [] for k in runners}
    for _ in range(rounds):
        for k, run in runners.items():
            rates[k].append(batch * steps / run(steps))
    return {(name, k): v for k, v in rates.items()}


def preact1001_compile_seconds(batch=8):
    """Seconds to lower, to compile and to run one preact_resnet1001 forward + backward (train)."""
    model = models.get("preact_resnet1001", num_classes=10)
    x = jnp.zeros((batch, 32, 32, 3), jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0), x)

    def loss(p, stats, x):
        logits, upd = model.apply(
            {"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
        )
        return jnp.mean(logits**2), upd

    t0 = time.perf_counter()
    # compiled as jaxdl compiles its training programs
    grad = jax.jit(
        jax.grad(loss, has_aux=True), compiler_options=backend.current().compiler_options("train")
    )
    lowered = grad.lower(variables["params"], variables["batch_stats"], x)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    jax.block_until_ready(compiled(variables["params"], variables["batch_stats"], x))
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, one round")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="also time PyTorch with channels_last memory format",
    )
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument(
        "--cpu_devices",
        type=int,
        default=1,
        help="XLA:CPU devices, the JAX batch split over them (0: one per core; launch.py "
        "keeps a single run on one; the split's all-reduce can deadlock on 2 cores)",
    )
    args = parser.parse_args()
    policy = backend.for_platform(cpu_devices=args.cpu_devices)
    policy.setup_process()
    with backend.use(policy):
        run_all(args)


def run_all(args):
    """Every comparison of this script, under the current backend policy."""
    devices = len(jax.devices())
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    b = args.batch
    rounds, warmup = (1, 2) if args.quick else (10, 5)
    results = {}

    x8 = rng.normal(size=(b, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 10, size=b)
    results.update(
        compare(
            "digits_cnn",
            {
                "jax": make_jax_runner(
                    DigitsCNN(**backend.current().model_overrides(DigitsCNN)),
                    jnp.asarray(x8),
                    jnp.asarray(y),
                ),
                "torch": make_torch_runner(torch_digits_cnn(), x8, y),
            },
            b,
            20 if args.quick else 50,
            rounds,
            warmup,
        )
    )

    x32 = rng.normal(size=(b, 32, 32, 3)).astype(np.float32)
    runners = {
        "jax": make_jax_runner(
            models.get("resnet20", num_classes=10), jnp.asarray(x32), jnp.asarray(y)
        ),
        "torch": make_torch_runner(torch_resnet20(), x32, y),
    }
    if args.channels_last:
        runners["torch_cl"] = make_torch_runner(torch_resnet20(), x32, y, channels_last=True)
    results.update(
        compare("resnet20", runners, b, 3 if args.quick else 5, rounds, 2 if args.quick else 3)
    )

    print(
        f"jax {jax.__version__} ({jax.devices()[0].platform}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), batch {b}, "
        f"JAX batch split over {devices} XLA:CPU device(s), "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
    )
    # the machine's speed drifts over minutes: the best rounds compare each one's fastest moment,
    # the median of the per-round ratios compares rounds run back to back
    print(
        f"{'model':<12}{'framework':<10}{'images/s (best)':>16}{'vs torch (best)':>17}"
        f"{'vs torch (median of rounds)':>29}"
    )
    for (model, fw), rates in results.items():
        torch_rates = results[(model, "torch")]
        paired = np.median(np.asarray(rates) / np.asarray(torch_rates))
        print(
            f"{model:<12}{fw:<10}{max(rates):>16.0f}"
            f"{max(rates) / max(torch_rates):>16.2f}x{paired:>28.2f}x"
        )
    if not args.skip_compile:
        lower_s, compile_s, step_s = preact1001_compile_seconds()
        print(
            f"preact_resnet1001 fwd+bwd (batch 8): trace+lower {lower_s:.1f} s, "
            f"XLA compile {compile_s:.1f} s, one step {step_s:.1f} s"
        )


if __name__ == "__main__":
    main()
