"""Small MLP and CNNs with configurable widths and depth, on which the transfer methods act.

Layer names are the contract the operators in ``jaxdl.transfer.net2net`` rely on: hidden layer i is
``dense_i`` (MLP) or ``conv_i`` (CNN), its optional BatchNorm ``bn_i``, and the classifier
``head``. A block is ``layer -> [BN] -> ReLU``; the CNN has no pooling between blocks (a global
average pool before the head), so an identity block can be inserted anywhere. ``ConvNet`` (conv
layers, max pools, dense layers, head) is the layered convnet that layer transferability and
fine-tuning copy, freeze and retrain bottom-up: ``conv_0.., dense_0.., head`` (:func:`layers`).
"""

from collections.abc import Sequence

import flax.linen as nn

from jaxdl.models import common
from jaxdl.nn import pooling


class MLP(nn.Module):
    """Multi-layer perceptron ``x -> [Dense -> (BN) -> ReLU] * len(features) -> Dense head``.

    Attributes:
      features: hidden widths, one per hidden layer.
      num_classes: output logits.
      use_bn: BatchNorm after each hidden Dense (the Dense then has no bias).
      bn_epsilon: BatchNorm epsilon.
    """

    features: Sequence[int] = (32, 32)
    num_classes: int = common.NUM_CLASSES
    use_bn: bool = False
    bn_epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Maps ``(B, ...)`` inputs (flattened) to logits ``(B, num_classes)``."""
        common.check_num_classes("MLP", self.num_classes)
        x = x.reshape((x.shape[0], -1))
        for i, width in enumerate(self.features):
            x = nn.Dense(width, use_bias=not self.use_bn, name=f"dense_{i}")(x)
            if self.use_bn:
                x = nn.BatchNorm(
                    use_running_average=not train, epsilon=self.bn_epsilon, name=f"bn_{i}"
                )(x)
            x = nn.relu(x)
        return nn.Dense(self.num_classes, name="head")(x)


class CNN(nn.Module):
    """Small CNN ``[Conv k x k SAME -> (BN) -> ReLU] * len(features) -> global mean -> Dense head``.

    Attributes:
      features: channels, one per conv layer.
      num_classes: output logits.
      kernel_size: odd conv kernel size (odd, so that an identity kernel has a centre).
      use_bn: BatchNorm after each conv (the conv then has no bias).
      bn_epsilon: BatchNorm epsilon.
      conv: the convolution layer (nn.Conv's signature).
    """

    features: Sequence[int] = (16, 16)
    num_classes: int = common.NUM_CLASSES
    kernel_size: int = 3
    use_bn: bool = False
    bn_epsilon: float = 1e-5
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Maps NHWC images ``(B, H, W, C)`` to logits ``(B, num_classes)``."""
        common.check_num_classes("CNN", self.num_classes)
        k = (self.kernel_size, self.kernel_size)
        for i, channels in enumerate(self.features):
            x = self.conv(channels, k, padding="SAME", use_bias=not self.use_bn, name=f"conv_{i}")(
                x
            )
            if self.use_bn:
                x = nn.BatchNorm(
                    use_running_average=not train, epsilon=self.bn_epsilon, name=f"bn_{i}"
                )(x)
            x = nn.relu(x)
        x = pooling.global_avg_pool(x)
        return nn.Dense(self.num_classes, name="head")(x)


class ConvNet(nn.Module):
    """Convnet ``[Conv 3x3 SAME -> ReLU (-> 2x2 max pool)] * C -> [Dense -> ReLU] * D -> head``.

    The layered form of Yosinski et al. 2014's networks (conv1..conv5, fc6, fc7, fc8) at the size
    of 8x8..28x28 digit images.

    Attributes:
      conv_features: channels, one per conv layer ``conv_i``.
      features: widths of the hidden dense layers ``dense_i``.
      num_classes: output logits.
      pool_after: indices of the conv layers followed by a 2x2 max pool.
      kernel_size: conv kernel size.
      conv: the convolution layer (nn.Conv's signature).
    """

    conv_features: Sequence[int] = (32, 32, 64)
    features: Sequence[int] = (128,)
    num_classes: int = common.NUM_CLASSES
    pool_after: Sequence[int] = (1, 2)
    kernel_size: int = 3
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x, train: bool = False):
        """Maps NHWC images ``(B, H, W, C)`` to logits ``(B, num_classes)``."""
        common.check_num_classes("ConvNet", self.num_classes)
        k = (self.kernel_size, self.kernel_size)
        for i, channels in enumerate(self.conv_features):
            x = nn.relu(self.conv(channels, k, padding="SAME", name=f"conv_{i}")(x))
            if i in self.pool_after:
                x = pooling.max_pool(x, 2)
        x = x.reshape((x.shape[0], -1))
        for i, width in enumerate(self.features):
            x = nn.relu(nn.Dense(width, name=f"dense_{i}")(x))
        return nn.Dense(self.num_classes, name="head")(x)


def layers(num_conv: int, num_dense: int) -> list[str]:
    """The layer names of an ``MLP`` (``num_conv=0``) or ``ConvNet``, bottom-up, head last.

    flax sorts params keys (``conv_0, dense_0, dense_10, dense_2, head``), so code that copies or
    freezes the first n layers takes the order from here.

    Args:
      num_conv: number of conv layers.
      num_dense: number of hidden dense layers.

    Returns:
      ``["conv_0", ..., "dense_0", ..., "head"]``.
    """
    return (
        [f"conv_{i}" for i in range(num_conv)] + [f"dense_{i}" for i in range(num_dense)] + ["head"]
    )


MODELS = {
    "net2net_mlp": MLP,
    "net2net_cnn": CNN,
    "transfer_cnn": ConvNet,
}
