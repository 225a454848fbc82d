"""Sequence to sequence (Sutskever et al. 2014) with optional attention (Bahdanau et al. 2015;
Luong et al. 2015): encoder-decoder, teacher forcing, greedy and beam-search decoding.

Token conventions follow :mod:`jaxdl.data.sequences`: ``pad_id`` pads, the decoder starts from
``bos_id`` and a hypothesis ends at its first ``eos_id`` (tokens after it are ``pad_id``).
"""

import functools
from typing import Any

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import optax

from jaxdl.nn import attention as attn_lib
from jaxdl.nn import recurrent

Array = jax.Array

_CELL_CLASSES = {
    "rnn": recurrent.SimpleRNNCell,
    "lstm": recurrent.LSTMCell,
    "gru": recurrent.GRUCell,
}


class _DecoderStep(nn.Module):
    """One decoder step: y_{t-1} -> (carry, logits over the target vocabulary, attention)."""

    vocab_size: int
    embed_features: int
    features: int
    cell: str
    attention: str | None
    attention_features: int

    @nn.compact
    def __call__(self, carry, y_prev_B, memory, mask_BS):
        e_BE = nn.Embed(self.vocab_size, self.embed_features, name="embed")(y_prev_B)
        cell = _CELL_CLASSES[self.cell](self.features, name="cell")
        if self.attention is None:
            carry, s_BH = cell(carry, e_BE)
            return carry, (
                nn.Dense(self.vocab_size, name="out")(s_BH),
                jnp.zeros(mask_BS.shape, e_BE.dtype),
            )
        if self.attention == "additive":
            # Bahdanau: the context is computed from s_{t-1} and fed to the cell with y_{t-1}; the
            # keys U_a h_j come precomputed with the memory (see Seq2Seq.encode).
            memory_BSM, keys_BSN = memory
            attend = attn_lib.AdditiveAttention(self.attention_features, project_keys=False)
            ctx_BM, alpha_BS = attend(
                recurrent.carry_output(carry), keys_BSN, memory_BSM, mask_BT=mask_BS
            )
            carry, s_BH = cell(carry, jnp.concatenate([e_BE, ctx_BM], axis=-1))
            out = jnp.concatenate([s_BH, ctx_BM], axis=-1)
        else:
            # Luong: attend with s_t, then the attentional state
            # h~_t = tanh(W_c [c_t; s_t]) (eq. 5).
            carry, s_BH = cell(carry, e_BE)
            attend = attn_lib.make_attention(self.attention, self.attention_features)
            ctx_BM, alpha_BS = attend(s_BH, memory, mask_BT=mask_BS)
            out = jnp.tanh(
                nn.Dense(self.features, use_bias=False, name="W_c")(
                    jnp.concatenate([ctx_BM, s_BH], axis=-1)
                )
            )
        return carry, (nn.Dense(self.vocab_size, name="out")(out), alpha_BS)


