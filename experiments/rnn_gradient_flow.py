"""Vanishing gradients (Bengio et al. 1994; Hochreiter 1991): ‖∂loss/∂x_t‖ against the lag T-t.

On the adding problem at T = 100, for RNN, LSTM and GRU, at initialisation and after a brief
training, averaged over seeds (each cell's seeds train in one vmapped program). The GRU is
measured at three initial update-gate biases: b_z = 0 (Cho et al. 2014, PyTorch; the carry halves
each step), -1 (the default: keeps σ(1) of the carry, as the LSTM's forget bias 1 does) and -2.
Writes gradient_vs_lag.png and a table of ‖∂loss/∂x_t‖ / ‖∂loss/∂x_T‖ at a few lags.

Run:
  python launch.py --config=experiments/rnn_gradient_flow.py --workdir=/tmp/rnn_gradient_flow
  python launch.py --config=experiments/rnn_gradient_flow.py:tiny   # seconds; the tests run it
"""

from jaxdl.tasks import sequence
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("rnn_gradient_flow", variant)
    c = sequence.base_config(
        "rnn_gradient_flow",
        "gradient_flow",
        "Input-gradient norm vs time lag: RNN/LSTM/GRU at init and after training",
        "sequence_regressor",
    )
    c.data.name = "adding"  # the measured loss: the adding problem's squared error
    c.data.max_lag = 100  # T
    c.data.lag = 100  # must equal max_lag: the gradient is measured over the whole sequence
    c.data.num_train = 2000
    c.data.num_test = 256
    c.data.tol = 0.04  # success tolerance of the trained runs' test metric
    c.data.num_grad_examples = 128  # test sequences the gradient norms are averaged over
    c.report_lags = (1, 10, 25, 50, 99)  # lags shown in the table
    c.gru_update_biases = (0.0, -1.0, -2.0)  # the GRU's initial b_z values compared; () = model's
    c.train.steps = 300  # the brief training; 0 = measure at initialisation only
    c.train.batch_size = 50
    c.train.log_every = 100
    c.train.eval_every = 300
    c.checkpoint.every_steps = 300
    c.sweep.seed = (0, 1, 2, 3)
    if variant == "tiny":
        c.data.max_lag = 12
        c.data.lag = 12
        c.data.num_train = 128
        c.data.num_test = 64
        c.data.num_grad_examples = 32
        c.report_lags = (1, 5, 11)
        c.model.features = 8
        c.sweep.model.cell = ("rnn", "lstm", "gru")
        c.gru_update_biases = (0.0, -2.0)
        c.sweep.seed = (0, 1)
        c.train.steps = (
            0  # at initialisation only: the trainer path is exercised by rnn_long_range:tiny
        )
        c.train.batch_size = 32
        c.train.log_every = 10
        c.train.eval_every = 10
        c.checkpoint.every_steps = 10
    return c
