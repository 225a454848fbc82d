"""ResNet-20 (He et al. 2016, CIFAR layout, option-A shortcuts) on Fashion-MNIST when the Debian
package dataset-fashion-mnist is installed, else on the bundled 8x8 digits; SGD with momentum and a
cosine learning-rate decay, as in the paper's CIFAR recipe (shortened to a few CPU minutes).

Run:
  python launch.py --config=experiments/resnet20_fashion.py
  python launch.py --config=experiments/resnet20_fashion.py --config.train.steps=5000 --config.data.augment=crop_flip
  python launch.py --config=experiments/resnet20_fashion.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("resnet20_fashion", variant)
    c = config_lib.base("resnet20_fashion", "classify", "ResNet-20 on Fashion-MNIST (digits if absent), SGD momentum + cosine")
    c.data.name = "fashion_mnist_or_digits"  # Fashion-MNIST 28x28 if installed, else digits 8x8
    c.data.augment = "none"  # none | crop_flip (random crop with zero padding + horizontal flip)
    c.data.crop_padding = 2  # pixels of zero padding before the random crop
    c.data.flip = True  # clothes are left-right symmetric
    c.model.name = "resnet20"  # CifarResNet(depth=20): 3 stages of 3 basic blocks, 16-32-64 channels
    c.model.width = 16  # channels of the first stage (paper: 16)
    c.model.shortcut = "A"  # A: zero-padded identity (paper's CIFAR choice) | B: 1x1 projection
    c.opt.name = "momentum"
    c.opt.lr = 0.1  # paper's initial rate for batch 128
    c.opt.momentum = 0.9
    c.opt.weight_decay = 5e-4  # L2 added to the gradient (paper: 1e-4 over 64k steps)
    c.opt.schedule = "cosine"
    c.train.steps = 200  # ~1/5 epoch of Fashion-MNIST: a few CPU minutes (raise it for accuracy)
    c.train.batch_size = 64
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 200  # the test set is 10,000 images: evaluate only at the end
    c.train.eval_batch_size = 1000
    c.checkpoint.every_steps = 100
    if variant == "tiny":
        c.data.name = "digits"
        c.model.name = "cifar_resnet"
        c.model.depth = 8  # 6n + 2 with n = 1
        c.model.width = 4
        c.train.steps = 10
        c.train.batch_size = 16
        c.train.log_every = 5
        c.train.eval_every = 10
        c.checkpoint.every_steps = 5
    return c
