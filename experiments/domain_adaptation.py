"""Unsupervised domain adaptation between optmnist (MNIST-5k in the optdigits form) and the 8x8
digits, both directions, at their native 8x8: source-only vs TCA (+1-NN, +logistic regression;
raw-pixel versions as reference) vs DANN (Ganin et al. 2016: the paper's MNIST network, lambda_p
and mu_p schedules) vs train-on-target, mean ± std over 3 seeds.

DANN's lambda_max is selected per direction and seed on 100 labelled target validation points
kept apart from the test split (never on test labels); the table prints the selected value and
the selected model's test accuracy only. Per direction the runs are 3 seeds x (source-only, DANN
at each lambda_max, train-on-target), trained as one vmapped program (train.sweep_strategy: on
this CPU the vmapped conv sweep ran several times faster per run than one run at a time). TCA is
closed form on a sample of source and target-test pixels.

Run:
  python launch.py --config=experiments/domain_adaptation.py --workdir=/tmp/domain_adaptation
  # seconds; digits -> rotated digits:
  python launch.py --config=experiments/domain_adaptation.py:tiny
  python launch.py --config=experiments/domain_adaptation.py \
      --config.data.pairs='("optmnist>digits",)'
  # the MLP feature extractor instead of the conv one (vmaps fast on CPU):
  python launch.py --config=experiments/domain_adaptation.py --config.model.conv_features='()' \
      --config.model.feature_hidden='(256,128)' --config.model.label_hidden='()'
"""

from jaxdl.tasks import domain_config
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("domain_adaptation", variant)
    c = domain_config.base_config(
        "domain_adaptation",
        "domain_adapt",
        "optmnist <-> digits: source-only vs TCA vs DANN vs train-on-target",
    )
    c.model.name = (
        "dann"  # jaxdl.transfer.dann.DANN (G_f, G_y, G_d; the task builds it, not jaxdl.models)
    )
    # Ganin et al. 2016's MNIST net (Fig. 4a): conv 5x5 32 -> pool 2 -> conv 5x5 48 -> pool 2
    # (SAME padding: 8x8 -> 2x2x48 features), G_y FC100-FC100-10, G_d FC100-1.
    c.model.conv_features = (32, 48)  # conv blocks of G_f; () for a dense G_f
    c.model.feature_hidden = ()  # Dense widths of G_f after the conv blocks
    c.model.label_hidden = (100, 100)  # hidden widths of the label predictor G_y
    c.model.domain_hidden = (100,)  # hidden widths of the domain classifier G_d
    c.opt.name = "sgd"  # with opt.schedule = "dann": momentum SGD, mu_p = mu_0 / (1 + 10 p)^0.75
    c.opt.schedule = (
        "dann"  # dann (opt.name and opt.warmup_steps unused) | any jaxdl.train.optim schedule
    )
    c.opt.lr = 0.01  # mu_0
    c.opt.momentum = 0.9
    c.train.steps = 1000
    c.train.batch_size = 64  # per domain: 64 source + 64 target rows a step (the paper's 128)
    c.train.log_every = 250
    c.train.eval_every = 1000
    # for this net at 8x8 a vmapped sweep measured several times faster per run on XLA:CPU than
    # one run at a time (the opposite of the bigger digits CNN in the sequential default)
    c.train.sweep_strategy = "vmap"
    c.checkpoint.every_steps = 1000

    c.transfer.method = 0  # 0 source_only | 1 dann | 2 train_on_target (traced)
    c.transfer.gamma = 10.0  # lambda_p = 2 / (1 + exp(-gamma p)) - 1
    c.transfer.lambda_max = 1.0  # scale of lambda_p (traced)
    c.transfer.tca = True  # also run TCA (closed form; its settings: domain_config.base_config)
    config_lib.sweepable(c, "transfer.method", "transfer.lambda_max")
    c.sweep.transfer.method = (0, 1, 2)
    # DANN's reversal weight, selected on the target validation split; the other methods ignore it
    c.sweep.transfer.lambda_max = (0.3, 1.0)
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.tensorboard = False
        domain_config.tiny_domains(c)
        c.model.conv_features = (4,)
        c.model.label_hidden = (16,)
        c.model.domain_hidden = (16,)
        c.transfer.tca_kernels = ("linear",)
        c.transfer.tca_dim = 8
        c.opt.lr = 0.05
        c.train.steps = 40
        c.train.batch_size = 32
        c.train.log_every = 20
        c.train.eval_every = 40
        c.checkpoint.every_steps = 0
        c.sweep.transfer.lambda_max = (0.1, 1.0)
        c.sweep.seed = (0,)
    return c
