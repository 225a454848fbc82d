"""Runs tiny digits experiments in a fresh process and prints their metrics as JSON (last line).

Used by test_distributed.py for several local devices (JAX_NUM_CPU_DEVICES) and several processes
(jax.distributed on 127.0.0.1 with gloo). Usage:
  python -m tests.distributed_worker WORKDIR SWEEP_SEEDS|- [COORDINATOR NUM_PROCESSES PROCESS_ID]
A sweep (seeds "0,1,2,3") runs vmapped; "-" skips it. A single run always follows, and the same
run with its batches streamed through grain.
"""

import json
import sys


def main(argv):
    workdir, seeds = argv[0], argv[1] if len(argv) > 1 else ""
    if len(argv) > 2:
        import jax

        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(argv[2], int(argv[3]), int(argv[4]))
    import jax

    from jaxdl.tasks import classify
    from jaxdl.train import sweep
    from tests.configs import tiny

    # "auto" keeps a dense model's single run on one CPU device
    c = tiny("digits_mlp", **{"model.dropout_rate": 0.0, "train.data_parallel": "always"})
    out = {"devices": jax.device_count(), "processes": jax.process_count()}
    if seeds != "-":
        c.sweep.seed = tuple(int(s) for s in seeds.split(","))
        result = sweep.train(classify.make_problem, c, workdir + "/sweep")
        out["sweep"] = [result.run_metrics(i) for i in range(len(result.overrides))]
        out["sweep_vmapped"] = result.vmapped
        out["sweep_sharding"] = str(jax.tree.leaves(result.fits[0].state.params)[0].sharding)
        # a sequential sweep trains each run as a single run: data parallel with "always"
        c.train.sweep_strategy = "sequential"
        c.sweep.seed = (0, 1)
        result = sweep.train(classify.make_problem, c, workdir + "/sequential")
        out["sequential"] = [result.run_metrics(i) for i in range(2)]
        out["sequential_sharding"] = str(jax.tree.leaves(result.fits[0].state.params)[0].sharding)
        c.train.sweep_strategy, c.sweep.seed = "auto", ()
    single = sweep.train(classify.make_problem, c, workdir + "/single")
    out["single"] = [single.run_metrics(0)]
    # batches streamed through grain: over several processes, each reads its rows of a batch
    c.train.device_data_limit_mb = 0
    streamed = sweep.train(classify.make_problem, c, workdir + "/streamed")
    out["streamed"] = [streamed.run_metrics(0)]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
