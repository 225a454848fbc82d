"""Sweep benchmark: 32 MLP runs on digits as ONE vmapped program vs one after another.

Each run: MLP 64-128-128-10 (ReLU), Adam (lr 1e-3), batch 100, 1000 steps, its own seed (init and
data order). Wall time includes compilation. Peers, side by side in this process:
  jaxdl   the 32 runs vmapped in one jit-compiled program (jaxdl.train.sweep, scan strategy), its
          run axis sharded over one XLA:CPU device per core as launch.py sets them up
  torch   the same 32 runs one after another in PyTorch (CPU), as a PyTorch user writes them
  jax     the same 32 runs one after another in JAX, a jitted step per Python loop iteration

It also prints how much of jaxdl's time went to tracing, lowering and compiling (jax.monitoring's
compile events), and the sweep's arithmetic floor: its matmul FLOPs (forward, weight gradients,
input gradients of every layer but the first) at this machine's matmul peak, measured here with
1024 x 1024 products on every device at once. A peer cannot beat the floor, so it says how much
room the targets leave.

Run:  python benchmarks/sweep.py            (targets on 2 CPU cores: >= 3x torch, >= 4x jax loop)
      python benchmarks/sweep.py --quick    (4 runs x 200 steps)
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxdl import backend, models  # noqa: E402
from jaxdl.data import images  # noqa: E402
from jaxdl.tasks import classify  # noqa: E402
from jaxdl.train import config as config_lib  # noqa: E402
from jaxdl.train import report, sharding, sweep  # noqa: E402

BATCH, LR, HIDDEN = 100, 1e-3, (128, 128)
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


class CompileClock:
    """Sums the tracing, lowering and XLA compile durations JAX reports while it is active."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, event: str, duration_secs: float, **kwargs) -> None:
        if event in COMPILE_EVENTS:
            self.seconds += duration_secs

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self)


def sweep_flops(runs: int, steps: int, sizes: tuple[int, ...]) -> float:
    """Matmul FLOPs of the sweep's training: per example and layer 2·d_in·d_out for the forward
    product, the same for the weight gradient, and for the input gradient of every layer but the
    first."""
    per_example = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return runs * steps * BATCH * (3 * per_example - 2 * sizes[0] * sizes[1])


