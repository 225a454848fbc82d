"""Universal approximation, depth vs width: hidden units for a target error at 1, 2 and 3 layers.

The lecture: networks with more than two layers need fewer nodes. Targets are three Gaussian bumps
on the diagonal of [0, 1]^2 (data.function=bumps, dim=2): localised, so one layer of sigmoid ridges
needs many units while a second layer can threshold sums of ridges into bumps. Widths
N in {1, 2, 4, ..., 128} per layer x depths {1, 2, 3} x 3 seeds train as ONE vmapped program
(traced width and depth masks, jaxdl.tasks.approximate.DeepSigmoidNet). Prints, per depth, the
fewest hidden units (depth x width) whose test MSE is at most 1% of Var(y) (mean ± std over seeds);
writes error_vs_units.png.

Run:
  python launch.py --config=experiments/universal_approximation_depth.py --workdir=/tmp/uat_depth
  python launch.py --config=experiments/universal_approximation_depth.py:tiny   # the tests run it
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("universal_approximation_depth", variant)
    c = config_lib.base(
        "universal_approximation_depth",
        "approximate",
        "UAT depth vs width: sigmoid nets of 1-3 layers, units needed for a target error",
    )
    c.data.name = "function"
    c.data.function = "bumps"  # sine | bumps | product | step (jaxdl.data.functions)
    c.data.dim = 2  # m: inputs live in [0, 1]^m
    c.data.num_train = 2048
    c.data.num_test = 1024
    c.model.name = "deep_sigmoid"  # jaxdl.tasks.approximate.DeepSigmoidNet (built by the task)
    c.model.max_width = 128  # units allocated per layer; model.width masks the rest
    c.model.max_depth = 3  # hidden layers allocated; model.depth chooses how many act
    c.model.width = 128  # N per layer (traced)
    c.model.depth = 1  # hidden layers (traced)
    c.model.target_fraction = 0.01  # target test MSE = this x Var(y_test)
    c.opt.name = "adam"
    c.opt.lr = 1e-2
    c.opt.schedule = "cosine"
    c.train.steps = 3000
    c.train.batch_size = 128
    c.train.log_every = 500
    c.train.eval_every = 1500
    c.checkpoint.every_steps = 1500
    config_lib.sweepable(c, "model.width", "model.depth")
    c.sweep.model.depth = (1, 2, 3)
    c.sweep.model.width = (1, 2, 4, 8, 16, 32, 64, 128)
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.model.max_width = 8
        c.model.width = 8
        c.model.max_depth = 2
        c.sweep.model.depth = (1, 2)
        c.sweep.model.width = (2, 8)
        c.sweep.seed = (0, 1)
        c.data.num_train = 256
        c.data.num_test = 128
        c.train.steps = 60
        c.train.log_every = 30
        c.train.eval_every = 60
        c.checkpoint.every_steps = 30
    return c
