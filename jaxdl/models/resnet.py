"""Residual networks: ImageNet ResNets, CIFAR ResNets and pre-activation bottleneck ResNets.

* ``ResNet``: He et al. 2016, "Deep Residual Learning for Image Recognition", in torchvision's
  layout (7x7/2 stem, 3x3/2 max-pool, stride on the 3x3 conv of the bottleneck: "ResNet v1.5").
  Parameter counts at ``num_classes=1000`` equal torchvision's ``resnet18`` ... ``resnet152``.
* ``CifarResNet``: the same paper, section 4.2 (3 stages of 16/32/64 channels, 6n+2 layers).
* ``PreActResNet``: He et al. 2016, "Identity Mappings in Deep Residual Networks", bottleneck
  pre-activation units on CIFAR (9n+2 layers). The n-1 identical units of a stage run as one
  ``nn.scan(nn.remat(unit))`` so compile time and memory stay flat in depth.

Images are NHWC; every classifier is called as ``model.apply(variables, x, train=...)`` and keeps
BatchNorm statistics in the ``batch_stats`` collection (torch momentum 0.1 == flax momentum 0.9).
"""

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxdl.models import common
from jaxdl.nn import pooling

# torchvision initialises convolutions with kaiming_normal_(mode="fan_out", nonlinearity="relu").
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def conv(
    layer: common.ModuleDef,
    features: int,
    kernel: int,
    strides: int = 1,
    name: str | None = None,
) -> nn.Module:
    """Returns a bias-free square convolution with torch's symmetric padding (kernel - 1) // 2.

    Args:
      layer: the convolution layer class (nn.Conv's signature).
      features: number of output channels.
      kernel: kernel height and width.
      strides: stride in both spatial dimensions.
      name: optional submodule name.

    Returns:
      A ``layer`` mapping (N, H, W, C) to (N, ceil(H / strides), ceil(W / strides), features).
    """
    p = (kernel - 1) // 2
    return layer(
        features,
        (kernel, kernel),
        strides=(strides, strides),
        padding=((p, p), (p, p)),
        use_bias=False,
        kernel_init=conv_init,
        name=name,
    )


def batch_norm(
    train: bool, name: str | None = None, scale_init: Callable[..., Any] = nn.initializers.ones
) -> nn.BatchNorm:
    """Returns BatchNorm with PyTorch's defaults (momentum 0.1 in torch's convention, eps 1e-5).

    Args:
      train: if True normalise with batch statistics and update the running averages.
      name: optional submodule name.
      scale_init: initialiser of the scale (gamma).

    Returns:
      An ``nn.BatchNorm`` over the last (channel) axis.
    """
    return nn.BatchNorm(
        use_running_average=not train, momentum=0.9, epsilon=1e-5, scale_init=scale_init, name=name
    )