class Seq2Seq(nn.Module):
    """Recurrent encoder-decoder with optional attention.

    Attributes:
      src_vocab_size, tgt_vocab_size: vocabulary sizes.
      embed_features: embedding size (source and target).
      features: hidden size of the encoder layers and the decoder cell.
      cell: "lstm", "gru" or "rnn".
      num_layers: encoder layers (the decoder is one cell started from the top layer's state).
      bidirectional: bidirectional encoder; its final states are bridged to the decoder by
        tanh(W [h_fwd; h_bwd]) as in Bahdanau et al. (appendix A.2.2).
      attention: None, "additive" (Bahdanau), "dot" or "general" (Luong).
      attention_features: width of the additive alignment model.
      precompute_inputs, lstm_feature_major_above: speed options of the encoder's ``RNNLayer``.
    """

    src_vocab_size: int
    tgt_vocab_size: int
    embed_features: int = 32
    features: int = 64
    cell: str = "lstm"
    num_layers: int = 1
    bidirectional: bool = False
    attention: str | None = None
    attention_features: int = 64
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None

    def setup(self):
        if self.cell not in _CELL_CLASSES:
            raise ValueError(f"cell={self.cell!r} is unknown; accepted: {', '.join(_CELL_CLASSES)}")
        self.src_embed = nn.Embed(self.src_vocab_size, self.embed_features)
        self.encoder = recurrent.StackedRNN(
            self.features,
            self.num_layers,
            self.cell,
            self.bidirectional,
            precompute_inputs=self.precompute_inputs,
            lstm_feature_major_above=self.lstm_feature_major_above,
        )
        if self.bidirectional:
            self.bridge = [
                nn.Dense(self.features, name=f"bridge_{i}")
                for i in range(2 if self.cell == "lstm" else 1)
            ]
        if self.attention == "additive":
            # U_a of the alignment model lives here: U_a h_j is computed once per source, not
            # once per step.
            M = self.features * (2 if self.bidirectional else 1)
            self.U_a = self.param(
                "U_a", nn.initializers.lecun_normal(), (M, self.attention_features)
            )
        self.decoder = _DecoderStep(
            self.tgt_vocab_size,
            self.embed_features,
            self.features,
            self.cell,
            self.attention,
            self.attention_features,
        )

    def encode(self, src_BS: Array, src_lengths: Array | None = None):
        """Encodes the source.

        Args:
          src_BS: (B, S) source token ids.
          src_lengths: (B,) valid lengths, or None.

        Returns:
          ``(memory, mask (B, S) bool, decoder carry)``: memory is the encoder states (B, S, M),
          M = features (2x if bi); with additive attention the pair (states, U_a h_j (B, S, n')).
        """
        B, S = src_BS.shape
        # without lengths the encoder takes its unmasked path (no per-step select)
        carries, memory = self.encoder(self.src_embed(src_BS), src_lengths)
        top = carries[-1]
        if self.bidirectional:
            leaves = [jnp.concatenate(pair, axis=-1) for pair in zip(*map(_as_tuple, top))]
            bridged = tuple(jnp.tanh(d(leaf)) for d, leaf in zip(self.bridge, leaves))
            top = bridged if self.cell == "lstm" else bridged[0]
        mask = (
            jnp.ones((B, S), bool)
            if src_lengths is None
            else jnp.arange(S)[None, :] < src_lengths[:, None]
        )
        if self.attention == "additive":
            memory = (memory, memory @ self.U_a)
        return memory, mask, top

    def decode_step(self, carry, y_prev_B, memory, mask_BS):
        """One decoder step on ``encode``'s memory.

        Returns ``(carry, (logits (B, V), weights (B, S)))``.
        """
        return self.decoder(carry, y_prev_B, memory, mask_BS)

    def __call__(
        self,
        src_BS: Array,
        src_lengths: Array | None,
        tgt_in_BT: Array,
        return_attention: bool = False,
        train: bool = False,
    ):
        """Teacher forcing: the decoder reads the true previous tokens.

        Args:
          src_BS: (B, S) source ids; src_lengths: (B,) or None.
          tgt_in_BT: (B, T) decoder inputs, ``[bos, y_1, ..., y_{T-1}]``.
          return_attention: also return the (B, T, S) attention weights.
          train: the call convention of every model; this one has no dropout or noise, so
            training and evaluation compute the same.

        Returns:
          logits (B, T, tgt_vocab_size) [and attention weights].
        """
        del train  # nothing differs between training and evaluation
        memory, mask, carry = self.encode(src_BS, src_lengths)
        body = lambda step, c, y: step(c, y, memory, mask)
        scan = nn.scan(
            body, variable_broadcast="params", split_rngs={"params": False}, in_axes=1, out_axes=1
        )
        _, (logits, alpha) = scan(self.decoder, carry, tgt_in_BT)
        return (logits, alpha) if return_attention else logits


def _as_tuple(carry: Any) -> tuple[Array, ...]:
    return carry if isinstance(carry, tuple) else (carry,)


