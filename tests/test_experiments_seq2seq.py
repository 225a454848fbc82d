"""End-to-end runs of the sequence-to-sequence experiments' :tiny variants, and their evaluation."""

import json

import chex
import numpy as np
import pytest

from jaxdl.data import sequences
from jaxdl.tasks import seq2seq
from jaxdl.train import sweep
from tests.configs import load_config

RUN_METRICS = (
    "greedy_exact_match",
    "beam_exact_match",
    "greedy_exact_match_longest",
    "beam_exact_match_longest",
)


def _check_results(result, config, workdir, labels, groups):
    """Keys, bucket coverage and ranges shared by every experiment; ``groups``: each run's prefix
    of its metrics in ``result["metrics"]`` (``""`` for a single run)."""
    for group in groups:
        for name in RUN_METRICS:
            value = result["metrics"][f"{group}{name}"]
            assert 0.0 <= value <= 1.0, (group, name, value)
    for label in labels:
        rows = [r for r in result["by_length"] if r["run"] == label]
        assert sum(r["n"] for r in rows) == config.data.num_test, (
            f"{label}: the buckets must cover the test set once"
        )
        assert 1 <= len(rows) <= config.eval.num_buckets
    assert (workdir / "accuracy_by_length.txt").exists()
    json.dumps(result)  # results.json content must serialise


def test_length_buckets_cover_the_range_in_equal_widths():
    buckets = seq2seq.length_buckets(np.arange(5, 31), 5)
    # 26 lengths in 5 buckets: ceil(linspace(5, 31, 6)) = 5, 11, 16, 21, 26, 31 (worked by hand).
    assert buckets == [(5, 10), (11, 15), (16, 20), (21, 25), (26, 30)], buckets
    assert seq2seq.length_buckets(np.array([7, 7, 7]), 4) == [(7, 7)]


def test_test_set_holds_out_training_sources():
    config = load_config("seq2seq_addition")
    train, test, src_voc, _ = seq2seq.load_data(config)
    decode = lambda rows: {src_voc.decode(r) for r in rows}
    assert not decode(train["src"]) & decode(test["src"]), (
        "test sources must not appear in training"
    )
    assert (
        train["src"].shape[1] == test["src"].shape[1]
        and train["tgt_out"].shape[1] == test["tgt_out"].shape[1]
    )
    # The targets are the sums of the sources (independent check by Python's int arithmetic).
    for s, t in zip(test["src"][:20], test["tgt_out"][:20]):
        a, b = src_voc.decode(s).split("+")
        assert sequences.Vocabulary("0123456789").decode(t) == str(int(a) + int(b))


def test_reversal_attention_vs_none_resumes_and_decodes(tmp_path):
    config = load_config("seq2seq_reversal")
    result = seq2seq.run(config, str(tmp_path))
    labels = ["attention=none", "attention=additive"]
    groups = ["model.attention=none/", "model.attention=additive/"]
    _check_results(result, config, tmp_path, labels, groups)
    assert [r["model.attention"] for r in result["runs"]] == ["none", "additive"]
    assert (tmp_path / "attention_attention-additive.png").exists()
    assert not (tmp_path / "attention_attention-none.png").exists(), "no heat map without attention"
    for i in range(2):
        rows = [json.loads(l) for l in open(tmp_path / f"run_{i}" / "metrics.jsonl")]
        losses = [r["loss"] for r in rows if r["split"] == "train"]
        assert losses[-1] < losses[0], f"run {i}: training loss did not decrease: {losses}"

    # Resume: the same workdir restores each run's final checkpoint and reports the same metrics.
    again = sweep.train(seq2seq.make_problem, config, str(tmp_path))
    for i, r in enumerate(result["runs"]):
        assert again.fits[i].resumed_from == config.train.steps
        assert again.run_metrics(i)["test_loss"] == pytest.approx(
            r["metrics"]["test_loss"], abs=1e-6
        )

    # Decoding the resumed attention model: exact match agrees with comparing decoded strings,
    # and a beam of one is greedy decoding (beam search's definition).
    cfg = sweep.run_config(config, again.overrides[1])
    _, test, src_voc, tgt_voc = seq2seq.load_data(cfg)
    model = seq2seq.make_model(cfg, src_voc, tgt_voc)
    params = again.fits[1].state.params
    decoded = seq2seq.decode_test_set(model, params, test, 1, 0.0, 32)
    np.testing.assert_array_equal(
        decoded["beam"], decoded["greedy"], err_msg="beam_size=1 must equal greedy"
    )
    by_string = [
        tgt_voc.decode(g) == src_voc.decode(s)[::-1] and sequences.EOS_ID in g
        for g, s in zip(decoded["greedy"], test["src"])
    ]
    np.testing.assert_array_equal(
        decoded["greedy_correct"], by_string, err_msg="exact match vs reversed strings"
    )
    assert result["metrics"]["model.attention=additive/greedy_exact_match"] == pytest.approx(
        np.mean(by_string)
    )
    chex.assert_shape(decoded["alpha"], test["tgt_out"].shape + test["src"].shape[1:])
    # Attention weights are a distribution over the valid source positions (Bahdanau eq. 6).
    valid = np.arange(test["src"].shape[1])[None, :] < test["src_lengths"][:, None]
    np.testing.assert_allclose(decoded["alpha"].sum(-1), 1.0, atol=1e-5)
    assert np.all(decoded["alpha"] * ~valid[:, None, :] == 0.0), "attention on padding"


@pytest.mark.parametrize("name", ["seq2seq_addition", "seq2seq_dates"])
def test_single_attention_run_end_to_end(tmp_path, name):
    config = load_config(name)
    result = seq2seq.run(config, str(tmp_path))
    _check_results(result, config, tmp_path, [f"attention={config.model.attention}"], [""])
    assert "runs" not in result and 0.0 <= result["metrics"]["test_token_accuracy"] <= 1.0
    assert result["metrics"]["test_sequence_accuracy"] <= result["metrics"]["test_token_accuracy"]
    assert (tmp_path / f"attention_attention-{config.model.attention}.png").exists()
    assert (tmp_path / "curves.png").exists()


def test_precomputed_attention_keys_give_the_same_context():
    import jax

    from jaxdl.nn import attention

    k_q, k_k, k_init = jax.random.split(jax.random.key(0), 3)
    query, keys = jax.random.normal(k_q, (2, 5)), jax.random.normal(k_k, (2, 4, 6))
    mask = np.array([[True] * 4, [True, True, False, False]])
    full = attention.AdditiveAttention(3)
    p = full.init(k_init, query, keys, mask_BT=mask)["params"]
    ctx, alpha = full.apply({"params": p}, query, keys, mask_BT=mask)
    # The seq2seq decoder passes U_a h_j computed once per source (Bahdanau et al. 2015, A.1.2).
    lean = attention.AdditiveAttention(3, project_keys=False)
    ctx2, alpha2 = lean.apply(
        {"params": {"W_a": p["W_a"], "v_a": p["v_a"]}}, query, keys @ p["U_a"], keys, mask_BT=mask
    )
    np.testing.assert_allclose(ctx2, ctx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alpha2, alpha, rtol=1e-5, atol=1e-6)
