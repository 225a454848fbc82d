"""Auto-encoder vs denoising AEs: reconstruction error on noisy test images, one vmapped program.

The plain AE (noise level 0) and DAEs trained with additive Gaussian noise (X = X' + noise) and with
masking noise at several levels train as ONE vmapped program (noise kind and level are traced). The
plain AE trains once (at level 0 the kinds agree) and every run is tested under every swept
corruption: results.json has test_<kind>_mse_at_<level> per run (e.g. test_masking_mse_at_0.5;
test_mse is the clean error, test_mse_noisy the error at the run's own noise). Writes
error_vs_test_noise.png (test MSE vs the clean image, one line per training noise),
reconstructions.png (input / corrupted / reconstructed), table.txt and linear-probe accuracies
(bottleneck codes vs raw pixels vs random-network codes) in results.json.
Data: Fashion-MNIST when the Debian package dataset-fashion-mnist is installed, else digits.

Run:
  python launch.py --config=experiments/autoencoder_denoising.py
  python launch.py --config=experiments/autoencoder_denoising.py:tiny  # seconds; the tests run it
  python launch.py --config=experiments/autoencoder_denoising.py --config.data.name=digits
  python launch.py --config=experiments/autoencoder_denoising.py \
      --config.sweep.model.noise_kind='(0,)' \
      --config.sweep.model.noise_level='(0.0,0.1,0.2,0.3,0.5)'
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("autoencoder_denoising", variant)
    c = config_lib.base(
        "autoencoder_denoising",
        "reconstruct",
        "AE vs denoising AE (Gaussian, masking) at several noise levels, one vmapped program",
    )
    c.data.name = "fashion_mnist_or_digits"  # Fashion-MNIST if installed, else bundled digits
    c.model.name = "autoencoder"  # autoencoder | conv_autoencoder (jaxdl.models.autoencoder)
    c.model.hidden = (256,)  # encoder hidden widths (the decoder mirrors them)
    c.model.latent_dim = 32  # bottleneck width
    c.model.noise_kind = (
        0  # traced: 0 = additive Gaussian (std = noise_level), 1 = masking (fraction)
    )
    c.model.noise_level = 0.0  # traced: 0 = plain auto-encoder
    c.opt.name = "adam"
    c.opt.lr = 2e-3
    c.train.steps = 1000
    c.train.batch_size = 64
    c.train.log_every = 250
    c.train.eval_every = 500
    c.checkpoint.every_steps = 500
    c.eval = ml_collections.ConfigDict()
    c.eval.noise_levels = (0.0, 0.1, 0.25, 0.5)  # test corruption levels, of every swept kind
    c.eval.noise_seed = 0  # fixed test noise draws: every run sees the same corrupted images
    c.eval.show_level = 0.5  # corruption level shown in reconstructions.png
    c.eval.show_images = 8  # test images shown per row
    c.probe = ml_collections.ConfigDict()
    c.probe.C = 1.0  # inverse L2 strength of the logistic-regression probe
    c.probe.max_train = 3000  # training examples the probes fit on (fixed random subset)
    config_lib.sweepable(c, "model.noise_kind", "model.noise_level")
    c.sweep.model.noise_kind = (0, 1)  # both corruptions
    c.sweep.model.noise_level = (
        0.0,
        0.25,
        0.5,
    )  # level 0 = the plain AE, trained once for all kinds
    c.sweep.seed = (0, 1, 2)  # tables and plots give mean ± std over seeds
    if variant == "tiny":
        c.data.name = "digits"
        c.model.hidden = (32,)
        c.model.latent_dim = 8
        c.sweep.seed = ()
        c.sweep.model.noise_kind = (0,)
        c.sweep.model.noise_level = (0.0, 0.5)
        c.eval.noise_levels = (0.0, 0.5)
        c.eval.show_images = 4
        c.probe.max_train = 500
        c.train.steps = 40
        c.train.log_every = 20
        c.train.eval_every = 40
        c.checkpoint.every_steps = 0
    return c
