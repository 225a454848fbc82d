"""Universal approximation theorem as an experiment: error of one sigmoid hidden layer vs width N.

All widths N in {1, 2, 4, ..., 256} train in ONE vmapped program (masked units).

Run:
  python launch.py --config=experiments/universal_approximation.py
  python launch.py --config=experiments/universal_approximation.py --config.data.function=step
  python launch.py --config=experiments/universal_approximation.py --config.data.dim=2
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("universal_approximation", variant)
    c = config_lib.base(
        "universal_approximation",
        "approximate",
        "UAT: 1 hidden sigmoid layer, N=1..256 units, one vmapped program",
    )
    c.data.name = "function"
    c.data.function = "sine"  # sine | bumps | product | step (jaxdl.data.functions)
    c.data.dim = 1  # m: inputs live in [0, 1]^m
    c.data.num_train = 2048
    c.data.num_test = 1024
    c.model.name = "shallow_sigmoid"
    c.model.max_width = 256  # units allocated; model.width masks the rest
    c.model.width = 256  # N (traced: sweeping it stays one program)
    c.opt.name = "adam"
    c.opt.lr = 1e-2
    c.opt.schedule = "cosine"
    c.train.steps = 4000
    c.train.batch_size = 128
    c.train.log_every = 500
    c.train.eval_every = 1000
    c.checkpoint.every_steps = 2000
    config_lib.sweepable(c, "model.width")
    c.sweep.model.width = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    c.sweep.seed = (0, 1, 2)  # mean ± std over seeds per width, still one program
    if variant == "tiny":
        c.sweep.seed = ()
        c.model.max_width = 16
        c.model.width = 16
        c.sweep.model.width = (1, 4, 16)
        c.data.num_train = 256
        c.data.num_test = 128
        c.train.steps = 60
        c.train.log_every = 20
        c.train.eval_every = 60
        c.checkpoint.every_steps = 30
    return c
