"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) in torchvision's single-tower layout.

torchvision's variant (from "One weird trick", Krizhevsky 2014): 64-192-384-256-256 conv channels,
no LRN, adaptive average pooling to 6x6, then 4096-4096-num_classes with dropout. At
``num_classes=1000`` it has exactly 61,100,840 parameters, torchvision's count.
"""

import functools

import flax.linen as nn
import jax

from jaxdl.models import common
from jaxdl.nn import normalization, pooling


def scaled(channels: int, width: float) -> int:
    """Channel count times a width multiplier, at least 1."""
    return max(1, int(round(channels * width)))


class AlexNet(nn.Module):
    """AlexNet classifier, torchvision layout: 5 conv + 3 fully connected layers.

    The defaults are the published network (at ``num_classes=1000``); ``stem``, ``pool_padding``
    and ``pool_size`` shrink it
    to small images (e.g. a 5x5/1 first layer on 28x28 Fashion-MNIST), ``lrn`` restores the 2012
    paper's response normalisation after the first two convolutions (Sec. 3.3).

    Attributes:
      num_classes: number of output logits.
      width: multiplier on every conv channel count (1.0 is the published network).
      hidden: width of the two hidden fully connected layers (4096 published).
      dropout_rate: dropout before each hidden fully connected layer.
      stem: (kernel, stride, padding) of the first convolution; (11, 4, 2) published.
      pool_padding: padding of the three 3x3/2 max-pools (0 published; 1 lets 8x8 inputs through).
      pool_size: spatial size of the adaptive average pool before the classifier (6 published).
      lrn: local response normalisation after conv1 and conv2 (k=2, n=5, alpha=1e-4, beta=0.75).
      conv: the convolution layer (nn.Conv's signature).
    """

    num_classes: int = common.NUM_CLASSES
    width: float = 1.0
    hidden: int = 4096
    dropout_rate: float = 0.5
    stem: tuple[int, int, int] = (11, 4, 2)
    pool_padding: int = 0
    pool_size: int = 6
    lrn: bool = False
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch of images.

        Args:
          x: images (N, H, W, C); 224x224x3 as published, at least 63x63 with the published stem.
          train: enables dropout.

        Returns:
          Logits, shape (N, num_classes).
        """
        if x.ndim != 4:
            raise ValueError(f"AlexNet expects NHWC images of rank 4, got shape {x.shape}")
        if len(self.stem) != 3:
            raise ValueError(f"AlexNet: stem must be (kernel, stride, padding), got {self.stem!r}")
        common.check_num_classes("AlexNet", self.num_classes)
        c = functools.partial(scaled, width=self.width)
        pool = functools.partial(pooling.max_pool, window=3, stride=2, padding=self.pool_padding)
        # AlexNet's constants in the alpha / n convention of local_response_norm.
        norm = (
            functools.partial(normalization.local_response_norm, size=5, alpha=5e-4, k=2.0)
            if self.lrn
            else lambda a: a
        )
        # symmetric padding k // 2 as in torchvision; the stem pads by its own third entry
        conv = lambda features, k, stride=1, padding=None: self.conv(
            features,
            common.window(k),
            strides=common.window(stride),
            padding=common.pads(k // 2 if padding is None else padding),
            kernel_init=common.he_normal,
        )
        kernel, stride, padding = self.stem
        x = norm(nn.relu(conv(c(64), kernel, stride, padding)(x)))
        x = pool(x)
        x = norm(nn.relu(conv(c(192), 5)(x)))
        x = pool(x)
        x = nn.relu(conv(c(384), 3)(x))
        x = nn.relu(conv(c(256), 3)(x))
        x = nn.relu(conv(c(256), 3)(x))
        x = pool(x)
        x = pooling.adaptive_avg_pool(x, self.pool_size)
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
            x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.num_classes)(x)


MODELS = {"alexnet": AlexNet}
