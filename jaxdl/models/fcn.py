"""Fully convolutional network for semantic segmentation (Long, Shelhamer & Darrell 2015).

No dense layer, so any input size works: a VGG-style encoder of conv stages (each ending in 2x2
ceil-mode max pooling, so odd sizes are fine), a convolutional head (VGG's fc6 / fc7 as 7x7 and 1x1
convolutions in the paper), a 1x1 classifier, then the FCN-8s decoder: upsample the class scores 2x
with a transposed convolution, add 1x1 class scores of the previous pooled stage, repeat for
``skips`` stages (2 = FCN-8s, 1 = FCN-16s, 0 = FCN-32s with the paper's five stages), and upsample
the rest of the way in one step, cropped to the input size. As in the paper (Sec. 4.2-4.3), that
final upsampling is fixed bilinear interpolation, the intermediate 2x ones are bias-free transposed
convolutions that start bilinear and learn, and every class-score layer starts at zero, so a net
with a new skip starts out computing what the net without it computed.
"""

from collections.abc import Sequence
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.models import common
from jaxdl.nn import pooling


def bilinear_init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """Bilinear-interpolation kernel (kh, kw, C, C) for a transposed conv, class c -> class c only.

    Args:
      key: unused (deterministic initializer), kept for the initializer signature.
      shape: (kh, kw, C_in, C_out) with C_in == C_out.
      dtype: parameter dtype.

    Returns:
      Kernel array of ``shape``.
    """
    del key
    kh, kw, c_in, c_out = shape
    if c_in != c_out:
        raise ValueError(f"bilinear_init needs as many input as output channels, got {shape}")

    def profile(k):
        f = (k + 1) // 2
        centre = f - 1 if k % 2 == 1 else f - 0.5
        return 1 - np.abs(np.arange(k) - centre) / f

    kernel = np.zeros(shape, np.float32)
    kernel[:, :, np.arange(c_in), np.arange(c_in)] = np.outer(profile(kh), profile(kw))[..., None]
    return jnp.asarray(kernel, dtype)


FINAL_UPSAMPLES = ("bilinear", "learned")


def bilinear_upsample(x: jax.Array, factor: int) -> jax.Array:
    """Fixed bilinear interpolation by an integer ``factor`` (pixel centres aligned, edges clamped).

    Inside the image this equals the transposed convolution that :func:`bilinear_init` starts from
    (Long et al. 2015, Sec. 3.3); at the border it repeats the edge instead of fading into zeros.

    Args:
      x: scores, shape (N, h, w, C).
      factor: upsampling factor.

    Returns:
      Shape (N, h * factor, w * factor, C).
    """
    n, h, w, c = x.shape
    return jax.image.resize(x, (n, h * factor, w * factor, c), "bilinear")


def _upsample(num_classes: int, factor: int, name: str):
    return nn.ConvTranspose(
        num_classes,
        (2 * factor, 2 * factor),
        strides=(factor, factor),
        padding="SAME",
        use_bias=False,
        kernel_init=bilinear_init,
        name=name,
    )


class FCN(nn.Module):
    """Fully convolutional segmenter (FCN-32s / 16s / 8s by ``skips``), logits at the input size.

    Attributes:
      num_classes: number of classes per pixel.
      stages: 3x3 conv channels of each encoder stage; each stage halves H and W (ceil).
      head: (channels, kernel) convs after the last stage (fc6 / fc7 of the paper), each followed by
        ReLU and dropout.
      skips: number of earlier pooled stages fused in the decoder (2 = FCN-8s, 1 = 16s, 0 = 32s).
      dropout_rate: dropout after each head conv ('dropout' rng stream).
      final_upsample: "bilinear" (fixed, the paper's form) or "learned" (a transposed convolution
        initialised bilinear).
      conv: the convolution layer (nn.Conv's signature).
    """

    num_classes: int = common.NUM_CLASSES
    stages: Sequence[Sequence[int]] = ((32, 32), (64, 64), (128, 128))
    head: Sequence[tuple[int, int]] = ((256, 3),)
    skips: int = 2
    dropout_rate: float = 0.5
    final_upsample: str = "bilinear"
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Per-pixel class logits.

        Args:
          x: images (N, H, W, C), any H and W >= 1.
          train: enables dropout.

        Returns:
          Logits, shape (N, H, W, num_classes).
        """
        if x.ndim != 4:
            raise ValueError(f"FCN expects NHWC images of rank 4, got shape {x.shape}")
        common.check_num_classes("FCN", self.num_classes)
        if not 0 <= self.skips < len(self.stages):
            raise ValueError(f"FCN: skips must be in [0, {len(self.stages) - 1}], got {self.skips}")
        if self.final_upsample not in FINAL_UPSAMPLES:
            raise ValueError(
                f"FCN: final_upsample must be one of {', '.join(FINAL_UPSAMPLES)}, "
                f"got {self.final_upsample!r}"
            )
        n, height, width, _ = x.shape
        conv = lambda features, k: self.conv(
            features, common.window(k), padding=common.pads(k // 2), kernel_init=common.he_normal
        )
        # class scores start at zero (Sec. 4.2)
        score_conv = lambda name: self.conv(
            self.num_classes,
            (1, 1),
            padding=common.pads(0),
            kernel_init=nn.initializers.zeros,
            name=name,
        )
        pooled = []
        for stage in self.stages:
            for channels in stage:
                x = nn.relu(conv(channels, 3)(x))
            x = pooling.max_pool(x, 2, ceil_mode=True)
            pooled.append(x)
        for channels, kernel in self.head:
            x = nn.relu(conv(channels, kernel)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        score = score_conv("score")(x)
        for i in range(1, self.skips + 1):
            skip = pooled[-1 - i]
            score = _upsample(self.num_classes, 2, f"upscore_{i}")(score)
            # 2 * ceil(h / 2) >= h, so cropping the upsampled scores always fits the skip.
            score = score[:, : skip.shape[1], : skip.shape[2]]
            score = score + score_conv(f"score_pool_{i}")(skip)
        factor = output_stride(self.stages, self.skips)
        if self.final_upsample == "bilinear":
            score = bilinear_upsample(score, factor)
        else:
            score = _upsample(self.num_classes, factor, "upscore_final")(score)
        return score[:, :height, :width]


# FCN-8s on VGG-16 (Long et al. 2015); their PASCAL VOC net is this with num_classes=21
FCN8sVGG16 = functools.partial(
    FCN,
    stages=((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    head=((4096, 7), (4096, 1)),
    skips=2,
)


def output_stride(stages: Sequence[Sequence[int]], skips: int) -> int:
    """The stride of the coarsest scores an FCN upsamples in one step: 32 for FCN-32s, 8 for 8s."""
    return 2 ** (len(stages) - skips)


MODELS = {"fcn": FCN, "fcn8s_vgg16": FCN8sVGG16}
