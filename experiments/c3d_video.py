"""C3D-style 3-D CNN classifying generated moving-digit clips (which digit, moving which way: digit
* 4 + direction, 40 classes) against single-frame 2-D CNNs, three seeds each on its own clips.

The digit is visible in any frame, the direction only in the motion (jaxdl/data/video.py: no single
position tells it), so a 2-D CNN on the middle frame can reach at most a quarter of its digit
accuracy, and one on the average frame (which shows the axis of motion) half of it; the 3x3x3
convolutions must use time to do better.

Run:
  python launch.py --config=experiments/c3d_video.py
  python launch.py --config=experiments/c3d_video.py --config.data.label=direction
  python launch.py --config=experiments/c3d_video.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("c3d_video", variant)
    c = config_lib.base(
        "c3d_video", "video", "C3D-style 3-D CNN vs 2-D CNNs on generated moving-digit video"
    )
    c.data.name = "moving_digits"  # jaxdl.data.generated.moving_digits
    c.data.label = "combined"  # combined (digit * 4 + direction, 40 classes) | digit | direction
    c.data.per_seed = True  # each seed draws its own clips (draw data.split_seed + seed)
    c.data.num_train = 2000  # generated training clips
    c.data.num_test = 500  # generated test clips
    c.data.frames = 7  # frames per clip (odd: opposite directions cover the same positions)
    c.data.size = 16  # frame height and width (>= 8 + 2 * (frames // 2))
    c.model.name = "c3d"  # c3d | frame_cnn (middle frame) | frame_mean_cnn (average frame)
    c.model.stages = ((16,), (32,), (64,))  # conv channels per stage; C3D pools 1x2x2 then 2x2x2
    c.model.hidden = 128  # fc6 / fc7 width
    c.model.dropout_rate = 0.3  # after fc6 and fc7
    c.model.pool_size = (1, 2, 2)  # (D, H, W) average-pooled size before fc6
    c.opt.name = "adam"
    c.opt.lr = 2e-3
    c.opt.schedule = "cosine"
    c.train.steps = 400  # 6.4 epochs of 2,000 clips per run (CPU budget)
    c.train.batch_size = 32
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 400
    c.train.eval_batch_size = 250
    c.checkpoint.every_steps = 400
    config_lib.sweepable(c, "model.name")
    c.sweep.seed = (0, 1, 2)
    c.sweep.model.name = ("c3d", "frame_cnn", "frame_mean_cnn")
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
        c.sweep.seed = ()  # one C3D run (c3d_motion's tiny test covers the comparison)
        c.sweep.model.name = ()
    return c
