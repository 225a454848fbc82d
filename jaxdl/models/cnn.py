"""LeNet-style convolutional classifier for small images (8x8 digits, 28x28 MNIST-like).

conv - ReLU - max-pool - conv - ReLU - max-pool - dense - ReLU - dropout - dense, in the spirit of
LeCun et al. 1998 (LeNet-5) with ReLU and max pooling as in the lecture.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxdl.nn import conv, pooling


class CNN(nn.Module):
    """LeNet-style CNN: one 3x3 conv (padding 1) + ReLU + 2x2 max-pool per entry of ``features``.

    Attributes:
      num_classes: number of output logits.
      features: output channels of each conv stage; each stage halves H and W (floor).
      dense: width of the hidden dense layer.
      dropout_rate: dropout before the output layer ('dropout' rng stream).
      kernel_size: conv window (odd sizes keep H and W before pooling).
    """

    num_classes: int = 10
    features: Sequence[int] = (32, 64)
    dense: int = 128
    dropout_rate: float = 0.5
    kernel_size: int = 3

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
        for width in self.features:
            x = conv.Conv2D(width, self.kernel_size, padding=self.kernel_size // 2)(x)
            x = pooling.max_pool(nn.relu(x), 2)
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.dense)(x))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


MODELS = {"cnn": CNN}
