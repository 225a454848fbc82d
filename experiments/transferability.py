"""How transferable are features in deep neural networks? (Yosinski, Clune, Bengio & Lipson 2014)

MNIST-5k at 16x16, classes split at random into halves A and B, an MLP with 5 hidden layers.
baseA / baseB are trained first; then baseB, BnB, BnB+, AnB, AnB+ for n = 1..5 (21 settings) x 2
seeds train on B as ONE vmapped program (the frozen-layer masks and copied layers are data).
Writes table.txt and transferability.png (the paper's Figure 2 layout).

Run:
  python launch.py --config=experiments/transferability.py --workdir=/tmp/transferability
  python launch.py --config=experiments/transferability.py:tiny         # seconds; digits 8x8
  python launch.py --config=experiments/transferability.py --config.data.name=digits --config.data.size=8
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("transferability", variant)
    c = config_lib.base("transferability", "transferability", "Yosinski et al. 2014: AnB/BnB(+) for every layer n, one vmapped program")
    config_lib.drop(c, "data.path")  # not read: a bundled domain
    c.data.name = "mnist5k"  # a domain of jaxdl.tasks.finetune.domain_names()
    c.data.size = 16  # images resized to size x size
    c.model.name = "net2net_mlp"  # plain MLP with layers dense_0.., head
    c.model.features = (64, 64, 64, 64, 64)  # L hidden layers; n runs over 1..L
    c.opt.name = "adam"
    c.opt.lr = 1e-3
    c.train.steps = 1200  # steps of every transfer setting (and of baseA / baseB)
    c.train.batch_size = 64
    c.train.log_every = 200
    c.train.eval_every = 1200
    c.checkpoint.every_steps = 600

    c.transfer = ml_collections.ConfigDict()
    c.transfer.split_seed = 0  # seed of the random A/B split of the classes
    c.transfer.base_steps = 1200  # training steps of baseA and baseB
    c.transfer.setting = 0  # index into the stacked settings (traced; 0 = baseB)
    config_lib.sweepable(c, "transfer.setting")  # left empty = every setting
    c.sweep.seed = (0, 1)
    if variant == "tiny":
        c.tensorboard = False
        c.data.name = "digits"
        c.data.size = 8
        c.model.features = (16, 16)
        c.opt.lr = 1e-2
        c.train.steps = 20
        c.train.batch_size = 32
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 0
        c.transfer.base_steps = 30
        c.sweep.seed = (0,)
    return c
