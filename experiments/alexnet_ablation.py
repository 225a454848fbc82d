"""AlexNet's two regularizers, ablated (Krizhevsky et al. 2012, Sec. 4): data augmentation (random
crops; flips where the data allow) and dropout 0.5 before the output layer, as a 2x2 grid on a small
AlexNet-style CNN (LeNet-style conv-pool x2, dense, dropout, dense) trained to overfitting on the
1,437 training digits. The four settings are a sequential sweep (augmentation and dropout rate are
static), each run on the same seed; launch prints the table of test accuracy.

Run:
  python launch.py --config=experiments/alexnet_ablation.py
  python launch.py --config=experiments/alexnet_ablation.py --config.sweep.seed='(0,1)'   # 8 runs
  # AlexNet-style crops + flips on Fashion-MNIST (slower):
  python launch.py --config=experiments/alexnet_ablation.py --config.data.name=fashion_mnist --config.data.crop_padding=2 --config.data.flip=True
  python launch.py --config=experiments/alexnet_ablation.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("alexnet_ablation", variant)
    c = config_lib.base("alexnet_ablation", "classify", "augmentation x dropout 2x2 ablation on an AlexNet-style CNN (digits)")
    c.data.name = "digits"  # small training set: the regime where the regularizers matter
    c.data.augment = "none"  # none | crop_flip; swept below
    c.data.crop_padding = 1  # random 8x8 crop of the image zero-padded by 1 pixel (+-1 px shifts)
    c.data.flip = False  # digits are not mirror-symmetric; True for Fashion-MNIST
    c.model.name = "cnn"
    c.model.features = (32, 64)  # conv stage channels
    c.model.dense = 256  # hidden fully connected width
    c.model.dropout_rate = 0.0  # dropout before the output layer; swept below
    c.opt.name = "adam"
    c.opt.lr = 1e-3
    c.opt.schedule = "cosine"
    c.train.steps = 600  # ~27 epochs of the 1,437 training digits: long enough to overfit
    c.train.batch_size = 64
    c.train.log_every = 100  # steps per progress line / metrics row
    c.train.eval_every = 600
    c.checkpoint.every_steps = 300
    config_lib.sweepable(c, "data.augment", "model.dropout_rate")
    c.sweep.data.augment = ("none", "crop_flip")  # the 2x2 grid: augmentation ...
    c.sweep.model.dropout_rate = (0.0, 0.5)  # ... times dropout
    if variant == "tiny":
        c.model.features = (4, 8)
        c.model.dense = 16
        c.train.steps = 6
        c.train.batch_size = 16
        c.train.log_every = 3
        c.train.eval_every = 6
        c.checkpoint.every_steps = 3
    return c
