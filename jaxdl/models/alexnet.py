"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) in torchvision's single-tower layout.

torchvision's variant (from "One weird trick", Krizhevsky 2014): 64-192-384-256-256 conv channels,
no LRN, adaptive average pooling to 6x6, then 4096-4096-num_classes with dropout. At
``num_classes=1000`` it has exactly 61,100,840 parameters, torchvision's count.
"""

import functools

import flax.linen as nn
import jax

from jaxdl.nn import conv
from jaxdl.nn import pooling


def scaled(channels: int, width: float) -> int:
  """Channel count times a width multiplier, at least 1."""
  return max(1, int(round(channels * width)))


class AlexNet(nn.Module):
  """AlexNet classifier, torchvision layout: 5 conv + 3 fully connected layers.

  Attributes:
    num_classes: number of output logits.
    width: multiplier on every conv channel count (1.0 is the published network).
    hidden: width of the two hidden fully connected layers (4096 published).
    dropout_rate: dropout before each hidden fully connected layer.
  """
  num_classes: int = 1000
  width: float = 1.0
  hidden: int = 4096
  dropout_rate: float = 0.5

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """Logits for a batch of images.

    Args:
      x: images (N, H, W, 3); 224x224 as published, at least 63x63.
      train: enables dropout.

    Returns:
      Logits, shape (N, num_classes).
    """
    if x.ndim != 4:
      raise ValueError(f"AlexNet expects NHWC images of rank 4, got shape {x.shape}")
    c = functools.partial(scaled, width=self.width)
    x = nn.relu(conv.Conv2D(c(64), 11, stride=4, padding=2)(x))
    x = pooling.max_pool(x, 3, 2)
    x = nn.relu(conv.Conv2D(c(192), 5, padding=2)(x))
    x = pooling.max_pool(x, 3, 2)
    x = nn.relu(conv.Conv2D(c(384), 3, padding=1)(x))
    x = nn.relu(conv.Conv2D(c(256), 3, padding=1)(x))
    x = nn.relu(conv.Conv2D(c(256), 3, padding=1)(x))
    x = pooling.max_pool(x, 3, 2)
    x = pooling.adaptive_avg_pool(x, 6)
    x = x.reshape(x.shape[0], -1)
    for _ in range(2):
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = nn.relu(nn.Dense(self.hidden)(x))
    return nn.Dense(self.num_classes)(x)


MODELS = {"alexnet": AlexNet}
