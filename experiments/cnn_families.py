"""CNN families at small scale on Fashion-MNIST (digits if absent): ResNet-20 against a wide shallow
WRN-10-2, DenseNet-BC-22 (k = 12), ResNet-8 and a small GoogLeNet, at equal steps and 3 seeds; the
table and accuracy_vs_params.png give test accuracy (mean ± std) against parameter count.

The claims: DenseNet (Huang et al. 2017) reaches a ResNet's accuracy with fewer parameters; a wide
shallow residual net (Zagoruyko & Komodakis 2016) matches a thin deep one of about as many
parameters (WRN-10-2: 10 layers, 0.30M; ResNet-20: 20 layers, 0.27M). ResNet-8 (75k) is the
residual net of DenseNet-BC-22's size (71k). Scaled to CPU minutes: every
network's first convolution has stride 2 (28x28 images, 14x14 feature maps after it), the small
GoogLeNet keeps three inception modules (4a, 4b, 4c, after the 3x3/2 max pool: 7x7 maps) at a
quarter of Table 1's widths with batch norm (its 14x14 modules 3a and 3b cost XLA:CPU ~10x a
ResNet-20 step), and each run takes 200 steps of batch 64 (a fifth of an epoch). The recipe is the
residual nets' (SGD momentum 0.9, learning rate 0.1 with cosine decay, weight decay 5e-4) for all;
nothing was tuned.

Run:
  python launch.py --config=experiments/cnn_families.py
  python launch.py --config=experiments/cnn_families.py --config.train.steps=1000   # longer
  python launch.py --config=experiments/cnn_families.py:tiny    # seconds (tests)
"""

import ml_collections

from jaxdl.tasks import classify
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("cnn_families", variant)
    tiny = variant == "tiny"
    c = classify.fashion_resnet_config(
        "cnn_families",
        "ResNet-20 vs WRN-10-2, DenseNet-BC-22, small GoogLeNet: accuracy vs parameters",
        tiny,
    )
    c.task = "families"  # every network through the classify task, then the table and the figure
    c.model.name = "resnet20"  # the baseline: CifarResNet(depth=20), 16-32-64 channels
    c.model.shortcut = "A"  # zero-padded identity shortcuts (paper's CIFAR choice)
    c.model.stem_strides = 2  # 28x28 -> 14x14 at the first convolution (every network alike)
    c.families = ml_collections.ConfigDict()  # label -> model config (name + arguments)
    c.families.wrn_10_2 = ml_collections.ConfigDict(
        dict(name="wrn", depth=10, widen_factor=2, width=16, stem_strides=2)
    )  # 32-64-128 channels
    c.families.densenet_bc_22 = ml_collections.ConfigDict(
        dict(name="densenet_bc", depth=22, growth_rate=12, stem_strides=2)
    )  # 3 blocks of 3 layers
    c.families.resnet8 = ml_collections.ConfigDict(
        dict(name="cifar_resnet", depth=8, shortcut="A", stem_strides=2)
    )  # DenseNet's parameter count
    c.families.googlenet_small = ml_collections.ConfigDict(
        dict(
            name="googlenet",
            stem="small",
            modules=("4a", "4b", "4c"),
            width=0.25,
            batch_norm=True,
            dropout_rate=0.0,
            stem_strides=2,
        )
    )
    c.opt.name = "momentum"
    c.train.steps = 200  # equal for every network
    c.train.eval_every = 200  # the 10,000 test images once, at the end
    c.checkpoint.every_steps = 200
    c.sweep.seed = (0, 1, 2)
    if tiny:
        c.model.name = "cifar_resnet"
        c.model.depth = 8
        c.model.width = 4
        c.model.stem_strides = 1  # digits are 8x8
        c.families.wrn_10_2.update(widen_factor=1, width=4, stem_strides=1)
        c.families.densenet_bc_22.update(depth=10, growth_rate=2, stem_strides=1)
        c.families.resnet8.update(width=2, stem_strides=1)
        c.families.googlenet_small.update(modules=("4a", "4b"), width=1 / 16, stem_strides=1)
        c.train.steps = 10
        c.train.eval_every = 10
        c.checkpoint.every_steps = 5
        c.sweep.seed = (0, 1)
    return c
