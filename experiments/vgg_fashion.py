"""VGG configurations A, A-LRN, B and D (Simonyan & Zisserman 2015, Table 1) at 1/8 width on
28x28 Fashion-MNIST (the bundled 8x8 digits when it is not installed), 3 seeds each. Two claims of
the paper's Table 3: local response normalisation does not improve A (A-LRN vs A), and error falls
with depth (A 11 layers -> B 13 -> D 16).

Scaled to CPU minutes: every conv and hidden layer at 1/8 of the published width (8-16-32-64-64
channels, 512 hidden units), the five 2x2 max-pools in ceil mode (28 -> 14 -> 7 -> 4 -> 2 -> 1),
no 7x7 average pool, and 400 steps of batch 64 with Adam instead of the paper's 74 epochs of SGD;
dropout 0.5 in the two hidden fully connected layers as published. The 12 runs go one after
another; the task draws ``compare.png`` (training error against step, final test error).

Run:
  python launch.py --config=experiments/vgg_fashion.py
  python launch.py --config=experiments/vgg_fashion.py --config.sweep.model.config='("A","E")'
  python launch.py --config=experiments/vgg_fashion.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("vgg_fashion", variant)
    c = config_lib.base(
        "vgg_fashion",
        "classify_compare",
        "VGG A vs A-LRN vs B vs D at 1/8 width on Fashion-MNIST (VGG Table 3)",
    )
    c.data.name = "fashion_mnist_or_digits"  # Fashion-MNIST 28x28 if installed, else digits 8x8
    c.model.name = "vgg"  # VGG with its Table 1 configuration as an argument
    c.model.config = "A"  # A | A-LRN | B | C | D | E; swept below
    c.model.width = 0.125  # multiplier on the published conv channels
    c.model.hidden = 512  # the two hidden fully connected layers (4096 / 8)
    c.model.dropout_rate = 0.5  # as published
    c.model.pool_size = 1  # the features are already 1x1 after five ceil-mode pools
    c.model.ceil_mode = True  # 28x28 keeps its border through the five pools
    c.opt.name = "adam"
    c.opt.lr = 1e-3
    c.opt.schedule = "cosine"
    c.train.steps = 400  # ~0.4 epoch of Fashion-MNIST
    c.train.batch_size = 64
    c.train.log_every = 25  # one training-error point per 25 steps
    c.train.eval_every = 400  # the test set is 10,000 images: evaluate only at the end
    c.train.eval_batch_size = 1000
    c.checkpoint.every_steps = 400
    config_lib.sweepable(c, "model.config")
    c.sweep.seed = (0, 1, 2)
    c.sweep.model.config = ("A", "A-LRN", "B", "D")
    if variant == "tiny":
        c.data.name = "digits"
        c.model.width = 1 / 16
        c.model.hidden = 16
        c.sweep.seed = (0,)
        c.sweep.model.config = ("A", "A-LRN")
        c.train.steps = 10
        c.train.batch_size = 16
        c.train.log_every = 5
        c.train.eval_every = 10
        c.checkpoint.every_steps = 5
    return c
