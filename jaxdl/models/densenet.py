"""Densely connected networks (Huang et al. 2017, "Densely Connected Convolutional Networks").

``DenseNet`` is the ImageNet DenseNet-BC in torchvision's layout (``densenet121/169/201``, growth
rate 32, bottleneck width 4k, compression 0.5; at ``num_classes=1000`` parameter counts equal
torchvision's).
``DenseNetBC`` is the small-image variant (paper sec. 4: a 3x3 stem of 2k channels, three dense
blocks of (depth - 4) / 6 bottleneck layers; DenseNet-BC-100 with k = 12 by default).
"""

import functools
import math
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxdl.models import common, resnet
from jaxdl.nn import pooling


class DenseLayer(nn.Module):
    """Bottleneck composite function H_l: BN-ReLU-conv1x1(bn_size k)-BN-ReLU-conv3x3(k) (eq. 2).

    Attributes:
      growth_rate: k, channels the layer adds.
      bn_size: bottleneck width as a multiple of k (4 in the paper).
      drop_rate: dropout after the 3x3 convolution (0 disables it).
      conv: the convolution layer (nn.Conv's signature).
    """

    growth_rate: int
    bn_size: int = 4
    drop_rate: float = 0.0
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps (N, H, W, C) to the concatenation [x, H_l(x)], shape (N, H, W, C + growth_rate)."""
        y = nn.relu(resnet.batch_norm(train)(x))
        y = resnet.conv(self.conv, self.bn_size * self.growth_rate, 1)(y)
        y = nn.relu(resnet.batch_norm(train)(y))
        y = resnet.conv(self.conv, self.growth_rate, 3)(y)
        if self.drop_rate > 0:
            y = nn.Dropout(self.drop_rate, deterministic=not train)(y)
        return jnp.concatenate([x, y], axis=-1)


class Transition(nn.Module):
    """Transition layer: BN-ReLU-conv1x1 to ``features`` channels, then 2x2 average pooling.

    Attributes:
      features: output channels (floor(compression * input channels)).
      conv: the convolution layer (nn.Conv's signature).
    """

    features: int
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps (N, H, W, C) to (N, H // 2, W // 2, features)."""
        x = resnet.conv(self.conv, self.features, 1)(nn.relu(resnet.batch_norm(train)(x)))
        # flax's pool: jaxdl.nn.pooling.avg_pool cannot be differentiated under jit (its
        # reduce_window init value is traced there)
        return nn.avg_pool(x, (2, 2), strides=(2, 2))


def _dense_stages(
    x: jnp.ndarray,
    block_config: Sequence[int],
    growth_rate: int,
    bn_size: int,
    compression: float,
    drop_rate: float,
    train: bool,
    conv: common.ModuleDef,
) -> jnp.ndarray:
    """Runs the dense blocks with transitions between them (called inside a compact method)."""
    for i, num_layers in enumerate(block_config):
        for j in range(num_layers):
            layer = DenseLayer(
                growth_rate, bn_size, drop_rate, conv, name=f"block{i + 1}_layer{j + 1}"
            )
            x = layer(x, train)
        if i != len(block_config) - 1:
            features = int(math.floor(compression * x.shape[-1]))
            x = Transition(features, conv, name=f"transition{i + 1}")(x, train)
    return x


def _check(
    model: str,
    num_classes: int,
    growth_rate: int,
    bn_size: int,
    compression: float,
    drop_rate: float,
) -> None:
    common.check_num_classes(model, num_classes)
    resnet._check_positive(growth_rate=growth_rate, bn_size=bn_size)
    if not 0.0 < compression <= 1.0:
        raise ValueError(f"compression must be in (0, 1], got {compression}.")
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}.")


