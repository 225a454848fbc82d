"""ResNet-20 (He et al. 2016, CIFAR layout, option-A shortcuts) on Fashion-MNIST when the Debian
package dataset-fashion-mnist is installed, else on the bundled 8x8 digits; SGD with momentum and a
cosine learning-rate decay, as in the paper's CIFAR recipe, shortened to a few CPU minutes; 3 seeds.

Run:
  python launch.py --config=experiments/resnet20_fashion.py
  python launch.py --config=experiments/resnet20_fashion.py --config.train.steps=5000 \
      --config.data.augment=crop_flip
  python launch.py --config=experiments/resnet20_fashion.py:tiny    # seconds (tests)
"""

from jaxdl.tasks import classify
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("resnet20_fashion", variant)
    c = classify.fashion_resnet_config(
        "resnet20_fashion",
        "ResNet-20 on Fashion-MNIST (digits if absent), SGD momentum + cosine",
        variant == "tiny",
    )
    c.model.name = (
        "resnet20"  # CifarResNet(depth=20): 3 stages of 3 basic blocks, 16-32-64 channels
    )
    c.model.width = 16  # channels of the first stage (paper: 16)
    c.model.shortcut = "A"  # A: zero-padded identity (paper's CIFAR choice) | B: 1x1 projection
    c.opt.name = "momentum"
    c.sweep.seed = (0, 1, 2)  # 3 seeds, one after another on CPU
    if variant == "tiny":
        c.model.name = "cifar_resnet"
        c.model.depth = 8  # 6n + 2 with n = 1
        c.model.width = 4
    return c
