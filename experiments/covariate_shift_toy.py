"""Covariate shift on the classic toy (Shimodaira 2000; Huang et al. 2007, Fig. 1): a straight line
fitted to y = -x + x^3 + noise with source x ~ N(0.5, 0.5^2) and target x ~ N(0, 0.3^2); unweighted
vs true / kernel-mean-matching / domain-classifier weights, target MSE and effective sample size
mean ± std over the data draws (sweep.seed). Closed form: nothing trains. Writes table.txt and
fits.png (the data, the true curve, each method's line; each method's weights against x).

Run:
  python launch.py --config=experiments/covariate_shift_toy.py --workdir=/tmp/covariate_shift_toy
  python launch.py --config=experiments/covariate_shift_toy.py:tiny      # seconds
  python launch.py --config=experiments/covariate_shift_toy.py --config.model.degree=3  # the cubic
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("covariate_shift_toy", variant)
    c = config_lib.base(
        "covariate_shift_toy",
        "reweight_toy",
        "Toy covariate shift (a line "
        "fitted to a cubic): unweighted vs true / KMM / classifier weights",
    )
    config_lib.drop(c, "data.test_fraction", "data.split_seed", "data.path")  # synthetic draws
    config_lib.drop(c, "sweep.opt", "opt.weight_decay")  # closed form: no optimiser to sweep
    c.data.name = "shimodaira_toy"  # y = -x + x^3 + noise (jaxdl.tasks.reweight_toy)
    c.data.n_source = 100  # labelled source points (Shimodaira's and Huang et al.'s 100)
    c.data.n_unlabelled = 100  # unlabelled target points the KMM / classifier weights see
    c.data.n_test = 1000  # labelled target points the MSE is measured on
    c.data.source_mean = 0.5
    c.data.source_std = 0.5
    c.data.target_mean = 0.0
    c.data.target_std = 0.3
    c.data.noise_std = 0.3  # y's noise; its variance is the MSE floor
    c.model.name = "polynomial"  # weighted least squares, closed form
    c.model.degree = 1  # 1 = a straight line (misspecified); 3 holds the true function

    c.transfer = ml_collections.ConfigDict()
    c.transfer.kmm_B = 1000.0  # KMM upper bound on each weight (the paper's 1000)
    c.transfer.kmm_iters = 2000  # KMM accelerated projected-gradient iterations
    c.transfer.classifier_l2 = 1e-4  # L2 of the logistic domain classifier
    c.transfer.classifier_quadratic = True  # x and x^2: the exact log ratio of two Gaussians
    c.sweep.seed = tuple(range(20))  # data draws
    if variant == "tiny":
        c.tensorboard = False
        c.data.n_test = 200
        c.transfer.kmm_iters = 500
        c.sweep.seed = (0, 1, 2)
    return c
