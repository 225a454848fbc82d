"""Tests for jaxdl.nn.attention, jaxdl.models.seq2seq and the seq2seq string tasks."""

import datetime
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.data import sequences
from jaxdl.models import seq2seq
from jaxdl.nn import attention

B, S, Q, K = 2, 5, 3, 4
MASK = jnp.array([[True] * 5, [True, True, True, False, False]])


def _inputs():
    k1, k2 = jax.random.split(jax.random.key(0))
    return jax.random.normal(k1, (B, Q)), jax.random.normal(k2, (B, S, K))


def _np_softmax_masked(e, mask):
    e = np.where(mask, e, -np.inf)
    w = np.exp(e - e.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def test_additive_attention_matches_bahdanau_equation():
    q, keys = _inputs()
    mod = attention.AdditiveAttention(6)
    p = mod.init(jax.random.key(1), q, keys)["params"]
    ctx, alpha = mod.apply({"params": p}, q, keys, mask_BT=MASK)
    qn, kn = np.asarray(q), np.asarray(keys)
    e = np.tanh((qn @ p["W_a"])[:, None] + kn @ np.asarray(p["U_a"])) @ np.asarray(p["v_a"])
    alpha_ref = _np_softmax_masked(e, np.asarray(MASK))
    np.testing.assert_allclose(
        alpha, alpha_ref, atol=1e-6, err_msg="e_j = v_a^T tanh(W_a s + U_a h_j), Bahdanau A.1.2"
    )
    np.testing.assert_allclose(ctx, np.einsum("bt,btk->bk", alpha_ref, kn), atol=1e-6)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_attention_weights_sum_to_one_and_mask(score):
    q, keys = _inputs()
    if score == "dot":
        q = keys[:, 0] * 0.5
    mod = attention.MultiplicativeAttention(score)
    v = mod.init(jax.random.key(1), q, keys)
    _, alpha = mod.apply(v, q, keys, mask_BT=MASK)
    np.testing.assert_allclose(jnp.sum(alpha, -1), 1.0, rtol=1e-6)
    assert np.all(np.asarray(alpha)[1, 3:] == 0.0), "masked positions must get exactly zero"
    W = np.asarray(v["params"]["W_a"]) if score == "general" else np.eye(K)
    e = np.einsum("bq,qk,btk->bt", np.asarray(q), W, np.asarray(keys))
    np.testing.assert_allclose(
        alpha, _np_softmax_masked(e, np.asarray(MASK)), atol=1e-6, err_msg="Luong eq. 8"
    )


def test_masked_softmax_all_masked_row_is_zero_and_bad_kind_raises():
    w = attention.masked_softmax(jnp.ones((2, 3)), jnp.array([[True, False, True], [False] * 3]))
    np.testing.assert_allclose(w, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="accepted: additive, dot, general"):
        attention.make_attention("cosine", 4)
    q, keys = _inputs()
    mod = attention.AdditiveAttention(4)
    v = mod.init(jax.random.key(1), q, keys)
    for args, match in (
        ((q[:1], keys), "with the same B"),
        ((q, keys, keys[:, :2]), "values must be"),
        ((q, keys, None, MASK[:, :2]), "mask must be"),
    ):
        with pytest.raises(ValueError, match=match):  # no silent broadcasting
            mod.apply(v, *args)


# ---------------------------------------------------------------- seq2seq
def _tiny_model(attn="additive", cell="lstm", bidirectional=False, vocab=7):
    return seq2seq.Seq2Seq(
        vocab,
        vocab,
        embed_features=8,
        features=16,
        cell=cell,
        bidirectional=bidirectional,
        attention=attn,
        attention_features=8,
    )


def _batch():
    return (
        jnp.array([[3, 4, 5, 6], [4, 6, 0, 0]]),
        jnp.array([4, 2]),
        jnp.array([[1, 6, 5, 4], [1, 6, 4, 0]]),
    )


@pytest.mark.parametrize(
    "attn,cell,bi",
    [
        (None, "gru", False),
        ("additive", "lstm", True),
        ("general", "gru", True),
        ("dot", "lstm", False),
    ],
)
def test_seq2seq_shapes_and_attention(attn, cell, bi):
    model = _tiny_model(attn, cell, bi)
    src, src_len, tgt_in = _batch()
    v = jax.eval_shape(model.init, jax.random.key(0), src, src_len, tgt_in)
    assert ("bridge_0" in v["params"]) == bi
    logits, alpha = jax.jit(lambda v: model.apply(v, src, src_len, tgt_in, return_attention=True))(
        model.init(jax.random.key(0), src, src_len, tgt_in)
    )
    chex.assert_shape(logits, (2, 4, 7))
    chex.assert_shape(alpha, (2, 4, 4))
    if attn is not None:
        np.testing.assert_allclose(jnp.sum(alpha, -1), 1.0, rtol=1e-5)
        assert np.all(np.asarray(alpha)[1, :, 2:] == 0.0), "padded source positions get no weight"


def test_seq2seq_call_convention_and_encoder_speed_fields():
    # train=True changes nothing (no dropout); the encoder's speed fields change only the speed.
    src, src_len, tgt_in = _batch()
    model = _tiny_model("additive", "lstm", True)
    v = model.init(jax.random.key(0), src, src_len, tgt_in)
    ref = model.apply(v, src, src_len, tgt_in)
    chex.assert_trees_all_equal(ref, model.apply(v, src, src_len, tgt_in, train=True))
    fast = model.clone(precompute_inputs=False, lstm_feature_major_above=0)
    np.testing.assert_allclose(fast.apply(v, src, src_len, tgt_in), ref, atol=1e-5)
    assert fast.bind(v).encoder.lstm_feature_major_above == 0


def test_teacher_forcing_loss_decreases_on_reversal():
    pairs, src_voc, tgt_voc = sequences.make_string_task(
        "reversal", 0, 32, min_len=2, max_len=4, alphabet="abcd"
    )
    batch = {k: jnp.asarray(v) for k, v in sequences.encode_pairs(pairs, src_voc, tgt_voc).items()}
    model = _tiny_model("general", vocab=src_voc.size)
    params = model.init(jax.random.key(0), batch["src"], batch["src_lengths"], batch["tgt_in"])
    tx = optax.adam(3e-2)
    opt = tx.init(params)

    def loss_fn(p):
        logits = model.apply(p, batch["src"], batch["src_lengths"], batch["tgt_in"], train=True)
        return seq2seq.sequence_loss(logits, batch["tgt_out"], batch["tgt_mask"])

    @jax.jit
    def step(p, opt):
        loss, g = jax.value_and_grad(loss_fn)(p)
        updates, opt = tx.update(g, opt, p)
        return optax.apply_updates(p, updates), opt, loss

    losses = []
    for _ in range(15):
        params, opt, loss = step(params, opt)
        losses.append(float(loss))
    # Chance level is log(vocab) = log(7) ~ 1.95 at the start.
    assert abs(losses[0] - np.log(src_voc.size)) < 0.3, losses[0]
    assert losses[-1] < 0.8 * losses[0], losses


def test_greedy_equals_beam_of_one():
    model = _tiny_model("additive", "gru")
    src, src_len, tgt_in = _batch()
    v = model.init(jax.random.key(3), src, src_len, tgt_in)
    g_tok, g_score = jax.jit(lambda v: seq2seq.greedy_decode(model, v, src, src_len, 6, 1, 2))(v)
    b_tok, b_score = jax.jit(lambda v: seq2seq.beam_search(model, v, src, src_len, 6, 1, 1, 2))(v)
    np.testing.assert_array_equal(g_tok, b_tok[:, 0])
    np.testing.assert_allclose(g_score, b_score[:, 0], atol=1e-5)


def test_beam_search_finds_the_best_sequence():
    # Vocab: pad 0, bos 1, eos 2, symbols 3, 4; all 4^3 outputs of length 3 are enumerable, and a
    # beam as wide as that keeps every hypothesis, so its best must be the brute-force best.
    vocab, L = 5, 3
    model = _tiny_model("general", "lstm", vocab=vocab)
    src, src_len = jnp.array([[3, 4, 3]]), jnp.array([3])
    v = model.init(jax.random.key(7), src, src_len, jnp.ones((1, L), jnp.int32))
    tokens, scores = jax.jit(lambda v: seq2seq.beam_search(model, v, src, src_len, L, 4**L, 1, 2))(
        v
    )
    assert np.all(np.diff(np.asarray(scores[0])) <= 1e-6), "beams sorted best first"
    cands = np.array(list(itertools.product([0, 2, 3, 4], repeat=L)), np.int32)
    cands = cands[[_canonical(c) for c in cands]]
    brute = jax.jit(
        lambda v, c: seq2seq.score_sequences(
            model, v, jnp.repeat(src, len(c), 0), jnp.repeat(src_len, len(c), 0), c, 1, 2
        )
    )(v, cands)
    best = int(np.argmax(brute))
    np.testing.assert_array_equal(tokens[0, 0], cands[best])
    np.testing.assert_allclose(
        scores[0, 0], brute[best], atol=1e-4, err_msg="beam score = teacher-forced log-probability"
    )

    @jax.jit
    def narrow(v):
        tok, sc = seq2seq.beam_search(model, v, src, src_len, L, 3, 1, 2)
        return sc[0], seq2seq.score_sequences(
            model, v, jnp.repeat(src, 3, 0), jnp.repeat(src_len, 3, 0), tok[0], 1, 2
        )

    narrow_sc, rescored = narrow(v)
    np.testing.assert_allclose(narrow_sc, rescored, atol=1e-4)


def _canonical(c):
    """A well-formed hypothesis: pad only after an eos, symbols never after it."""
    ended = False
    for t in c:
        if ended and t != 0 or not ended and t == 0:
            return False
        ended = ended or t == 2
    return True


# ---------------------------------------------------------------- string tasks
def test_string_tasks_are_correct_and_deterministic():
    for s, t in sequences.addition_pairs(0, 50, max_digits=3):
        a, b = s.split("+")
        assert int(a) + int(b) == int(t)
    for s, t in sequences.date_pairs(0, 50):
        day = datetime.date.fromisoformat(t)
        assert str(day.day) in s and (str(day.year) in s or str(day.year)[2:] in s), (s, t)
    assert sequences.date_pairs(1, 5) == sequences.date_pairs(1, 5)
    pairs, sv, tv = sequences.make_string_task("date", 0, 20)
    batch = sequences.encode_pairs(pairs, sv, tv)
    assert batch["tgt_out"].shape == (20, 11) and batch["tgt_mask"].sum() == 20 * 11
    assert tv.decode(batch["tgt_out"][0]) == pairs[0][1]
    assert sv.decode(batch["src"][0]) == pairs[0][0]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tv.encode("x")
    with pytest.raises(ValueError, match="accepted: reversal, addition, date"):
        sequences.make_string_task("sorting", 0, 1)


def test_registry_builds():
    src, src_len, tgt_in = _batch()
    for _name, ctor in seq2seq.MODELS.items():
        model = ctor(src_vocab_size=7, tgt_vocab_size=9, embed_features=4, features=8)
        out = jax.eval_shape(
            lambda m=model: m.apply(
                m.init(jax.random.key(0), src, src_len, tgt_in), src, src_len, tgt_in
            )
        )
        chex.assert_shape(out, (2, 4, 9))


def test_sequence_loss_and_scores_match_torch_cross_entropy():
    # padding (target 0, masked out) must not count: torch's ignore_index is the reference
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype(np.float32)
    targets = rng.integers(1, 7, size=(3, 5))
    targets[0, 3:] = targets[2, 1:] = 0
    loss = seq2seq.sequence_loss(
        jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(targets != 0)
    )
    ref = torch.nn.functional.cross_entropy(
        torch.from_numpy(logits).reshape(-1, 7),
        torch.from_numpy(targets).reshape(-1),
        ignore_index=0,
    )
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-6)
    # score_sequences = -(summed cross-entropy) of the teacher-forced logits up to the first eos
    model = _tiny_model()
    src = jnp.asarray(rng.integers(3, 7, size=(2, 4)))
    tokens = jnp.asarray([[4, 5, 2, 6], [3, 2, 2, 2]])  # eos_id 2: the last tokens do not count
    v = model.init(jax.random.key(0), src, jnp.array([4, 3]), tokens)
    scores = seq2seq.score_sequences(model, v, src, jnp.array([4, 3]), tokens, bos_id=1, eos_id=2)
    tgt_in = jnp.concatenate([jnp.ones((2, 1), tokens.dtype), tokens[:, :-1]], 1)
    logits = torch.from_numpy(np.array(model.apply(v, src, jnp.array([4, 3]), tgt_in)))
    for b, n in enumerate((3, 2)):
        ce = torch.nn.functional.cross_entropy(
            logits[b, :n], torch.from_numpy(np.asarray(tokens[b, :n], np.int64)), reduction="sum"
        )
        np.testing.assert_allclose(scores[b], -ce.item(), rtol=1e-5)
