"""The gradient reversal layer of domain-adversarial training.

Ganin & Lempitsky (2015), "Unsupervised Domain Adaptation by Backpropagation", and Ganin et al.
(2016, JMLR) "Domain-Adversarial Training of Neural Networks", Sec. 4 / Eq. (18)-(19): the layer
R_lambda is the identity on the forward pass, and multiplies the incoming gradient by -lambda on
the backward pass, so that the feature extractor *maximises* the domain classifier's loss.
"""

import jax
import jax.numpy as jnp


@jax.custom_vjp
def _reverse(x, lam):
    return x


def _reverse_fwd(x, lam):
    return x, lam


def _reverse_bwd(lam, g):
    # lam is a hyper-parameter (possibly a traced, scheduled scalar), not something we train:
    # it receives a zero cotangent.
    g_x = jax.tree.map(lambda t: (-lam).astype(t.dtype) * t, g)
    return g_x, jnp.zeros_like(lam)


_reverse.defvjp(_reverse_fwd, _reverse_bwd)


def gradient_reversal(x, lam):
    """Identity forward; the gradient is multiplied by ``-lam`` backward (Ganin et al. 2016).

    Args:
      x: an array (or pytree of arrays) of any shape, e.g. features ``(B, D)``.
      lam: scalar lambda; a Python number or a (traced) scalar array, so that a schedule such as
        ``jaxdl.transfer.dann.lambda_schedule`` or a vmapped sweep can feed it. It gets a zero
        gradient.

    Returns:
      ``x`` unchanged (same shape and dtype); its vector-Jacobian product is ``-lam * g``.

    Raises:
      ValueError: if ``lam`` is not a scalar.
    """
    lam = jnp.asarray(lam)
    if lam.ndim != 0:
        raise ValueError(f"gradient_reversal: lam must be a scalar, got shape {lam.shape}.")
    if not jnp.issubdtype(lam.dtype, jnp.floating):
        lam = lam.astype(jnp.float32)
    return _reverse(x, lam)
