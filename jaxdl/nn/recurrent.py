"""Recurrent cells and sequence layers written from the lecture's equations: RNN, LSTM, GRU.

Cells follow flax's cell convention (``carry, h = cell.apply(variables, carry, x_t)``), so
``flax.linen.RNN(LSTMCell(64))`` works. :class:`RNNLayer` is the fast path over a whole sequence:
per-gate weights are fused into one input and one recurrent matmul per step, the input
projections of all steps can be one matmul outside the recurrence (``precompute_inputs``), and the
LSTM has a hand-derived BPTT backward (:func:`lstm_recurrence`) in either loop layout
(``lstm_feature_major_above``). Either choice of each gives the same results up to float
rounding; which is faster depends on the machine, so they are plain fields that the backend policy
(:mod:`jaxdl.backend`) sets. Cells and layers create the same named parameters, so one set of
weights serves both; :class:`StackedRNN` adds layers, both directions and padding masks.
"""

from typing import Any, Callable

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from jaxdl.nn.lstm_bptt import lstm_recurrence, lstm_step

Array = jax.Array
Initializer = Callable[..., Array]

_CELLS = ("rnn", "lstm", "gru")
# Column order of the fused gate matrices; same order as torch.nn.LSTM / torch.nn.GRU blocks.
LSTM_GATES = ("i", "f", "c", "o")
GRU_GATES = ("r", "z", "h")


def _check_cell(cell: str) -> None:
    if cell not in _CELLS:
        raise ValueError(f"cell={cell!r} is not a recurrent cell; accepted: {', '.join(_CELLS)}")


def _make_params(m: Any, cell: str, in_features: int) -> dict[str, Array]:
    """Creates the lecture-named parameters of ``cell`` on module ``m`` (a cell or a layer)."""
    H, D = m.features, in_features
    p = {}
    if cell == "rnn":
        p["W"] = m.param("W", m.kernel_init, (D, H), m.param_dtype)
        p["U"] = m.param("U", m.recurrent_kernel_init, (H, H), m.param_dtype)
        p["b"] = m.param("b", m.bias_init, (H,), m.param_dtype)
    elif cell == "lstm":
        for g in LSTM_GATES:
            p[f"W_{g}"] = m.param(f"W_{g}", m.kernel_init, (D, H), m.param_dtype)
            p[f"U_{g}"] = m.param(f"U_{g}", m.recurrent_kernel_init, (H, H), m.param_dtype)
            b_init = nn.initializers.constant(m.forget_bias) if g == "f" else m.bias_init
            p[f"b_{g}"] = m.param(f"b_{g}", b_init, (H,), m.param_dtype)
    else:
        for g in GRU_GATES:
            p[f"W_{g}"] = m.param(f"W_{g}", m.kernel_init, (H + D, H), m.param_dtype)
            b_init = nn.initializers.constant(m.update_bias) if g == "z" else m.bias_init
            p[f"b_{g}"] = m.param(f"b_{g}", b_init, (H,), m.param_dtype)
        if m.reset_after:
            p["b_hh"] = m.param("b_hh", m.bias_init, (H,), m.param_dtype)
    return p


def _fuse(cell: str, p: dict[str, Array]) -> dict[str, Array]:
    """Stacks the per-gate parameters into input weights W, recurrent weights U and bias b."""
    if cell == "rnn":
        return dict(p)
    if cell == "lstm":
        cat = lambda n: jnp.concatenate([p[f"{n}_{g}"] for g in LSTM_GATES], axis=-1)
        return {"W": cat("W"), "U": cat("U"), "b": cat("b")}
    H = p["b_z"].shape[-1]
    # W_* acts on [h_{t-1}, x_t]: rows [:H] are the recurrent part, rows [H:] the input part.
    fused = {
        "W": jnp.concatenate([p[f"W_{g}"][H:] for g in GRU_GATES], axis=-1),
        "U": jnp.concatenate([p[f"W_{g}"][:H] for g in GRU_GATES], axis=-1),
        "b": jnp.concatenate([p[f"b_{g}"] for g in GRU_GATES], axis=-1),
    }
    if "b_hh" in p:
        fused["b_hh"] = p["b_hh"]
    return fused


def _project(fused: dict[str, Array], x: Array) -> Array:
    """Input part of every gate pre-activation, ``x W + b``: (..., D) -> (..., G*H)."""
    return x @ fused["W"] + _lead(fused["b"], x.ndim)


