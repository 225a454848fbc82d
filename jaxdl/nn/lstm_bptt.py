"""The LSTM recurrence with a hand-derived BPTT backward pass (``jax.custom_vjp``).

Back-propagation through time written out from the lecture's LSTM equations: the forward pass
saves the gate activations; the backward pass runs one reverse loop for the gate gradients and
then forms the weight and input gradients as single large matmuls. Checked against autodiff in
tests/test_recurrent.py.

Both loops run feature-major: the carries are ``(H, B)`` and each step computes
``a_tᵀ = Wᵀ x_tᵀ + Uᵀ h_{t-1}ᵀ + b`` (and ``dh_{t-1}ᵀ = U dA_tᵀ``), so the weights are the
matmul's left operand and only the small ``(·, B)`` right operand is repacked at every step. On
XLA:CPU (2-core AMD EPYC, YNNPACK dots; scratch timing of 100 steps, H = 256, B = 16, one core)
the recurrent product took 9.2 ms that way against 14.4 ms as ``h U``, and 12.3 against 14.2 ms
for the backward's. The data-parallel training step of ``benchmarks/lstm_vs_torch.py``, timed
before and after in one process, went from 61 to 56 ms (1 layer) and from 155 to 133 ms
(2 layers). Per-step outputs are transposed back to batch-major inside the loops.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
import numpy as np

Array = jax.Array


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


def _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll):
  """Feature-major LSTM recurrence saving the activated gates for the hand-derived backward.

  With ``W`` None, ``x_TBD`` already holds the input projections ``x_t W + b`` (T, B, 4H).

  Returns:
    ``(c_T, h_T)`` (H, B) and, per step, the gates (T, 4H, B), ``c_t`` (T, H, B) and ``h_t``
    (T, B, H).
  """
  x_TDB = jnp.swapaxes(x_TBD, 1, 2)
  U_T = U.T
  W_T = None if W is None else W.T

  def body(carry, inputs):
    c, h = carry
    x_t, m_t = inputs
    a = (x_t if W is None else W_T @ x_t + b[:, None]) + U_T @ h
    gates, c_t, h_t = lstm_step(a, c, axis=0)
    if m_t is not None:
      c_t = jnp.where(m_t[None, :], c_t, c)
      h_t = jnp.where(m_t[None, :], h_t, h)
    return (c_t, h_t), (gates, c_t, h_t.T)

  return lax.scan(body, (c0.T, h0.T), (x_TDB, mask_TB), unroll=unroll)


@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def _lstm_rec(x_TBD, W, b, U, c0, h0, mask_TB, unroll):
  (c_T, h_T), (_, _, h_TBH) = _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll)
  return c_T.T, h_T.T, h_TBH


def _lstm_rec_fwd(x_TBD, W, b, U, c0, h0, mask_TB, unroll):
  (c_T, h_T), (gates, c_THB, h_TBH) = _lstm_forward(x_TBD, W, b, U, c0, h0, mask_TB, unroll)
  return (c_T.T, h_T.T, h_TBH), (gates, c_THB, h_TBH, x_TBD, W, U, c0, h0, mask_TB)


def _lstm_rec_bwd(unroll, res, cotangents):
  """BPTT by hand; one reverse scan (feature-major) for dA_t = ∂L/∂(gate pre-activations at t).

  With ĉ_t = f_t c_{t-1} + i_t g_t and h_t = o_t tanh(ĉ_t):
  dĉ_t = dc_t + dh_t o_t (1 − tanh²ĉ_t); do_t = dh_t tanh ĉ_t; di_t = dĉ_t g_t; dg_t = dĉ_t i_t;
  df_t = dĉ_t c_{t-1}; dc_{t-1} = dĉ_t f_t; dh_{t-1} = dA_t Uᵀ. Masked steps pass dc, dh through.
  Only dh_{t-1} needs the loop; dU = Σ_t h_{t-1}ᵀ dA_t, dW, db and dx are single matmuls over
  all steps afterwards (measured faster than accumulating them inside the loop on XLA:CPU).
  """
  gates, c_THB, h_TBH, x_TBD, W, U, c0, h0, mask_TB = res
  dc_T, dh_T, dh_TBH = cotangents
  c_prev = jnp.concatenate([c0.T[None], c_THB[:-1]], axis=0)

  def body(carry, inputs):
    dc, dh_next = carry
    gates_t, c_t, cp_t, dh_out, m_t = inputs
    dh = dh_next + dh_out
    i_t, f_t, g_t, o_t = jnp.split(gates_t, 4, axis=0)
    tc = jnp.tanh(c_t)
    dc_hat = dc + dh * o_t * (1.0 - tc * tc)
    dA = jnp.concatenate([
        dc_hat * g_t * i_t * (1.0 - i_t),
        dc_hat * cp_t * f_t * (1.0 - f_t),
        dc_hat * i_t * (1.0 - g_t * g_t),
        dh * tc * o_t * (1.0 - o_t),
    ], axis=0)
    dc_prev, dh_prev = dc_hat * f_t, U @ dA
    if m_t is not None:
      keep = m_t[None, :]
      dA = jnp.where(keep, dA, 0.0)
      dc_prev, dh_prev = jnp.where(keep, dc_prev, dc), jnp.where(keep, dh_prev, dh)
    return (dc_prev, dh_prev), dA.T

  (dc0, dh0), dA_TBG = lax.scan(
      body, (dc_T.T, dh_T.T), (gates, c_THB, c_prev, jnp.swapaxes(dh_TBH, 1, 2), mask_TB),
      reverse=True, unroll=unroll)
  # Contractions over (time, batch) as einsums, not reshapes to (T*B, ...): the same single
  # matmul on one device, and with the batch split over devices (jit data parallelism) each
  # device contracts its own rows and only the (H, 4H) sums are all-reduced; the reshape made
  # the partitioner gather dA, x and h onto every device first.
  h_prev = jnp.concatenate([h0[None], h_TBH[:-1]], axis=0)
  dU = jnp.einsum("tbh,tbg->hg", h_prev, dA_TBG)
  dmask = None if mask_TB is None else np.zeros(mask_TB.shape, jax.dtypes.float0)
  if W is None:
    return dA_TBG, None, None, dU, dc0.T, dh0.T, dmask
  dW = jnp.einsum("tbd,tbg->dg", x_TBD, dA_TBG)
  dx = jnp.einsum("tbg,dg->tbd", dA_TBG, W)
  return dx, dW, jnp.sum(dA_TBG, axis=(0, 1)), dU, dc0.T, dh0.T, dmask


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
  return _lstm_rec(x_TBD, W, b, U, c0, h0, mask_TB, unroll)
