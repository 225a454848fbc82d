"""Yearly sunspot numbers (1700-2008): one-step-ahead forecasting with RNN, LSTM and GRU.

Windows of the previous ``data.window`` years predict the next year; the last ``data.test_years``
targets are the test set (chronological split). Reports test RMSE (sunspot numbers) against the
persistence baseline (next year = this year). Seeds of one cell train in one vmapped program.
Needs statsmodels (its bundled CSV): pip install -e '.[seq]'.

Run:
  python launch.py --config=experiments/sunspots_forecast.py --workdir=/tmp/sunspots_forecast
  # synthetic series; the tests run it:
  python launch.py --config=experiments/sunspots_forecast.py:tiny
"""

from jaxdl.tasks import sequence
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("sunspots_forecast", variant)
    c = sequence.base_config(
        "sunspots_forecast",
        "sequence",
        "Sunspots one-step forecast: RNN/LSTM/GRU test RMSE vs persistence",
        "sequence_regressor",
    )
    c.data.name = "sunspots"  # jaxdl.tasks.sequence data: adding | sunspots | japanese_vowels
    c.data.source = "real"  # real (statsmodels' CSV) | synthetic (an 11-year cycle, no dependency)
    c.data.path = ""  # a sunspots.csv instead of statsmodels' copy
    c.data.window = 20  # input years per example
    c.data.test_years = 60  # the last 60 targets (1949-2008) are the test set
    c.opt.schedule = "cosine"
    c.train.steps = 1500
    c.train.batch_size = 32
    c.train.log_every = 250
    c.train.eval_every = 500
    c.checkpoint.every_steps = 750
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.data.source = "synthetic"
        c.data.window = 12
        c.model.features = 8
        c.sweep.model.cell = ("gru",)
        c.sweep.seed = (0, 1)
        c.train.steps = 20
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 10
    return c
