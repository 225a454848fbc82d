"""Training throughput of an LSTM language-model-shaped workload: jaxdl vs torch.nn.LSTM vs flax.

Workload (per step): batch 32, 100 time steps, 64 inputs, 256 hidden, 1 or 2 LSTM layers, a
linear head to 64 classes at every step, softmax cross-entropy, one Adam update.
Peers, in one process: ``jaxdl.nn.recurrent.StackedRNN`` (our scan layer, hand-derived BPTT),
the same with autodiff through ``lax.scan``, flax's ``nn.RNN(nn.OptimizedLSTMCell(256))`` and
``torch.nn.LSTM`` (CPU). The JAX peers run on one XLA:CPU device; ``jaxdl_dp`` is ``jaxdl`` with
the batch split over one XLA:CPU device per core (``launch.py``'s devices with
``train.data_parallel=always``: jit partitions the step, each device runs the recurrence of its
own rows on its own core and the gradients are all-reduced).

Run: PYTHONPATH=. python benchmarks/lstm_vs_torch.py [--quick] [--layers 1,2] [--unroll 1]
     [--threads 1 --clock cpu]   (steadier numbers on a shared, loaded machine)
"""

import argparse
import os
import time

import flax.linen as nn
import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import optax

from jaxdl import backend
from jaxdl.nn import recurrent
from jaxdl.train import sharding

B, T, D, H, V = 32, 100, 64, 256, 64


class _JaxLM(nn.Module):
    """LSTM stack + per-step linear head; ``impl`` picks our layer or flax's built-in cell."""

    num_layers: int
    impl: str
    unroll: int = 1

    @nn.compact
    def __call__(self, x_BTD):
        if self.impl == "flax":
            h = x_BTD
            for _ in range(self.num_layers):
                h = nn.RNN(nn.OptimizedLSTMCell(H), unroll=self.unroll)(h)
        else:
            kw = {"hand_bptt": self.impl == "jaxdl", "unroll": self.unroll}
            # the layout and input projection the platform's policy picks, as models.get does
            policy = backend.current().model_overrides(recurrent.StackedRNN)
            _, h = recurrent.StackedRNN(H, self.num_layers, "lstm", layer_kwargs=kw, **policy)(
                x_BTD
            )
        return nn.Dense(V)(h)


def _jax_step(impl, num_layers, unroll, x, y, mesh=None):
    """A closure running one jitted Adam step of the JAX model (compiled and warmed up).

    With a ``"data"`` ``mesh`` the batch is split over its devices and the state replicated.
    """
    model = _JaxLM(num_layers, impl, unroll)
    params = model.init(jax.random.key(0), x[:1])["params"]
    tx = optax.adam(1e-3)
    if mesh is not None:
        params = jax.device_put(params, NamedSharding(mesh, P()))
        x, y = jax.device_put((x, y), NamedSharding(mesh, P("data")))

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    state = [params, tx.init(params)]

    def run():
        state[0], state[1], loss = step(state[0], state[1], x, y)
        jax.block_until_ready(loss)

    run()  # compile
    run()  # the first runs on several devices also set up their collectives (~2 s here)
    return run


def _torch_step(num_layers, threads, x, y):
    """A closure running one torch.nn.LSTM + Linear + Adam step on CPU, or None without torch."""
    try:
        import torch  # pylint: disable=g-import-not-at-top
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    lstm = torch.nn.LSTM(D, H, num_layers=num_layers, batch_first=True)
    head = torch.nn.Linear(H, V)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    xt, yt = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y)).long()

    def run():
        opt.zero_grad()
        out, _ = lstm(xt)
        loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), yt.reshape(-1))
        loss.backward()
        opt.step()

    run()
    return run


