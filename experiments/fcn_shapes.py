"""FCN-8s-style segmentation of generated shapes (rectangles, circles, triangles): per-pixel
cross-entropy, scored by pixel accuracy and mean IoU from the test confusion matrix.

Run:
  python launch.py --config=experiments/fcn_shapes.py
  python launch.py --config=experiments/fcn_shapes.py --config.model.skips=0   # FCN-32s-style decoder
  python launch.py --config=experiments/fcn_shapes.py:tiny                      # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("fcn_shapes", variant)
    c = config_lib.base("fcn_shapes", "segment", "FCN-8s-style segmentation of generated shapes (mean IoU)")
    c.data.name = "shapes"  # jaxdl.data.generated.shapes
    c.data.num_train = 1000  # generated training images
    c.data.num_test = 200  # generated test images
    c.data.size = 32  # image height and width
    c.data.max_shapes = 3  # 1..max_shapes shapes per image (later ones cover earlier ones)
    c.data.noise = 0.1  # Gaussian pixel noise
    c.model.name = "fcn"
    c.model.stages = ((16, 16), (32, 32), (64, 64))  # 3x3 conv channels per encoder stage (each halves H, W)
    c.model.head = ((128, 3),)  # (channels, kernel) of the fc6/fc7-like convs
    c.model.skips = 2  # pooled stages fused in the decoder: 2 = FCN-8s, 1 = 16s, 0 = 32s
    c.model.dropout_rate = 0.1  # after each head conv
    c.opt.name = "adam"
    c.opt.lr = 3e-3
    c.opt.schedule = "cosine"
    c.train.steps = 300  # a few CPU minutes
    c.train.batch_size = 32
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 300
    c.train.eval_batch_size = 200
    c.checkpoint.every_steps = 150
    if variant == "tiny":
        c.data.num_train = 32
        c.data.num_test = 16
        c.data.size = 16
        c.model.stages = ((4,), (8,), (8,))
        c.model.head = ((8, 1),)
        c.train.steps = 10
        c.train.batch_size = 8
        c.train.log_every = 5
        c.train.eval_every = 10
        c.checkpoint.every_steps = 5
    return c
