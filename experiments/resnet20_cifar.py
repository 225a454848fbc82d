"""ResNet-20 on CIFAR-10 with He et al. 2016's recipe (Section 4.2), 3 seeds.

The paper: SGD with momentum 0.9, weight decay 1e-4, batch 128, learning rate 0.1 divided by 10
at 32k and 48k iterations, 64k iterations in all; 4 pixels of zero padding, a random 32x32 crop
and a random horizontal flip; test error 8.75% for ResNet-20 (its Table 6). Differences here: all
50,000 training images are used (the paper held 5,000 out for validation) and pixels are scaled to
[0, 1] instead of having the per-pixel mean subtracted.

Needs the binary release of CIFAR-10 (``cifar-10-batches-bin/``; README.md, "Your own data") and,
for the full recipe, an accelerator: it has not been run on this project's 2-core CPU.

Run:
  python launch.py --config=experiments/resnet20_cifar.py --config.data.path=~/data
  python launch.py --config=experiments/resnet20_cifar.py --config.data.path=~/data \\
      --config.data.name=cifar100
  python launch.py --config=experiments/resnet20_cifar.py:tiny --config.data.path=DIR  # seconds
(``:tiny`` runs on any files in the binary layout; ``jaxdl.data.cifar.write_random(DIR)`` writes
small ones of noise.)
"""

from jaxdl.tasks import classify
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("resnet20_cifar", variant)
    c = classify.cifar_config(
        "resnet20_cifar",
        "ResNet-20 on CIFAR-10 (binary release at data.path), He et al. 2016's recipe",
        variant == "tiny",
    )
    c.model.name = "resnet20"  # 3 stages of 3 basic blocks, 16-32-64 channels, 0.27M parameters
    c.model.width = 16
    c.model.shortcut = "A"  # zero-padded identity shortcuts, the paper's CIFAR choice
    c.opt.weight_decay = 1e-4
    c.opt.boundaries = (0.5, 0.75)  # 32k and 48k of 64k iterations
    c.train.steps = 64_000  # batch 128: about 164 epochs of 50,000 images
    if variant == "tiny":
        c.model.name = "cifar_resnet"
        c.model.depth = 8
        c.model.width = 4
        c.train.steps = 10
    return c
