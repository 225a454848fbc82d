"""Sequence to sequence: read "123+4567" and write "4690", with and without (Luong) attention.

The answer's digits depend on aligned digits of both operands plus a carry, written in the
usual most-significant-first order; exact match (greedy and beam search) is reported by
source length.

Run:
    python launch.py --config=experiments/seq2seq_addition.py --workdir=/tmp/seq2seq_addition
    python launch.py --config=experiments/seq2seq_addition.py:tiny    # seconds; the tests run it
    python launch.py --config=experiments/seq2seq_addition.py --config.data.max_digits=3
"""

from jaxdl.tasks import seq2seq
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("seq2seq_addition", variant)
    c = seq2seq.base_config(
        "seq2seq_addition",
        "Seq2seq GRU: integer addition as strings, attention vs none, by length",
        "addition",
        "general",
    )
    c.data.max_digits = 4  # operands have 1..max_digits digits
    c.model.features = 96  # encoder (per direction) and decoder hidden size
    c.model.attention_features = 64  # width of the additive alignment model (unused by general)
    c.train.steps = 3000
    c.train.eval_every = 1500
    c.checkpoint.every_steps = 1500
    if variant == "tiny":
        seq2seq.shrink_for_tests(c)
        c.data.max_digits = 2
        c.sweep.model.attention = ()  # one run (general attention)
    return c
