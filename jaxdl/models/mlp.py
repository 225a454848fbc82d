"""Fully connected networks: the MLP classifier and the one-hidden-layer universal approximator."""

import functools
import numbers
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models import common

ACTIVATIONS = {"relu": nn.relu, "sigmoid": nn.sigmoid, "tanh": nn.tanh, "gelu": nn.gelu}


class MLP(nn.Module):
    """A multi-layer perceptron: Dense -> activation (-> dropout) per hidden layer, a Dense head.

    Attributes:
      num_classes: output units.
      hidden: widths of the hidden layers.
      activation: one of ``ACTIVATIONS``.
      dropout_rate: dropout after each hidden activation in training.
    """

    num_classes: int = common.NUM_CLASSES
    hidden: Sequence[int] = (128, 128)
    activation: str = "relu"
    dropout_rate: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Maps inputs (N, ...) (flattened) to logits (N, num_classes)."""
        common.check_num_classes("MLP", self.num_classes)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown model.activation {self.activation!r}; "
                f"choose one of {', '.join(ACTIVATIONS)}"
            )
        hidden = self.hidden if isinstance(self.hidden, (list, tuple)) else (self.hidden,)
        if not all(isinstance(w, numbers.Integral) and w >= 1 for w in hidden):
            raise ValueError(
                "model.hidden must be positive ints, one width per hidden layer, e.g. (256, 256); "
                f"got {self.hidden!r}"
            )
        act = ACTIVATIONS[self.activation]
        h = x.reshape((x.shape[0], -1))
        for width in hidden:
            h = act(nn.Dense(width)(h))
            if self.dropout_rate > 0:
                h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
        return nn.Dense(self.num_classes)(h)


class ShallowSigmoidNet(nn.Module):
    """One hidden layer of N sigmoid units, f(x) = Σ_j v_j σ(w_jᵀ(x − c_j)) + b (Cybenko 1989).

    Each unit is a sigmoid ridge of slope ``w_j`` centred at ``c_j``; centres start uniform in the
    unit cube, so every unit starts with its transition inside the domain [0, 1]^m.
    ``max_width`` units exist; ``width`` (a traced scalar, so widths can be vmapped) masks all units
    j >= width, so one program trains networks of every width N <= max_width.

    Attributes:
      max_width: number of units allocated.
      num_outputs: output dimension.
      init_scale: std of the slopes' normal initialiser.
    """

    max_width: int = 256
    num_outputs: int = 1
    init_scale: float = 10.0

    @nn.compact
    def __call__(
        self, x: jax.Array, width: jax.Array | int | None = None, train: bool = False
    ) -> jax.Array:
        """Maps x (N, m) to (N, num_outputs) using the first ``width`` units (all when None)."""
        m = x.shape[-1]
        W = self.param("W", nn.initializers.normal(self.init_scale), (m, self.max_width))
        c = self.param("c", nn.initializers.uniform(1.0), (self.max_width, m))
        z = x @ W - jnp.sum(c * W.T, axis=1)[None, :]
        h = nn.sigmoid(z)
        if width is not None:
            h = h * (jnp.arange(self.max_width) < width).astype(h.dtype)[None, :]
        return nn.Dense(self.num_outputs, kernel_init=nn.initializers.zeros)(h)


MODELS = {
    "mlp": MLP,
    "mlp_small": functools.partial(MLP, hidden=(64,)),
    "shallow_sigmoid": ShallowSigmoidNet,
}
