"""Tests for jaxdl.nn.recurrent, jaxdl.models.recurrent and the sequence data sets."""

import subprocess
import sys

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.test_util import check_grads
import numpy as np
import pytest

from jaxdl.data import japanese_vowels, sequences, sunspots
from jaxdl.models import recurrent as rmodels
from jaxdl.nn import lstm_bptt, recurrent
from tests import subprocesses

B, T, D, H = 3, 6, 4, 5
CELLS = {"rnn": recurrent.SimpleRNNCell, "lstm": recurrent.LSTMCell, "gru": recurrent.GRUCell}


def _x(seed=0, shape=(B, T, D)):
    return jax.random.normal(jax.random.key(seed), shape)


def _perturb(params, seed=1, scale=0.3):
    """Random non-zero parameters (biases too), so every term of the equations matters."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(
        tree, [scale * jax.random.normal(k, l.shape, l.dtype) for k, l in zip(keys, leaves)]
    )


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _np_step(cell, p, carry, x, reset_after=False):
    """The lecture's equations, one step, in NumPy."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    if cell == "rnn":
        h = np.tanh(x @ p["W"] + carry @ p["U"] + p["b"])
        return h, h
    if cell == "lstm":
        c, h = carry
        g = {n: x @ p[f"W_{n}"] + h @ p[f"U_{n}"] + p[f"b_{n}"] for n in "fioc"}
        f, i, o, c_tilde = _sig(g["f"]), _sig(g["i"]), _sig(g["o"]), np.tanh(g["c"])
        c = f * c + i * c_tilde
        h = o * np.tanh(c)
        return (c, h), h
    h = carry
    n_h = h.shape[-1]
    hx = np.concatenate([h, x], -1)
    z, r = _sig(hx @ p["W_z"] + p["b_z"]), _sig(hx @ p["W_r"] + p["b_r"])
    if reset_after:
        h_tilde = np.tanh(x @ p["W_h"][n_h:] + p["b_h"] + r * (h @ p["W_h"][:n_h] + p["b_hh"]))
    else:
        h_tilde = np.tanh(np.concatenate([r * h, x], -1) @ p["W_h"] + p["b_h"])
    h = (1 - z) * h + z * h_tilde
    return h, h


@pytest.mark.parametrize(
    "cell,reset_after", [("rnn", False), ("lstm", False), ("gru", False), ("gru", True)]
)
def test_cell_matches_numpy_equations(cell, reset_after):
    kw = {"reset_after": True} if reset_after else {}
    mod = CELLS[cell](H, **kw)
    x = np.asarray(_x(), np.float64)
    carry = mod.initialize_carry(jax.random.key(0), x[:, 0].shape)
    params = _perturb(mod.init(jax.random.key(0), carry, x[:, 0])["params"])
    np_carry = jax.tree.map(np.asarray, carry)
    for t in range(T):
        carry, h = mod.apply({"params": params}, carry, x[:, t])
        np_carry, h_ref = _np_step(cell, params, np_carry, x[:, t], reset_after)
        np.testing.assert_allclose(
            h, h_ref, atol=1e-5, err_msg=f"{cell} step {t} vs NumPy of the lecture's equations"
        )
    chex.assert_trees_all_close(carry, np_carry, atol=1e-5)


