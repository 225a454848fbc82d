"""The LSTM recurrence with a hand-derived BPTT backward pass (``jax.custom_vjp``).

Back-propagation through time written out from the lecture's LSTM equations: the forward pass
saves each step's gradient factors; the backward pass runs one reverse loop for the gate gradients
and then forms the weight and input gradients as single large matmuls. Checked against autodiff in
tests/test_recurrent.py.

Both loops run in one of two layouts, a plain argument (``feature_major``); the results agree
up to float rounding. Batch-major carries are (B, H) and a step computes
``a_t = x_t W + h_{t-1} U + b``. Feature-major carries are (H, B) and a step computes
``a_tᵀ = Wᵀ x_tᵀ + Uᵀ h_{t-1}ᵀ + b`` (backward: ``dh_{t-1}ᵀ = U dA_tᵀ``), so the weights are the
matmul's left operand and only the small (·, B) right operand is repacked at every step. The hidden
states returned are batch-major either way. Which layout is faster depends on the machine (on
XLA:CPU, whether U fits the core's L2 cache); the backend policy (:mod:`jaxdl.backend`) chooses it
through the layers' ``lstm_feature_major_above`` field.

The loops' elementwise work is shaped for few, large fusions: the gates are one tanh
(:func:`_gates`), four per-gate arrays become one by :func:`_stack_gates`, the forward saves the
products the backward needs, and the feature-major backward stores dA_t untransposed.
"""

import functools

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def lstm_step(a: Array, c: Array) -> tuple[Array, Array]:
    """The lecture's LSTM update from the gate pre-activations ``a`` (B, 4H), gates i, f, c, o.

    i, f, o = σ(a_i), σ(a_f), σ(a_o); c̃ = tanh(a_c); c_t = f∘c + i∘c̃; h_t = o∘tanh(c_t).

    Args:
      a: pre-activations, (B, 4H).
      c: the previous cell state, (B, H).

    Returns:
      ``(c_t, h_t)``.
    """
    a_i, a_f, a_c, a_o = jnp.split(a, 4, axis=-1)
    c_t = nn.sigmoid(a_f) * c + nn.sigmoid(a_i) * jnp.tanh(a_c)
    return c_t, nn.sigmoid(a_o) * jnp.tanh(c_t)


def _layout(fm):
    """``(to, times)`` of a layout: the map between (B, ·) and the layout (a transpose when
    feature-major, else the identity) and the step's matmul ``times(v, M)``: ``v M`` batch-major,
    ``M v`` feature-major (M pre-transposed)."""
    if fm:
        return lambda v: v.T, lambda v, M: M @ v
    return lambda v: v, lambda v, M: v @ M


