"""Net2Net (Chen, Goodfellow & Shlens 2016): a teacher MLP on MNIST-5k (16x16) per seed grown into
a wider student (Net2WiderNet on every hidden layer) and a deeper one (Net2DeeperNet identity
layers), each trained against the same student from random init. Writes table.txt: loss / test
accuracy per epoch (as in the paper's tables) and, mean ± std over 3 seeds, the epoch at which each
student first reaches its own teacher's test accuracy, and accuracy_vs_epoch.png (the paper's
curves). The teachers train as one vmapped program; per student, random vs Net2Net x 3 seeds as
another. Train and test split one domain, so MNIST-5k's framing (unlike the digits') is no shift.

Run:
  python launch.py --config=experiments/net2net.py --workdir=/tmp/net2net
  python launch.py --config=experiments/net2net.py:tiny             # seconds; digits 8x8
  python launch.py --config=experiments/net2net.py --config.transfer.noise_std=0.0
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("net2net", variant)
    c = config_lib.base(
        "net2net", "net2net", "Net2WiderNet / Net2DeeperNet students vs random init, loss per epoch"
    )
    config_lib.drop(c, "data.path")  # not read: a bundled domain
    c.data.name = "mnist5k"  # a domain of jaxdl.tasks.finetune.domain_names()
    c.data.size = 16  # images resized to size x size
    c.model.name = (
        "net2net_mlp"  # MLP with layers dense_0.., head (what the Net2Net operators act on)
    )
    c.model.features = (32, 32)  # the teacher's hidden widths
    c.opt.name = "adam"
    c.opt.lr = 1e-3
    c.train.steps = 0  # students train for train.epochs
    c.train.epochs = 8  # student epochs (evaluated after each)
    c.train.batch_size = 64
    c.checkpoint.every_steps = 0  # only at the end of each run

    c.transfer = ml_collections.ConfigDict()
    c.transfer.teacher_epochs = 8  # teacher training epochs
    c.transfer.students = ("wider", "deeper")  # which students to grow
    c.transfer.wider_widths = (96, 96)  # new widths of hidden layers 0, 1, ... (Net2WiderNet)
    c.transfer.deeper_after = (
        0,
        1,
    )  # an identity layer is inserted after each of these (Net2DeeperNet)
    c.transfer.noise_std = 0.01  # symmetry-breaking noise of the grown weights
    c.transfer.init = 0.0  # 0 = random init, 1 = Net2Net from the teacher (traced)
    c.transfer.reach_tolerance = 0.0  # "reached the teacher" = test accuracy >= teacher's - this
    config_lib.sweepable(c, "transfer.init")
    c.sweep.transfer.init = (0.0, 1.0)
    c.sweep.seed = (0, 1, 2)  # each seed: its own teacher, student init and data order
    if variant == "tiny":
        c.tensorboard = False
        c.data.name = "digits"
        c.data.size = 8
        c.model.features = (8,)
        c.opt.lr = 1e-2
        c.train.epochs = 2
        c.train.batch_size = 128
        c.transfer.teacher_epochs = 2
        c.transfer.wider_widths = (16,)
        c.transfer.deeper_after = (0,)
        c.sweep.seed = (0,)
    return c
