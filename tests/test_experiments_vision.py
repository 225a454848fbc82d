"""FCN-32s / 16s / 8s and C3D against single-frame 2-D CNNs: the models' paper forms, the clips
that only motion labels, and both comparison experiments end to end (:tiny)."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import video
from jaxdl.models import c3d, fcn
from jaxdl.tasks import segment
from jaxdl.tasks import video as video_task
from tests.configs import tiny

_SMALL_FCN = dict(num_classes=3, stages=((4,), (4,), (8,), (8,), (8,)), head=((8, 1),))


# ---------------------------------------------------------------- FCN in the paper's form


def test_final_upsampling_is_fixed_bilinear_interpolation():
    torch = pytest.importorskip("torch")
    x = np.asarray(jax.random.normal(jax.random.key(0), (2, 3, 5, 4)), np.float32)
    ours = np.asarray(fcn.bilinear_upsample(jnp.asarray(x), 4))
    golden = torch.nn.functional.interpolate(
        torch.from_numpy(x.copy()).permute(0, 3, 1, 2),
        scale_factor=4,
        mode="bilinear",
        align_corners=False,
    )
    np.testing.assert_allclose(
        ours,
        golden.permute(0, 2, 3, 1).numpy(),
        rtol=1e-5,
        atol=1e-6,
        err_msg="golden: torch interpolate, bilinear, pixel centres aligned",
    )
    # inside the image it is the transposed convolution the learned upsampling starts from
    up = fcn._upsample(4, 4, "up")  # pylint: disable=protected-access
    learned = np.asarray(up.apply(up.init(jax.random.key(1), jnp.asarray(x)), jnp.asarray(x)))
    np.testing.assert_allclose(ours[:, 4:-4, 4:-4], learned[:, 4:-4, 4:-4], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("skips", [0, 1, 2])
def test_fcn_paper_form_starts_at_zero_and_learns_no_final_upsampling(skips):
    x = jax.random.normal(jax.random.key(0), (2, 32, 32, 3))
    model = fcn.FCN(skips=skips, **_SMALL_FCN)
    variables = model.init(jax.random.key(1), x)
    params = variables["params"]
    scorers = ["score"] + [f"score_pool_{i}" for i in range(1, skips + 1)]
    assert sorted(k for k in params if k.startswith("score")) == sorted(scorers)
    for name in scorers:
        np.testing.assert_array_equal(params[name]["kernel"], 0.0, err_msg=f"{name} starts at zero")
    assert "upscore_final" not in params, "the paper fixes the final upsampling to bilinear"
    upsamplers = sorted(k for k in params if k.startswith("upscore"))
    assert upsamplers == [f"upscore_{i}" for i in range(1, skips + 1)]
    np.testing.assert_array_equal(model.apply(variables, x), 0.0)
    learned = fcn.FCN(skips=skips, final_upsample="learned", **_SMALL_FCN)
    assert "upscore_final" in learned.init(jax.random.key(1), x)["params"]
    assert fcn.output_stride(_SMALL_FCN["stages"], skips) == {0: 32, 1: 16, 2: 8}[skips]


def test_fcn_rejects_an_unknown_final_upsampling():
    with pytest.raises(ValueError, match="final_upsample"):
        model = fcn.FCN(final_upsample="nearest", **_SMALL_FCN)
        model.init(jax.random.key(0), jnp.ones((1, 8, 8, 3)))


# ---------------------------------------------------------------- clips only motion labels


def _centre_of_mass(frames):
    grid = np.arange(frames.shape[-1])
    mass = frames.sum((-1, -2))
    rows, cols = frames.sum(-1), frames.sum(-2)
    return np.stack([(rows * grid).sum(-1) / mass, (cols * grid).sum(-1) / mass], -1)


def test_the_middle_frame_does_not_tell_the_direction():
    clips, _, directions = video.make_moving_digits(4000, frames=7, size=16, seed=0)
    middle = _centre_of_mass(clips[:, 3, ..., 0])
    per_direction = [middle[directions == d] for d in range(4)]
    means = np.array([m.mean(0) for m in per_direction])
    spreads = np.array([m.std(0) for m in per_direction])
    # The generator before this form put horizontal movers' middle frame in any of 9 rows and
    # vertical movers' in 3 (position std 2.6 against 0.8): one frame told the axis of motion.
    assert np.abs(means - means.mean(0)).max() < 0.2, means
    assert np.abs(spreads - spreads.mean(0)).max() < 0.15, spreads


def test_opposite_directions_cover_the_same_positions():
    clips, _, directions = video.make_moving_digits(200, frames=7, size=16, seed=1)
    path = _centre_of_mass(clips[..., 0])  # (n, frames, 2)
    step = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])[directions]
    # frame t sits at middle + (t - 3) * step: opposite directions visit the same set, so their
    # average frames agree
    np.testing.assert_allclose(
        path - path[:, 3:4], np.arange(-3, 4)[None, :, None] * step[:, None], atol=1e-4
    )
    with pytest.raises(ValueError, match="8 \\+ 2 \\* \\(frames // 2\\)"):
        video.make_moving_digits(2, frames=8, size=15)


def test_frame_cnns_see_no_motion_and_c3d_does():
    clips = jnp.asarray(video.make_moving_digits(3, frames=5, size=12, seed=0)[0])
    kwargs = dict(num_classes=4, stages=((4,), (8,)), hidden=8)
    shuffled = clips[:, jnp.array([4, 0, 2, 1, 3])]  # middle frame kept, the others shuffled
    for name in ("frame_cnn", "frame_mean_cnn"):
        model = c3d.MODELS[name](**kwargs)
        variables = model.init(jax.random.key(0), clips)
        np.testing.assert_allclose(
            model.apply(variables, shuffled),
            model.apply(variables, clips),
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"{name} must not see frame order",
        )
        chex.assert_shape(model.apply(variables, clips), (3, 4))
    model = c3d.C3D(**kwargs)
    variables = model.init(jax.random.key(0), clips)
    assert not np.allclose(model.apply(variables, shuffled), model.apply(variables, clips))
    with pytest.raises(ValueError, match="frame"):
        c3d.FrameCNN(frame="last", **kwargs).init(jax.random.key(0), clips)


def test_each_seed_draws_its_own_data():
    config = tiny("c3d_motion")
    a = segment.run_data(config)
    config.seed = 1
    b = segment.run_data(config)
    assert not np.array_equal(a.train["x"], b.train["x"]), "per_seed: seed 1 draws other clips"
    config.data.per_seed = False
    np.testing.assert_array_equal(segment.run_data(config).train["x"], a.train["x"])


# ---------------------------------------------------------------- experiments end to end


def test_fcn_shapes_tiny_compares_strides(tmp_path):
    config = tiny("fcn_shapes")
    first = segment.run(config, str(tmp_path))
    runs = first["runs"]
    assert [(r["model.skips"], r["seed"]) for r in runs] == [(0, 0), (2, 0)]
    for r in runs:
        assert 0.0 <= r["metrics"]["test_mean_iou"] <= r["metrics"]["test_pixel_accuracy"] <= 1.0
    assert runs[0]["metrics"]["test_loss"] != runs[1]["metrics"]["test_loss"], "two decoders"
    assert os.path.getsize(tmp_path / "segmentation.png") > 0
    second = segment.run(config, str(tmp_path))  # resumes every run at its final checkpoint
    assert [r["metrics"] for r in second["runs"]] == [r["metrics"] for r in runs]


def test_c3d_motion_tiny(tmp_path):
    config = tiny("c3d_motion")
    results = video_task.run(config, str(tmp_path))
    runs = results["runs"]
    assert [r["model.name"] for r in runs] == ["c3d", "frame_cnn", "frame_mean_cnn"]
    for r in runs:
        correct = r["metrics"]["test_accuracy"] * config.data.num_test
        assert abs(correct - round(correct)) < 1e-4, "accuracy over the whole test split of clips"
    rows = [json.loads(line) for line in open(tmp_path / "run_0" / "metrics.jsonl")]
    assert abs(rows[0]["loss"] - np.log(4)) < 0.5, "4 directions: the loss starts near log(4)"
    assert os.path.getsize(tmp_path / "accuracy.png") > 0
