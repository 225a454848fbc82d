"""LeNet-style convolutional classifier for small images (8x8 digits, 28x28 MNIST-like).

conv - ReLU - max-pool - conv - ReLU - max-pool - dense - ReLU - dropout - dense, in the spirit of
LeCun et al. 1998 (LeNet-5) with ReLU and max pooling as in the lecture.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxdl.models import common
from jaxdl.nn import pooling


class CNN(nn.Module):
    """LeNet-style CNN: one 3x3 conv (padding 1) + ReLU + 2x2 max-pool per entry of ``features``.

    Attributes:
      num_classes: number of output logits.
      features: output channels of each conv stage; each stage halves H and W (floor).
      dense: width of the hidden dense layer.
      dropout_rate: dropout before the output layer ('dropout' rng stream).
      kernel_size: conv window (odd sizes keep H and W before pooling).
      conv: the convolution layer (nn.Conv's signature).
    """

    num_classes: int = common.NUM_CLASSES
    features: Sequence[int] = (32, 64)
    dense: int = 128
    dropout_rate: float = 0.5
    kernel_size: int = 3
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch of images.

        Args:
          x: images, shape (N, H, W, C); H and W at least 2 ** len(features).
          train: enables dropout.

        Returns:
          Logits, shape (N, num_classes).
        """
        if x.ndim != 4:
            raise ValueError(f"CNN expects NHWC images of rank 4, got shape {x.shape}")
        common.check_num_classes("CNN", self.num_classes)
        k = self.kernel_size
        for width in self.features:
            x = self.conv(
                width, common.window(k), padding=common.pads(k // 2), kernel_init=common.he_normal
            )(x)
            x = pooling.max_pool(nn.relu(x), 2)
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.dense)(x))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


MODELS = {"cnn": CNN}
