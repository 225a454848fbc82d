"""WRN-28-10 on CIFAR-10 with Zagoruyko & Komodakis 2016's recipe, 3 seeds.

The paper: SGD with Nesterov momentum 0.9, weight decay 5e-4, batch 128, learning rate 0.1
multiplied by 0.2 at epochs 60, 120 and 160 of 200; random crops of the image padded by 4 pixels
and horizontal flips; it reports about 4% test error for WRN-28-10 (36.5M parameters) on CIFAR-10.
Differences here: zero padding instead of the paper's reflections, and pixels scaled to [0, 1]
instead of mean/std normalisation. ``model.dropout_rate=0.3`` gives the paper's dropout variant.

Needs the binary release of CIFAR-10 (``cifar-10-batches-bin/``; README.md, "Your own data") and
an accelerator: it has not been run on this project's 2-core CPU.

Run:
  python launch.py --config=experiments/wrn_cifar.py --config.data.path=~/data
  python launch.py --config=experiments/wrn_cifar.py --config.data.path=~/data \\
      --config.model.depth=16 --config.model.widen_factor=8      # WRN-16-8
  python launch.py --config=experiments/wrn_cifar.py:tiny --config.data.path=DIR  # seconds
(``:tiny`` runs on any files in the binary layout; ``jaxdl.data.cifar.write_random(DIR)`` writes
small ones of noise.)
"""

from jaxdl.tasks import classify
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("wrn_cifar", variant)
    c = classify.cifar_config(
        "wrn_cifar",
        "WRN-28-10 on CIFAR-10 (binary release at data.path), Zagoruyko & Komodakis 2016's recipe",
        variant == "tiny",
    )
    c.model.name = "wrn"  # WideResNet: 3 groups of (depth - 4) / 6 pre-activation blocks
    c.model.depth = 28
    c.model.widen_factor = 10  # groups of 160, 320, 640 channels
    c.model.width = 16
    c.model.dropout_rate = 0.0  # between a block's convolutions (paper: 0.3 in its dropout rows)
    c.opt.name = "nesterov"
    c.opt.weight_decay = 5e-4
    c.opt.boundaries = (0.3, 0.6, 0.8)  # epochs 60, 120, 160 of 200
    c.opt.decay_factor = 0.2
    c.train.steps = 0
    c.train.epochs = 200  # 390 steps of batch 128 each
    if variant == "tiny":
        c.model.depth = 10
        c.model.widen_factor = 1
        c.model.width = 4
        c.train.steps = 10
        c.train.epochs = 0
    return c
