"""C3D-style 3-D CNN classifying generated moving-digit clips (which digit, moving which way).

The default label is digit * 4 + direction (40 classes); the direction cannot be read from a single
frame, so the 3x3x3 convolutions must use time.

Run:
  python launch.py --config=experiments/c3d_video.py
  python launch.py --config=experiments/c3d_video.py --config.data.label=direction
  python launch.py --config=experiments/c3d_video.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("c3d_video", variant)
    c = config_lib.base("c3d_video", "classify", "C3D-style 3-D CNN on generated moving-digit video")
    c.data.name = "moving_digits"  # jaxdl.data.generated.moving_digits
    c.data.label = "combined"  # combined (digit * 4 + direction, 40 classes) | digit | direction
    c.data.num_train = 2000  # generated training clips
    c.data.num_test = 500  # generated test clips
    c.data.frames = 8  # frames per clip
    c.data.size = 16  # frame height and width (>= 8 + frames - 1)
    c.model.name = "c3d"
    c.model.stages = ((16,), (32,), (64,))  # 3x3x3 conv channels per stage; pool 1x2x2 then 2x2x2
    c.model.hidden = 128  # fc6 / fc7 width
    c.model.dropout_rate = 0.3  # after fc6 and fc7
    c.model.pool_size = (1, 2, 2)  # (D, H, W) average-pooled size before fc6
    c.opt.name = "adam"
    c.opt.lr = 2e-3
    c.opt.schedule = "cosine"
    c.train.steps = 600  # ~10 epochs of 2,000 clips (300 steps reach only ~31% test accuracy)
    c.train.batch_size = 32
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 600
    c.train.eval_batch_size = 250
    c.checkpoint.every_steps = 300
    if variant == "tiny":
        c.data.num_train = 32
        c.data.num_test = 16
        c.model.stages = ((4,), (8,))
        c.model.hidden = 16
        c.train.steps = 10
        c.train.batch_size = 8
        c.train.log_every = 5
        c.train.eval_every = 10
        c.checkpoint.every_steps = 5
    return c