def _gates(fm, a):
    """The activated gates i, f, c̃, o from the pre-activations ``a`` ((B, 4H), or (4H, B)
    feature-major), with one tanh over all four: σ(x) = (1 + tanh(x / 2)) / 2."""
    view, shape = (
        ((4, a.shape[0] // 4, a.shape[1]), (4, 1, 1))
        if fm
        else ((a.shape[0], 4, a.shape[1] // 4), (1, 4, 1))
    )
    half = np.where(np.arange(4) == 2, 1.0, 0.5).reshape(shape).astype(a.dtype)  # c̃ is a tanh
    G = jnp.tanh(a.reshape(view) * half) * half + (1.0 - half)
    return [lax.index_in_dim(G, j, 0 if fm else 1, keepdims=False) for j in range(4)]


def _stack_gates(fm, parts):
    """Four per-gate arrays, (B, H) or (H, B) feature-major, as one (B, 4H) or (4H, B) array.

    Batch-major a concatenation along the last axis; feature-major selects over the gate index
    of a (4, H, B) view, which XLA:CPU fuses into cheaper loops than a leading-axis concatenation.
    """
    if not fm:
        return jnp.concatenate(parts, axis=-1)
    k = np.arange(4).reshape(4, 1, 1)
    out = parts[3][None]
    for j in (2, 1, 0):
        out = jnp.where(k == j, parts[j][None], out)
    return out.reshape(-1, parts[0].shape[-1])


def _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm):
    """LSTM recurrence saving what the hand-derived backward needs.

    With ``W`` None, ``x_TBD`` already holds the input projections ``x_t W + b`` (T, B, 4H).

    Returns:
      ``(c_T, h_T)`` in the loop's layout and, per step: ``P``, the gate pre-activations' gradient
      factors [c̃ i(1−i), c_{t−1} f(1−f), i(1−c̃²), tanh(c_t) o(1−o)] (T, 4H, B) feature-major,
      (T, B, 4H) batch-major; ``Q = o (1 − tanh²c_t)`` and ``f`` (T, H, B) or (T, B, H); and ``h_t``
      (T, B, H). With them a backward step is dĉ = dc + dh Q, dA = P [dĉ, dĉ, dĉ, dh],
      dc_{t−1} = dĉ f (:func:`_lstm_rec_bwd`).
    """
    to, times = _layout(fm)
    if fm:
        x_TBD, U = jnp.swapaxes(x_TBD, 1, 2), U.T
        W, b = (None, None) if W is None else (W.T, b[:, None])
    elif W is not None:
        b = b[None]

    def body(carry, inputs):
        c, h = carry
        x_t, m_t = inputs
        i_t, f_t, g_t, o_t = _gates(fm, (x_t if W is None else times(x_t, W) + b) + times(h, U))
        c_t = f_t * c + i_t * g_t
        tc = jnp.tanh(c_t)
        h_t = o_t * tc
        P = _stack_gates(
            fm,
            [
                g_t * i_t * (1.0 - i_t),
                c * f_t * (1.0 - f_t),
                i_t * (1.0 - g_t * g_t),
                tc * o_t * (1.0 - o_t),
            ],
        )
        if m_t is not None:
            keep = to(m_t[:, None])
            c_t = jnp.where(keep, c_t, c)
            h_t = jnp.where(keep, h_t, h)
        return (c_t, h_t), (P, o_t * (1.0 - tc * tc), f_t, to(h_t))

    return lax.scan(body, (to(c0), to(h0)), (x_TBD, mask_TB), unroll=unroll)


@functools.partial(jax.custom_vjp, nondiff_argnums=(7, 8))
def _lstm_rec(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm):
    (c_T, h_T), (*_, h_TBH) = _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm)
    to, _ = _layout(fm)
    return to(c_T), to(h_T), h_TBH


def _lstm_rec_fwd(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm):
    (c_T, h_T), (P_TL, Q_TL, f_TL, h_TBH) = _lstm_forward(
        x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm
    )
    to, _ = _layout(fm)
    return (to(c_T), to(h_T), h_TBH), (P_TL, Q_TL, f_TL, h_TBH, x_TBD, W, b, U, c0, h0, mask_TB)


def _sum_over_steps(a_TBX, b_TBY):
    """``Σ_t a_tᵀ b_t``, (X, Y): one matmul contracting time and batch, in storage order.

    Not a reshape to (T*B, ...): with the batch split over devices (jit data parallelism) each
    device then contracts its own rows and only the (X, Y) sums are all-reduced; the reshape made
    the partitioner gather both operands onto every device first. Not ``jnp.einsum("tbx,tby->xy")``
    either: einsum orders contracted letters alphabetically, (b, t), and XLA:CPU then transposed
    both (T, B, ·) operands to batch-major copies before the matmul.
    """
    return lax.dot_general(a_TBX, b_TBY, (((0, 1), (0, 1)), ((), ())))


def _lstm_rec_bwd(unroll, fm, res, cotangents):
    """:func:`_lstm_bptt` with each cotangent in its primal's dtype (inputs of mixed precision,
    e.g. bfloat16 weights and a float32 carry, compute in the promoted dtype)."""
    x_TBD, W, b, U, c0, h0 = res[4:10]
    grads = _lstm_bptt(unroll, fm, res, cotangents)
    primals = (x_TBD, W, b, U, c0, h0)
    cast = tuple(g if g is None else g.astype(p.dtype) for g, p in zip(grads[:-1], primals))
    return cast + grads[-1:]


def _lstm_bptt(unroll, fm, res, cotangents):
    """BPTT by hand; one reverse scan for dA_t = ∂L/∂(gate pre-activations at step t).

    With ĉ_t = f_t c_{t-1} + i_t g_t and h_t = o_t tanh(ĉ_t):
    dĉ_t = dc_t + dh_t o_t (1 − tanh²ĉ_t); do_t = dh_t tanh ĉ_t; di_t = dĉ_t g_t; dg_t = dĉ_t i_t;
    df_t = dĉ_t c_{t-1}; dc_{t-1} = dĉ_t f_t; dh_{t-1} = dA_t Uᵀ. Masked steps pass dc, dh through.
    The forward saved each step's factors (``P``, ``Q``, ``f``: :func:`_lstm_forward`), so a step
    is dA_t = P_t [dĉ_t, dĉ_t, dĉ_t, dh_t] and one matmul.
    Only dh_{t-1} needs the loop; dU = Σ_t h_{t-1}ᵀ dA_t, dW, db and dx are single matmuls over
    all steps afterwards (fewer, larger matmuls than accumulating them inside the loop).
    """
    P_TL, Q_TL, f_TL, h_TBH, x_TBD, W, _, U, c0, h0, mask_TB = res
    dc_T, dh_T, dh_TBH = cotangents
    to, times = _layout(fm)
    dh_TL = jnp.swapaxes(dh_TBH, 1, 2) if fm else dh_TBH
    U_step = U if fm else U.T  # dh_{t-1} = times(dA_t, U_step) in either layout

    def body(carry, inputs):
        dc, dh_next = carry
        P_t, Q_t, f_t, dh_out, m_t = inputs
        dh = dh_next + dh_out
        dc_hat = dc + dh * Q_t
        dA = P_t * _stack_gates(fm, [dc_hat, dc_hat, dc_hat, dh])
        dc_prev, dh_prev = dc_hat * f_t, times(dA, U_step)
        if m_t is not None:
            keep = to(m_t[:, None])
            dA = jnp.where(keep, dA, 0.0)
            dc_prev, dh_prev = jnp.where(keep, dc_prev, dc), jnp.where(keep, dh_prev, dh)
        return (dc_prev, dh_prev), dA

    xs = (P_TL, Q_TL, f_TL, dh_TL, mask_TB)
    h_prev = jnp.concatenate([h0[None], h_TBH[:-1]], axis=0)
    dmask = None if mask_TB is None else np.zeros(mask_TB.shape, jax.dtypes.float0)
    if not fm:
        (dc0, dh0), dA_TBG = lax.scan(body, (dc_T, dh_T), xs, reverse=True, unroll=unroll)
        dU = _sum_over_steps(h_prev, dA_TBG)
        if W is None:
            return dA_TBG, None, None, dU, dc0, dh0, dmask
        dW = _sum_over_steps(x_TBD, dA_TBG)
        dx = jnp.einsum("tbg,dg->tbd", dA_TBG, W)
        return dx, dW, jnp.sum(dA_TBG, axis=(0, 1)), dU, dc0, dh0, dmask

    def body_fm(carry, inputs):  # dA_t (4H, B) goes into column t of a (4H, T, B) buffer
        carry, buf = carry
        carry, dA = body(carry, inputs[:-1])
        return (carry, lax.dynamic_update_slice_in_dim(buf, dA[:, None], inputs[-1], axis=1)), None

    T, B, _ = h_TBH.shape
    buf = jnp.zeros((U.shape[1], T, B), P_TL.dtype)
    ((dc0, dh0), dA_GTB), _ = lax.scan(
        body_fm, ((to(dc_T), to(dh_T)), buf), xs + (jnp.arange(T),), reverse=True, unroll=unroll
    )
    # Every product takes dA as its (4H, T*B) left operand, contracting its trailing (T, B): the
    # layout XLA:CPU's matmuls read without copies (other orders transposed whole operands first).
    over_steps = lambda v: lax.dot_general(dA_GTB, v, (((1, 2), (0, 1)), ((), ())))
    dU = over_steps(h_prev).T
    dc0, dh0 = to(dc0), to(dh0)
    if W is None:
        return jnp.transpose(dA_GTB, (1, 2, 0)), None, None, dU, dc0, dh0, dmask
    dx = jnp.transpose(lax.dot_general(W, dA_GTB, (((1,), (0,)), ((), ()))), (1, 2, 0))
    return dx, over_steps(x_TBD).T, jnp.sum(dA_GTB, axis=(1, 2)), dU, dc0, dh0, dmask


_lstm_rec.defvjp(_lstm_rec_fwd, _lstm_rec_bwd)


def lstm_recurrence(x_TBD, W, b, U, c0, h0, mask_TB=None, unroll=1, feature_major: bool = False):
    """LSTM over a sequence with a hand-derived BPTT backward (checked against autodiff in tests).

    Args:
      x_TBD: (T, B, D) inputs, or with ``W=None`` the precomputed projections ``x W + b``
        (T, B, 4H).
      W: (D, 4H) input weights in :data:`LSTM_GATES` order (i, f, c, o), or None.
      b: (4H,) bias, or None with ``W=None``.
      U: (H, 4H) recurrent weights, same column order.
      c0, h0: (B, H) initial carry.
      mask_TB: optional (T, B) bool; where False the carry is left unchanged.
      unroll: time steps per loop iteration.
      feature_major: run both loops with (H, B) carries instead of (B, H); only the speed
        differs (see the module docstring).

    Returns:
      ``(c_T, h_T, h_TBH)``: the final carry and the carried hidden state at every step.
    """
    return _lstm_rec(x_TBD, W, b, U, c0, h0, mask_TB, unroll, bool(feature_major))
