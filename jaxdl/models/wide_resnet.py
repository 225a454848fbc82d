"""Wide residual networks (Zagoruyko & Komodakis 2016) and torchvision's ``wide_resnet50_2``.

``WideResNet`` is WRN-d-k for 32x32 images: 3 groups of (d - 4) / 6 pre-activation basic blocks
with 16k, 32k and 64k channels, optional dropout between the two 3x3 convolutions (paper sec. 2.4).
``wide_resnet50_2`` is the ImageNet bottleneck ResNet-50 with twice the inner width
(torchvision, 68,883,240 parameters at ``num_classes=1000``).
"""

import functools

import flax.linen as nn
import jax.numpy as jnp

from jaxdl.models import common, resnet
from jaxdl.nn import pooling


class WideBasicBlock(nn.Module):
    """Pre-activation basic block B(3,3) of a wide ResNet (Zagoruyko & Komodakis 2016, Fig. 1d).

    BN-ReLU-conv3x3-BN-ReLU-dropout-conv3x3 plus the shortcut; when the channel count changes the
    shortcut is a 1x1 convolution of the pre-activated input.

    Attributes:
      features: output channels.
      strides: stride of the first convolution.
      dropout_rate: dropout probability between the convolutions (0 disables it).
      conv: the convolution layer (nn.Conv's signature).
    """

    features: int
    strides: int = 1
    dropout_rate: float = 0.0
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps (N, H, W, C) to (N, H / strides, W / strides, features)."""
        a = nn.relu(resnet.batch_norm(train)(x))
        if self.strides != 1 or x.shape[-1] != self.features:
            x = resnet.conv(self.conv, self.features, 1, self.strides, "shortcut")(a)
        y = resnet.conv(self.conv, self.features, 3, self.strides)(a)
        y = nn.relu(resnet.batch_norm(train)(y))
        if self.dropout_rate > 0:
            y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
        return x + resnet.conv(self.conv, self.features, 3)(y)


class WideResNet(nn.Module):
    """WRN-depth-k for 32x32 images (Zagoruyko & Komodakis 2016, Table 1).

    Attributes:
      depth: 6n + 4 (16, 22, 28, 40, ...).
      widen_factor: k; the groups have 16k, 32k and 64k channels.
      num_classes: size of the output layer.
      dropout_rate: dropout between the convolutions of each block (0.3 in the paper's best runs).
      width: base channels (16 in the paper); lower it to build the network small.
      stem_strides: stride of the first convolution (1 in the paper; 2 quarters the cost on 28x28).
      conv: the convolution layer (nn.Conv's signature).
    """

    depth: int = 28
    widen_factor: int = 10
    num_classes: int = common.NUM_CLASSES
    dropout_rate: float = 0.0
    width: int = 16
    stem_strides: int = 1
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps images (N, H, W, C) to logits (N, num_classes); dropout needs a 'dropout' rng."""
        common.check_num_classes("WideResNet", self.num_classes)
        resnet._check_positive(
            depth=self.depth,
            widen_factor=self.widen_factor,
            width=self.width,
            stem_strides=self.stem_strides,
        )
        if (self.depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4 (16, 22, 28, 40), got {self.depth}.")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}.")
        n = (self.depth - 4) // 6
        x = resnet.conv(self.conv, self.width, 3, self.stem_strides, "conv1")(x)
        for i in range(3):
            for j in range(n):
                strides = 2 if i > 0 and j == 0 else 1
                x = WideBasicBlock(
                    self.width * self.widen_factor * 2**i,
                    strides,
                    self.dropout_rate,
                    self.conv,
                    name=f"group{i + 1}_{j}",
                )(x, train)
        x = nn.relu(resnet.batch_norm(train, "final_bn")(x))
        x = pooling.global_avg_pool(x)
        return nn.Dense(self.num_classes, name="fc")(x)


WRN_28_10 = functools.partial(WideResNet, depth=28, widen_factor=10)
WRN_16_8 = functools.partial(WideResNet, depth=16, widen_factor=8)
WideResNet50_2 = functools.partial(
    resnet.ResNet, stage_sizes=(3, 4, 6, 3), block_cls=resnet.Bottleneck, width_factor=2
)

MODELS = {
    "wrn": WideResNet,
    "wrn_28_10": WRN_28_10,
    "wrn_16_8": WRN_16_8,
    "wide_resnet50_2": WideResNet50_2,
}
