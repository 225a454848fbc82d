"""Exploding gradients (Pascanu, Mikolov & Bengio 2013) and gradient-norm clipping.

A vanilla RNN whose recurrent matrix starts as U = ρ x orthogonal has spectral radius ρ. At
initialisation ‖∂loss/∂x_t‖ is measured against the lag on adding-problem sequences of
``grad_lag`` steps for each ρ in ``recurrent_gains``: it vanishes for ρ = 1 and grows with the lag
for ρ = 2. Then plain SGD trains the adding problem at lag ``data.lag`` for every (ρ, clip norm)
pair, seeds vmapped in one program each; clip norm 0 is no clipping, 1 is
``optax.clip_by_global_norm(1)`` (opt.clip_norm). The train loss and the gradient's norm before
clipping are logged every ``train.log_every`` steps. A setting whose loss turns NaN / Inf stops
there and is reported as diverged. Writes exploding.png and table.txt.

Run:
  python launch.py --config=experiments/rnn_exploding.py --workdir=/tmp/rnn_exploding
  python launch.py --config=experiments/rnn_exploding.py:tiny   # seconds; the tests run it
"""

from jaxdl.tasks import sequence
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("rnn_exploding", variant)
    c = sequence.base_config(
        "rnn_exploding",
        "exploding",
        "Exploding gradients: vanilla RNN, spectral radius 1 vs 2, SGD with vs without clipping",
        "sequence_regressor",
    )
    c.model.cell = "rnn"
    c.sweep.model.cell = ()  # the vanilla RNN only
    c.recurrent_gains = (1.0, 2.0)  # ρ(U) at initialisation (model.recurrent_gain of each setting)
    c.clip_norms = (0.0, 1.0)  # opt.clip_norm of each setting; 0 = no clipping
    c.grad_lag = 100  # sequence length of the gradient-vs-lag measurement at initialisation
    c.report_lags = (1, 10, 25, 50, 99)  # lags shown in the table (< grad_lag)
    c.log_grad_norm = True  # log the gradient's norm before clipping at every step
    c.data.name = "adding"
    c.data.max_lag = 20  # the training lag: long enough for ρ = 2 to explode
    c.data.lag = 20
    c.data.num_train = 2000
    c.data.num_test = 500
    c.data.num_grad_examples = 128  # test sequences the initial gradient norms average over
    c.data.tol = 0.04
    c.opt.name = "sgd"  # Pascanu et al.'s setting: no adaptive step to hide the explosion
    c.opt.lr = 0.1
    c.opt.clip_norm = 0.0  # set per setting from clip_norms
    c.train.steps = 600
    c.train.batch_size = 32
    c.train.log_every = 10  # one curve point per 10 steps
    c.train.eval_every = 600
    c.checkpoint.every_steps = 600
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.grad_lag = 30
        c.report_lags = (1, 10, 29)
        c.data.num_train = 256
        c.data.num_test = 64
        c.data.num_grad_examples = 32
        c.model.features = 16
        c.recurrent_gains = (1.0, 3.0)
        c.train.steps = 30
        c.train.eval_every = 30
        c.checkpoint.every_steps = 30
    return c
