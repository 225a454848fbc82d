"""CNN sweep benchmark: 8 digits-CNN runs (seeds 0..7) as one program vs one after another.

Each run: the digits CNN of experiments/digits_cnn.py (3x3 conv 32 - pool - 3x3 conv 64 - pool -
dense 128 - dropout - dense 10), Adam, batch 64, its own seed (init, data order, dropout). Wall
time includes compilation and the final test evaluation. Peers, side by side in this process:

  vmap+loop       jaxdl.train.sweep, sweep_strategy=vmap, strategy=loop: one program per step,
                  vmapped over runs -> conv weights batched -> grouped convolutions
  vmap+scan       the same, each chunk one lax.scan (no Python between steps)
  seq+loop        sweep_strategy=sequential, strategy=loop: the CPU default for conv models
  unrolled+loop   one program per step that applies the step to each run in turn (Python-unrolled
                  inside jit, results stacked): the same arithmetic as vmap, but every conv stays
                  an ordinary (ungrouped) convolution; XLA may run the runs' convs concurrently

All four compute the same runs (the table shows their mean test accuracy; the unrolled runs are
checked against the sequential ones). The question (docs/design.md, jax#13800): can one
program match the Python loop for conv sweeps on CPU?

benchmarks/README.md records its results on CPU and on an H200; they decided the backend
policy's strategies for conv sweeps (sequential + loop on XLA:CPU, vmap + scan on accelerators).

Run:  PYTHONPATH=. python benchmarks/cnn_sweep.py           (8 runs x 150 steps; scan at 30 steps)
      PYTHONPATH=. python benchmarks/cnn_sweep.py --quick   (4 runs x 20 steps)
"""

import argparse
import functools
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import backend
from jaxdl.tasks import classify
from jaxdl.train import config as config_lib
from jaxdl.train import loop, report, steps, sweep


def make_config(runs: int, num_steps: int, sweep_strategy: str, strategy: str):
    """The digits-CNN sweep config of this benchmark."""
    c = config_lib.base("bench_cnn_sweep", "classify", "")
    c.tensorboard = False
    c.model.name, c.model.features, c.model.dense, c.model.dropout_rate = "cnn", (32, 64), 128, 0.3
    c.opt.name, c.opt.lr = "adam", 2e-3
    c.train.steps, c.train.batch_size, c.train.log_every, c.train.eval_every = (
        num_steps,
        64,
        num_steps,
        0,
    )
    c.train.strategy, c.train.sweep_strategy = strategy, sweep_strategy
    c.checkpoint.every_steps = 0
    c.sweep.seed = tuple(range(runs))
    return c


def jaxdl_sweep(
    runs: int, num_steps: int, sweep_strategy: str, strategy: str
) -> tuple[float, np.ndarray]:
    """Wall seconds and per-run test accuracy of a jaxdl sweep."""
    c = make_config(runs, num_steps, sweep_strategy, strategy)
    with tempfile.TemporaryDirectory() as workdir:
        t0 = time.perf_counter()
        result = sweep.train(classify.make_problem, c, workdir)
        elapsed = time.perf_counter() - t0
    return elapsed, np.array([result.run_metrics(i)["test_accuracy"] for i in range(runs)])


def unrolled_map(fn, num_runs: int, in_axes: tuple):
    """Like ``jax.vmap(fn, in_axes)`` over ``num_runs`` runs, but as a Python loop inside the trace.

    Each run's call sees unbatched arrays, so its convolutions stay ordinary convolutions instead
    of becoming grouped ones; the outputs are stacked on a leading run axis like vmap's.
    """

    def mapped(*args):
        outs = []
        for r in range(num_runs):
            run_args = [
                jax.tree.map(lambda x, r=r: x[r], a) if axis == 0 else a
                for a, axis in zip(args, in_axes)
            ]
            outs.append(fn(*run_args))
        return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)

    return mapped


