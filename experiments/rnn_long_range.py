"""The adding problem (Hochreiter & Schmidhuber 1997): can RNN, LSTM and GRU bridge a lag of T steps?

For each cell, every lag T in {10, 50, 100, 200} and every seed train in ONE vmapped program: the
sequences are generated at the maximum length and the lag is data (a traced ``data.lag`` sets the
marker positions and the valid length; the recurrent layers freeze their carry after it).
Success rate = share of test sequences predicted within 0.04 of the sum.

Run:
  python launch.py --config=experiments/rnn_long_range.py --workdir=/tmp/rnn_long_range
  python launch.py --config=experiments/rnn_long_range.py:tiny        # seconds; the tests run it
  python launch.py --config=experiments/rnn_long_range.py --config.sweep.model.cell='("lstm",)' \
      --config.sweep.seed='(0,1,2,3)'
"""

from jaxdl.tasks import sequence
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("rnn_long_range", variant)
    c = sequence.base_config("rnn_long_range", "sequence", "Adding problem, lags 10-200: RNN vs LSTM vs GRU, lags x seeds vmapped per cell", "sequence_regressor")
    c.data.name = "adding"  # jaxdl.tasks.sequence data: adding | sunspots | japanese_vowels
    c.data.max_lag = 200  # sequences are generated at this length
    c.data.lag = 200  # T: the sequence's length (traced: a sweep over it is one program)
    c.data.num_train = 10000  # training sequences (a fixed set, drawn with split_seed)
    c.data.num_test = 1000
    c.data.tol = 0.04  # a test sequence counts as solved when |prediction - sum| < tol
    c.opt.lr = 1e-2
    c.train.steps = 1500  # measured feasible on 2 shared CPU cores; more steps solve longer lags
    c.train.batch_size = 32
    c.train.log_every = 250
    c.train.eval_every = 500
    c.checkpoint.every_steps = 500
    config_lib.sweepable(c, "data.lag")
    c.sweep.data.lag = (10, 50, 100, 200)
    c.sweep.seed = (0,)  # more seeds: --config.sweep.seed='(0,1,2)' (same program, wider)
    if variant == "tiny":
        c.data.max_lag = 12
        c.data.lag = 12
        c.data.num_train = 256
        c.data.num_test = 128
        c.model.features = 8
        c.sweep.data.lag = (4, 12)
        c.sweep.model.cell = ("rnn", "lstm")
        c.train.steps = 20
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 10
    return c
