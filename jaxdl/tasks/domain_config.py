"""The config the domain-pair experiments share (experiments/domain_adaptation.py and
experiments/tca_domains.py), kept apart from the tasks so that loading a config stays light."""

import ml_collections

from jaxdl.train import config as config_lib


def base_config(experiment: str, task: str, description: str) -> ml_collections.ConfigDict:
    """The config the domain-pair experiments share (domain_adaptation, tca_domains): optmnist <->
    digits at their native 8x8 and TCA's settings; the ``:tiny`` variants use digits -> rotated
    digits.

    ``optmnist`` is MNIST-5k brought to the UCI optdigits form of scikit-learn's digits
    (``jaxdl.data.domains.optdigits_form``), so the pair differs in writers, not in framing.

    Args:
      experiment: name written to results.json.
      task: the task that runs it (``domain_adapt`` or ``tca``).
      description: one line for ``launch.py --list``.
    """
    c = config_lib.base(experiment, task, description)
    config_lib.drop(c, "data.path")  # not read: bundled domains
    c.data.name = "domain_pairs"  # not read: the domains are data.pairs
    # source>target, names from jaxdl.tasks.finetune.domain_names()
    c.data.pairs = ("optmnist>digits", "digits>optmnist")
    c.data.size = 8  # both domains' native side (optmnist is made at 8x8)
    c.data.standardize = (
        False  # per-domain zero mean / unit variance over pixels (hurt DANN on MNIST->digits)
    )
    c.data.test_fraction = (
        0.2  # target share held out for testing (the rest is unlabelled training data)
    )
    c.data.target_val_size = 100  # labelled target points kept apart for model selection (not test)
    c.transfer = ml_collections.ConfigDict()
    c.transfer.tca_kernels = ("linear", "rbf")  # TCA kernels
    c.transfer.tca_dim = 30  # TCA embedding dimension m
    c.transfer.tca_mu = 1.0  # weight of tr(W^T W)
    c.transfer.tca_samples = (
        400  # source and target-test points per TCA fit, at most (exact TCA is O(n^3))
    )
    c.transfer.linear_C = 1.0  # inverse L2 strength of the logistic regression on embeddings
    return c


def tiny_domains(c: ml_collections.ConfigDict) -> None:
    """The ``:tiny`` variants' data: digits -> digits rotated by 90 degrees, 8x8, small TCA fits."""
    c.data.pairs = ("digits>digits_rot90",)
    c.data.size = 8
    c.transfer.tca_samples = 150