def test_parameter_names_and_shapes_follow_the_lecture():
    x = _x()[:, 0]
    shapes = lambda m: jax.tree.map(
        jnp.shape,
        jax.eval_shape(m.init, jax.random.key(0), m.initialize_carry(None, x.shape), x)["params"],
    )
    lstm = shapes(recurrent.LSTMCell(H))
    assert lstm == {
        **{f"W_{g}": (D, H) for g in "fioc"},
        **{f"U_{g}": (H, H) for g in "fioc"},
        **{f"b_{g}": (H,) for g in "fioc"},
    }
    gru = shapes(recurrent.GRUCell(H))
    assert gru == {**{f"W_{g}": (H + D, H) for g in "zrh"}, **{f"b_{g}": (H,) for g in "zrh"}}
    assert shapes(recurrent.GRUCell(H, reset_after=True))["b_hh"] == (H,)
    assert shapes(recurrent.SimpleRNNCell(H)) == {"W": (D, H), "U": (H, H), "b": (H,)}
    assert recurrent.LSTMCell(H).num_feature_axes == 1


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_update_bias_keeps_the_carry_at_initialisation(reset_after):
    # z_t is the share replaced: with zero weights, h_t = (1 - σ(b_z)) h_{t-1} + σ(b_z) tanh(0).
    zero = nn.initializers.zeros_init()
    h0 = np.ones((B, H), np.float32)
    x = np.zeros((B, D), np.float32)
    for b_z, kept in ((0.0, 0.5), (-1.0, _sig(1.0)), (-2.0, _sig(2.0))):
        mod = recurrent.GRUCell(H, reset_after=reset_after, update_bias=b_z, kernel_init=zero)
        variables = mod.init(jax.random.key(0), h0, x)
        np.testing.assert_array_equal(variables["params"]["b_z"], np.full(H, b_z, np.float32))
        _, h = mod.apply(variables, h0, x)
        np.testing.assert_allclose(h, kept * h0, rtol=1e-6, err_msg=f"b_z = {b_z}: kept 1 - σ(b_z)")
    assert recurrent.GRUCell(H).update_bias < 0, "the default must keep more than half the carry"
    layer = recurrent.RNNLayer(H, "gru", reset_after=reset_after)
    b_z = layer.init(jax.random.key(0), _x())["params"]["b_z"]
    np.testing.assert_array_equal(b_z, np.full(H, recurrent.GRUCell(H).update_bias, np.float32))


@pytest.mark.parametrize(
    "cell,reset_after", [("rnn", False), ("lstm", False), ("gru", False), ("gru", True)]
)
def test_flax_rnn_wrapper_equals_scan_layer(cell, reset_after):
    kw = {"reset_after": True} if reset_after else {}
    x = _x()
    wrapped = nn.RNN(CELLS[cell](H, **kw), return_carry=True)
    params = _perturb(wrapped.init(jax.random.key(0), x)["params"]["cell"])
    carry_ref, h_ref = wrapped.apply({"params": {"cell": params}}, x)
    for pre in (True, False):
        layer = recurrent.RNNLayer(H, cell, precompute_inputs=pre, **kw)
        carry, h = layer.apply({"params": params}, x)
        chex.assert_trees_all_close((carry, h), (carry_ref, h_ref), atol=1e-5)


# ---------------------------------------------------------------- PyTorch references
def _torch_lstm_params(lstm):
    """torch.nn.LSTM (gate rows i, f, g, o) -> our per-gate names."""
    w_ih, w_hh = lstm.weight_ih_l0.detach().numpy(), lstm.weight_hh_l0.detach().numpy()
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy()
    p = {}
    for k, g in enumerate("ifco"):
        rows = slice(k * H, (k + 1) * H)
        p[f"W_{g}"], p[f"U_{g}"], p[f"b_{g}"] = w_ih[rows].T, w_hh[rows].T, b[rows]
    return p


def _torch_gru_params(gru):
    """torch.nn.GRU (rows r, z, n; h' = (1 - z) n + z h) -> our reset_after GRU
    (z = 1 - z_torch)."""
    w_ih, w_hh = gru.weight_ih_l0.detach().numpy(), gru.weight_hh_l0.detach().numpy()
    b_ih, b_hh = gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy()
    blk = lambda a, k: a[k * H : (k + 1) * H]
    W = lambda k: np.concatenate([blk(w_hh, k).T, blk(w_ih, k).T], axis=0)
    return {
        "W_r": W(0),
        "b_r": blk(b_ih, 0) + blk(b_hh, 0),
        "W_z": -W(1),
        "b_z": -(blk(b_ih, 1) + blk(b_hh, 1)),
        "W_h": W(2),
        "b_h": blk(b_ih, 2),
        "b_hh": blk(b_hh, 2),
    }