def matmul_peak(size: int = 1024, repeats: int = 10) -> float:
    """Best FLOP/s of ``size``-square float32 products, one per device, all devices at once."""
    devices = jax.devices()
    # one product per device, split like a sweep's run axis
    a = jax.device_put(
        jnp.ones((len(devices), size, size), jnp.float32),
        sharding.state_sharding(sharding.make_mesh("runs"), vmapped=True),
    )
    product = jax.jit(lambda a: jnp.einsum("bij,bjk->bik", a, a))
    product(a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        product(a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return len(devices) * 2 * size**3 / best


def jaxdl_sweep(runs: int, steps: int, policy: backend.Policy) -> tuple[float, float, float]:
    """(seconds, mean test accuracy, seconds spent tracing, lowering and compiling) of the sweep
    trained under the backend ``policy``, as launch.py trains it."""
    c = config_lib.base("bench_sweep", "classify", "")
    c.tensorboard = False
    c.model.name, c.model.hidden = "mlp", HIDDEN
    c.opt.name, c.opt.lr = "adam", LR
    c.train.steps, c.train.batch_size, c.train.log_every, c.train.eval_every = (
        steps,
        BATCH,
        steps,
        0,
    )
    c.train.strategy, c.train.sweep_strategy = "scan", "vmap"
    c.checkpoint.every_steps = 0
    c.sweep.seed = tuple(range(runs))
    with tempfile.TemporaryDirectory() as workdir, CompileClock() as clock:
        t0 = time.perf_counter()
        result = sweep.train(classify.make_problem, c, workdir, policy=policy)
        elapsed = time.perf_counter() - t0
    return (
        elapsed,
        float(np.mean([result.run_metrics(i)["test_accuracy"] for i in range(runs)])),
        clock.seconds,
    )


def torch_sequential(
    runs: int, steps: int, x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray
) -> tuple[float, float]:
    import torch

    t0 = time.perf_counter()
    xs, ys = torch.from_numpy(x.reshape(len(x), -1)), torch.from_numpy(y.astype(np.int64))
    xts, yts = torch.from_numpy(xt.reshape(len(xt), -1)), torch.from_numpy(yt.astype(np.int64))
    accs = []
    for seed in range(runs):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(64, HIDDEN[0]),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN[0], HIDDEN[1]),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN[1], 10),
        )
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        per_epoch = len(xs) // BATCH
        for step in range(steps):
            if step % per_epoch == 0:
                perm = torch.randperm(len(xs))
            idx = perm[(step % per_epoch) * BATCH : (step % per_epoch + 1) * BATCH]
            loss = torch.nn.functional.cross_entropy(net(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            accs.append(float((net(xts).argmax(1) == yts).float().mean()))
    return time.perf_counter() - t0, float(np.mean(accs))


def jax_sequential(
    runs: int, steps: int, x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray
) -> tuple[float, float]:
    t0 = time.perf_counter()
    model = models.get("mlp", num_classes=10, hidden=HIDDEN)
    tx = optax.adam(LR)
    xs, ys, xts, yts = (jax.device_put(a) for a in (x, y, xt, yt))

    @jax.jit
    def init(key):
        params = model.init(key, xs[:1])["params"]
        return params, tx.init(params)

    @jax.jit
    def step(params, opt_state, idx):
        def loss_fn(p):
            logits = model.apply({"params": p}, xs[idx])
            return optax.softmax_cross_entropy_with_integer_labels(logits, ys[idx]).mean()

        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    step = jax.jit(step.__wrapped__, donate_argnums=(0, 1))
    accuracy = jax.jit(lambda p: jnp.mean(jnp.argmax(model.apply({"params": p}, xts), -1) == yts))
    accs = []
    per_epoch = len(x) // BATCH
    for seed in range(runs):
        key = jax.random.key(seed)
        params, opt_state = init(key)
        for s in range(steps):
            if s % per_epoch == 0:
                perm = jax.random.permutation(jax.random.fold_in(key, s // per_epoch), len(x))
            idx = jax.lax.dynamic_slice(perm, ((s % per_epoch) * BATCH,), (BATCH,))
            params, opt_state = step(params, opt_state, idx)
        accs.append(float(accuracy(params)))
    return time.perf_counter() - t0, float(np.mean(accs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 runs x 200 steps")
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument(
        "--cpu_devices",
        type=int,
        default=0,
        help="XLA:CPU devices for jaxdl (0: one per core, as launch.py)",
    )
    args = parser.parse_args()
    if importlib.util.find_spec("torch") is None:  # a peer: one line saying what to install
        sys.exit("benchmarks/sweep.py needs torch, its PyTorch peer: pip install -e '.[bench]'")
    runs, steps = (4, 200) if args.quick else (args.runs, args.steps)
    # as launch.py does: the platform's policy and process settings (on CPU glibc's allocator
    # tuned, which every peer in this process runs with, and one XLA:CPU device per core)
    policy = backend.for_platform(cpu_devices=args.cpu_devices)
    policy.setup_process()
    devices = len(jax.devices())
    ds = images.digits()
    data = (ds.train["x"], ds.train["y"], ds.test["x"], ds.test["y"])
    seconds, acc, compile_seconds = jaxdl_sweep(runs, steps, policy)
    rows = [
        {"peer": "jaxdl vmapped sweep (one program)", "seconds": seconds, "mean test accuracy": acc}
    ]
    for name, fn in (
        ("PyTorch, runs one after another", lambda: torch_sequential(runs, steps, *data)),
        ("JAX, per-step Python loop", lambda: jax_sequential(runs, steps, *data)),
    ):
        seconds, acc = fn()
        rows.append({"peer": name, "seconds": seconds, "mean test accuracy": acc})
    peak = matmul_peak()
    floor = sweep_flops(runs, steps, (ds.train["x"][0].size, *HIDDEN, 10)) / peak
    base = rows[0]["seconds"]
    for r in rows:
        r["jaxdl speed-up"] = r["seconds"] / base
    print(
        f"{runs} MLP runs x {steps} steps, batch {BATCH}, Adam, digits; jax {jax.__version__}, "
        f"backend {jax.default_backend()}, {os.cpu_count()} CPUs; jaxdl shards the runs over "
        f"{devices} XLA:CPU device(s), the JAX loop uses one"
    )
    print(report.table(rows))
    print(
        f"\nratios: {rows[1]['seconds'] / base:.2f}x faster than PyTorch (target >= 3x), "
        f"{rows[2]['seconds'] / base:.2f}x faster than the JAX loop (target >= 4x)"
    )
    print(
        f"jaxdl: {compile_seconds:.2f} s of its {base:.2f} s traced, lowered and compiled "
        f"(persistent cache {'on' if jax.config.jax_enable_compilation_cache else 'off'})"
    )
    print(
        f"arithmetic floor: the sweep's matmuls at the measured peak of {peak / 1e9:.0f} GFLOP/s "
        f"take {floor:.2f} s; the 4x target is {rows[2]['seconds'] / 4:.2f} s in this run"
    )


if __name__ == "__main__":
    main()
