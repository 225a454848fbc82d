"""Unsupervised domain adaptation between MNIST-5k and the 8x8 digits (both at 16x16), both directions:
source-only vs TCA (+1-NN, +logistic regression; raw-pixel versions as reference) vs DANN
(Ganin et al. 2016, lambda_p and mu_p schedules) vs train-on-target, mean ± std over seeds.

Per direction, the 3 network methods x 2 DANN weights lambda_max x 3 seeds train as ONE vmapped
program (traced transfer.method and transfer.lambda_max); TCA is closed form on a sample of source
and target-test pixels.

Run:
  python launch.py --config=experiments/domain_adaptation.py --workdir=/tmp/domain_adaptation
  python launch.py --config=experiments/domain_adaptation.py:tiny      # seconds; digits -> rotated digits
  python launch.py --config=experiments/domain_adaptation.py --config.data.pairs='("mnist5k>digits",)'
"""

from jaxdl.tasks import domain_config
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("domain_adaptation", variant)
    c = domain_config.base_config("domain_adaptation", "domain_adapt", "MNIST-5k <-> digits: source-only vs TCA vs DANN vs train-on-target")
    c.model.name = "dann"  # jaxdl.transfer.dann.DANN (G_f, G_y, G_d; the task builds it, not jaxdl.models)
    c.model.conv_features = ()  # conv blocks of G_f (none: dense G_f vmaps fast on CPU)
    c.model.feature_hidden = (256, 128)  # Dense widths of the feature extractor G_f
    c.model.label_hidden = ()  # hidden widths of the label predictor G_y
    c.model.domain_hidden = (128,)  # hidden widths of the domain classifier G_d
    c.opt.name = "sgd"  # with opt.schedule = "dann": momentum SGD, mu_p = mu_0 / (1 + 10 p)^0.75
    c.opt.schedule = "dann"  # dann (opt.name and opt.warmup_steps unused) | any jaxdl.train.optim schedule
    c.opt.lr = 0.01  # mu_0
    c.opt.momentum = 0.9
    c.train.steps = 1500
    c.train.batch_size = 64  # per domain: a step sees 64 source and 64 target rows
    c.train.log_every = 250
    c.train.eval_every = 1500
    c.checkpoint.every_steps = 1500

    c.transfer.method = 0  # 0 source_only | 1 dann | 2 train_on_target (traced)
    c.transfer.gamma = 10.0  # lambda_p = 2 / (1 + exp(-gamma p)) - 1
    c.transfer.lambda_max = 1.0  # scale of lambda_p (traced)
    c.transfer.tca = True  # also run TCA (closed form; its settings: domain_config.base_config)
    config_lib.sweepable(c, "transfer.method", "transfer.lambda_max")
    c.sweep.transfer.method = (0, 1, 2)
    c.sweep.transfer.lambda_max = (0.1, 1.0)  # DANN's reversal weight; source-only / on-target ignore it
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.tensorboard = False
        domain_config.tiny_domains(c)
        c.model.feature_hidden = (32,)
        c.model.domain_hidden = (16,)
        c.transfer.tca_kernels = ("linear",)
        c.transfer.tca_dim = 8
        c.train.steps = 40
        c.train.batch_size = 32
        c.train.log_every = 20
        c.train.eval_every = 40
        c.checkpoint.every_steps = 0
        c.sweep.transfer.lambda_max = ()
        c.sweep.seed = (0,)
    return c