@pytest.mark.parametrize(
    "hand_bptt,lstm_layout",
    [(True, "batch_major"), (True, "feature_major"), (False, "batch_major")],
    indirect=["lstm_layout"],
)
def test_lstm_layer_matches_torch(hand_bptt, lstm_layout):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.LSTM(D, H, batch_first=True)
    x = np.asarray(_x())
    out, (h_n, c_n) = ref(torch.from_numpy(x.copy()))
    layer = recurrent.RNNLayer(H, "lstm", hand_bptt=hand_bptt, lstm_feature_major_above=lstm_layout)
    (c, h), hs = layer.apply({"params": _torch_lstm_params(ref)}, x)
    np.testing.assert_allclose(hs, out.detach().numpy(), atol=1e-5, err_msg="vs torch.nn.LSTM")
    np.testing.assert_allclose(c, c_n[0].detach().numpy(), atol=1e-5, err_msg="c_T vs torch")
    np.testing.assert_allclose(h, h_n[0].detach().numpy(), atol=1e-5, err_msg="h_T vs torch")


def test_gru_reset_after_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.GRU(D, H, batch_first=True)
    x = np.asarray(_x())
    out, h_n = ref(torch.from_numpy(x.copy()))
    params = _torch_gru_params(ref)
    _, hs = recurrent.RNNLayer(H, "gru", reset_after=True).apply({"params": params}, x)
    np.testing.assert_allclose(hs, out.detach().numpy(), atol=1e-5, err_msg="vs torch.nn.GRU")
    cell = recurrent.GRUCell(H, reset_after=True)
    h, _ = cell.apply({"params": params}, jnp.zeros((B, H)), x[:, 0])
    np.testing.assert_allclose(h, out[:, 0].detach().numpy(), atol=1e-5, err_msg="cell vs torch")


# ---------------------------------------------------------------- masks and directions
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padding_gives_the_unpadded_result(cell):
    x = _x()
    lengths = jnp.array([T, 2, 4])
    layer = recurrent.RNNLayer(H, cell)
    params = _perturb(layer.init(jax.random.key(0), x)["params"])
    carry, hs = layer.apply({"params": params}, x, lengths)
    for b in range(B):
        L = int(lengths[b])
        carry_b, hs_b = layer.apply({"params": params}, x[b : b + 1, :L])
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[b : b + 1], carry), carry_b, atol=1e-6)
        np.testing.assert_allclose(hs[b, :L], hs_b[0], atol=1e-6)
        assert np.all(np.asarray(hs[b, L:]) == 0.0), "outputs past the length must be zero"


def test_reverse_and_bidirectional_respect_lengths():
    x = _x()
    lengths = jnp.array([T, 3, 5])
    fwd = recurrent.RNNLayer(H, "gru")
    params = _perturb(fwd.init(jax.random.key(0), x)["params"])
    carry, hs = recurrent.RNNLayer(H, "gru", reverse=True).apply({"params": params}, x, lengths)
    for b in range(B):
        L = int(lengths[b])
        c_ref, h_ref = fwd.apply({"params": params}, x[b : b + 1, :L][:, ::-1])
        np.testing.assert_allclose(
            hs[b, :L],
            h_ref[0, ::-1],
            atol=1e-6,
            err_msg="reverse = forward over the flipped valid part",
        )
        np.testing.assert_allclose(carry[b], c_ref[0], atol=1e-6)
    stack = recurrent.StackedRNN(H, num_layers=2, cell="lstm", bidirectional=True)
    v = stack.init(jax.random.key(0), x)
    carries, out = stack.apply(v, x, lengths)
    chex.assert_shape(out, (B, T, 2 * H))
    assert len(carries) == 2 and len(carries[0]) == 2
    assert set(v["params"]) == {"l0_fwd", "l0_bwd", "l1_fwd", "l1_bwd"}
    assert np.all(np.asarray(out[1, 3:]) == 0.0)