def _check_positive(**kwargs: int) -> None:
    for key, value in kwargs.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive int, got {value!r}.")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (He et al. 2016, Fig. 2 left).

    Attributes:
      features: output channels.
      strides: stride of the first convolution.
      width_factor: unused here (only bottlenecks widen); kept so both blocks share one signature.
      shortcut: when the shape changes, "B" (1x1 convolution + BN projection, the ImageNet nets) or
        "A" (parameter-free: subsample and zero-pad channels, the paper's CIFAR choice, sec. 4.2).
      residual: False drops the shortcut: the block of the paper's "plain" nets (Fig. 3 middle).
      conv: the convolution layer (nn.Conv's signature).
    """

    features: int
    strides: int = 1
    width_factor: int = 1
    shortcut: str = "B"
    residual: bool = True
    conv: common.ModuleDef = nn.Conv
    expansion = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps (N, H, W, C) to (N, H / strides, W / strides, features)."""
        y = nn.relu(batch_norm(train)(conv(self.conv, self.features, 3, self.strides)(x)))
        y = batch_norm(train)(conv(self.conv, self.features, 3)(y))
        if not self.residual:
            return nn.relu(y)
        if self.strides != 1 or x.shape[-1] != self.features:
            if self.shortcut == "A":
                extra = self.features - x.shape[-1]
                x = x[:, :: self.strides, :: self.strides, :]
                x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
            else:
                x = batch_norm(train, "shortcut_bn")(
                    conv(self.conv, self.features, 1, self.strides, "shortcut")(x)
                )
        return nn.relu(x + y)


class Bottleneck(nn.Module):
    """1x1-3x3-1x1 bottleneck block with 4x expansion; the 3x3 conv carries the stride (v1.5).

    Attributes:
      features: bottleneck channels; the block outputs 4 * features.
      strides: stride of the 3x3 convolution.
      width_factor: multiplies the inner width (2 gives torchvision's ``wide_resnet50_2``).
      conv: the convolution layer (nn.Conv's signature).
    """

    features: int
    strides: int = 1
    width_factor: int = 1
    conv: common.ModuleDef = nn.Conv
    expansion = 4

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps (N, H, W, C) to (N, H / strides, W / strides, 4 * features)."""
        inner, out = self.features * self.width_factor, self.features * self.expansion
        y = nn.relu(batch_norm(train)(conv(self.conv, inner, 1)(x)))
        y = nn.relu(batch_norm(train)(conv(self.conv, inner, 3, self.strides)(y)))
        y = batch_norm(train)(conv(self.conv, out, 1)(y))
        if self.strides != 1 or x.shape[-1] != out:
            x = batch_norm(train, "shortcut_bn")(
                conv(self.conv, out, 1, self.strides, "shortcut")(x)
            )
        return nn.relu(x + y)


class ResNet(nn.Module):
    """ImageNet ResNet in torchvision's layout (He et al. 2016, Table 1).

    Attributes:
      stage_sizes: number of blocks in each of the four stages.
      block_cls: ``BasicBlock`` or ``Bottleneck``.
      num_classes: size of the output layer.
      width: channels of the stem and first stage (64 in the paper); later stages double it.
      width_factor: inner-width multiplier of bottlenecks (wide ResNets).
      conv: the convolution layer (nn.Conv's signature).
    """

    stage_sizes: Sequence[int]
    block_cls: type[nn.Module]
    num_classes: int = common.NUM_CLASSES
    width: int = 64
    width_factor: int = 1
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps images (N, H, W, C) to logits (N, num_classes)."""
        common.check_num_classes("ResNet", self.num_classes)
        _check_positive(width=self.width, width_factor=self.width_factor)
        x = nn.relu(batch_norm(train, "bn1")(conv(self.conv, self.width, 7, 2, "conv1")(x)))
        x = pooling.max_pool(x, 3, 2, 1)
        for i, n_blocks in enumerate(self.stage_sizes):
            for j in range(n_blocks):
                strides = 2 if i > 0 and j == 0 else 1
                x = self.block_cls(
                    self.width * 2**i,
                    strides,
                    self.width_factor,
                    conv=self.conv,
                    name=f"layer{i + 1}_{j}",
                )(x, train)
        x = pooling.global_avg_pool(x)
        return nn.Dense(self.num_classes, name="fc")(x)


ResNet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2), block_cls=BasicBlock)
ResNet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block_cls=BasicBlock)
ResNet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block_cls=Bottleneck)
ResNet101 = functools.partial(ResNet, stage_sizes=(3, 4, 23, 3), block_cls=Bottleneck)
ResNet152 = functools.partial(ResNet, stage_sizes=(3, 8, 36, 3), block_cls=Bottleneck)


class CifarResNet(nn.Module):
    """ResNet for 32x32 images with 6n+2 layers (He et al. 2016, sec. 4.2), or its plain twin.

    Attributes:
      depth: 6n + 2 (20, 32, 44, 56, 110, ...).
      num_classes: size of the output layer.
      width: channels of the first stage (16 in the paper); stages use width, 2 width, 4 width.
      shortcut: "A" (default, 0.27M parameters for ResNet-20) or "B", see ``BasicBlock``.
      residual: False gives the paper's plain network of the same depth (no shortcuts, Fig. 6 left).
      stem_strides: stride of the first convolution (1 in the paper; 2 quarters the cost on 28x28).
      conv: the convolution layer (nn.Conv's signature).
    """

    depth: int = 20
    num_classes: int = common.NUM_CLASSES
    width: int = 16
    shortcut: str = "A"
    residual: bool = True
    stem_strides: int = 1
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps images (N, H, W, C) to logits (N, num_classes)."""
        common.check_num_classes("CifarResNet", self.num_classes)
        _check_positive(depth=self.depth, width=self.width, stem_strides=self.stem_strides)
        if (self.depth - 2) % 6:
            raise ValueError(
                f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got {self.depth}."
            )
        if self.shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {self.shortcut!r}.")
        n = (self.depth - 2) // 6
        x = nn.relu(
            batch_norm(train, "bn1")(conv(self.conv, self.width, 3, self.stem_strides, "conv1")(x))
        )
        for i in range(3):
            for j in range(n):
                strides = 2 if i > 0 and j == 0 else 1
                x = BasicBlock(
                    self.width * 2**i,
                    strides,
                    shortcut=self.shortcut,
                    residual=self.residual,
                    conv=self.conv,
                    name=f"layer{i + 1}_{j}",
                )(x, train)
        x = pooling.global_avg_pool(x)
        return nn.Dense(self.num_classes, name="fc")(x)


class PreActBottleneck(nn.Module):
    """Full pre-activation bottleneck unit (He et al. 2016 "Identity Mappings", Fig. 4e).

    BN-ReLU-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1 plus an identity shortcut; when the shape
    changes the shortcut is a 1x1 projection of the pre-activated input.

    Attributes:
      features: bottleneck channels; the unit outputs 4 * features.
      strides: stride of the 3x3 convolution.
      conv: the convolution layer (nn.Conv's signature).
    """

    features: int
    strides: int = 1
    conv: common.ModuleDef = nn.Conv
    expansion = 4

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps (N, H, W, C) to (N, H / strides, W / strides, 4 * features)."""
        out = self.features * self.expansion
        a = nn.relu(batch_norm(train)(x))
        if self.strides != 1 or x.shape[-1] != out:
            x = conv(self.conv, out, 1, self.strides, "shortcut")(a)
        y = conv(self.conv, self.features, 1)(a)
        y = conv(self.conv, self.features, 3, self.strides)(nn.relu(batch_norm(train)(y)))
        y = conv(self.conv, out, 1)(nn.relu(batch_norm(train)(y)))
        return x + y


class _ScanUnit(nn.Module):
    """Adapts ``PreActBottleneck`` to ``nn.scan``'s carry convention: (x, None) -> (x, None)."""

    features: int
    train: bool = False
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, _: Any) -> tuple[jnp.ndarray, None]:
        unit = PreActBottleneck(self.features, conv=self.conv, name="unit")
        return unit(x, self.train), None


