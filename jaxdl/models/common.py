"""What the model families share: the conv-layer argument's type and the ``num_classes`` rule."""

import numbers
from typing import Any

import flax.linen as nn

# A flax module class or a partial of one (flax's examples call it ModuleDef): the ``conv`` field
# of every model that convolves, called as ``nn.Conv`` is.
ModuleDef = Any

NUM_CLASSES = 10  # every classifier's default number of classes

# He normal (fan-in, gain 2): the kernel initialiser of models built for ReLU
he_normal = nn.initializers.he_normal()


def check_num_classes(model: str, num_classes: Any) -> None:
    """The one-line ValueError every classifier raises for a ``num_classes`` below 1 or not an int.

    Args:
      model: the class name shown in the message.
      num_classes: the value to check.
    """
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, numbers.Integral)
        or num_classes < 1
    ):
        raise ValueError(f"{model}: num_classes must be a positive int, got {num_classes!r}")


def pads(padding: int, ndim: int = 2) -> tuple[tuple[int, int], ...]:
    """Symmetric zero padding ``padding`` on each of ``ndim`` spatial axes, in nn.Conv's form."""
    return ((padding, padding),) * ndim


def window(size: int, ndim: int = 2) -> tuple[int, ...]:
    """A square (cubic) window of side ``size`` over ``ndim`` spatial axes."""
    return (size,) * ndim