def test_reverse_padded_is_an_involution_within_lengths():
    x = jnp.arange(2 * 4, dtype=jnp.float32).reshape(2, 4)
    r = recurrent.reverse_padded(x, jnp.array([4, 2]))
    np.testing.assert_array_equal(r, [[3, 2, 1, 0], [5, 4, 6, 7]])
    np.testing.assert_array_equal(recurrent.reverse_padded(r, jnp.array([4, 2])), x)


# ---------------------------------------------------------------- gradients
@pytest.fixture(params=["batch_major", "feature_major"])
def lstm_layout(request):
    """The ``lstm_feature_major_above`` value that runs a hand-BPTT test in each loop layout of
    jaxdl.nn.lstm_bptt: 0 (feature-major at every hidden size) or None (batch-major)."""
    return 0 if request.param == "feature_major" else None


@pytest.mark.parametrize(
    "cell,hand,lstm_layout",
    [
        ("rnn", False, "batch_major"),
        ("lstm", True, "batch_major"),
        ("lstm", True, "feature_major"),
        ("lstm", False, "batch_major"),
        ("gru", False, "batch_major"),
    ],
    indirect=["lstm_layout"],
)
def test_bptt_gradients_match_finite_differences(cell, hand, lstm_layout):
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(0), (2, 5, 3), jnp.float64)
        layer = recurrent.RNNLayer(
            4, cell, hand_bptt=hand, param_dtype=jnp.float64, lstm_feature_major_above=lstm_layout
        )
        params = _perturb(layer.init(jax.random.key(0), x)["params"], scale=0.5)
        lengths = jnp.array([5, 3])

        def loss(p, x):
            carry, hs = layer.apply({"params": p}, x, lengths)
            return jnp.sum(jnp.sin(hs)) + jnp.sum(recurrent.carry_output(carry) ** 2)

        check_grads(
            jax.jit(loss), (params, x), order=1, modes=["rev"], eps=1e-5, atol=1e-6, rtol=1e-5
        )


@pytest.mark.parametrize("pre", [True, False])
@pytest.mark.parametrize("masked", [True, False])
def test_hand_bptt_equals_autodiff(pre, masked, lstm_layout):
    x = _x()
    lengths = jnp.array([T, 2, 4]) if masked else None
    layers = [
        recurrent.RNNLayer(
            H, "lstm", hand_bptt=h, precompute_inputs=pre, lstm_feature_major_above=lstm_layout
        )
        for h in (1, 0)
    ]
    params = _perturb(layers[0].init(jax.random.key(0), x)["params"])
    c0 = (
        jax.random.normal(jax.random.key(3), (B, H)),
        jax.random.normal(jax.random.key(4), (B, H)),
    )

    def loss(layer, p, x, c0):
        (c, h), hs = layer.apply({"params": p}, x, lengths, c0)
        return jnp.sum(hs * jnp.cos(hs)) + jnp.sum(c * h) + jnp.sum(c)

    g_hand, g_auto = (
        jax.grad(lambda *a, l=l: loss(l, *a), argnums=(0, 1, 2))(params, x, c0) for l in layers
    )
    chex.assert_trees_all_close(g_hand, g_auto, atol=1e-5, rtol=1e-5)


def test_hand_bptt_under_vmap_over_runs(lstm_layout):
    # A sweep vmaps the step over stacked parameters; the custom_vjp must batch like autodiff.
    x = _x()
    hand, auto = (
        recurrent.RNNLayer(H, "lstm", hand_bptt=h, lstm_feature_major_above=lstm_layout)
        for h in (True, False)
    )
    runs = [_perturb(hand.init(jax.random.key(0), x)["params"], seed=s) for s in (2, 3)]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *runs)
    grad = lambda l: jax.jit(
        jax.vmap(
            jax.grad(lambda p: jnp.sum(l.apply({"params": p}, x, jnp.array([T, 2, 4]))[1] ** 2))
        )
    )
    chex.assert_trees_all_close(grad(hand)(stacked), grad(auto)(stacked), atol=1e-5, rtol=1e-5)


