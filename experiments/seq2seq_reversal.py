"""Sequence to sequence: reverse strings of 5..30 letters, with and without (Bahdanau) attention.

Without attention the whole source must pass through one fixed-size vector (Sutskever et al. 2014);
with attention the decoder looks back at every source position (Bahdanau et al. 2015), which should
win on long inputs. Exact match (greedy and beam search) is reported by source length.

Run:
    python launch.py --config=experiments/seq2seq_reversal.py --workdir=/tmp/seq2seq_reversal
    python launch.py --config=experiments/seq2seq_reversal.py:tiny    # seconds; the tests run it
    python launch.py --config=experiments/seq2seq_reversal.py --config.sweep.model.attention='("additive","general")'
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("seq2seq_reversal", variant)
    c = config_lib.base("seq2seq_reversal", "seq2seq", "Seq2seq GRU: string reversal (5..30), attention vs none, by length")
    c.data.name = "reversal"  # reversal | addition | date (jaxdl.data.sequences string tasks)
    c.data.min_len = 5  # shortest source string
    c.data.max_len = 30  # longest source string
    c.data.alphabet = "abcdefghij"  # source (and target) symbols
    c.data.num_train = 20000  # generated training pairs (seeded by data.split_seed)
    c.data.num_test = 1000  # held-out pairs, none with a training source
    c.model.name = "seq2seq"  # jaxdl.models.seq2seq.Seq2Seq
    c.model.cell = "gru"  # lstm | gru | rnn
    c.model.embed_features = 16  # source and target embedding size
    c.model.features = 64  # encoder (per direction) and decoder hidden size
    c.model.num_layers = 1  # encoder layers
    c.model.bidirectional = True  # bidirectional encoder, bridged to the decoder
    c.model.attention = "additive"  # none | additive (Bahdanau) | dot | general (Luong)
    c.model.attention_features = 32  # width n' of the additive alignment model (its (B, S, n') tanh dominates a step)
    c.opt.name = "adam"
    c.opt.lr = 3e-3  # peak learning rate
    c.opt.schedule = "warmup_cosine"
    c.opt.warmup_steps = 100
    c.opt.clip_norm = 1.0  # recurrent nets: clip the global gradient norm
    c.train.steps = 1500
    c.train.batch_size = 64
    c.train.log_every = 250
    c.train.eval_every = 750
    c.checkpoint.every_steps = 750
    c.eval = ml_collections.ConfigDict()
    c.eval.beam_size = 4  # beams K of the beam search
    c.eval.length_penalty = 0.0  # GNMT alpha (Wu et al. 2016, eq. 14); 0 = plain log-probability
    c.eval.num_buckets = 5  # source-length buckets of the accuracy table
    c.eval.batch_size = 500  # test examples decoded at once
    config_lib.sweepable(c, "model.attention")
    c.sweep.model.attention = ("none", "additive")  # static field: the runs train one after another
    if variant == "tiny":
        c.tensorboard = False  # the event writer's import costs seconds
        c.data.min_len, c.data.max_len = 3, 8
        c.data.num_train, c.data.num_test = 256, 64
        c.model.cell, c.model.bidirectional = "rnn", False  # the smallest program: compiles fastest
        c.model.embed_features, c.model.features, c.model.attention_features = 8, 16, 16
        c.train.steps = 40
        c.train.log_every = 20
        c.train.eval_every = 40
        c.checkpoint.every_steps = 20
        c.eval.beam_size = 2
        c.eval.num_buckets = 3
    return c
