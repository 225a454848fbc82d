"""Transfer Component Analysis between optmnist (MNIST-5k in the optdigits form) and the 8x8 digits,
both directions, at their native 8x8: target accuracy of 1-NN and logistic regression on TCA
embeddings against the dimension m and against mu, linear and RBF kernels, raw pixels as the
no-adaptation reference; mean ± std over 3 samples of points.

TCA is closed form (Pan et al. 2011): no training and no checkpoints; each (pair, seed, kernel,
mu) is one generalised eigenproblem over transfer.tca_samples source points and as many target
test points (fewer where the split is smaller: digits has 359), whose leading m eigenvectors give
every dimension m at once. The table prints the two curves of the figure: every m at the reported
mu (transfer.tca_mu) and every mu at the reported m (transfer.tca_dim).

Run:
  python launch.py --config=experiments/tca_domains.py --workdir=/tmp/tca_domains
  python launch.py --config=experiments/tca_domains.py:tiny      # seconds; digits -> rotated digits
  python launch.py --config=experiments/tca_domains.py --config.transfer.tca_mus='(0.1,1.0,10.0)'
"""

from jaxdl.tasks import domain_config
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("tca_domains", variant)
    c = domain_config.base_config(
        "tca_domains",
        "tca",
        "TCA on optmnist <-> digits: target accuracy against the embedding dimension and mu",
    )
    c.model.name = (
        "tca"  # closed form, no network (jaxdl.transfer.tca); opt, train and checkpoint are unused
    )
    c.transfer.tca_dims = (2, 5, 10, 20, 30, 50)  # embedding dimensions m studied (64 pixels)
    c.transfer.tca_mus = (0.01, 0.1, 1.0, 10.0, 100.0)  # weights of tr(W^T W) studied
    c.transfer.tca_dim = 30  # the m reported in results.json's metrics (added to tca_dims)
    c.transfer.tca_mu = 1.0  # the mu reported there (added to tca_mus)
    c.sweep.seed = (0, 1, 2)  # which points are sampled
    if variant == "tiny":
        domain_config.tiny_domains(c)
        c.transfer.tca_dims = (2, 8)
        c.transfer.tca_mus = (0.1, 1.0)
        c.transfer.tca_dim = 8
        c.sweep.seed = (0, 1)
    return c
