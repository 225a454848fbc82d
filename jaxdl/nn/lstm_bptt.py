"""The LSTM recurrence with a hand-derived BPTT backward pass (``jax.custom_vjp``).

Back-propagation through time written out from the lecture's LSTM equations: the forward pass
saves the gate activations; the backward pass runs one reverse loop for the gate gradients and
then forms the weight and input gradients as single large matmuls. Checked against autodiff in
tests/test_recurrent.py.

Both loops run in one of two layouts (:func:`feature_major`). Batch-major carries are (B, H) and
a step computes ``a_t = x_t W + h_{t-1} U + b``. Feature-major carries are (H, B) and a step
computes ``a_tᵀ = Wᵀ x_tᵀ + Uᵀ h_{t-1}ᵀ + b`` (backward: ``dh_{t-1}ᵀ = U dA_tᵀ``), so the
weights are the matmul's left operand and only the small (·, B) right operand is repacked at
every step. Per-step outputs are batch-major either way.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
import numpy as np

Array = jax.Array

# Scratch timings on XLA:CPU (2-core AMD EPYC, YNNPACK dots), T = 100, fwd + bwd of the hand
# BPTT, feature-major / batch-major time at (B, H). On one core: 0.85 (16, 256), 0.88 (32, 256),
# 0.81 (32, 512), but 1.07 (32, 128), 1.01 (64, 128), 1.05 (32, 64), 1.07 (128, 64), 0.97 (32, 32),
# 1.10 (128, 32). Once U (H x 4H) outgrows the core's 512 KB L2, repacking it at every step costs
# more than the transposes. On both cores of one device the same runs were noisier: 1.00 (16, 256),
# 1.09 (32, 256), 0.79 (32, 512), 0.91-1.13 below. Whole training steps of
# benchmarks/lstm_vs_torch.py (H = 256), timed before and after in one process: 61 -> 56 ms
# (1 layer) and 155 -> 133 ms (2 layers) with 16 rows a core (data parallel), 82 -> 73 ms and
# 183 -> 165 ms on one device.
FEATURE_MAJOR_MIN_HIDDEN = 256


def feature_major(hidden: int) -> bool:
  """Whether the hand-BPTT loops run feature-major for ``hidden`` units: on CPU from
  :data:`FEATURE_MAJOR_MIN_HIDDEN` on; accelerators keep the batch-major loops they were
  measured with."""
  return jax.default_backend() == "cpu" and hidden >= FEATURE_MAJOR_MIN_HIDDEN


def lstm_step(a: Array, c: Array, axis: int = -1) -> tuple[Array, Array, Array]:
  """The lecture's LSTM update from the gate pre-activations ``a`` (gates i, f, c, o on ``axis``).

  i, f, o = σ(a_i), σ(a_f), σ(a_o); c̃ = tanh(a_c); c_t = f∘c + i∘c̃; h_t = o∘tanh(c_t).

  Args:
    a: pre-activations, (B, 4H) with ``axis=-1`` or (4H, B) with ``axis=0``.
    c: the previous cell state, (B, H) or (H, B) to match.
    axis: the gate axis of ``a`` (and the feature axis of ``c``).

  Returns:
    ``(gates, c_t, h_t)`` with ``gates`` the activated [i, f, c̃, o], shaped like ``a``.
  """
  a_i, a_f, a_c, a_o = jnp.split(a, 4, axis=axis)
  gates = jnp.concatenate(
      [nn.sigmoid(a_i), nn.sigmoid(a_f), jnp.tanh(a_c), nn.sigmoid(a_o)], axis=axis)
  i_t, f_t, g_t, o_t = jnp.split(gates, 4, axis=axis)
  c_t = f_t * c + i_t * g_t
  return gates, c_t, o_t * jnp.tanh(c_t)


def _layout(fm):
  """``(axis, to, times)`` of a layout: the gate / feature axis of a step's activations, the
  map between (B, ·) and the layout (a transpose when feature-major, else the identity) and the
  step's matmul ``times(v, M)``: ``v M`` batch-major, ``M v`` feature-major (M pre-transposed)."""
  if fm:
    return 0, lambda v: v.T, lambda v, M: M @ v
  return -1, lambda v: v, lambda v, M: v @ M


def _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm):
  """LSTM recurrence saving the activated gates for the hand-derived backward.

  With ``W`` None, ``x_TBD`` already holds the input projections ``x_t W + b`` (T, B, 4H).

  Returns:
    ``(c_T, h_T)`` in the loop's layout and, per step, the gates, ``c_t`` and ``tanh(c_t)`` in that
    layout (feature-major: (T, 4H, B), (T, H, B) and (T, H, B)) and ``h_t`` (T, B, H). Saving
    ``tanh(c_t)``, which an unmasked step computes anyway for ``h_t`` (with a mask, ``c_t`` is the
    kept carry and its tanh is one more elementwise op), costs one more (T, H, B) residual and
    spares the backward loop recomputing it: in
    interleaved A/Bs of benchmarks/lstm_vs_torch.py's data-parallel step (scratch, median of
    per-round time ratios, 10-12 rounds) that was 0.3-3.2% faster with 1 layer (three A/Bs) and
    1.0-3.5% with 2 (two): small, but never slower.
  """
  axis, to, times = _layout(fm)
  if fm:
    x_TBD, U = jnp.swapaxes(x_TBD, 1, 2), U.T
    W, b = (None, None) if W is None else (W.T, b[:, None])
  elif W is not None:
    b = b[None]

  def body(carry, inputs):
    c, h = carry
    x_t, m_t = inputs
    gates, c_t, h_t = lstm_step((x_t if W is None else times(x_t, W) + b) + times(h, U), c, axis)
    if m_t is not None:
      keep = to(m_t[:, None])
      c_t = jnp.where(keep, c_t, c)
      h_t = jnp.where(keep, h_t, h)
    return (c_t, h_t), (gates, c_t, jnp.tanh(c_t), to(h_t))

  return lax.scan(body, (to(c0), to(h0)), (x_TBD, mask_TB), unroll=unroll)


