"""Stacked denoising AE features: greedy layer-wise pre-training, fine-tuning, linear probes.

Bengio et al. 2007 / Vincent et al. 2010: each sigmoid layer is pre-trained as a denoising
auto-encoder on the codes of the layers below (one training-loop run per layer), the stack is
fine-tuned on reconstruction, and a same-size stack trained end to end from scratch is the
control. Logistic-regression probes on each set of codes vs raw pixels vs random-network codes
go to results.json and table.txt; filters.png shows the first-layer filters of each stage.
Data: Fashion-MNIST when the Debian package dataset-fashion-mnist is installed, else digits.

Run:
  python launch.py --config=experiments/autoencoder_features.py
  python launch.py --config=experiments/autoencoder_features.py:tiny  # seconds; the tests run it
  python launch.py --config=experiments/autoencoder_features.py \
      --config.model.noise_level=0.0  # plain AEs
  python launch.py --config=experiments/autoencoder_features.py --config.model.noise_kind=0 \
      --config.model.noise_level=0.3
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("autoencoder_features", variant)
    c = config_lib.base(
        "autoencoder_features",
        "stacked_ae",
        "Stacked denoising AE: greedy pre-training, fine-tuning, linear probes vs pixels",
    )
    c.data.name = "fashion_mnist_or_digits"  # Fashion-MNIST if installed, else bundled digits
    c.model.name = "stacked_autoencoder"  # jaxdl.models.autoencoder.StackedAutoEncoder
    c.model.layer_sizes = (256, 64)  # code width of each sigmoid layer, bottom to top
    c.model.noise_kind = 1  # 0 = additive Gaussian (std = noise_level), 1 = masking (fraction)
    c.model.noise_level = (
        0.25  # corruption of each layer's input during pre-training; 0 = plain AEs
    )
    c.opt.name = "adam"
    c.opt.lr = 3e-3
    c.train.steps = 800  # pre-training steps per layer
    c.train.batch_size = 64
    c.train.log_every = 200
    c.train.eval_every = 800
    c.checkpoint.every_steps = 800
    c.finetune = ml_collections.ConfigDict()
    c.finetune.steps = 800  # whole-stack reconstruction fine-tuning steps; 0 = none
    c.eval = ml_collections.ConfigDict()
    c.eval.noise_levels = ()  # (unused here; kept so the noise checks are shared with reconstruct)
    c.probe = ml_collections.ConfigDict()
    c.probe.C = 1.0  # inverse L2 strength of the logistic-regression probes
    c.probe.max_train = 3000  # training examples the probes fit on (fixed random subset)
    c.sweep.seed = (0, 1, 2)  # every stage per seed; the table gives mean ± std
    if variant == "tiny":
        c.sweep.seed = ()
        c.data.name = "digits"
        c.model.layer_sizes = (32, 8)
        c.train.steps = 30
        c.finetune.steps = 20
        c.probe.max_train = 500
        c.train.log_every = 10
        c.train.eval_every = 30
        c.checkpoint.every_steps = 0
    return c
