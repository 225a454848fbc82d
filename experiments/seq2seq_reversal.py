"""Sequence to sequence: reverse strings of 5..30 letters, with and without (Bahdanau) attention.

Without attention the whole source must pass through one fixed-size vector (Sutskever et al. 2014);
with attention the decoder looks back at every source position (Bahdanau et al. 2015), which should
win on long inputs. Exact match (greedy and beam search) is reported by source length.

Run:
    python launch.py --config=experiments/seq2seq_reversal.py --workdir=/tmp/seq2seq_reversal
    python launch.py --config=experiments/seq2seq_reversal.py:tiny    # seconds; the tests run it
    python launch.py --config=experiments/seq2seq_reversal.py \
        --config.sweep.model.attention='("additive","general")'
"""

from jaxdl.tasks import seq2seq
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("seq2seq_reversal", variant)
    c = seq2seq.base_config(
        "seq2seq_reversal",
        "Seq2seq GRU: string reversal (5..30), attention vs none, by length",
        "reversal",
        "additive",
    )
    c.data.min_len = 5  # shortest source string
    c.data.max_len = 30  # longest source string
    c.data.alphabet = "abcdefghij"  # source (and target) symbols
    if variant == "tiny":
        seq2seq.shrink_for_tests(c)
        c.data.min_len, c.data.max_len = 3, 8
    return c