@functools.partial(jax.custom_vjp, nondiff_argnums=(7, 8))
def _lstm_rec(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm):
  (c_T, h_T), (_, _, _, h_TBH) = _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm)
  _, to, _ = _layout(fm)
  return to(c_T), to(h_T), h_TBH


def _lstm_rec_fwd(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm):
  (c_T, h_T), (gates, c_TL, tc_TL, h_TBH) = _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll, fm)
  _, to, _ = _layout(fm)
  return (to(c_T), to(h_T), h_TBH), (gates, c_TL, tc_TL, h_TBH, x_TBD, W, U, c0, h0, mask_TB)


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
  """BPTT by hand; one reverse scan for dA_t = ∂L/∂(gate pre-activations at step t).

  With ĉ_t = f_t c_{t-1} + i_t g_t and h_t = o_t tanh(ĉ_t):
  dĉ_t = dc_t + dh_t o_t (1 − tanh²ĉ_t); do_t = dh_t tanh ĉ_t; di_t = dĉ_t g_t; dg_t = dĉ_t i_t;
  df_t = dĉ_t c_{t-1}; dc_{t-1} = dĉ_t f_t; dh_{t-1} = dA_t Uᵀ. Masked steps pass dc, dh through.
  Only dh_{t-1} needs the loop; dU = Σ_t h_{t-1}ᵀ dA_t, dW, db and dx are single matmuls over
  all steps afterwards (measured faster than accumulating them inside the loop on XLA:CPU).
  """
  gates, c_TL, tc_TL, h_TBH, x_TBD, W, U, c0, h0, mask_TB = res
  dc_T, dh_T, dh_TBH = cotangents
  axis, to, times = _layout(fm)
  c_prev = jnp.concatenate([to(c0)[None], c_TL[:-1]], axis=0)
  dh_TL = jnp.swapaxes(dh_TBH, 1, 2) if fm else dh_TBH
  U_step = U if fm else U.T  # dh_{t-1} = times(dA_t, U_step) in either layout

  def body(carry, inputs):
    dc, dh_next = carry
    gates_t, tc, cp_t, dh_out, m_t = inputs
    dh = dh_next + dh_out
    i_t, f_t, g_t, o_t = jnp.split(gates_t, 4, axis=axis)
    dc_hat = dc + dh * o_t * (1.0 - tc * tc)
    dA = jnp.concatenate([
        dc_hat * g_t * i_t * (1.0 - i_t),
        dc_hat * cp_t * f_t * (1.0 - f_t),
        dc_hat * i_t * (1.0 - g_t * g_t),
        dh * tc * o_t * (1.0 - o_t),
    ], axis=axis)
    dc_prev, dh_prev = dc_hat * f_t, times(dA, U_step)
    if m_t is not None:
      keep = to(m_t[:, None])
      dA = jnp.where(keep, dA, 0.0)
      dc_prev, dh_prev = jnp.where(keep, dc_prev, dc), jnp.where(keep, dh_prev, dh)
    return (dc_prev, dh_prev), to(dA)

  (dc0, dh0), dA_TBG = lax.scan(
      body, (to(dc_T), to(dh_T)), (gates, tc_TL, c_prev, dh_TL, mask_TB), reverse=True, unroll=unroll)
  h_prev = jnp.concatenate([h0[None], h_TBH[:-1]], axis=0)
  dU = _sum_over_steps(h_prev, dA_TBG)
  dc0, dh0 = to(dc0), to(dh0)
  dmask = None if mask_TB is None else np.zeros(mask_TB.shape, jax.dtypes.float0)
  if W is None:
    return dA_TBG, None, None, dU, dc0, dh0, dmask
  dW = _sum_over_steps(x_TBD, dA_TBG)
  dx = jnp.einsum("tbg,dg->tbd", dA_TBG, W)
  return dx, dW, jnp.sum(dA_TBG, axis=(0, 1)), dU, dc0, dh0, dmask


_lstm_rec.defvjp(_lstm_rec_fwd, _lstm_rec_bwd)


def lstm_recurrence(x_TBD, W, b, U, c0, h0, mask_TB=None, unroll=1):
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

  Returns:
    ``(c_T, h_T, h_TBH)``: the final carry and the carried hidden state at every step.
  """
  return _lstm_rec(x_TBD, W, b, U, c0, h0, mask_TB, unroll, feature_major(U.shape[0]))