class DenseNet(nn.Module):
    """ImageNet DenseNet-BC in torchvision's layout (Huang et al. 2017, Table 1).

    Attributes:
      block_config: number of layers in each dense block.
      growth_rate: k (32 for densenet121/169/201).
      num_init_features: channels of the 7x7/2 stem (2k in the paper).
      bn_size: bottleneck width as a multiple of k.
      compression: channel reduction of the transition layers (theta = 0.5).
      drop_rate: dropout after each dense layer.
      num_classes: size of the output layer.
      conv: the convolution layer (nn.Conv's signature).
    """

    block_config: Sequence[int] = (6, 12, 24, 16)
    growth_rate: int = 32
    num_init_features: int = 64
    bn_size: int = 4
    compression: float = 0.5
    drop_rate: float = 0.0
    num_classes: int = common.NUM_CLASSES
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps images (N, H, W, C) to logits (N, num_classes); dropout needs a 'dropout' rng."""
        _check(
            "DenseNet",
            self.num_classes,
            self.growth_rate,
            self.bn_size,
            self.compression,
            self.drop_rate,
        )
        x = resnet.conv(self.conv, self.num_init_features, 7, 2, "conv0")(x)
        x = nn.relu(resnet.batch_norm(train, "norm0")(x))
        x = pooling.max_pool(x, 3, 2, 1)
        x = _dense_stages(
            x,
            self.block_config,
            self.growth_rate,
            self.bn_size,
            self.compression,
            self.drop_rate,
            train,
            self.conv,
        )
        x = nn.relu(resnet.batch_norm(train, "norm5")(x))
        x = pooling.global_avg_pool(x)
        return nn.Dense(self.num_classes, bias_init=nn.initializers.zeros, name="classifier")(x)


DenseNet121 = functools.partial(DenseNet, block_config=(6, 12, 24, 16))
DenseNet169 = functools.partial(DenseNet, block_config=(6, 12, 32, 32))
DenseNet201 = functools.partial(DenseNet, block_config=(6, 12, 48, 32))


class DenseNetBC(nn.Module):
    """DenseNet-BC for small images (Huang et al. 2017, sec. 4.1; BC-100 with k = 12 is 0.8M).

    Attributes:
      depth: 6n + 4; each of the three dense blocks has n bottleneck layers.
      growth_rate: k.
      num_classes: size of the output layer.
      bn_size: bottleneck width as a multiple of k.
      compression: channel reduction of the transition layers (theta).
      drop_rate: dropout after each dense layer.
      stem_strides: stride of the first convolution (1 in the paper; 2 quarters the cost on 28x28).
      conv: the convolution layer (nn.Conv's signature).
    """

    depth: int = 100
    growth_rate: int = 12
    num_classes: int = common.NUM_CLASSES
    bn_size: int = 4
    compression: float = 0.5
    drop_rate: float = 0.0
    stem_strides: int = 1
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps images (N, H, W, C) to logits (N, num_classes); dropout needs a 'dropout' rng."""
        _check(
            "DenseNetBC",
            self.num_classes,
            self.growth_rate,
            self.bn_size,
            self.compression,
            self.drop_rate,
        )
        resnet._check_positive(depth=self.depth, stem_strides=self.stem_strides)
        if (self.depth - 4) % 6 or self.depth < 10:
            raise ValueError(
                f"DenseNet-BC depth must be 6n+4 with n >= 1 (40, 100, 190), got {self.depth}."
            )
        n = (self.depth - 4) // 6
        x = resnet.conv(self.conv, 2 * self.growth_rate, 3, self.stem_strides, "conv0")(x)
        x = _dense_stages(
            x,
            (n, n, n),
            self.growth_rate,
            self.bn_size,
            self.compression,
            self.drop_rate,
            train,
            self.conv,
        )
        x = nn.relu(resnet.batch_norm(train, "final_bn")(x))
        x = pooling.global_avg_pool(x)
        return nn.Dense(self.num_classes, bias_init=nn.initializers.zeros, name="classifier")(x)


MODELS = {
    "densenet": DenseNet,
    "densenet121": DenseNet121,
    "densenet169": DenseNet169,
    "densenet201": DenseNet201,
    "densenet_bc": DenseNetBC,
}