def _scanned_units(
    features: int, length: int, train: bool, name: str, conv: common.ModuleDef = nn.Conv
) -> nn.Module:
    """Returns ``length`` identical units as one scanned, rematerialised module (params stacked)."""
    unit = nn.remat(_ScanUnit, prevent_cse=False)
    return nn.scan(
        unit,
        variable_axes={"params": 0, "batch_stats": 0},
        split_rngs={"params": True, "dropout": True},
        length=length,
    )(features, train, conv, name=name)


class PreActResNet(nn.Module):
    """Pre-activation bottleneck ResNet for 32x32 images with 9n+2 layers (He et al. 2016b).

    Stage i (of 3) has n units of ``width * 2**i`` bottleneck channels (output 4x that). The first
    unit of a stage changes the shape; the other n - 1 are identical and, with ``scan=True``, run
    as ``nn.scan(nn.remat(unit))`` under the name ``stage{i}_rest`` with parameters stacked on a
    leading axis of length n - 1. With ``scan=False`` they are ``stage{i}_rest_{j}``.

    Attributes:
      depth: 9n + 2 (164, 1001, ...).
      num_classes: size of the output layer.
      width: base bottleneck channels (16 in the paper).
      scan: scan (and rematerialise) the identical units of each stage.
      conv: the convolution layer (nn.Conv's signature).
    """

    depth: int = 164
    num_classes: int = common.NUM_CLASSES
    width: int = 16
    scan: bool = True
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Maps images (N, H, W, C) to logits (N, num_classes)."""
        common.check_num_classes("PreActResNet", self.num_classes)
        _check_positive(depth=self.depth, width=self.width)
        if (self.depth - 2) % 9:
            raise ValueError(
                f"pre-activation ResNet depth must be 9n+2 (164, 1001), got {self.depth}."
            )
        n = (self.depth - 2) // 9
        x = conv(self.conv, self.width, 3, 1, "conv1")(x)
        for i in range(3):
            features = self.width * 2**i
            first = PreActBottleneck(
                features, 1 if i == 0 else 2, conv=self.conv, name=f"stage{i}_first"
            )
            x = first(x, train)
            if n == 1:
                continue
            if self.scan:
                rest = _scanned_units(features, n - 1, train, f"stage{i}_rest", self.conv)
                x, _ = rest(x, None)
            else:
                for j in range(n - 1):
                    unit = PreActBottleneck(features, conv=self.conv, name=f"stage{i}_rest_{j}")
                    x = unit(x, train)
        x = nn.relu(batch_norm(train, "final_bn")(x))
        x = pooling.global_avg_pool(x)
        return nn.Dense(self.num_classes, name="fc")(x)


MODELS = {
    "resnet18": ResNet18,
    "resnet34": ResNet34,
    "resnet50": ResNet50,
    "resnet101": ResNet101,
    "resnet152": ResNet152,
    "cifar_resnet": CifarResNet,
    "resnet20": functools.partial(CifarResNet, depth=20),
    "resnet32": functools.partial(CifarResNet, depth=32),
    "resnet44": functools.partial(CifarResNet, depth=44),
    "resnet56": functools.partial(CifarResNet, depth=56),
    "resnet110": functools.partial(CifarResNet, depth=110),
    "preact_resnet": PreActResNet,
    "preact_resnet164": functools.partial(PreActResNet, depth=164),
    "preact_resnet1001": functools.partial(PreActResNet, depth=1001),
}