def _lead(b: Array, ndim: int) -> Array:
    """Bias (G,) shaped to broadcast against rank-``ndim`` activations (explicit rank)."""
    return b.reshape((1,) * (ndim - 1) + b.shape)


def _recur(cell: str, fused: dict[str, Array], carry: Any, xp: Array) -> tuple[Any, Array]:
    """One step of the recurrence given the precomputed input projection ``xp`` (B, G*H)."""
    U = fused["U"]
    if cell == "rnn":  # h_t = tanh(W x_t + U h_{t-1} + b)
        h = jnp.tanh(xp + carry @ U)
        return h, h
    if cell == "lstm":
        c, h = carry
        c_t, h_t = lstm_step(xp + h @ U, c)
        return (c_t, h_t), h_t
    h = carry
    H = h.shape[-1]
    x_r, x_z, x_h = jnp.split(xp, 3, axis=-1)
    if "b_hh" in fused:  # PyTorch / cuDNN form: reset applied after the recurrent matmul.
        u_r, u_z, u_h = jnp.split(h @ U, 3, axis=-1)
        r_t, z_t = nn.sigmoid(x_r + u_r), nn.sigmoid(x_z + u_z)
        h_tilde = jnp.tanh(x_h + r_t * (u_h + _lead(fused["b_hh"], h.ndim)))
    else:  # lecture form: h~_t = tanh(W_h [r_t * h_{t-1}, x_t] + b_h)
        u_r, u_z = jnp.split(h @ U[:, : 2 * H], 2, axis=-1)
        r_t, z_t = nn.sigmoid(x_r + u_r), nn.sigmoid(x_z + u_z)
        h_tilde = jnp.tanh(x_h + (r_t * h) @ U[:, 2 * H :])
    h_t = (1.0 - z_t) * h + z_t * h_tilde
    return h_t, h_t


def _zero_carry(cell: str, batch_shape: tuple[int, ...], H: int, dtype: Any) -> Any:
    h = jnp.zeros(batch_shape + (H,), dtype)
    return (h, h) if cell == "lstm" else h


