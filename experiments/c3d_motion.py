"""C3D (Tran et al. 2015) against single-frame 2-D CNNs on generated clips labelled by their motion:
which way (right, left, down, up) an 8x8 digit slides, one pixel per frame.

The clips are built so that only motion tells the label (jaxdl/data/video.py): the middle frame
puts the digit anywhere in one square whatever the direction (the 2-D CNN on it can only guess,
25%), and with an odd number of frames opposite directions cover the same positions, so the average
frame shows the axis of motion but not its sense (at most 50%). The 3-D convolutions see the
motion. Three seeds per model, each on its own draw of the clips. Scaled to a CPU: 7 frames of
16x16, three narrow stages.

Run:
  python launch.py --config=experiments/c3d_motion.py
  python launch.py --config=experiments/c3d_motion.py:tiny    # seconds (tests)
"""

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("c3d_motion", variant)
    c = config_lib.base(
        "c3d_motion", "video", "C3D vs single-frame 2-D CNNs on the direction of motion"
    )
    c.data.name = "moving_digits"  # jaxdl.data.generated.moving_digits
    c.data.label = "direction"  # right | left | down | up: only motion tells it
    c.data.per_seed = True  # each seed draws its own clips (draw data.split_seed + seed)
    c.data.num_train = 1000  # generated training clips
    c.data.num_test = 500  # generated test clips
    c.data.frames = 7  # odd: opposite directions cover the same positions
    c.data.size = 16  # frame height and width (>= 8 + 2 * (frames // 2))
    c.model.name = "c3d"  # c3d | frame_cnn (middle frame) | frame_mean_cnn (average frame)
    c.model.stages = ((8,), (16,), (32,))  # conv channels per stage (3x3x3, or 3x3 for 2-D)
    c.model.hidden = 64  # fc6 / fc7 width
    c.model.dropout_rate = 0.3  # after fc6 and fc7
    c.model.pool_size = (1, 2, 2)  # (D, H, W) average-pooled size before fc6
    c.opt.name = "adam"
    c.opt.lr = 2e-3
    c.opt.schedule = "cosine"
    c.train.steps = 200  # 6.4 epochs of 1,000 clips
    c.train.batch_size = 32
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 200
    c.train.eval_batch_size = 250
    c.checkpoint.every_steps = 200
    config_lib.sweepable(c, "model.name")
    c.sweep.seed = (0, 1, 2)
    c.sweep.model.name = ("c3d", "frame_cnn", "frame_mean_cnn")
    if variant == "tiny":
        c.data.num_train = 32
        c.data.num_test = 32
        c.data.frames = 5
        c.data.size = 12
        c.model.stages = ((4,), (8,))
        c.model.hidden = 16
        c.train.steps = 6
        c.train.batch_size = 8
        c.train.log_every = 3
        c.train.eval_every = 6
        c.checkpoint.every_steps = 3
        c.sweep.seed = (0,)
    return c