def unrolled_sweep(runs: int, num_steps: int) -> tuple[float, np.ndarray]:
    """Wall seconds and per-run test accuracy of the runs trained as one unrolled program a step."""
    c = make_config(runs, num_steps, "vmap", "loop")
    t0 = time.perf_counter()
    problem = classify.make_problem(sweep.run_config(c, {"seed": 0}))
    hp = loop.stack_hparams(
        [sweep.traced_values(problem, sweep.run_config(c, {"seed": s})) for s in range(runs)]
    )
    state = jax.jit(unrolled_map(functools.partial(steps.init_state, problem), runs, (0,)))(hp)
    data = jax.device_put(problem.train_data)
    idx = jax.jit(
        jax.vmap(
            functools.partial(
                steps.batch_indices,
                num_steps=num_steps,
                num_examples=problem.num_train,
                batch_size=64,
            )
        )
    )(state.data_key, state.step)
    step = jax.jit(
        unrolled_map(functools.partial(steps.indexed_step, problem), runs, (0, None, 0, None)),
        donate_argnums=(0,),
    )
    for k in range(num_steps):
        state, _ = step(state, data, idx, k)
    sums = jax.jit(unrolled_map(functools.partial(steps.evaluate, problem), runs, (0, None)))(
        state, jax.device_put(problem.test_data)
    )
    accuracy = np.asarray(sums["accuracy"]) / np.asarray(sums["count"])
    return time.perf_counter() - t0, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 runs x 20 steps")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument(
        "--scan_steps",
        type=int,
        default=30,
        help="steps of the (slow) vmap+scan peer; its time is scaled to --steps",
    )
    args = parser.parse_args()
    # the platform's policy and process settings, as launch.py sets them up (one device here)
    policy = backend.for_platform(cpu_devices=None)
    policy.setup_process()
    with backend.use(policy):  # the sweeps and the unrolled peer build and compile under it
        run_all(args)


def run_all(args) -> None:
    """Every peer of this benchmark, under the current backend policy."""
    runs, num_steps, scan_steps = (
        (4, 20, 20) if args.quick else (args.runs, args.steps, min(args.scan_steps, args.steps))
    )
    print(
        f"{runs} digits-CNN runs x {num_steps} steps, batch 64, on {jax.devices()[0].platform} "
        "(compile included)"
    )

    rows, seconds = [], {}
    t, acc_seq = jaxdl_sweep(runs, num_steps, "sequential", "loop")
    seconds["seq+loop"] = t
    rows.append(
        {
            "peer": "seq+loop (CPU default)",
            "steps": num_steps,
            "seconds": t,
            "test_acc": float(acc_seq.mean()),
        }
    )
    t, acc = jaxdl_sweep(runs, num_steps, "vmap", "loop")
    seconds["vmap+loop"] = t
    rows.append(
        {"peer": "vmap+loop", "steps": num_steps, "seconds": t, "test_acc": float(acc.mean())}
    )
    t, acc = jaxdl_sweep(runs, scan_steps, "vmap", "scan")
    seconds["vmap+scan"] = (
        t * num_steps / scan_steps
    )  # compile counted once, so this slightly overstates scan
    rows.append(
        {
            "peer": f"vmap+scan (x{num_steps / scan_steps:g} scaled)",
            "steps": scan_steps,
            "seconds": t,
            "test_acc": float(acc.mean()),
        }
    )
    t, acc_unrolled = unrolled_sweep(runs, num_steps)
    seconds["unrolled+loop"] = t
    rows.append(
        {
            "peer": "unrolled+loop",
            "steps": num_steps,
            "seconds": t,
            "test_acc": float(acc_unrolled.mean()),
        }
    )
    print(report.table(rows))
    print()
    print(
        report.table(
            [{"peer": k, "time / seq+loop": v / seconds["seq+loop"]} for k, v in seconds.items()]
        )
    )
    gap = float(np.max(np.abs(acc_unrolled - acc_seq)))
    print(
        f"\nmax |test accuracy(unrolled) - test accuracy(sequential)| over runs: {gap:.4f} "
        "(same runs; float reordering only)"
    )


if __name__ == "__main__":
    main()