def sequence_loss(logits_BTV: Array, targets_BT: Array, mask_BT: Array) -> Array:
    """Mean softmax cross-entropy over the valid target tokens.

    Args:
      logits_BTV: (B, T, V); targets_BT: (B, T) ints; mask_BT: (B, T) bool or 0/1.

    Returns:
      Scalar loss.
    """
    ce = optax.softmax_cross_entropy_with_integer_labels(logits_BTV, targets_BT)
    m = mask_BT.astype(ce.dtype)
    return jnp.sum(ce * m) / jnp.maximum(jnp.sum(m), 1.0)


def _until_eos(tokens_BT: Array, eos_id: int) -> Array:
    """(B, T) bool: True up to and including the first eos."""
    is_eos = (tokens_BT == eos_id).astype(jnp.int32)
    return (jnp.cumsum(is_eos, axis=1) - is_eos) == 0


def score_sequences(
    model: Seq2Seq, variables, src_BS, src_lengths, tokens_BT, bos_id: int, eos_id: int
) -> Array:
    """Log-probability of given outputs under teacher forcing, up to and including their first eos.

    Args:
      model: the :class:`Seq2Seq` module.
      variables: its variables (``{"params": ...}``).
      src_BS: (B, S) source token ids.
      src_lengths: (B,) source lengths (positions at or past a length are padding).
      tokens_BT: (B, T) output token ids to score; tokens after the first ``eos_id`` do not count.
      bos_id: the start token the decoder is fed first.
      eos_id: the end token.

    Returns:
      (B,) sum over t of log p(y_t | y_<t, x).
    """
    B = tokens_BT.shape[0]
    tgt_in = jnp.concatenate([jnp.full((B, 1), bos_id, tokens_BT.dtype), tokens_BT[:, :-1]], 1)
    logp = jax.nn.log_softmax(model.apply(variables, src_BS, src_lengths, tgt_in), axis=-1)
    tok_logp = jnp.take_along_axis(logp, tokens_BT[..., None], axis=-1)[..., 0]
    return jnp.sum(jnp.where(_until_eos(tokens_BT, eos_id), tok_logp, 0.0), axis=1)


def greedy_decode(
    model: Seq2Seq,
    variables,
    src_BS,
    src_lengths,
    max_len: int,
    bos_id: int,
    eos_id: int,
    pad_id: int = 0,
):
    """Greedy decoding: the most likely token at every step, pad after eos.

    Args:
      model: the :class:`Seq2Seq` module.
      variables: its variables (``{"params": ...}``).
      src_BS: (B, S) source token ids.
      src_lengths: (B,) source lengths (positions at or past a length are padding).
      max_len: number of decoding steps (output length).
      bos_id: the start token the decoder is fed first.
      eos_id: the end token; a sequence emits ``pad_id`` after it.
      pad_id: the token emitted after eos.

    Returns:
      ``(tokens (B, max_len), log-probability (B,))``.
    """
    memory, mask, carry = model.apply(variables, src_BS, src_lengths, method=Seq2Seq.encode)
    B = src_BS.shape[0]

    def body(state, _):
        carry, y_prev, done, score = state
        carry, (logits, _) = model.apply(
            variables, carry, y_prev, memory, mask, method=Seq2Seq.decode_step
        )
        logp = jax.nn.log_softmax(logits, axis=-1)
        y = jnp.argmax(logp, axis=-1)
        score = score + jnp.where(done, 0.0, jnp.take_along_axis(logp, y[:, None], -1)[:, 0])
        y = jnp.where(done, pad_id, y)
        return (carry, y, done | (y == eos_id), score), y

    init = (carry, jnp.full((B,), bos_id), jnp.zeros((B,), bool), jnp.zeros((B,)))
    (_, _, _, score), tokens_LB = lax.scan(body, init, None, length=max_len)
    return tokens_LB.T, score


def _gather_beams(tree, parent_BK: Array, B: int, K: int):
    """Reorders (B*K, ...) leaves so that beam k of batch b takes its parent's values."""

    def gather(x):
        xs = x.reshape((B, K) + x.shape[1:])
        idx = parent_BK.reshape((B, K) + (1,) * (x.ndim - 1))
        return jnp.take_along_axis(xs, idx, axis=1).reshape(x.shape)

    return jax.tree.map(gather, tree)


