"""GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going deeper with convolutions", Table 1).

The original network: 5x5 convolutions in the inception modules, ReLU, no batch normalisation,
local response normalisation after the first pooling and after conv2 (as in the paper's Fig. 3 and
Caffe's bvlc_googlenet), ceil-mode 3x3/2 max pooling, global average pooling, 40% dropout and a
linear classifier. At ``num_classes=1000`` it has 6,998,552 parameters (biases included; the paper's
Table 1 rounds the weights to 6.8M), plus 6,379,728 in the two auxiliary heads.

torchvision's ``googlenet`` differs: batch-normalised convs without bias, 3x3 instead of 5x5 in the
"5x5" branch, no LRN, so its 6,624,904 parameters are not comparable.

Small images: ``stem="small"`` replaces the stem (7x7/2 conv, pools, LRN, conv2) by one 3x3 conv
of 192 channels at stride 1, as CIFAR versions of GoogLeNet do; ``modules`` keeps a few of the
inception modules; ``batch_norm=True`` puts batch normalisation after every conv (Ioffe & Szegedy
2015), which lets the net train at the residual nets' learning rate.
"""

from collections.abc import Sequence
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models import common
from jaxdl.nn import normalization, pooling

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


def _relu_conv(
    conv: common.ModuleDef,
    channels: int,
    kernel: int,
    name: str | None = None,
    batch_norm: bool = False,
    train: bool = False,
    stride: int = 1,
):
    """A ``conv`` layer with 'same' symmetric padding followed by ReLU (as every conv in GoogLeNet).

    With ``batch_norm`` the conv has no bias and batch normalisation precedes the ReLU.
    """
    layer = conv(
        channels,
        common.window(kernel),
        strides=common.window(stride),
        padding=common.pads(kernel // 2),
        use_bias=not batch_norm,
        kernel_init=common.he_normal,
        name=name,
    )
    if not batch_norm:
        return lambda x: nn.relu(layer(x))
    norm = nn.BatchNorm(
        use_running_average=not train,
        momentum=0.9,
        epsilon=1e-5,
        name=None if name is None else f"{name}_bn",
    )
    return lambda x: nn.relu(norm(layer(x)))


class Inception(nn.Module):
    """One inception module (Szegedy et al. 2014, Fig. 2b): four branches concatenated on channels.

    Attributes:
      channels: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), as in Table 1.
      batch_norm: batch normalisation after every conv (Inception v2), convs without bias.
      conv: the convolution layer (nn.Conv's signature).
    """

    channels: Sequence[int]
    batch_norm: bool = False
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """(N, H, W, C) -> (N, H, W, #1x1 + #3x3 + #5x5 + pool proj); ``train`` matters for BN."""
        c1, c3r, c3, c5r, c5, cp = self.channels
        unit = functools.partial(_relu_conv, self.conv, batch_norm=self.batch_norm, train=train)
        b1 = unit(c1, 1, "b1_1x1")(x)
        b3 = unit(c3, 3, "b3_3x3")(unit(c3r, 1, "b3_reduce")(x))
        b5 = unit(c5, 5, "b5_5x5")(unit(c5r, 1, "b5_reduce")(x))
        bp = unit(cp, 1, "pool_proj")(pooling.max_pool(x, 3, 1, 1))
        return jnp.concatenate([b1, b3, b5, bp], axis=-1)


class AuxHead(nn.Module):
    """Auxiliary classifier on 4a / 4d: 5x5/3 average pool, 1x1 conv 128, FC 1024, 70% dropout.

    Attributes:
      num_classes: number of output logits.
      width: channel multiplier (1.0 published).
      conv: the convolution layer (nn.Conv's signature).
    """

    num_classes: int
    width: float = 1.0
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """(N, H, W, C) -> logits (N, num_classes)."""
        if min(x.shape[1:3]) >= 5:
            x = pooling.avg_pool(x, 5, 3)
        # 14x14 inputs give 4x4 here; other input sizes are brought to the same 4x4 (torchvision).
        x = pooling.adaptive_avg_pool(x, 4)
        x = _relu_conv(self.conv, _scaled(128, self.width), 1)(x)
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
      stem: "imagenet" (Table 1: 7x7/2 conv, max pools, LRN, 1x1 and 3x3 convs) or "small" (one
        3x3 conv of 192 * width channels at stride ``stem_strides``, for images of 32x32 and less).
      stem_strides: stride of the small stem's conv (2 quarters the cost on 28x28).
      modules: the inception modules kept, a subsequence of Table 1's ("3a", ..., "5b"); a 3x3/2
        max pool precedes 4a and 5a when they are kept.
      batch_norm: batch normalisation after every conv (Inception v2); convs then have no bias.
      conv: the convolution layer (nn.Conv's signature).
    """

    num_classes: int = common.NUM_CLASSES
    width: float = 1.0
    dropout_rate: float = 0.4
    aux_logits: bool = False
    stem: str = "imagenet"
    modules: Sequence[str] = tuple(INCEPTION)
    batch_norm: bool = False
    stem_strides: int = 1
    conv: common.ModuleDef = nn.Conv

    def _check(self) -> None:
        common.check_num_classes("GoogLeNet", self.num_classes)
        if self.stem not in ("imagenet", "small"):
            raise ValueError(f"GoogLeNet stem must be 'imagenet' or 'small', got {self.stem!r}")
        if self.stem_strides not in (1, 2) or (self.stem == "imagenet" and self.stem_strides != 1):
            raise ValueError(
                f"GoogLeNet stem_strides must be 1 or 2, and 1 with the ImageNet stem; "
                f"got {self.stem_strides} with stem={self.stem!r}"
            )
        order = list(INCEPTION)
        positions = [order.index(m) if m in order else -1 for m in self.modules]
        if not positions or -1 in positions or positions != sorted(set(positions)):
            raise ValueError(
                f"GoogLeNet modules must be a non-empty subsequence of {order} in that "
                f"order, got {tuple(self.modules)}"
            )
        if self.aux_logits and not {"4a", "4d"} <= set(self.modules):
            raise ValueError(
                "GoogLeNet aux_logits needs modules 4a and 4d (the heads sit after them)"
            )

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False):
        """Logits for a batch of images.

        Args:
          x: images (N, H, W, C); 224x224 as published, at least 32x32 with the ImageNet stem.
          train: enables dropout (and batch statistics with ``batch_norm``).

        Returns:
          Logits (N, num_classes), or ``(logits, aux1, aux2)`` if ``aux_logits``.
        """
        if x.ndim != 4:
            raise ValueError(f"GoogLeNet expects NHWC images of rank 4, got shape {x.shape}")
        self._check()
        c = functools.partial(_scaled, width=self.width)
        unit = functools.partial(_relu_conv, self.conv, batch_norm=self.batch_norm, train=train)
        lrn = functools.partial(normalization.local_response_norm, size=5, alpha=1e-4, beta=0.75)
        pool = functools.partial(pooling.max_pool, window=3, stride=2, ceil_mode=True)
        if self.stem == "small":
            x = unit(c(192), 3, "conv1", stride=self.stem_strides)(x)
        else:
            x = lrn(pool(unit(c(64), 7, "conv1", stride=2)(x)))
            x = unit(c(64), 1, "conv2_reduce")(x)
            x = pool(lrn(unit(c(192), 3, "conv2")(x)))
        aux = []
        for name in self.modules:
            if name in ("4a", "5a"):
                x = pool(x)
            x = Inception(
                tuple(c(n) for n in INCEPTION[name]),
                self.batch_norm,
                self.conv,
                name=f"inception_{name}",
            )(x, train)
            if self.aux_logits and name in ("4a", "4d"):
                head = AuxHead(self.num_classes, self.width, self.conv, name=f"aux_{name}")
                aux.append(head(x, train))
        x = pooling.global_avg_pool(x)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        logits = nn.Dense(self.num_classes, name="classifier")(x)
        return (logits, *aux) if self.aux_logits else logits


MODELS = {"googlenet": GoogLeNet}