def _interleaved_times(runs, rounds, steps, clock):
    """Seconds per step of every round, per peer; peers alternate each round so load drifts hit all.

    ``clock="cpu"`` counts this process's CPU time (all threads) instead of wall time: the compute
    time, much less disturbed by other processes' load (it includes the CPU time of XLA's threads
    that run a step's independent operations concurrently).
    """
    now = time.process_time if clock == "cpu" else time.perf_counter
    times = {k: [] for k in runs}
    for _ in range(rounds):
        for k, run in runs.items():
            t0 = now()
            for _ in range(steps):
                run()
            times[k].append((now() - t0) / steps)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, for a smoke run")
    parser.add_argument("--steps", type=int, default=5, help="steps per peer per round")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--layers", default="1,2")
    parser.add_argument("--unroll", type=int, default=1)
    parser.add_argument("--peers", default="jaxdl,jaxdl_dp,jaxdl_autodiff,flax,torch")
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="CPU threads for torch; 1 also makes XLA's Eigen kernels single-threaded "
        "(1 is steadiest on a loaded machine)",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: process CPU time, steadier on a loaded machine (use --threads 1)",
    )
    args = parser.parse_args()
    if args.threads == 1:  # read when the XLA backend starts, i.e. at the first computation
        # (XLA:CPU may still run independent operations of a step concurrently: a single
        # device's LSTM step used more than one core, benchmarks/README.md)
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
        )
    # the platform's policy and process settings, as launch.py sets them up (on CPU: glibc's
    # allocator tuned, which torch in this process runs with too, and one XLA:CPU device per core,
    # a single device with --threads 1)
    policy = backend.for_platform(cpu_devices=0 if args.threads > 1 else 1)
    policy.setup_process()
    with backend.use(policy):
        run_all(args)


def run_all(args):
    """Every comparison of this script, under the current backend policy."""
    devices = len(jax.devices())
    mesh = sharding.make_mesh("data")
    steps, rounds = (2, 1) if args.quick else (args.steps, args.rounds)
    x = jax.random.normal(jax.random.key(1), (B, T, D))
    y = jax.random.randint(jax.random.key(2), (B, T), 0, V)
    peers = args.peers.split(",")
    print(
        f"backend={jax.default_backend()} batch={B} T={T} in={D} hidden={H} "
        f"steps/round={steps} rounds={rounds} unroll={args.unroll} threads={args.threads} "
        f"clock={args.clock} cpu_devices={devices}"
    )
    print(
        "ms/step and tokens/s of the best round; ratios: best rounds / median of per-round ratios"
    )
    print(
        f"{'layers':>6} {'peer':>16} {'ms/step':>9} {'tokens/s':>10} {'vs torch':>15} "
        f"{'vs flax':>15}"
    )
    for num_layers in [int(n) for n in args.layers.split(",")]:
        runs = {}
        for peer in peers:
            if peer == "torch":
                run = _torch_step(num_layers, args.threads, x, y)
            elif peer == "jaxdl_dp":
                run = (
                    None
                    if mesh is None
                    else _jax_step("jaxdl", num_layers, args.unroll, x, y, mesh)
                )
            else:
                run = _jax_step(peer, num_layers, args.unroll, x, y)
            if run is None:
                why = (
                    "torch not installed: pip install -e '.[bench]'"
                    if peer == "torch"
                    else "one device"
                )
                print(f"{num_layers:>6} {peer:>16}  n/a ({why})")
            else:
                runs[peer] = run
        times = _interleaved_times(runs, rounds, steps, args.clock)
        sec = {k: min(v) for k, v in times.items()}
        for peer, s in sec.items():
            # best rounds, and the median of the ratios of rounds run back to back (steadier while
            # the machine's speed drifts)
            ratio = lambda ref: (
                f"{sec[ref] / s:.2f}x / "
                f"{np.median(np.asarray(times[ref]) / np.asarray(times[peer])):.2f}x"
                if ref in sec
                else "-"
            )
            print(
                f"{num_layers:>6} {peer:>16} {1e3 * s:>9.1f} {B * T / s:>10.0f} "
                f"{ratio('torch'):>15} {ratio('flax'):>15}"
            )


if __name__ == "__main__":
    main()