def beam_search(
    model: Seq2Seq,
    variables,
    src_BS,
    src_lengths,
    max_len: int,
    beam_size: int,
    bos_id: int,
    eos_id: int,
    pad_id: int = 0,
    length_penalty: float = 0.0,
):
    """Beam search over the decoder; a finished hypothesis keeps its score and emits pad.

    Scores are log-probabilities divided by the GNMT length penalty ((5 + |y|) / 6) ** alpha
    (Wu et al. 2016, eq. 14) when ``length_penalty = alpha > 0``.

    Args:
      model: the :class:`Seq2Seq` module.
      variables: its variables (``{"params": ...}``).
      src_BS: (B, S) source token ids.
      src_lengths: (B,) source lengths (positions at or past a length are padding).
      max_len: number of decoding steps (output length).
      beam_size: hypotheses K kept per example (1 gives greedy decoding).
      bos_id: the start token the decoder is fed first.
      eos_id: the end token; a finished hypothesis emits ``pad_id`` after it.
      pad_id: the token emitted after eos.
      length_penalty: GNMT's alpha; 0 ranks by plain log-probability.

    Returns:
      ``(tokens (B, K, max_len), scores (B, K))`` sorted best first.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    memory, mask, carry = model.apply(variables, src_BS, src_lengths, method=Seq2Seq.encode)
    B, K = src_BS.shape[0], beam_size
    tile = lambda x: jnp.repeat(x, K, axis=0)
    memory, mask, carry = jax.tree.map(tile, (memory, mask, carry))
    neg = -1e9  # finite, so that dead beams never produce NaN in sums

    def body(state, t):
        carry, y_prev, done, scores, tokens = state
        carry, (logits, _) = model.apply(
            variables, carry, y_prev.reshape(B * K), memory, mask, method=Seq2Seq.decode_step
        )
        logp = jax.nn.log_softmax(logits, axis=-1).reshape(B, K, -1)
        V = logp.shape[-1]
        only_pad = jnp.where(jnp.arange(V) == pad_id, 0.0, neg)
        logp = jnp.where(done[..., None], only_pad[None, None], logp)
        cand = (scores[..., None] + logp).reshape(B, K * V)
        scores, idx = lax.top_k(cand, K)
        parent, y = idx // V, idx % V
        carry = _gather_beams(carry, parent, B, K)
        done = jnp.take_along_axis(done, parent, axis=1)
        tokens = jnp.take_along_axis(tokens, parent[..., None], axis=1).at[:, :, t].set(y)
        return (carry, y, done | (y == eos_id), scores, tokens), None

    first = jnp.where(jnp.arange(K) == 0, 0.0, neg)  # only one live hypothesis at the start
    init = (
        carry,
        jnp.full((B, K), bos_id),
        jnp.zeros((B, K), bool),
        jnp.broadcast_to(first, (B, K)),
        jnp.full((B, K, max_len), pad_id),
    )
    (_, _, _, scores, tokens), _ = lax.scan(body, init, jnp.arange(max_len))
    if length_penalty > 0:
        length = jnp.sum(
            _until_eos(tokens.reshape(B * K, -1), eos_id) & (tokens.reshape(B * K, -1) != pad_id),
            axis=1,
        ).reshape(B, K)
        scores = scores / ((5.0 + length) / 6.0) ** length_penalty
        order = jnp.argsort(-scores, axis=1)
        scores = jnp.take_along_axis(scores, order, axis=1)
        tokens = jnp.take_along_axis(tokens, order[..., None], axis=1)
    return tokens, scores


MODELS = {
    "seq2seq": Seq2Seq,
    "seq2seq_bahdanau": functools.partial(Seq2Seq, bidirectional=True, attention="additive"),
    "seq2seq_luong": functools.partial(Seq2Seq, attention="general"),
}
