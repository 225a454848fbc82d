"""AlexNet's two regularizers, ablated (Krizhevsky et al. 2012, Sec. 4): data augmentation (random
crops and horizontal reflections) and dropout 0.5 in the two hidden fully connected layers, as a
2x2 grid on AlexNet itself at reduced size, each setting with 3 seeds, trained to overfitting on
2,000 Fashion-MNIST training images (the bundled 8x8 digits when it is not installed).

Reduced AlexNet: the five conv and three fully connected layers at 1/8 of the published width
(8-24-48-32-32 channels, 512 hidden units), a 5x5 stride-1 first convolution for 28x28 inputs
instead of 11x11 stride 4 on 224x224, the 2012 paper's local response normalisation after conv1
and conv2, and 2x2 features into the classifier. Crops shift by up to 2 pixels (the paper's
224-of-256 crops shift by up to 32). Adam for 300 steps of batch 64 (~10 epochs of the 2,000
images). The 12 runs go one after another; the task draws ``compare.png`` (training error
against step, final test error per setting).

Run:
  python launch.py --config=experiments/alexnet_ablation.py
  python launch.py --config=experiments/alexnet_ablation.py --config.data.train_size=0  # 60,000
  # 1,000 images for 600 steps (~38 epochs): the unregularized net overfits its training set
  python launch.py --config=experiments/alexnet_ablation.py --config.data.train_size=1000 \
    --config.train.steps=600 --config.train.eval_every=600 --config.checkpoint.every_steps=600
  python launch.py --config=experiments/alexnet_ablation.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("alexnet_ablation", variant)
    c = config_lib.base(
        "alexnet_ablation",
        "classify_compare",
        "augmentation x dropout on a reduced AlexNet (2,000 Fashion-MNIST images)",
    )
    c.data.name = "fashion_mnist_or_digits"  # Fashion-MNIST 28x28 if installed, else digits 8x8
    c.data.train_size = 2000  # a fixed draw of the training set: where regularizers matter
    c.data.augment = "none"  # none | crop_flip; swept below
    c.data.crop_padding = 2  # random 28x28 crop of the image zero-padded by 2 px (+-2 px shifts)
    c.data.flip = True  # horizontal reflections, as in the paper (clothes are left-right symmetric)
    c.model.name = "alexnet"
    c.model.width = 0.125  # multiplier on the published conv channels
    c.model.hidden = 512  # the two hidden fully connected layers (4096 / 8)
    c.model.dropout_rate = 0.0  # dropout into the two hidden fully connected layers; swept
    c.model.stem = (5, 1, 2)  # first conv (kernel, stride, padding) for 28x28 inputs
    c.model.pool_padding = 0  # the published 3x3/2 pools: 28 -> 13 -> 6 -> 2
    c.model.pool_size = 2  # 2x2 features into the classifier
    c.model.lrn = True  # the 2012 paper's response normalisation after conv1 and conv2
    c.opt.name = "adam"
    c.opt.lr = 1e-3
    c.opt.schedule = "cosine"
    c.train.steps = 300
    c.train.batch_size = 64
    c.train.log_every = 25  # one training-error point per 25 steps
    c.train.eval_every = 300
    c.train.eval_batch_size = 1000
    c.checkpoint.every_steps = 300
    config_lib.sweepable(c, "data.augment", "model.dropout_rate")
    c.sweep.seed = (0, 1, 2)
    c.sweep.data.augment = ("none", "crop_flip")  # the 2x2 grid: augmentation ...
    c.sweep.model.dropout_rate = (0.0, 0.5)  # ... times dropout
    if variant == "tiny":
        c.data.name = "digits"
        c.data.train_size = 0
        c.data.crop_padding = 1
        c.data.flip = False  # digits are not mirror-symmetric
        c.model.width = 1 / 16
        c.model.hidden = 16
        c.model.stem = (3, 1, 1)
        c.model.pool_padding = 1  # 8 -> 4 -> 2 -> 1
        c.model.pool_size = 1
        c.sweep.seed = ()
        c.train.steps = 6
        c.train.batch_size = 16
        c.train.log_every = 3
        c.train.eval_every = 6
        c.checkpoint.every_steps = 3
    return c
