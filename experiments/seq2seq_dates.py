"""Sequence to sequence: translate dates written by people into ISO 8601, with Bahdanau attention.

"Monday, May 3, 1999", "03/05/1999" and six other formats become "1999-05-03"; the heat map shows
the decoder reading the year, then the month word, then the day. Exact match (greedy and beam
search) is reported by source length, with and without attention.

Run:
    python launch.py --config=experiments/seq2seq_dates.py --workdir=/tmp/seq2seq_dates
    python launch.py --config=experiments/seq2seq_dates.py:tiny    # seconds; the tests run it
    python launch.py --config=experiments/seq2seq_dates.py \
        --config.sweep.model.attention='("additive",)'
"""

from jaxdl.tasks import seq2seq
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("seq2seq_dates", variant)
    c = seq2seq.base_config(
        "seq2seq_dates",
        "Seq2seq GRU: human-written dates to ISO 8601, attention vs none",
        "date",
        "additive",
    )
    c.train.steps = 2000
    c.train.eval_every = 1000
    c.checkpoint.every_steps = 1000
    if variant == "tiny":
        seq2seq.shrink_for_tests(c)
        c.sweep.model.attention = ()  # one run (additive attention)
    return c
