"""LeNet-style CNN on the bundled 8x8 digits.

Run:
  python launch.py --config=experiments/digits_cnn.py
  python launch.py --config=experiments/digits_cnn.py --config.data.augment=crop_flip \
      --config.data.crop_padding=1 --config.data.flip=False
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("digits_cnn", variant)
    c = config_lib.base(
        "digits_cnn", "classify", "LeNet-style CNN (conv-pool x2, dense) on bundled digits"
    )
    c.data.augment = "none"  # none | crop_flip (random crop with zero padding + horizontal flip)
    c.data.crop_padding = 1
    c.data.flip = False  # digits are not mirror-symmetric
    c.model.name = "cnn"
    c.model.features = (32, 64)  # channels of the conv stages
    c.model.dense = 128
    c.model.dropout_rate = 0.3
    c.opt.name = "adam"
    c.opt.lr = 2e-3
    c.opt.schedule = "cosine"
    c.train.steps = 1500
    c.train.batch_size = 64
    c.train.log_every = 250
    c.train.eval_every = 500
    c.sweep.seed = (0, 1, 2)  # mean ± std over seeds
    if variant == "tiny":
        c.sweep.seed = ()  # one run
        c.model.features = (4, 8)
        c.model.dense = 16
        c.train.steps = 20
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 10
    return c