class _CellMixin:
    """Shared parts of the three cells: carry initialisation and flax's feature-axes contract."""

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]) -> Any:
        """Zero carry for inputs of shape ``(*batch, in_features)``; ``rng`` is unused."""
        del rng
        return _zero_carry(self._cell, tuple(input_shape[:-1]), self.features, self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        """Feature axes of an input step (flax's RNNCellBase interface): one, the last."""
        return 1

    def _step(self, carry: Any, x_t: Array) -> tuple[Any, Array]:
        fused = _fuse(self._cell, _make_params(self, self._cell, x_t.shape[-1]))
        return _recur(self._cell, fused, carry, _project(fused, x_t))


class SimpleRNNCell(_CellMixin, nn.RNNCellBase):
    """Elman cell, h_t = tanh(W x_t + U h_{t-1} + b).

    Attributes:
      features: hidden size H. Parameters ``W (in, H)``, ``U (H, H)``, ``b (H,)``.
    """

    features: int
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros_init()
    param_dtype: Any = jnp.float32
    _cell = "rnn"

    @nn.compact
    def __call__(self, carry: Array, x_t: Array) -> tuple[Array, Array]:
        """One step. Args: carry h (*batch, H); x_t (*batch, in). Returns (h_t, h_t)."""
        return self._step(carry, x_t)


class LSTMCell(_CellMixin, nn.RNNCellBase):
    """LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    f_t = σ(W_f x_t + U_f h_{t-1} + b_f); i_t, o_t likewise;
    c̃_t = tanh(W_c x_t + U_c h_{t-1} + b_c); c_t = f_t∘c_{t-1} + i_t∘c̃_t; h_t = o_t∘tanh(c_t).

    Attributes:
      features: hidden size H. Parameters ``W_g (in, H)``, ``U_g (H, H)``, ``b_g (H,)`` for
        g in f, i, o, c. The carry is ``(c, h)``.
      forget_bias: initial value of ``b_f`` (1.0 keeps memory early in training,
        Jozefowicz et al. 2015); 0.0 matches PyTorch's zero-mean initialisation.
    """

    features: int
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros_init()
    forget_bias: float = 1.0
    param_dtype: Any = jnp.float32
    _cell = "lstm"

    @nn.compact
    def __call__(self, carry: tuple[Array, Array], x_t: Array):
        """One step. Args: carry (c, h), each (*batch, H); x_t (*batch, in). Returns ((c, h), h)."""
        return self._step(carry, x_t)


class GRUCell(_CellMixin, nn.RNNCellBase):
    """GRU cell (Cho et al. 2014), the lecture's form on ``[h_{t-1}, x_t]``.

    z_t = σ(W_z·[h_{t-1}, x_t] + b_z); r_t = σ(W_r·[h_{t-1}, x_t] + b_r);
    h̃_t = tanh(W_h·[r_t∗h_{t-1}, x_t] + b_h); h_t = (1 − z_t)∗h_{t-1} + z_t∗h̃_t.

    With ``reset_after=True`` (the PyTorch / cuDNN form) the reset multiplies the recurrent
    product instead: h̃_t = tanh(W_h^x x_t + b_h + r_t∗(W_h^h h_{t-1} + b_hh)), where
    ``W_h^h = W_h[:H]``, ``W_h^x = W_h[H:]`` and ``b_hh (H,)`` is the extra recurrent bias
    (torch's ``b_hn``). Map torch.nn.GRU weights with z_t = 1 − z_torch: ``W_z = −[W_hz; W_iz]ᵀ``,
    ``b_z = −(b_iz + b_hz)``, ``W_r = [W_hr; W_ir]ᵀ``, ``b_r = b_ir + b_hr``,
    ``W_h = [W_hn; W_in]ᵀ``, ``b_h = b_in``, ``b_hh = b_hn``.

    Convention: z_t is the share of the carry that is *replaced*, so a negative ``b_z`` keeps
    h_{t-1} early in training (PyTorch's z_torch = 1 − z_t is the share kept). With b_z = 0 the
    carry halves at every step and the gradient of a step 50 back vanishes at initialisation
    (experiments/rnn_gradient_flow.py measures it); ``update_bias = −1`` keeps
    1 − σ(−1) = σ(1) of it, as the LSTM's ``forget_bias = 1`` does.

    Attributes:
      features: hidden size H. Parameters ``W_g (H + in, H)``, ``b_g (H,)`` for g in z, r, h.
      reset_after: use the PyTorch / cuDNN form (adds ``b_hh``).
      update_bias: initial value of ``b_z`` (either form); 0.0 is the zero initialisation of
        Cho et al. (2014) and of PyTorch.
    """

    features: int
    reset_after: bool = False
    update_bias: float = -1.0
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()  # unused: W_g is joint
    bias_init: Initializer = nn.initializers.zeros_init()
    param_dtype: Any = jnp.float32
    _cell = "gru"

    @nn.compact
    def __call__(self, carry: Array, x_t: Array) -> tuple[Array, Array]:
        """One step. Args: carry h (*batch, H); x_t (*batch, in). Returns (h_t, h_t)."""
        return self._step(carry, x_t)


def reverse_padded(x_BT: Array, lengths: Array | None) -> Array:
    """Reverses each sequence within its length, leaving padding in place.

    Args:
      x_BT: (B, T, ...) batch-major sequences.
      lengths: (B,) valid lengths, or None for full-length sequences.

    Returns:
      (B, T, ...) with ``out[b, t] = x[b, lengths[b] - 1 - t]`` for ``t < lengths[b]``.
    """
    if lengths is None:
        return jnp.flip(x_BT, axis=1)
    T = x_BT.shape[1]
    t = jnp.arange(T)[None, :]
    L = lengths[:, None]
    idx = jnp.where(t < L, L - 1 - t, t)
    idx = idx.reshape(idx.shape + (1,) * (x_BT.ndim - 2))
    return jnp.take_along_axis(x_BT, idx, axis=1)


def check_lengths(lengths: Array | None, batch: int, steps: int) -> Array | None:
    """``lengths`` as (B,) ints clipped to [0, T], after one-line ValueErrors for a wrong shape or
    dtype and, where the values are concrete (not traced under jit), for values outside [0, T].

    Clipping keeps a traced length past T from indexing outside the sequence (the reversed
    direction would read NaN there).
    """
    if lengths is None:
        return None
    lengths = jnp.asarray(lengths)
    if lengths.shape != (batch,) or not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise ValueError(
            f"lengths must be {batch} integers (one per sequence of the batch), got "
            f"shape {lengths.shape} and dtype {lengths.dtype}"
        )
    if not isinstance(lengths, jax.core.Tracer):
        values = np.asarray(lengths)
        bad = values[(values < 0) | (values > steps)]
        if bad.size:
            raise ValueError(
                f"lengths must lie in [0, {steps}] (the sequences have {steps} steps), "
                f"got {bad.tolist()}"
            )
    return jnp.clip(lengths, 0, steps)


def _scan(cell, fused, x_TBD, carry0, mask_TB, unroll, precomputed):
    """Autodiff path: lax.scan of :func:`_recur`, freezing the carry where ``mask_TB`` is False."""

    def body(carry, inputs):
        x_t, m_t = inputs
        xp_t = x_t if precomputed else _project(fused, x_t)
        new_carry, h_t = _recur(cell, fused, carry, xp_t)
        if m_t is not None:
            keep = m_t[:, None]
            new_carry = jax.tree.map(lambda n, o: jnp.where(keep, n, o), new_carry, carry)
        return new_carry, h_t

    return lax.scan(body, carry0, (x_TBD, mask_TB), unroll=unroll)


class RNNLayer(nn.Module):
    """One recurrent layer over a whole sequence (the fast path).

    Attributes:
      features: hidden size H.
      cell: "rnn", "lstm" or "gru"; parameters are named as in the matching cell.
      reset_after: GRU only, the PyTorch / cuDNN form.
      forget_bias: LSTM only, the initial ``b_f`` (as :class:`LSTMCell`).
      update_bias: GRU only, the initial ``b_z`` (as :class:`GRUCell`; negative keeps the carry).
      reverse: run right to left (within each sequence's length); outputs keep input order.
      unroll: time steps per loop iteration of ``lax.scan``.
      hand_bptt: LSTM only: use the hand-derived backward of :func:`lstm_recurrence`.
      precompute_inputs: compute the input projections ``x_t W + b`` of all steps in one matmul
        before the recurrence (True) or inside it (False); the results agree up to float rounding.
      lstm_feature_major_above: hand-BPTT LSTM only: run its loops feature-major
        (:func:`lstm_recurrence`) when ``features`` exceeds this; None: always batch-major.
      time_major: inputs and outputs are (T, B, ...) instead of (B, T, ...).
    """

    features: int
    cell: str = "lstm"
    reset_after: bool = False
    reverse: bool = False
    unroll: int = 1
    hand_bptt: bool = True
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None
    time_major: bool = False
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros_init()
    forget_bias: float = 1.0
    update_bias: float = -1.0
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, lengths: Array | None = None, initial_carry: Any = None):
        """Runs the layer.

        Args:
          x: (B, T, D) inputs ((T, B, D) if ``time_major``).
          lengths: optional (B,) ints in [0, T]; steps at or past a length leave the carry unchanged
            and output zeros. Values outside [0, T] raise a ValueError, or are clipped to it where
            they are traced (under jit).
          initial_carry: optional carry (LSTM ``(c, h)``, each (B, H)); zeros by default.

        Returns:
          ``(carry, h)``: the final carry (the state at each sequence's last valid step) and all
          hidden states, (B, T, H) ((T, B, H) if ``time_major``).
        """
        _check_cell(self.cell)
        if x.ndim != 3:
            raise ValueError(
                f"RNNLayer expects inputs of rank 3 (batch, time, features), got {x.shape}"
            )
        if self.features < 1:
            raise ValueError(f"RNNLayer needs features >= 1 (the hidden size), got {self.features}")
        x_BTD = jnp.swapaxes(x, 0, 1) if self.time_major else x
        B, T, _ = x_BTD.shape
        lengths = check_lengths(lengths, B, T)
        fused = _fuse(self.cell, _make_params(self, self.cell, x_BTD.shape[-1]))
        if self.reverse:
            x_BTD = reverse_padded(x_BTD, lengths)
        mask_TB = None if lengths is None else jnp.arange(T)[:, None] < lengths[None, :]
        pre = self.precompute_inputs
        if pre:  # one matmul for the input part of every gate at every step, produced time-major
            x_TBD = jnp.einsum("btd,dg->tbg", x_BTD, fused["W"]) + _lead(fused["b"], 3)
        else:
            x_TBD = jnp.swapaxes(x_BTD, 0, 1)
        carry = initial_carry
        if carry is None:
            carry = _zero_carry(self.cell, (B,), self.features, jnp.result_type(x_TBD, fused["U"]))
        if self.cell == "lstm" and self.hand_bptt:
            W, b = (None, None) if pre else (fused["W"], fused["b"])
            above = self.lstm_feature_major_above
            fm = above is not None and self.features > above
            c_T, h_T, h_TBH = lstm_recurrence(
                x_TBD, W, b, fused["U"], carry[0], carry[1], mask_TB, self.unroll, feature_major=fm
            )
            carry = (c_T, h_T)
        else:
            carry, h_TBH = _scan(self.cell, fused, x_TBD, carry, mask_TB, self.unroll, pre)
        if mask_TB is not None:
            h_TBH = jnp.where(mask_TB[:, :, None], h_TBH, 0.0)
        h_BTH = jnp.swapaxes(h_TBH, 0, 1)
        if self.reverse:
            h_BTH = reverse_padded(h_BTH, lengths)
        return carry, (jnp.swapaxes(h_BTH, 0, 1) if self.time_major else h_BTH)


