"""Trains tiny digits runs, or restores their checkpoints, in a fresh process with the device count
the environment sets (JAX_NUM_CPU_DEVICES); writes every restored array to an .npz and prints
each restored tree's device count and sharding as JSON (last line).

Used by test_checkpoint_restore.py. Usage:
  python -m tests.checkpoint_worker save WORKDIR OUT.npz      # train, then restore
  python -m tests.checkpoint_worker restore WORKDIR OUT.npz   # restore only
"""

import json
import sys

KINDS = ("single", "sweep", "sequential")


def train(workdir):
    """A single data-parallel run, a vmapped sweep of 4 seeds and a sequential sweep of 2."""
    from jaxdl.tasks import classify
    from jaxdl.train import sweep
    from tests.configs import tiny

    c = tiny("digits_mlp", **{"train.data_parallel": "always"})
    sweep.train(classify.make_problem, c, f"{workdir}/single")
    c.sweep.seed = (0, 1, 2, 3)
    sweep.train(classify.make_problem, c, f"{workdir}/sweep")
    c.sweep.seed, c.train.sweep_strategy = (0, 1), "sequential"
    sweep.train(classify.make_problem, c, f"{workdir}/sequential")


def saved_devices(workdir):
    """How many devices the first kernel of the newest checkpoint in ``workdir`` (or its run_0)
    was saved from, as Orbax's metadata records it."""
    import glob

    import orbax.checkpoint as ocp

    directory = (glob.glob(f"{workdir}/checkpoints") or glob.glob(f"{workdir}/run_0/checkpoints"))[
        0
    ]
    with ocp.CheckpointManager(directory, item_handlers=ocp.StandardCheckpointHandler()) as m:
        tree = m.item_metadata(m.latest_step()).tree
    mesh = getattr(tree["params"]["Dense_0"]["kernel"].sharding, "device_mesh", None)
    return len(mesh.mesh) if mesh else 1


def main(argv):
    mode, workdir, out = argv
    import jax
    import numpy as np

    from jaxdl.train import checkpoint

    if mode == "save":
        train(workdir)
    arrays, info = {}, {"devices": jax.device_count()}
    for kind in KINDS:
        state = checkpoint.restore(f"{workdir}/{kind}")
        for path, leaf in jax.tree_util.tree_leaves_with_path(state):
            if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                leaf = jax.random.key_data(leaf)
            arrays[f"{kind}{jax.tree_util.keystr(path)}"] = np.asarray(leaf)
        kernel = state.params["Dense_0"]["kernel"]
        info[kind] = {
            "devices": len(kernel.sharding.device_set),
            "shape": list(kernel.shape),
            "saved_on": saved_devices(f"{workdir}/{kind}"),
        }
    np.savez(out, **arrays)
    print(json.dumps(info))


if __name__ == "__main__":
    main(sys.argv[1:])
