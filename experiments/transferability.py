"""How transferable are features in deep neural networks? (Yosinski, Clune, Bengio & Lipson 2014)

MNIST-5k in the optdigits form of scikit-learn's digits (8x8), its classes split at random into
halves A and B, a small convnet (conv_0..conv_2, dense_0, head: the paper's conv/fc stack at
digit size). baseA and baseB are trained once per seed; then baseB, BnB, BnB+, AnB, AnB+ for
n = 1..4 (17 settings) x 3 seeds train on B, run i copying from seed i's base networks. Writes
table.txt (mean ± std per setting and the paper's three findings as numbers) and
transferability.png (the paper's Figure 2 layout, error bars = std over seeds).

Run:
  python launch.py --config=experiments/transferability.py --workdir=/tmp/transferability
  python launch.py --config=experiments/transferability.py:tiny         # seconds; digits 8x8
  # the MLP of the earlier version (5 hidden layers, n = 1..5) on MNIST-5k at 16x16:
  python launch.py --config=experiments/transferability.py --config.model.name=net2net_mlp \\
      --config.model.conv_features='()' --config.model.features='(64,64,64,64,64)' \\
      --config.data.name=mnist5k --config.data.size=16 --config.opt.lr=0.001
  # the settings as one vmapped program instead of one after another:
  python launch.py --config=experiments/transferability.py --config.train.sweep_strategy=vmap
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("transferability", variant)
    c = config_lib.base(
        "transferability",
        "transferability",
        "Yosinski et al. 2014: AnB/BnB(+) for every layer n of a small convnet",
    )
    config_lib.drop(c, "data.path")  # not read: a bundled domain
    c.data.name = "optmnist"  # a domain of jaxdl.tasks.finetune.domain_names()
    c.data.size = 8  # images resized to size x size
    c.model.name = "transfer_cnn"  # transfer_cnn | net2net_mlp (then conv_features='()')
    c.model.conv_features = (32, 32, 64)  # conv layers conv_i (3x3, ReLU)
    c.model.pool_after = (1, 2)  # conv layers followed by a 2x2 max pool
    c.model.features = (128,)  # hidden dense layers dense_i; n runs over every layer below the head
    c.opt.name = "adam"
    c.opt.lr = 1e-3
    c.train.steps = 300  # steps of every transfer setting
    c.train.batch_size = 64
    c.train.log_every = 200
    c.train.eval_every = 300
    c.checkpoint.every_steps = 300

    c.transfer = ml_collections.ConfigDict()
    c.transfer.split_seed = 0  # seed of the random A/B split of the classes
    c.transfer.base_steps = 600  # training steps of baseA and baseB
    c.transfer.setting = 0  # index into the stacked settings (traced; 0 = baseB)
    config_lib.sweepable(c, "transfer.setting")  # left empty = every setting
    c.sweep.seed = (0, 1, 2)  # each seed has its own baseA / baseB
    if variant == "tiny":
        c.tensorboard = False
        c.data.name = "digits"
        c.data.size = 8
        c.model.conv_features = (8,)
        c.model.pool_after = (0,)
        c.model.features = (16,)
        c.opt.lr = 1e-2
        c.train.steps = 20
        c.train.batch_size = 32
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 0
        c.transfer.base_steps = 30
        c.sweep.seed = (0, 1)
    return c
