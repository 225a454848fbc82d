"""Structural-regularization MTL on synthetic tasks with a planted structure: is it recovered?

Four structures (shared sparse rows, low rank, outlier tasks, task clusters) x eight methods
(ℓ2,1 with q=2 and q=∞, trace, rMTFL, convex relaxed cCMTL of Zhou et al. 2011, and the baselines
single-task ridge / lasso and one pooled model). Every strength is chosen by 5-fold CV over a λ
grid solved as one warm-started scan (or one vmapped program), on 3 data draws (sweep.seed).
Prints test MSE and recovery metrics (support F1, rank, outlier F1, cluster purity / ARI) as
mean ± std over the draws, with each method's wins and the methods it beats; writes
test_mse.png (every method, mean ± std) and, for the first draw, cv_curves.png,
lambda_path.png (the ℓ2,1 path) and weights.png (true vs recovered W).

Run:
  python launch.py --config=experiments/mtl_synthetic.py --workdir=/tmp/mtl_synthetic
  python launch.py --config=experiments/mtl_synthetic.py:tiny    # seconds; the tests run it
  python launch.py --config=experiments/mtl_synthetic.py --config.solve.grid_mode=vmap
"""

from jaxdl.tasks import mtl_solve
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("mtl_synthetic", variant)
    c = config_lib.base(
        "mtl_synthetic",
        "mtl_solve",
        "MTL solvers (l21, trace, rMTFL, cCMTL) recover planted structure vs ridge/lasso",
    )
    config_lib.drop(
        c, "data.path", "data.test_fraction", "data.split_seed"
    )  # not read: generated tasks, split by num_train
    c.model.name = (
        "multitask_linear"  # W (d, T), one linear model per task; opt / train / checkpoint unused
    )
    c.data.name = "synthetic"  # synthetic | nlschools
    c.data.structures = ("shared_sparse", "low_rank", "outlier_tasks", "task_clusters")
    c.data.num_tasks = 10  # T
    c.data.dim = 50  # d features
    c.data.num_train = 30  # training samples per task (n < d: single tasks are underdetermined)
    c.data.num_test = 200  # held-out samples per task
    c.data.noise = 0.5  # σ of the target noise
    c.data.support = 5  # shared non-zero rows (shared_sparse, outlier_tasks)
    c.data.rank = 2  # rank of W (low_rank)
    c.data.rank_rtol = 1e-3  # singular values below rtol·σ_max count as zero
    c.data.outliers = 2  # outlier tasks (outlier_tasks)
    c.data.clusters = 3  # task clusters (task_clusters; also cCMTL's k)
    c.data.cluster_spread = 0.5  # within-cluster spread of the task weights
    c.solve = mtl_solve.solve_config()  # methods, λ grids, CV folds, FISTA settings
    c.sweep.seed = (0, 1, 2)  # one data draw (split) each, run one after another
    c.solve.selection = "one_se"  # favour the planted (simpler) structure over the CV minimum
    if variant == "tiny":
        c.sweep.seed = (0, 1)
        c.data.structures = ("shared_sparse", "task_clusters")
        c.data.num_tasks = 6
        c.data.dim = 12
        c.data.num_train = 20
        c.data.num_test = 50
        c.data.support = 3
        c.data.clusters = 2
        c.solve.methods = ("l21", "cmtl", "ridge")
        c.solve.num_lambdas = 6
        c.solve.folds = 3
        c.solve.max_iter = 300
        c.solve.tol = 1e-4
        c.solve.compare_path_modes = False  # tests/test_multitask.py checks vmap == scan already
    return c