_SHARDED_BPTT = """
import sys
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from jaxdl.nn import recurrent
from jaxdl.train import sharding
above = 0 if sys.argv[1] == "feature_major" else None
x = jax.random.normal(jax.random.key(0), (4, 7, 3))
layer = recurrent.RNNLayer(
    5, "lstm", hand_bptt=True, precompute_inputs=False, lstm_feature_major_above=above
)
params = layer.init(jax.random.key(1), x)["params"]
grad = jax.jit(jax.grad(lambda p, x: jnp.sum(jnp.sin(layer.apply({"params": p}, x)[1]))))
mesh = sharding.make_mesh("data")
xs = jax.device_put(x, NamedSharding(mesh, P("data")))
ps = jax.device_put(params, NamedSharding(mesh, P()))
hlo = grad.lower(ps, xs).compile().as_text()
one, two = grad(params, jax.device_put(x, jax.devices()[0])), grad(ps, xs)
err = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in
          zip(jax.tree.leaves(one), jax.tree.leaves(two)))
print(len(jax.devices()), hlo.count("all-gather("), hlo.count("all-reduce("), err)
"""


@pytest.mark.parametrize("above,features,expected", [(None, 5, False), (4, 5, True), (5, 5, False)])
def test_feature_major_when_the_hidden_size_exceeds_the_field(
    monkeypatch, above, features, expected
):
    seen = []

    def spy(*args, feature_major=False, **kwargs):
        seen.append(feature_major)
        return lstm_bptt.lstm_recurrence(*args, feature_major=feature_major, **kwargs)

    monkeypatch.setattr(recurrent, "lstm_recurrence", spy)
    layer = recurrent.RNNLayer(features, "lstm", lstm_feature_major_above=above)
    layer.init(jax.random.key(0), _x())
    assert seen == [expected]


@pytest.mark.parametrize("pre", [True, False])
@pytest.mark.parametrize("above", [None, 0])
def test_stack_and_models_pass_the_speed_fields_to_every_layer(pre, above):
    fields = {"precompute_inputs": pre, "lstm_feature_major_above": above}
    x, tokens, lengths = _x(), jnp.zeros((B, T), jnp.int32), jnp.array([T, 2, 4])
    built = [
        (recurrent.StackedRNN, dict(features=H, num_layers=2, bidirectional=True), x),
        (rmodels.SequenceClassifier, dict(num_classes=3, features=H, num_layers=2), x),
        (rmodels.SequenceRegressor, dict(features=H), x),
        (rmodels.SequenceTagger, dict(num_outputs=2, features=H), x),
        (rmodels.LanguageModel, dict(vocab_size=7, embed_features=4, features=H), tokens),
    ]
    for cls, kwargs, inp in built:
        layers = []

        def record(f, args, kw, context, layers=layers):
            if isinstance(context.module, recurrent.RNNLayer):
                layers.append(context.module)
            return f(*args, **kw)

        model, reference = cls(**kwargs, **fields), cls(**kwargs)
        variables = reference.init(jax.random.key(0), inp, lengths)
        with nn.intercept_methods(record):
            out = model.apply(variables, inp, lengths)
        assert layers and all(
            (l.precompute_inputs, l.lstm_feature_major_above) == (pre, above) for l in layers
        ), cls.__name__
        chex.assert_trees_all_close(out, reference.apply(variables, inp, lengths), atol=1e-5)
    with pytest.raises(ValueError, match="set it on the StackedRNN"):
        recurrent.StackedRNN(H, layer_kwargs={"precompute_inputs": False}).init(
            jax.random.key(0), x
        )