class StackedRNN(nn.Module):
    """Stacked (optionally bidirectional) recurrent layers, batch-major.

    Attributes:
      features: hidden size H of every layer (and direction).
      num_layers: number of stacked layers.
      cell: "rnn", "lstm" or "gru".
      bidirectional: each layer runs both directions and concatenates them (2H outputs).
      dropout_rate: dropout between layers (needs a 'dropout' rng when ``train``).
      layer_kwargs: further :class:`RNNLayer` attributes (unroll, hand_bptt, reset_after, ...).
      precompute_inputs, lstm_feature_major_above: passed to every :class:`RNNLayer`.
    """

    features: int
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = False
    dropout_rate: float = 0.0
    layer_kwargs: Any = None
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None

    @nn.compact
    def __call__(self, x_BTD: Array, lengths: Array | None = None, train: bool = False):
        """Runs the stack.

        Args:
          x_BTD: (B, T, D) inputs.
          lengths: optional (B,) valid lengths.
          train: enables dropout between layers.

        Returns:
          ``(carries, h)``: a tuple with each layer's final carry (a ``(forward, backward)`` pair
          when bidirectional) and the top layer's states, (B, T, H) or (B, T, 2H).
        """
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")
        kw = dict(self.layer_kwargs or {})
        clash = sorted(set(kw) & {"precompute_inputs", "lstm_feature_major_above"})
        if clash:
            raise ValueError(
                f"layer_kwargs sets {', '.join(clash)}; set it on the StackedRNN (or the model) "
                "instead, which passes it to every layer"
            )
        kw.update(
            precompute_inputs=self.precompute_inputs,
            lstm_feature_major_above=self.lstm_feature_major_above,
        )
        carries, h = [], x_BTD
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout_rate > 0:
                h = nn.Dropout(self.dropout_rate)(h, deterministic=not train)
            fwd = RNNLayer(self.features, self.cell, name=f"l{layer}_fwd", **kw)
            c_f, h_f = fwd(h, lengths)
            if self.bidirectional:
                bwd = RNNLayer(self.features, self.cell, reverse=True, name=f"l{layer}_bwd", **kw)
                c_b, h_b = bwd(h, lengths)
                carries.append((c_f, c_b))
                h = jnp.concatenate([h_f, h_b], axis=-1)
            else:
                carries.append(c_f)
                h = h_f
        return tuple(carries), h


def carry_output(carry: Any) -> Array:
    """The hidden state h inside a carry (LSTM ``(c, h)`` -> h; RNN / GRU carry is h)."""
    return carry[1] if isinstance(carry, tuple) else carry


def input_gradient_norms(loss_fn: Callable[[Array], Array], x_BTD: Array) -> Array:
    """‖∂loss/∂x_t‖ per time step, for vanishing-gradient plots (Bengio et al. 1994).

    Args:
      loss_fn: maps inputs (B, T, D) to a scalar loss summed (or averaged) over the batch, e.g.
        the loss of the prediction read at the last step; then step t lies T − 1 − t steps back.
      x_BTD: (B, T, D) inputs.

    Returns:
      (T,) the Euclidean norm of the input gradient at each step, averaged over the batch.
    """
    g_BTD = jax.grad(loss_fn)(x_BTD)
    return jnp.mean(jnp.linalg.norm(g_BTD, axis=-1), axis=0)
