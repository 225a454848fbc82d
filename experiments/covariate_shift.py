"""Instance transfer under covariate shift (Huang et al. 2007; Bickel et al. 2007): a linear softmax
classifier trained on a biased source sample of the digits shrunk to 4x4 (16 inputs: a
misspecified, low-capacity model), unweighted vs importance-weighted (true weights, kernel mean
matching, logistic domain classifier), scored on the target. The source is selected on the margin
of a reference linear classifier (P(source | x) = sigmoid(2 z(x))): it keeps the clear examples,
so the target holds relatively more of the class overlap, where a misspecified model's fit
depends on which examples it sees (Shimodaira 2000).

For each data.shift_seeds entry, the 4 methods x 3 seeds train as ONE vmapped program (the weight
column is picked by the traced transfer.weighting). Writes table.txt (target error per method,
mean ± std over shifts and seeds, each method's effective sample size (sum w)^2 / sum w^2 and
weighted MMD^2) and weights_vs_true.png (KMM's and the domain classifier's weights against the
true density ratio, first shift; target error per method).

Run:
  python launch.py --config=experiments/covariate_shift.py --workdir=/tmp/covariate_shift
  python launch.py --config=experiments/covariate_shift.py:tiny         # seconds
  python launch.py --config=experiments/covariate_shift.py --config.data.shift_strength=3.0
  python launch.py --config=experiments/covariate_shift.py --config.data.size=8 \
      --config.data.shift_score=feature   # 8x8 digits on mean intensity: nearly well specified
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("covariate_shift", variant)
    c = config_lib.base(
        "covariate_shift",
        "reweight",
        "Covariate shift on digits: unweighted vs true / KMM / domain-classifier weights",
    )
    config_lib.drop(
        c, "data.test_fraction", "data.split_seed", "data.path"
    )  # not read: the split is data.target_fraction / data.shift_seeds
    c.data.name = "digits"  # a domain of jaxdl.tasks.finetune.domain_names()
    c.data.size = 4  # image side (inputs are its square): 4x4 leaves a linear model misspecified
    c.data.shift_score = "margin"  # margin: a reference linear classifier's top-2 probability gap
    c.data.shift_feature = -1  # with shift_score=feature: the pixel selected on; -1 = mean
    c.data.shift_strength = 2.0  # P(source | x) = sigmoid(strength * z(x)); 0 = no shift
    c.data.target_fraction = (
        0.5  # share of the data forming the target (half unlabelled, half test)
    )
    c.data.shift_seeds = (0, 1, 2)  # one source/target split per seed (each its own program)
    c.model.name = "net2net_mlp"  # MLP; features=() is multinomial logistic regression
    c.model.features = ()  # hidden widths: a misspecified (linear) model is where weighting matters
    c.opt.name = "adam"
    c.opt.lr = 1e-2
    c.train.steps = 600
    c.train.batch_size = 64
    c.train.log_every = 200
    c.train.eval_every = 600
    c.checkpoint.every_steps = 600

    c.transfer = ml_collections.ConfigDict()
    c.transfer.weighting = 0  # 0 unweighted | 1 true | 2 KMM | 3 domain classifier (traced)
    c.transfer.kmm_B = 1000.0  # KMM upper bound on each weight (the paper's 1000)
    c.transfer.kmm_iters = 2000  # KMM accelerated projected-gradient iterations
    c.transfer.classifier_l2 = 1e-3  # L2 of the logistic domain classifier
    c.transfer.max_weight = 50.0  # clip of the domain-classifier weights (variance control)
    config_lib.sweepable(c, "transfer.weighting")
    c.sweep.transfer.weighting = (0, 1, 2, 3)
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.tensorboard = False
        c.data.shift_seeds = (0,)
        c.transfer.kmm_iters = 200
        c.train.steps = 30
        c.train.log_every = 10
        c.train.eval_every = 30
        c.checkpoint.every_steps = 0
        c.sweep.seed = (0,)
    return c
