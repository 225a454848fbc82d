"""GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going deeper with convolutions", Table 1).

The original network: 5x5 convolutions in the inception modules, ReLU, no batch normalisation,
local response normalisation after the first pooling and after conv2 (as in the paper's Fig. 3 and
Caffe's bvlc_googlenet), ceil-mode 3x3/2 max pooling, global average pooling, 40% dropout and a
linear classifier. At ``num_classes=1000`` it has 6,998,552 parameters (biases included; the paper's
Table 1 rounds the weights to 6.8M), plus 6,379,728 in the two auxiliary heads.

torchvision's ``googlenet`` differs: batch-normalised convs without bias, 3x3 instead of 5x5 in the
"5x5" branch, no LRN, so its 6,624,904 parameters are not comparable.
"""

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn import conv
from jaxdl.nn import normalization
from jaxdl.nn import pooling

# Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) per inception module.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _scaled(channels: int, width: float) -> int:
  """Channel count times a width multiplier, at least 1."""
  return max(1, int(round(channels * width)))


def _relu_conv(channels: int, kernel: int, name: str | None = None):
  """A conv with 'same' symmetric padding followed by ReLU (every conv in GoogLeNet has one)."""
  layer = conv.Conv2D(channels, kernel, padding=kernel // 2, name=name)
  return lambda x: nn.relu(layer(x))


class Inception(nn.Module):
  """One inception module (Szegedy et al. 2014, Fig. 2b): four branches concatenated on channels.

  Attributes:
    channels: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), as in Table 1.
  """
  channels: Sequence[int]

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """(N, H, W, C) -> (N, H, W, #1x1 + #3x3 + #5x5 + pool proj)."""
    c1, c3r, c3, c5r, c5, cp = self.channels
    b1 = _relu_conv(c1, 1, "b1_1x1")(x)
    b3 = _relu_conv(c3, 3, "b3_3x3")(_relu_conv(c3r, 1, "b3_reduce")(x))
    b5 = _relu_conv(c5, 5, "b5_5x5")(_relu_conv(c5r, 1, "b5_reduce")(x))
    bp = _relu_conv(cp, 1, "pool_proj")(pooling.max_pool(x, 3, 1, 1))
    return jnp.concatenate([b1, b3, b5, bp], axis=-1)


class AuxHead(nn.Module):
  """Auxiliary classifier on 4a / 4d: 5x5/3 average pool, 1x1 conv 128, FC 1024, 70% dropout.

  Attributes:
    num_classes: number of output logits.
    width: channel multiplier (1.0 published).
  """
  num_classes: int
  width: float = 1.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """(N, H, W, C) -> logits (N, num_classes)."""
    if min(x.shape[1:3]) >= 5:
      x = pooling.avg_pool(x, 5, 3)
    # 14x14 inputs give 4x4 here; other input sizes are brought to the same 4x4 (torchvision).
    x = pooling.adaptive_avg_pool(x, 4)
    x = _relu_conv(_scaled(128, self.width), 1)(x)
    x = nn.relu(nn.Dense(_scaled(1024, self.width))(x.reshape(x.shape[0], -1)))
    x = nn.Dropout(0.7, deterministic=not train)(x)
    return nn.Dense(self.num_classes)(x)


class GoogLeNet(nn.Module):
  """GoogLeNet (Inception v1) classifier, Szegedy et al. 2014 Table 1.

  Attributes:
    num_classes: number of output logits.
    width: multiplier on every channel count (1.0 is the published network).
    dropout_rate: dropout before the classifier (0.4 published).
    aux_logits: add the two auxiliary classifiers (after 4a and 4d); then ``__call__`` returns
      ``(logits, aux1, aux2)`` in both train and eval mode.
  """
  num_classes: int = 1000
  width: float = 1.0
  dropout_rate: float = 0.4
  aux_logits: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False):
    """Logits for a batch of images.

    Args:
      x: images (N, H, W, 3); 224x224 as published, at least 32x32.
      train: enables dropout.

    Returns:
      Logits (N, num_classes), or ``(logits, aux1, aux2)`` if ``aux_logits``.
    """
    if x.ndim != 4:
      raise ValueError(f"GoogLeNet expects NHWC images of rank 4, got shape {x.shape}")
    c = functools.partial(_scaled, width=self.width)
    lrn = functools.partial(normalization.local_response_norm, size=5, alpha=1e-4, beta=0.75)
    pool = functools.partial(pooling.max_pool, window=3, stride=2, ceil_mode=True)
    x = nn.relu(conv.Conv2D(c(64), 7, stride=2, padding=3, name="conv1")(x))
    x = lrn(pool(x))
    x = _relu_conv(c(64), 1, "conv2_reduce")(x)
    x = pool(lrn(_relu_conv(c(192), 3, "conv2")(x)))
    aux = []
    for name, channels in INCEPTION.items():
      if name in ("4a", "5a"):
        x = pool(x)
      x = Inception(tuple(c(n) for n in channels), name=f"inception_{name}")(x)
      if self.aux_logits and name in ("4a", "4d"):
        aux.append(AuxHead(self.num_classes, self.width, name=f"aux_{name}")(x, train))
    x = pooling.global_avg_pool(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    logits = nn.Dense(self.num_classes, name="classifier")(x)
    return (logits, *aux) if self.aux_logits else logits


MODELS = {"googlenet": GoogLeNet}
