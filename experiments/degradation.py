"""The degradation problem (He et al. 2016, Fig. 1 and Fig. 6): plain CIFAR-style nets of 8 and 32
layers against residual nets of the same depths, on Fashion-MNIST (the bundled 8x8 digits when
it is not installed). The deeper plain net should reach a *higher training error* than the
shallow one (an optimisation difficulty, not overfitting), while the deeper residual net should
not.

Scaled to a few CPU minutes: width 8 instead of 16 (stages of 8-16-32 channels), a stride-2 first
convolution (28x28 -> 14x14 -> 7x7 -> 4x4 feature maps) and 500 steps of batch 64 (about half an
epoch) instead of 64k steps on CIFAR-10; 3 seeds per net, 12 runs one after another. The task
draws ``compare.png``: training error against step (mean ± std over seeds) and final test error.

Run:
  python launch.py --config=experiments/degradation.py
  python launch.py --config=experiments/degradation.py --config.sweep.model.depth='(20,56)'  # slow
  python launch.py --config=experiments/degradation.py:tiny    # seconds (tests)
"""

from jaxdl.tasks import classify
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("degradation", variant)
    c = classify.fashion_resnet_config(
        "degradation",
        "plain vs residual nets of 8 and 32 layers: training error (He 2016 Fig. 6)",
        variant == "tiny",
    )
    c.task = "classify_compare"  # classify, plus the per-setting training-error figure
    c.model.name = "cifar_resnet"  # CifarResNet: 3 stages of (depth - 2) / 6 basic blocks
    c.model.depth = 32  # 6n + 2; swept below
    c.model.residual = True  # False: the plain net (the same layers, no shortcuts); swept below
    c.model.width = 8  # first stage's channels (paper: 16)
    c.model.shortcut = "A"  # zero-padded identities: plain and residual nets, equal parameters
    c.model.stem_strides = 2  # 28x28 -> 14x14 at the first convolution, to fit CPU minutes
    c.opt.name = "momentum"
    c.opt.weight_decay = 1e-4  # the paper's CIFAR value
    c.data.flip = False  # no augmentation is used; training error measures optimisation only
    c.train.steps = 500
    c.train.log_every = 25  # one training-error point per 25 steps
    c.train.eval_every = 500
    c.checkpoint.every_steps = 500
    config_lib.sweepable(c, "model.depth", "model.residual")
    c.sweep.seed = (0, 1, 2)
    c.sweep.model.depth = (8, 32)
    c.sweep.model.residual = (False, True)
    if variant == "tiny":
        c.model.width = 4
        c.model.stem_strides = 1
        c.sweep.seed = (0,)
        c.sweep.model.depth = (8, 14)
        c.train.steps = 20
        c.train.log_every = 5
        c.train.eval_every = 20
        c.checkpoint.every_steps = 10
    return c
