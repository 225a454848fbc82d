"""Sequence to sequence on generated string tasks: teacher forcing, greedy and beam search.

Exact match is reported by input length.
"""

import functools
import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import models
from jaxdl.data import sequences
from jaxdl.models import seq2seq as s2s
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import Problem

ATTENTIONS = ("none", "additive", "dot", "general")
STRING_TASKS = ("reversal", "addition", "date")
_MODEL_FIELDS = (
    "embed_features",
    "features",
    "cell",
    "num_layers",
    "bidirectional",
    "attention_features",
)


def base_config(
    experiment: str, description: str, data_name: str, attention: str
) -> ml_collections.ConfigDict:
    """The shared seq2seq config: a bidirectional-GRU encoder-decoder, with vs without attention.

    Args:
      experiment: name written to results.json.
      description: one line for ``launch.py --list``.
      data_name: reversal | addition | date (jaxdl.data.sequences string tasks).
      attention: the attention of the second run (the first has none).
    """
    from jaxdl.train import config as config_lib  # pylint: disable=g-import-not-at-top

    c = config_lib.base(experiment, "seq2seq", description)
    config_lib.drop(c, "data.test_fraction", "data.path")  # generated pairs: num_train / num_test
    c.data.name = data_name  # reversal | addition | date (jaxdl.data.sequences string tasks)
    c.data.num_train = 20000  # generated training pairs (seeded by data.split_seed)
    c.data.num_test = 1000  # held-out pairs, none with a training source
    c.model.name = "seq2seq"  # jaxdl.models.seq2seq.Seq2Seq
    c.model.cell = "gru"  # lstm | gru | rnn
    c.model.embed_features = 16  # source and target embedding size
    c.model.features = 64  # encoder (per direction) and decoder hidden size
    c.model.num_layers = 1  # encoder layers
    c.model.bidirectional = True  # bidirectional encoder, bridged to the decoder
    c.model.attention = attention  # none | additive (Bahdanau) | dot | general (Luong)
    c.model.attention_features = (
        32  # width n' of the additive alignment model (its (B, S, n') tanh dominates a step)
    )
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
    c.sweep.model.attention = ("none", attention)  # static field: the runs train one after another
    c.sweep.seed = (0, 1, 2)  # the printed table gives mean ± std over seeds per setting
    return c


def shrink_for_tests(c: ml_collections.ConfigDict) -> None:
    """``:tiny`` changes the seq2seq experiments share: the smallest, fastest-compiling program."""
    c.tensorboard = False  # the event writer's import costs seconds
    c.data.num_train, c.data.num_test = 256, 64
    c.model.cell, c.model.bidirectional = "rnn", False
    c.model.embed_features, c.model.features, c.model.attention_features = 8, 16, 16
    c.train.steps = 40
    c.train.log_every = 20
    c.train.eval_every = 40
    c.checkpoint.every_steps = 20
    c.eval.beam_size = 2
    c.sweep.seed = ()
    c.eval.num_buckets = 3


def _task_kwargs(data: ml_collections.ConfigDict) -> dict[str, Any]:
    """Generator arguments of ``data.name`` (the other string tasks take none of these)."""
    if data.name == "reversal":
        return {
            "min_len": int(data.min_len),
            "max_len": int(data.max_len),
            "alphabet": data.alphabet,
        }
    if data.name == "addition":
        return {"max_digits": int(data.max_digits)}
    return {}


@functools.lru_cache(maxsize=4)
def _string_data(name: str, seed: int, num_train: int, num_test: int, kwargs: tuple):
    """Train and test arrays; test sources seen in training are dropped (held out by source)."""
    pairs, src_voc, tgt_voc = sequences.make_string_task(name, seed, num_train, **dict(kwargs))
    seen = {s for s, _ in pairs}
    extra, _, _ = sequences.make_string_task(name, seed + 1, 2 * num_test, **dict(kwargs))
    test = [p for p in extra if p[0] not in seen][:num_test]
    # One encoding for both splits: the same padded widths S and T.
    arrays = sequences.encode_pairs(pairs + test, src_voc, tgt_voc)
    split = lambda sl: {k: v[sl] for k, v in arrays.items()}
    return split(slice(0, len(pairs))), split(slice(len(pairs), None)), src_voc, tgt_voc


def load_data(config: ml_collections.ConfigDict):
    """``(train, test, src_vocab, tgt_vocab)``: dicts of arrays from :func:`sequences.encode_pairs`.

    Raises:
        ValueError: for an unknown ``data.name``.
    """
    if config.data.name not in STRING_TASKS:
        raise ValueError(
            f"unknown data.name {config.data.name!r} for seq2seq; "
            f"choose one of {', '.join(STRING_TASKS)}"
        )
    kwargs = tuple(sorted(_task_kwargs(config.data).items()))
    return _string_data(
        config.data.name,
        int(config.data.split_seed),
        int(config.data.num_train),
        int(config.data.num_test),
        kwargs,
    )


