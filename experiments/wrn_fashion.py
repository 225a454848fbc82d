"""A small wide ResNet, WRN-10-2 (Zagoruyko & Komodakis 2016: 3 groups of one pre-activation
basic block, 32-64-128 channels), on Fashion-MNIST when installed, else the bundled 8x8 digits;
SGD with Nesterov momentum and a cosine decay (the paper's optimizer, shortened); 3 seeds.

Run:
  python launch.py --config=experiments/wrn_fashion.py
  python launch.py --config=experiments/wrn_fashion.py --config.model.depth=16 \
      --config.model.dropout_rate=0.3  # WRN-16-2
  python launch.py --config=experiments/wrn_fashion.py:tiny    # seconds (tests)
"""

from jaxdl.tasks import classify
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("wrn_fashion", variant)
    c = classify.fashion_resnet_config(
        "wrn_fashion",
        "WRN-10-2 on Fashion-MNIST (digits if absent), SGD Nesterov + cosine",
        variant == "tiny",
    )
    c.model.name = "wrn"  # WideResNet
    c.model.depth = 10  # 6n + 4: n = 1 block per group
    c.model.widen_factor = 2  # k: groups of 16k, 32k, 64k channels
    c.model.width = 16  # base channels (paper: 16)
    c.model.dropout_rate = 0.0  # between a block's convolutions (paper: 0.3 in long runs)
    c.opt.name = "nesterov"  # the paper's optimizer (weight decay 5e-4 as in the paper)
    c.sweep.seed = (0, 1, 2)  # 3 seeds, one after another on CPU
    if variant == "tiny":
        c.model.widen_factor = 1
        c.model.width = 4
    return c
