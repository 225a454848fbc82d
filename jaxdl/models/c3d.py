"""C3D: 3-D convolutional network over video clips (Tran et al. 2015, "Learning Spatiotemporal
Features with 3D Convolutional Networks", Fig. 3).

All convolutions are 3x3x3 with stride 1 and padding 1; pool1 is 1x2x2 (keeps early temporal
information), pool2-pool5 are 2x2x2, all ceil-mode as in Caffe, so short or small clips still work.
Before fc6 the features are average-pooled to (1, 4, 4), the identity for the published
16x112x112 clips (fc6 then sees 8192 inputs, as in the paper). Videos are NDHWC:
(N, frames, H, W, C).

``FrameCNN`` tests the paper's argument (Sec. 3.1) that 2-D convolution loses the temporal signal:
C3D's layers with 2-D 3x3 kernels and 2x2 pooling, applied to one frame of the clip (or to the
average frame), so it sees appearance but no motion.
"""

from collections.abc import Sequence
import functools

import flax.linen as nn
import jax

from jaxdl.models import common
from jaxdl.nn import pooling


class C3D(nn.Module):
    """C3D video classifier.

    Attributes:
      num_classes: number of output logits (487 for Sports-1M in the paper).
      stages: conv channels of each of the 5 stages (each followed by pooling); published
        ((64,), (128,), (256, 256), (512, 512), (512, 512)).
      hidden: width of fc6 and fc7 (4096 published).
      dropout_rate: dropout after fc6 and fc7.
      pool_size: (D, H, W) the last feature map is average-pooled to before fc6.
      conv: the convolution layer (nn.Conv's signature).
    """

    num_classes: int = common.NUM_CLASSES
    stages: Sequence[Sequence[int]] = ((64,), (128,), (256, 256), (512, 512), (512, 512))
    hidden: int = 4096
    dropout_rate: float = 0.5
    pool_size: tuple[int, int, int] = (1, 4, 4)
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch of clips.

        Args:
          x: videos, shape (N, D, H, W, C) (NDHWC).
          train: enables dropout.

        Returns:
          Logits, shape (N, num_classes).
        """
        if x.ndim != 5:
            raise ValueError(f"C3D expects NDHWC videos of rank 5, got shape {x.shape}")
        common.check_num_classes("C3D", self.num_classes)
        for i, stage in enumerate(self.stages):
            for channels in stage:
                x = self.conv(
                    channels,
                    common.window(3, 3),
                    padding=common.pads(1, 3),
                    kernel_init=common.he_normal,
                )(x)
                x = nn.relu(x)
            window = (1, 2, 2) if i == 0 else (2, 2, 2)
            x = pooling.max_pool(x, window, ceil_mode=True)
        x = pooling.adaptive_avg_pool(x, self.pool_size)
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.relu(nn.Dense(self.hidden)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


FRAMES = ("middle", "mean")


class FrameCNN(nn.Module):
    """Single-frame 2-D CNN: C3D's layers with 2-D kernels, on one frame of each clip.

    Attributes:
      num_classes: number of output logits.
      stages: conv channels of each stage (3x3 convs, then 2x2 ceil-mode max pooling).
      hidden: width of fc6 and fc7.
      dropout_rate: dropout after fc6 and fc7.
      pool_size: (D, H, W) as for C3D; the (H, W) the features are average-pooled to before fc6.
      frame: "middle" (frame ``D // 2``) or "mean" (the average of all frames).
      conv: the convolution layer (nn.Conv's signature).
    """

    num_classes: int = common.NUM_CLASSES
    stages: Sequence[Sequence[int]] = ((64,), (128,), (256, 256), (512, 512), (512, 512))
    hidden: int = 4096
    dropout_rate: float = 0.5
    pool_size: tuple[int, int, int] = (1, 4, 4)
    frame: str = "middle"
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch of clips, from one frame of each.

        Args:
          x: videos, shape (N, D, H, W, C) (NDHWC).
          train: enables dropout.

        Returns:
          Logits, shape (N, num_classes).
        """
        if x.ndim != 5:
            raise ValueError(f"FrameCNN expects NDHWC videos of rank 5, got shape {x.shape}")
        if self.frame not in FRAMES:
            raise ValueError(
                f"FrameCNN: frame must be one of {', '.join(FRAMES)}, got {self.frame!r}"
            )
        common.check_num_classes("FrameCNN", self.num_classes)
        x = x[:, x.shape[1] // 2] if self.frame == "middle" else x.mean(1)
        for stage in self.stages:
            for channels in stage:
                x = self.conv(
                    channels, (3, 3), padding=common.pads(1), kernel_init=common.he_normal
                )(x)
                x = nn.relu(x)
            x = pooling.max_pool(x, 2, ceil_mode=True)
        x = pooling.adaptive_avg_pool(x, tuple(self.pool_size[1:]))
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.relu(nn.Dense(self.hidden)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


MODELS = {
    "c3d": C3D,
    "frame_cnn": FrameCNN,
    "frame_mean_cnn": functools.partial(FrameCNN, frame="mean"),
}