def make_model(config: ml_collections.ConfigDict, src_vocab, tgt_vocab) -> s2s.Seq2Seq:
    """The encoder-decoder of ``config.model``; ``attention="none"`` means no attention."""
    attention = config.model.attention
    if attention not in ATTENTIONS:
        raise ValueError(
            f"unknown model.attention {attention!r}; choose one of {', '.join(ATTENTIONS)}"
        )
    kwargs = {k: config.model[k] for k in _MODEL_FIELDS if k in config.model}
    return models.get(
        config.model.name,
        src_vocab_size=src_vocab.size,
        tgt_vocab_size=tgt_vocab.size,
        attention=None if attention == "none" else attention,
        **kwargs,
    )


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Teacher-forced cross-entropy on the string task (Sutskever et al. 2014, eq. 1).

    The negative of eq. 1's log-likelihood.
    """
    train, test, src_voc, tgt_voc = load_data(config)
    model = make_model(config, src_voc, tgt_voc)

    def init(key, hparams):
        return model.init(key, train["src"][:1], train["src_lengths"][:1], train["tgt_in"][:1])

    def loss(params, model_state, batch, rng, hparams):
        logits = model.apply(
            {"params": params}, batch["src"], batch["src_lengths"], batch["tgt_in"], train=True
        )
        ce = s2s.sequence_loss(logits, batch["tgt_out"], batch["tgt_mask"])
        m = batch["tgt_mask"]
        correct = (jnp.argmax(logits, -1) == batch["tgt_out"]) & m
        return ce, ({"token_accuracy": jnp.sum(correct) / jnp.sum(m)}, model_state)

    def evaluate(params, model_state, batch, hparams):
        variables = {"params": params}
        logits = model.apply(
            variables, batch["src"], batch["src_lengths"], batch["tgt_in"], train=False
        )
        m = batch["tgt_mask"].astype(jnp.float32)
        n_tok = jnp.sum(m, axis=1)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["tgt_out"])
        correct = (jnp.argmax(logits, -1) == batch["tgt_out"]) * m
        return {
            "loss": jnp.sum(jnp.sum(ce * m, 1) / n_tok),  # per-sequence mean token cross-entropy
            "token_accuracy": jnp.sum(jnp.sum(correct, 1) / n_tok),
            # every token right when reading the true prefix (an upper bound on greedy exact match)
            "sequence_accuracy": jnp.sum(jnp.sum(correct, 1) == n_tok),
            "count": jnp.asarray(batch["src"].shape[0]),
        }

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["src"])))
    return Problem(init, loss, evaluate, tx, train, test)


def make_decoder(model, T: int, beam_size: int, length_penalty: float):
    """A jitted ``(params, src, src_lengths) -> (greedy, best beam, alpha)``.

    ``greedy`` and the best beam are (B, T); ``alpha`` (B, T, S) holds the attention weights while
    the model reads its own greedy output (all zero without attention); one compiled program serves
    every test batch and the heat map.
    """
    ids = dict(bos_id=sequences.BOS_ID, eos_id=sequences.EOS_ID, pad_id=sequences.PAD_ID)

    @jax.jit
    def decode(params, src, src_lengths):
        variables = {"params": params}
        greedy, _ = s2s.greedy_decode(model, variables, src, src_lengths, T, **ids)
        beams, _ = s2s.beam_search(
            model, variables, src, src_lengths, T, beam_size, length_penalty=length_penalty, **ids
        )
        tgt_in = jnp.concatenate(
            [jnp.full_like(greedy[:, :1], sequences.BOS_ID), greedy[:, :-1]], axis=1
        )
        _, alpha = model.apply(variables, src, src_lengths, tgt_in, return_attention=True)
        return greedy, beams[:, 0], alpha

    return decode


def decode_test_set(
    model,
    params,
    test: dict[str, np.ndarray],
    beam_size: int,
    length_penalty: float,
    batch_size: int,
) -> dict[str, np.ndarray]:
    """Greedy and beam-search decoding of the test set.

    Returns:
        ``{"greedy": (N, T) tokens, "beam": (N, T) best beam, "alpha": (N, T, S) attention on the
        greedy output, "greedy_correct": (N,) bool, "beam_correct": (N,) bool}``.
    """
    decode = make_decoder(model, test["tgt_out"].shape[1], beam_size, length_penalty)
    parts = [
        decode(params, test["src"][lo : lo + batch_size], test["src_lengths"][lo : lo + batch_size])
        for lo in range(0, len(test["src"]), batch_size)
    ]
    out = {
        k: np.concatenate([np.asarray(p[i]) for p in parts])
        for i, k in enumerate(("greedy", "beam", "alpha"))
    }
    for k in ("greedy", "beam"):
        out[f"{k}_correct"] = np.all(out[k] == test["tgt_out"], axis=1)
    return out


def length_buckets(lengths_N: np.ndarray, num_buckets: int) -> list[tuple[int, int]]:
    """Up to ``num_buckets`` contiguous, equal-width integer ranges covering the lengths.

    Each range ``(first, last)`` includes both ends.
    """
    lo, hi = int(lengths_N.min()), int(lengths_N.max())
    edges = np.unique(np.ceil(np.linspace(lo, hi + 1, num_buckets + 1)).astype(int))
    return [(int(a), int(b) - 1) for a, b in zip(edges[:-1], edges[1:])]


def accuracy_by_length(decoded, lengths_N, buckets, label: str) -> list[dict[str, Any]]:
    """Rows ``{run, length, n, greedy, beam}`` of exact-match accuracy per source-length bucket."""
    rows = []
    for a, b in buckets:
        sel = (lengths_N >= a) & (lengths_N <= b)
        if sel.any():
            rows.append(
                {
                    "run": label,
                    "length": f"{a}-{b}" if b > a else str(a),
                    "n": int(sel.sum()),
                    "greedy": float(decoded["greedy_correct"][sel].mean()),
                    "beam": float(decoded["beam_correct"][sel].mean()),
                }
            )
    return rows


def plot_attention(path: str, decoded, test, src_voc, tgt_voc, index: int, title: str) -> None:
    """Heat map of the attention weights alpha_{t,j} for one test example.

    As in Bahdanau et al. 2015, fig. 3.
    """
    plt = report.pyplot()

    out = [int(t) for t in decoded["greedy"][index]]
    n_out = out.index(sequences.EOS_ID) + 1 if sequences.EOS_ID in out else len(out)  # through eos
    n_src = int(test["src_lengths"][index])
    fig, ax = plt.subplots(figsize=(max(4, 0.3 * n_src + 2.5), max(3, 0.3 * n_out + 1.2)))
    image = ax.imshow(
        decoded["alpha"][index, :n_out, :n_src], cmap="gray_r", vmin=0, vmax=1, aspect="auto"
    )
    ax.set_xticks(range(n_src), [src_voc.token(t) for t in test["src"][index][:n_src]])
    ax.set_yticks(range(n_out), [tgt_voc.token(t) for t in out[:n_out]])  # every step, as decoded
    ax.set(xlabel="source", ylabel="output (greedy)", title=title)
    fig.colorbar(image, ax=ax, label="attention weight")
    report.save_figure(fig, path)


def _run_label(config, overrides: dict[str, Any]) -> str:
    values = overrides or {"model.attention": config.model.attention}
    return ",".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every run (e.g. with and without attention), decodes the test set, writes
    ``accuracy_by_length.txt``, ``attention_<run>.png`` and the curves; returns the results."""
    result = sweep.train(make_problem, config, workdir)
    primary = report.is_writer()
    rows, per_run = [], []
    for i, o in enumerate(result.overrides):
        cfg = sweep.run_config(config, o)
        _, test, src_voc, tgt_voc = load_data(cfg)
        model, params, label = (
            make_model(cfg, src_voc, tgt_voc),
            result.run_state(i).params,
            _run_label(config, o),
        )
        decoded = decode_test_set(
            model,
            params,
            test,
            int(cfg.eval.beam_size),
            float(cfg.eval.length_penalty),
            int(cfg.eval.batch_size),
        )
        buckets = length_buckets(test["src_lengths"], int(cfg.eval.num_buckets))
        run_rows = accuracy_by_length(decoded, test["src_lengths"], buckets, label)
        rows += run_rows
        metrics = {
            "greedy_exact_match": float(decoded["greedy_correct"].mean()),
            "beam_exact_match": float(decoded["beam_correct"].mean()),
            "greedy_exact_match_longest": run_rows[-1]["greedy"],
            "beam_exact_match_longest": run_rows[-1]["beam"],
        }
        per_run.append(metrics)
        if primary and cfg.model.attention != "none":
            index = int(np.argmax(test["src_lengths"]))  # the longest source shows alignment best
            plot_attention(
                os.path.join(workdir, f"attention_{label.replace('=', '-').replace(',', '_')}.png"),
                decoded,
                test,
                src_voc,
                tgt_voc,
                index,
                f"{cfg.data.name}: {label}",
            )
    out = report.results_dict(
        config.experiment, config, result, run_metrics=per_run, by_length=rows
    )
    if primary:
        text = report.table(rows, ["run", "length", "n", "greedy", "beam"])
        with open(os.path.join(workdir, "accuracy_by_length.txt"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
        logging.info("exact match by source length (%s):\n%s", config.experiment, text)
        # a sequential sweep writes one metrics.jsonl per run: plotted together
        report.plot_curves(workdir, run_dirs=result.run_dirs(workdir))
    return out
