"""The adding problem (Hochreiter & Schmidhuber 1997): can RNN, LSTM, GRU bridge a lag of T steps?

Each cell gets its own learning rate: every (lr, lag, seed) of a cell trains in ONE vmapped
program (the sequences are generated at the maximum length and the lag is data: a traced
``data.lag`` sets the marker positions and the valid length; the recurrent layers freeze their
carry after it). Each cell's rate is the grid value with the best mean success over lags and
seeds on a validation split drawn apart from the training and test sets (``select_lr``); the
test success rates of that rate's seeds are reported at each lag (mean ± std over seeds).
Success = |prediction - sum| < 0.04.

Scaled to the 4-minute CPU budget: lags 10/25/50 (earlier: up to 200) and 1,000 Adam steps.

Run:
  python launch.py --config=experiments/rnn_long_range.py --workdir=/tmp/rnn_long_range
  python launch.py --config=experiments/rnn_long_range.py:tiny        # seconds; the tests run it
  python launch.py --config=experiments/rnn_long_range.py --config.data.max_lag=200 \
      --config.sweep.data.lag='(10,50,100,200)' --config.train.steps=1500   # longer lags
"""

from jaxdl.tasks import sequence
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("rnn_long_range", variant)
    c = sequence.base_config(
        "rnn_long_range",
        "sequence",
        "Adding problem, lags 10-200: RNN vs LSTM vs GRU, lags x seeds vmapped per cell",
        "sequence_regressor",
    )
    c.data.name = "adding"  # jaxdl.tasks.sequence data: adding | sunspots | japanese_vowels
    c.data.max_lag = 50  # sequences are generated at this length
    c.data.lag = 50  # T: the sequence's length (traced: a sweep over it is one program)
    c.data.num_train = 10000  # training sequences (a fixed set, drawn with split_seed)
    c.data.num_test = 1000
    c.data.num_val = 500  # validation sequences (drawn after the test set) for choosing the lr
    c.data.tol = 0.04  # a test sequence counts as solved when |prediction - sum| < tol
    c.opt.lr = 1e-2
    c.select_lr = True  # per cell, the sweep.opt.lr value with the best validation success
    c.sweep.opt.lr = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # the grid (traced: the same program)
    c.train.steps = 1000  # fits the 4-minute budget on 2 CPU cores
    c.train.batch_size = 32
    c.train.log_every = 250
    c.train.eval_every = 1000
    c.checkpoint.every_steps = 500
    config_lib.sweepable(c, "data.lag")
    c.sweep.data.lag = (10, 25, 50)
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.data.max_lag = 12
        c.data.lag = 12
        c.data.num_train = 256
        c.data.num_test = 128
        c.data.num_val = 64
        c.model.features = 8
        c.sweep.data.lag = (4, 12)
        c.sweep.model.cell = ("rnn", "lstm")
        c.sweep.opt.lr = (1e-3, 3e-2)
        c.sweep.seed = (0, 1)
        c.train.steps = 20
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 10
    return c
