"""Hard parameter sharing vs one model per task vs one pooled model, on digit tasks of unequal size.

Task t labels the same digit images by its own linear threshold of four attributes shared by all
tasks (the bits of the digit's binary code; drawn per seed, data.label_maps=shared_attributes),
with n_t = 300·0.6^t training examples (300 down to 10): a
shared MLP trunk with one logistic head per task (hard sharing, Caruana 1997) against one whole
MLP per task and one pooled MLP that sees the task as a one-hot input, 3 seeds each. The
objective is Σ_t α_t L_t / Σα (per-task mean losses, mtl.weighting=task) or the α-weighted mean
over examples (=example). Prints balanced test accuracy per task and on the small tasks (mean ±
std over seeds) and linear probes of the 4 attributes from 10 images on the hard trunk's features
vs on pixels; writes task_accuracy.png (accuracy against n_t).

Run:
  python launch.py --config=experiments/mtl_hard_sharing.py --workdir=/tmp/mtl_hard_sharing
  python launch.py --config=experiments/mtl_hard_sharing.py:tiny   # seconds; the tests run it
  python launch.py --config=experiments/mtl_hard_sharing.py --config.mtl.weighting=example
  python launch.py --config=experiments/mtl_hard_sharing.py --config.data.label_maps=random_halves
  python launch.py --config=experiments/mtl_hard_sharing.py --config.data.label_maps=digit_vs_rest
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("mtl_hard_sharing", variant)
    c = config_lib.base(
        "mtl_hard_sharing",
        "hard_sharing",
        "hard sharing vs per-task vs pooled MLPs on digit-t-or-not tasks of unequal size",
    )
    config_lib.drop(c, "data.path")  # not read: bundled data
    c.data.name = (
        "digits"  # the bundled 8x8 digits (the only one; not read); task t = "digit t or not"
    )
    c.data.num_tasks = 10  # T
    c.data.label_maps = (
        "shared_attributes"  # | random_halves | digit_vs_rest (tasks/hard_sharing.py)
    )
    c.data.max_per_task = 300  # n_0: training examples of the largest task
    c.data.size_decay = 0.6  # n_t = max(min_per_task, max_per_task · size_decay^t)
    c.data.min_per_task = 10  # smallest task size
    # jaxdl.multitask.sharing.MultiTaskMLP (the task builds it; not in jaxdl.models)
    c.model.name = "multitask_mlp"
    c.model.hidden = (64,)  # trunk widths
    c.model.sharing = "hard"  # hard | separate | pooled
    c.mtl = ml_collections.ConfigDict()
    c.mtl.weighting = (
        "task"  # task: Σ_t α_t L_t (every task counts) | example: every example counts
    )
    c.mtl.task_weights = ()  # α_t, one per task; () = all ones
    c.opt.name = "adam"
    c.opt.lr = 3e-3
    c.opt.weight_decay = 1e-4  # L2 on every parameter (also keeps small-task heads in check)
    c.train.steps = 1500
    c.train.batch_size = 64
    c.train.log_every = 250
    c.train.eval_every = 500
    c.checkpoint.every_steps = 500
    config_lib.sweepable(c, "model.sharing")
    c.sweep.model.sharing = ("hard", "separate", "pooled")  # not traced: runs one after another
    c.sweep.seed = (0, 1, 2)  # draws the tasks (label maps, examples) and the initialisation
    if variant == "tiny":
        c.data.num_tasks = 3
        c.sweep.seed = (0, 1)
        c.data.max_per_task = 40
        c.model.hidden = (16,)
        c.train.steps = 40
        c.train.batch_size = 16
        c.train.log_every = 20
        c.train.eval_every = 40
        c.checkpoint.every_steps = 20
    return c
