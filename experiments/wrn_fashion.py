"""A small wide ResNet, WRN-10-2 (Zagoruyko & Komodakis 2016: 3 groups of one pre-activation
basic block, 32-64-128 channels), on Fashion-MNIST when installed, else the bundled 8x8 digits;
SGD with Nesterov momentum and a cosine decay (the paper's optimizer, shortened).

Run:
  python launch.py --config=experiments/wrn_fashion.py
  python launch.py --config=experiments/wrn_fashion.py --config.model.depth=16 --config.model.dropout_rate=0.3   # WRN-16-2
  python launch.py --config=experiments/wrn_fashion.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("wrn_fashion", variant)
    c = config_lib.base("wrn_fashion", "classify", "WRN-10-2 on Fashion-MNIST (digits if absent), SGD Nesterov + cosine")
    c.data.name = "fashion_mnist_or_digits"  # Fashion-MNIST 28x28 if installed, else digits 8x8
    c.data.augment = "none"  # none | crop_flip (random crop with zero padding + horizontal flip)
    c.data.crop_padding = 2  # pixels of zero padding before the random crop
    c.data.flip = True  # clothes are left-right symmetric
    c.model.name = "wrn"  # WideResNet
    c.model.depth = 10  # 6n + 4: n = 1 block per group
    c.model.widen_factor = 2  # k: groups of 16k, 32k, 64k channels
    c.model.width = 16  # base channels (paper: 16)
    c.model.dropout_rate = 0.0  # between a block's convolutions (paper: 0.3 in long runs)
    c.opt.name = "nesterov"
    c.opt.lr = 0.1
    c.opt.momentum = 0.9
    c.opt.weight_decay = 5e-4  # paper's value
    c.opt.schedule = "cosine"
    c.train.steps = 200  # ~1/5 epoch of Fashion-MNIST: a few CPU minutes (raise it for accuracy)
    c.train.batch_size = 64
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 200  # the test set is 10,000 images: evaluate only at the end
    c.train.eval_batch_size = 1000
    c.checkpoint.every_steps = 100
    if variant == "tiny":
        c.data.name = "digits"
        c.model.widen_factor = 1
        c.model.width = 4
        c.train.steps = 10
        c.train.batch_size = 16
        c.train.log_every = 5
        c.train.eval_every = 10
        c.checkpoint.every_steps = 5
    return c
