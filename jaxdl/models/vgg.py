"""VGG networks A, A-LRN, B, C, D, E (Simonyan & Zisserman 2015, Table 1).

Each configuration is a list of conv stages, each followed by 2x2 max pooling; an entry is
(channels, kernel) with kernel 3 (padding 1) or 1 (configuration C's 1x1 convs); "LRN" marks
A-LRN's local response normalisation. The classifier follows torchvision (adaptive average pooling
to 7x7, 4096-4096-num_classes with dropout), so at ``num_classes=1000`` the parameter counts are
torchvision's: VGG-11 132,863,336; VGG-13 133,047,848; VGG-16 138,357,544; VGG-19 143,667,240;
C 133,638,952 (D with the last conv of stages 3-5 as 1x1).
"""

from collections.abc import Sequence
import functools

import flax.linen as nn
import jax

from jaxdl.models import common
from jaxdl.nn import normalization, pooling


def _C3(channels: int) -> tuple[int, int]:
    """A 3x3 conv entry of Table 1."""
    return (channels, 3)


_LRN = "LRN"

# Table 1 of the VGG paper, one tuple per stage (stage = convs then max-pool).
CONFIGS = {
    "A": ((_C3(64),), (_C3(128),), (_C3(256),) * 2, (_C3(512),) * 2, (_C3(512),) * 2),
    "A-LRN": ((_C3(64), _LRN), (_C3(128),), (_C3(256),) * 2, (_C3(512),) * 2, (_C3(512),) * 2),
    "B": ((_C3(64),) * 2, (_C3(128),) * 2, (_C3(256),) * 2, (_C3(512),) * 2, (_C3(512),) * 2),
    "C": (
        (_C3(64),) * 2,
        (_C3(128),) * 2,
        (_C3(256),) * 2 + ((256, 1),),
        (_C3(512),) * 2 + ((512, 1),),
        (_C3(512),) * 2 + ((512, 1),),
    ),
    "D": ((_C3(64),) * 2, (_C3(128),) * 2, (_C3(256),) * 3, (_C3(512),) * 3, (_C3(512),) * 3),
    "E": ((_C3(64),) * 2, (_C3(128),) * 2, (_C3(256),) * 4, (_C3(512),) * 4, (_C3(512),) * 4),
}


class VGG(nn.Module):
    """VGG classifier for one configuration of Table 1.

    Attributes:
      config: "A", "A-LRN", "B", "C", "D" or "E".
      num_classes: number of output logits.
      width: multiplier on every conv channel count (1.0 is the published network).
      hidden: width of the two hidden fully connected layers (4096 published).
      dropout_rate: dropout after each hidden fully connected layer.
      pool_size: spatial size the features are average-pooled to before the classifier (7 as
        torchvision, which is the identity at 224x224 input).
      ceil_mode: round the five 2x2 max-pools' output sizes up (Caffe's pooling), so that inputs
        that are not multiples of 32 (28x28: 14, 7, 4, 2, 1) keep their border pixels.
      conv: the convolution layer (nn.Conv's signature).
    """

    config: str = "D"
    num_classes: int = common.NUM_CLASSES
    width: float = 1.0
    hidden: int = 4096
    dropout_rate: float = 0.5
    pool_size: int = 7
    ceil_mode: bool = False
    conv: common.ModuleDef = nn.Conv

    def _stages(self) -> Sequence[Sequence]:
        if self.config not in CONFIGS:
            raise ValueError(f"VGG: unknown config {self.config!r}; accepted: {', '.join(CONFIGS)}")
        return CONFIGS[self.config]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch of images.

        Args:
          x: images (N, H, W, C); 224x224x3 as published, at least 32x32 (any size with ceil_mode).
          train: enables dropout.

        Returns:
          Logits, shape (N, num_classes).
        """
        if x.ndim != 4:
            raise ValueError(f"VGG expects NHWC images of rank 4, got shape {x.shape}")
        common.check_num_classes("VGG", self.num_classes)
        for stage in self._stages():
            for layer in stage:
                if layer == _LRN:
                    # The paper uses Krizhevsky's LRN; torch-convention constants (alpha / n).
                    x = normalization.local_response_norm(x, size=5, alpha=5e-4, beta=0.75, k=2.0)
                    continue
                channels, kernel = layer
                channels = max(1, int(round(channels * self.width)))
                x = self.conv(
                    channels,
                    common.window(kernel),
                    padding=common.pads(kernel // 2),
                    kernel_init=common.he_normal,
                )(x)
                x = nn.relu(x)
            x = pooling.max_pool(x, 2, ceil_mode=self.ceil_mode)
        x = pooling.adaptive_avg_pool(x, self.pool_size)
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.relu(nn.Dense(self.hidden)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


VGG_A = functools.partial(VGG, config="A")
VGG_A_LRN = functools.partial(VGG, config="A-LRN")
VGG_B = functools.partial(VGG, config="B")
VGG_C = functools.partial(VGG, config="C")
VGG_D = functools.partial(VGG, config="D")
VGG_E = functools.partial(VGG, config="E")

MODELS = {
    "vgg": VGG,  # the configuration as an argument, so one sweep can vary it
    "vgg_a": VGG_A,
    "vgg_a_lrn": VGG_A_LRN,
    "vgg_b": VGG_B,
    "vgg_c": VGG_C,
    "vgg_d": VGG_D,
    "vgg_e": VGG_E,
    "vgg11": VGG_A,
    "vgg13": VGG_B,
    "vgg16": VGG_D,
    "vgg19": VGG_E,
}
