"""FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer & Darrell 2015) segmenting generated shapes
(rectangles, circles, triangles): per-pixel cross-entropy, scored by pixel accuracy and mean IoU
from each run's test confusion matrix, three seeds each (every seed draws its own data set).

The paper's form: five pooling stages (strides 2..32), score layers initialised to zero, the 2x
decoder upsamplings initialised bilinear and learned, the final 32x / 16x / 8x upsampling fixed
bilinear. Scaled to a CPU: one narrow conv per stage and 1x1 fc6 / fc7 on 64x64 images, where
the stride-32, 16 and 8 scores are 2x2, 4x4 and 8x8 cells (at 32x32 the stride-32 scores are one
cell, which bilinear upsampling spreads into one class for the whole image).

Run:
  python launch.py --config=experiments/fcn_shapes.py
  python launch.py --config=experiments/fcn_shapes.py --config.model.final_upsample=learned
  python launch.py --config=experiments/fcn_shapes.py:tiny                      # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("fcn_shapes", variant)
    c = config_lib.base(
        "fcn_shapes", "segment", "FCN-32s / 16s / 8s segmenting generated shapes (mean IoU)"
    )
    c.data.name = "shapes"  # jaxdl.data.generated.shapes
    c.data.per_seed = True  # each seed draws its own images (draw data.split_seed + seed)
    c.data.num_train = 1000  # generated training images
    c.data.num_test = 200  # generated test images
    c.data.size = 64  # image height and width
    c.data.max_shapes = 3  # 1..max_shapes shapes per image (later ones cover earlier ones)
    c.data.noise = 0.1  # Gaussian pixel noise
    c.model.name = "fcn"
    c.model.stages = ((8,), (16,), (32,), (64,), (64,))  # 3x3 convs per stage, each pooled 2x
    c.model.head = ((128, 1), (128, 1))  # (channels, kernel) of fc6 / fc7 as convolutions
    c.model.skips = 2  # pooled stages fused in the decoder: 2 = FCN-8s, 1 = 16s, 0 = 32s
    c.model.dropout_rate = 0.1  # after each head conv
    c.model.final_upsample = "bilinear"  # bilinear (fixed, the paper's) | learned
    c.opt.name = "adam"
    c.opt.lr = 3e-3
    c.opt.schedule = "cosine"
    c.train.steps = 400  # 12.8 epochs of 1,000 images per run
    c.train.batch_size = 32
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 400
    c.train.eval_batch_size = 100
    c.checkpoint.every_steps = 400
    config_lib.sweepable(c, "model.skips")
    c.sweep.seed = (0, 1, 2)
    c.sweep.model.skips = (0, 1, 2)  # FCN-32s, FCN-16s, FCN-8s
    if variant == "tiny":
        c.data.num_train = 32
        c.data.num_test = 16
        c.data.size = 16
        c.model.stages = ((4,), (8,), (8,))
        c.model.head = ((8, 1),)
        c.train.steps = 6
        c.train.batch_size = 8
        c.train.log_every = 3
        c.train.eval_every = 6
        c.checkpoint.every_steps = 3
        c.sweep.seed = (0,)
        c.sweep.model.skips = (0, 2)
    return c