@pytest.mark.parametrize("layout", ["batch_major", "feature_major"])
def test_hand_bptt_with_the_batch_split_over_devices(layout):
    # Data parallelism (jit with a batch-sharded input): each device runs the recurrence of its
    # own rows and only the weight gradients are all-reduced; nothing is gathered.
    env = subprocesses.env(JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="2")
    proc = subprocess.run(
        [sys.executable, "-c", _SHARDED_BPTT, layout],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    devices, gathers, reduces, err = proc.stdout.split()
    assert (devices, gathers) == ("2", "0") and int(reduces) >= 1, proc.stdout
    assert float(err) < 1e-5, proc.stdout


def test_input_gradient_norms_locates_the_dependence():
    x = _x()
    layer = recurrent.RNNLayer(H, "rnn", recurrent_kernel_init=nn.initializers.zeros_init())
    params = layer.init(jax.random.key(0), x)["params"]  # U = 0: h_T depends on x_T only
    loss = lambda x: jnp.sum(layer.apply({"params": params}, x)[0])
    norms = recurrent.input_gradient_norms(loss, x)
    chex.assert_shape(norms, (T,))
    assert float(norms[-1]) > 0 and np.all(np.asarray(norms[:-1]) == 0)


def test_bad_cell_and_rank_raise_value_error():
    with pytest.raises(ValueError, match="accepted: rnn, lstm, gru"):
        recurrent.RNNLayer(H, "tanh").init(jax.random.key(0), _x())
    with pytest.raises(ValueError, match="rank 3"):
        recurrent.RNNLayer(H).init(jax.random.key(0), _x()[0])
    with pytest.raises(ValueError, match="features >= 1"):
        recurrent.RNNLayer(0).init(jax.random.key(0), _x())


def test_lengths_are_checked_and_clipped_under_jit():
    x = _x()
    stack = recurrent.StackedRNN(H, num_layers=1, cell="lstm", bidirectional=True)
    v = stack.init(jax.random.key(0), x)
    for bad, match in (
        ([T + 1, 3, 5], rf"in \[0, {T}\]"),
        ([-1, 3, 5], rf"in \[0, {T}\]"),
        ([T, 3], "3 integers"),
        ([1.0, 2.0, 3.0], "3 integers"),
    ):
        with pytest.raises(ValueError, match=match):
            stack.apply(v, x, jnp.array(bad))
    # traced lengths cannot be checked: past T they count as T (the reversed direction read NaN)
    _, out = jax.jit(stack.apply)(v, x, jnp.array([T + 2, 3, 5]))
    _, ref = stack.apply(v, x, jnp.array([T, 3, 5]))
    np.testing.assert_allclose(out, ref, atol=1e-6)


# ---------------------------------------------------------------- models
def test_every_registered_model_builds_and_runs():
    x, tokens = _x(), jnp.zeros((B, T), jnp.int32)
    lengths = jnp.array([T, 2, 4])
    for name, ctor in rmodels.MODELS.items():
        if name.endswith("_lm"):
            model, inp, want = ctor(vocab_size=7, embed_features=4, features=H), tokens, (B, T, 7)
        elif name.endswith("_classifier"):
            model, inp, want = ctor(num_classes=3, features=H, bidirectional=True), x, (B, 3)
        elif name.endswith("_regressor"):
            model, inp, want = ctor(features=H, pooling="mean"), x, (B, 1)
        else:
            model, inp, want = ctor(num_outputs=2, features=H, num_layers=2), x, (B, T, 2)
        # Shapes for every model without compiling; values for one model per recurrent cell.
        fwd = lambda m=model, i=inp: m.apply(m.init(jax.random.key(0), i, lengths), i, lengths)
        if name.startswith("lstm_") or name in ("rnn_lm", "gru_classifier"):
            out = jax.jit(fwd)()
            chex.assert_tree_all_finite(out)
        else:
            out = jax.eval_shape(fwd)
        chex.assert_shape(out, want)


def test_classifier_ignores_padding():
    model = rmodels.SequenceClassifier(num_classes=3, features=H, bidirectional=True)
    x = _x()
    v = model.init(jax.random.key(0), x)
    short = model.apply(v, x[:1, :3])
    padded = model.apply(v, x[:1].at[:, 3:].set(9.0), jnp.array([3]))
    np.testing.assert_allclose(short, padded, atol=1e-5)


def test_train_switches_dropout_on():
    x, tokens, lengths = _x(), jnp.zeros((B, T), jnp.int32), jnp.array([T, 2, 4])
    for model, inp in (
        (rmodels.SequenceClassifier(features=H, num_layers=2, dropout_rate=0.5), x),
        (rmodels.LanguageModel(7, embed_features=4, features=H, dropout_rate=0.5), tokens),
        (recurrent.StackedRNN(H, num_layers=2, dropout_rate=0.5), x),
    ):
        v = model.init(jax.random.key(0), inp, lengths)
        evaluated = model.apply(v, inp, lengths, train=False)
        chex.assert_trees_all_equal(evaluated, model.apply(v, inp, lengths))  # the default
        trained = model.apply(v, inp, lengths, train=True, rngs={"dropout": jax.random.key(1)})
        assert not np.allclose(jax.tree.leaves(trained)[-1], jax.tree.leaves(evaluated)[-1]), (
            f"{type(model).__name__}: train=True must apply dropout"
        )


def test_sequence_classifiers_default_num_classes_like_the_image_classifiers():
    from jaxdl import models

    for name in ("sequence_classifier", "rnn_classifier", "lstm_classifier", "gru_classifier"):
        assert models.get(name).num_classes == models.get("cnn").num_classes == 10, name
    with pytest.raises(ValueError, match="num_classes must be a positive int, got 0"):
        rmodels.SequenceClassifier(num_classes=0, features=H).init(jax.random.key(0), _x())


# ---------------------------------------------------------------- data
def test_adding_problem_targets_are_the_marked_sums():
    x, y = sequences.adding_problem(jax.random.key(0), 16, 10)
    x = np.asarray(x)
    marks = x[..., 1]
    assert np.all(marks.sum(1) == 2) and np.all(marks[:, :5].sum(1) == 1)
    np.testing.assert_allclose(y, (x[..., 0] * marks).sum(1), rtol=1e-6)
    assert float(sequences.adding_success_rate(y, y)) == 1.0


def test_copy_task_layout():
    x, y = sequences.copy_task(jax.random.key(0), 4, T=5, num_symbols=8, copy_length=3)
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == y.shape == (4, 5 + 6)
    np.testing.assert_array_equal(y[:, -3:], x[:, :3])
    assert np.all(x[:, 3 + 4] == 9) and np.all(y[:, :-3] == 0) and np.all(x[:, 3:7] == 0)


def test_ts_parser_and_japanese_vowels(tmp_path):
    text = "# c\n@problemName X\n@dimensions 2\n@data\n1,2,3:4,5,6:2\n7,8:9,10:1\n"
    series, labels = japanese_vowels.parse_ts(text)
    np.testing.assert_array_equal(series[0], [[1, 4], [2, 5], [3, 6]])
    assert labels == ["2", "1"]
    (tmp_path / "JapaneseVowels_TRAIN.ts").write_text(text)
    x, lengths, y = japanese_vowels.load_japanese_vowels("train", str(tmp_path))
    assert x.shape == (2, 29, 2) and list(lengths) == [3, 2] and list(y) == [1, 0]


def test_bundled_japanese_vowels_match_the_uci_description():
    try:
        x, lengths, y = japanese_vowels.load_japanese_vowels("train")
    except ModuleNotFoundError as err:
        pytest.skip(str(err))
    # Counts from the UCI description: 270 training utterances, 30 per speaker, lengths 7..29.
    assert x.shape == (270, 29, 12) and np.all(np.bincount(y) == 30) and lengths.min() >= 7


def test_sunspots_loader_and_windows(tmp_path):
    (tmp_path / "s.csv").write_text('"YEAR","SUNACTIVITY"\n1700,5\n1701,11\n1702,16\n1703,23\n')
    years, activity = sunspots.load_sunspots(str(tmp_path / "s.csv"))
    np.testing.assert_array_equal(years, [1700, 1701, 1702, 1703])
    x, y = sunspots.forecasting_windows(activity, window=2)
    np.testing.assert_array_equal(x[..., 0], [[5, 11], [11, 16]])
    np.testing.assert_array_equal(y[:, 0], [16, 23])
    with pytest.raises(ValueError, match="do not fit"):
        sunspots.forecasting_windows(activity, window=4)
