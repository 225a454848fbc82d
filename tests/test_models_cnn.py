"""Tests for the CNN model zoo (part 1) and its generated data sets."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import shapes, video
from jaxdl.models import alexnet, c3d, cnn, fcn, googlenet, vgg

REGISTRY = {
    **cnn.MODELS,
    **alexnet.MODELS,
    **vgg.MODELS,
    **googlenet.MODELS,
    **fcn.MODELS,
    **c3d.MODELS,
}

_VGG_SMALL = dict(num_classes=5, width=1 / 16, hidden=16)
# Reduced-width arguments and a small input for every registered name.
SMALL = {
    "cnn": (dict(num_classes=10, features=(4, 8), dense=16), (2, 8, 8, 1)),
    "alexnet": (dict(num_classes=5, width=1 / 16, hidden=16), (2, 64, 64, 3)),
    "googlenet": (dict(num_classes=5, width=1 / 16), (2, 32, 32, 3)),
    "fcn": (dict(num_classes=4, stages=((4,), (8,), (8,)), head=((8, 3),)), (2, 20, 28, 3)),
    "fcn8s_vgg16": (
        dict(num_classes=3, stages=((4,), (4,), (8,), (8,), (8,)), head=((8, 7),)),
        (1, 33, 40, 3),
    ),
    "c3d": (
        dict(num_classes=40, stages=((4,), (4,), (8,), (8,), (8,)), hidden=16),
        (2, 4, 16, 16, 1),
    ),
    **{
        name: (dict(num_classes=4, stages=((4,), (8,)), hidden=8), (2, 5, 12, 12, 1))
        for name in ("frame_cnn", "frame_mean_cnn")
    },
    **{name: (_VGG_SMALL, (2, 32, 32, 3)) for name in vgg.MODELS},
}


def _random_variables(model, x, seed=0):
    """Variables of ``model`` with He-scaled numpy weights and zero biases.

    Shapes come from jax.eval_shape of init; the values avoid compiling the initialisers (the
    threefry kernels cost seconds of XLA:CPU compile per parameter, too slow for deep nets here).
    """
    rng = np.random.default_rng(seed)
    abstract = jax.eval_shape(model.init, jax.random.key(0), x)

    def fill(leaf):
        if leaf.ndim == 1:
            return np.zeros(leaf.shape, np.float32)
        fan_in = int(np.prod(leaf.shape[:-1]))
        return (rng.normal(size=leaf.shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    return jax.tree.map(fill, abstract)


def _count(model, shape):
    """Number of entries in the ``params`` collection, from shapes only (no memory)."""
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    return sum(leaf.size for leaf in jax.tree.leaves(variables["params"]))


def _conv(c_in, c_out, k, ndim=2, bias=True):
    return k**ndim * c_in * c_out + (c_out if bias else 0)


def _dense(d_in, d_out):
    return d_in * d_out + d_out


def test_every_registered_model_has_small_arguments():
    assert set(SMALL) == set(REGISTRY), "every registered model needs a reduced-width test case"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_registered_model_forward(name):
    kwargs, in_shape = SMALL[name]
    model = REGISTRY[name](**kwargs)
    x = jax.random.normal(jax.random.key(1), in_shape)
    y = jax.jit(model.apply)(_random_variables(model, x), x)
    expected = (
        (*in_shape[:3], kwargs["num_classes"])
        if name.startswith("fcn")
        else (in_shape[0], kwargs["num_classes"])
    )
    chex.assert_shape(y, expected)
    chex.assert_tree_all_finite(y)


# Published counts at num_classes=1000, only the params collection (torchvision's numbers).
PUBLISHED = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg_a": 132_863_336,
    "vgg_a_lrn": 132_863_336,
    "vgg13": 133_047_848,
    "vgg_b": 133_047_848,
    "vgg16": 138_357_544,
    "vgg_d": 138_357_544,
    "vgg19": 143_667_240,
    "vgg_e": 143_667_240,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
    n = _count(REGISTRY[name](num_classes=1000), (1, 224, 224, 3))
    assert n == PUBLISHED[name], f"{name}: {n} params; torchvision / VGG paper: {PUBLISHED[name]}"


def test_vgg_c_count_from_table1():
    # C is D with the last conv of stages 3, 4 and 5 as 1x1 instead of 3x3 (VGG paper, Table 1).
    expected = PUBLISHED["vgg16"] - 8 * (256 * 256 + 512 * 512 + 512 * 512)
    assert _count(vgg.MODELS["vgg_c"](num_classes=1000), (1, 224, 224, 3)) == expected, (
        "VGG-16 minus 3x3->1x1"
    )


def test_googlenet_count_from_table1():
    # Table 1 of Szegedy et al. 2014, transcribed here independently of the model file.
    table = [
        (64, 96, 128, 16, 32, 32),
        (128, 128, 192, 32, 96, 64),
        (192, 96, 208, 16, 48, 64),
        (160, 112, 224, 24, 64, 64),
        (128, 128, 256, 24, 64, 64),
        (112, 144, 288, 32, 64, 64),
        (256, 160, 320, 32, 128, 128),
        (256, 160, 320, 32, 128, 128),
        (384, 192, 384, 48, 128, 128),
    ]
    expected = _conv(3, 64, 7) + _conv(64, 64, 1) + _conv(64, 192, 3)
    c_in, aux = 192, 0
    for i, (c1, c3r, c3, c5r, c5, cp) in enumerate(table):
        expected += (
            _conv(c_in, c1, 1)
            + _conv(c_in, c3r, 1)
            + _conv(c3r, c3, 3)
            + _conv(c_in, c5r, 1)
            + _conv(c5r, c5, 5)
            + _conv(c_in, cp, 1)
        )
        c_in = c1 + c3 + c5 + cp
        if i in (2, 5):  # auxiliary heads after 4a and 4d
            aux += _conv(c_in, 128, 1) + _dense(4 * 4 * 128, 1024) + _dense(1024, 1000)
    expected += _dense(1024, 1000)
    assert expected == 6_998_552
    assert _count(googlenet.GoogLeNet(num_classes=1000), (1, 224, 224, 3)) == expected, (
        "Table 1 arithmetic"
    )
    with_aux = _count(googlenet.GoogLeNet(num_classes=1000, aux_logits=True), (1, 224, 224, 3))
    assert with_aux == expected + aux, "Table 1 plus the two auxiliary heads of Sec. 5"


def test_googlenet_aux_logits():
    model = googlenet.GoogLeNet(num_classes=7, width=1 / 16, aux_logits=True)
    x = jnp.ones((2, 32, 32, 3))
    variables = _random_variables(model, x)
    apply = jax.jit(model.apply, static_argnames="train")
    outputs = apply(variables, x, train=True, rngs={"dropout": jax.random.key(1)})
    assert len(outputs) == 3
    for y in outputs:
        chex.assert_shape(y, (2, 7))
    chex.assert_tree_all_finite(outputs)


def test_c3d_count_from_paper():
    # Tran et al. 2015 Fig. 3: 8 3x3x3 convs, fc6 on 512 x 1 x 4 x 4, fc7, 487 Sports-1M classes.
    channels = [3, 64, 128, 256, 256, 512, 512, 512, 512]
    expected = sum(_conv(a, b, 3, ndim=3) for a, b in zip(channels, channels[1:]))
    expected += _dense(8192, 4096) + _dense(4096, 4096) + _dense(4096, 487)
    assert _count(c3d.C3D(num_classes=487), (1, 16, 112, 112, 3)) == expected, (
        "C3D layer arithmetic"
    )


def test_fcn8s_vgg16_count():
    # VGG-16 convs, fc6 as 7x7 conv, fc7 as 1x1, three 1x1 scorers and bias-free bilinear 4x4
    # upsamplers; the final 16x16 one is fixed (voc-fcn8s of Long et al. 2015, 21 classes).
    vgg16_convs = PUBLISHED["vgg16"] - _dense(25088, 4096) - _dense(4096, 4096) - _dense(4096, 1000)
    expected = (
        vgg16_convs
        + _conv(512, 4096, 7)
        + _conv(4096, 4096, 1)
        + _conv(4096, 21, 1)
        + _conv(512, 21, 1)
        + _conv(256, 21, 1)
        + 2 * _conv(21, 21, 4, bias=False)
    )
    assert _count(fcn.FCN8sVGG16(num_classes=21), (1, 64, 64, 3)) == expected, (
        "FCN-8s layer arithmetic"
    )
    learned = fcn.FCN8sVGG16(num_classes=21, final_upsample="learned")
    assert _count(learned, (1, 64, 64, 3)) == expected + _conv(21, 21, 16, bias=False)


def test_cnn_on_28x28_and_dropout():
    model = cnn.CNN(num_classes=10, features=(4, 8), dense=16, dropout_rate=0.5)
    x = jax.random.normal(jax.random.key(0), (3, 28, 28, 1))
    variables = model.init(jax.random.key(1), x)
    y_eval = model.apply(variables, x)
    y_a = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)})
    y_b = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(3)})
    chex.assert_shape(y_eval, (3, 10))
    np.testing.assert_array_equal(
        y_eval, model.apply(variables, x), err_msg="eval is deterministic"
    )
    assert not np.allclose(y_a, y_b), "dropout masks should depend on the 'dropout' key"


def test_vgg_a_lrn_differs_from_a_only_by_lrn():
    x = jax.random.normal(jax.random.key(0), (1, 32, 32, 3)) * 10
    a, a_lrn = vgg.MODELS["vgg_a"](**_VGG_SMALL), vgg.MODELS["vgg_a_lrn"](**_VGG_SMALL)
    variables = _random_variables(a, x)
    assert jax.tree.structure(variables) == jax.tree.structure(_random_variables(a_lrn, x))
    assert not np.allclose(a.apply(variables, x), a_lrn.apply(variables, x)), "LRN must act"
    with pytest.raises(ValueError, match="A-LRN"):
        vgg.VGG(config="F").init(jax.random.key(0), x)


def test_fcn_two_input_sizes():
    model = fcn.FCN(num_classes=4, stages=((4,), (8,), (8,)), head=((8, 3),))
    x1, x2 = jnp.ones((1, 16, 16, 3)), jnp.ones((2, 23, 31, 3))
    variables = _random_variables(model, x1)
    chex.assert_shape(model.apply(variables, x1), (1, 16, 16, 4))
    chex.assert_shape(model.apply(variables, x2), (2, 23, 31, 4))  # same params, any size
    assert all("Dense" not in k for k in variables["params"]), "no dense layer in an FCN"


@pytest.mark.parametrize("factor", [2, 4])
def test_fcn_upsampler_starts_bilinear(factor):
    up = fcn._upsample(2, factor, "up")
    x = jnp.ones((1, 4, 4, 2))
    y = up.apply(up.init(jax.random.key(0), x), x)
    chex.assert_shape(y, (1, 4 * factor, 4 * factor, 2))
    inner = y[:, factor:-factor, factor:-factor]
    np.testing.assert_allclose(
        inner, 1.0, rtol=1e-6, err_msg="bilinear interpolation of a constant is that constant"
    )
    # the taps of Long et al.'s upsample_filt (FCN's surgery.py): 4 taps at factor 2, 8 at 4
    taps = {
        2: [0.25, 0.75, 0.75, 0.25],
        4: [0.125, 0.375, 0.625, 0.875, 0.875, 0.625, 0.375, 0.125],
    }[factor]
    kernel = np.asarray(up.init(jax.random.key(0), x)["params"]["kernel"])
    np.testing.assert_allclose(kernel[:, :, 0, 0], np.outer(taps, taps), rtol=1e-6)
    np.testing.assert_array_equal(kernel[:, :, 0, 1], 0.0)  # class c feeds class c only
    # bilinear interpolation reproduces a linear ramp: inside, each output pixel adds 1 / factor
    ramp = jnp.broadcast_to(jnp.arange(6.0)[None, :, None, None], (1, 6, 6, 2))
    rows = up.apply(up.init(jax.random.key(0), ramp), ramp)[0, factor:-factor, 2 * factor, 0]
    np.testing.assert_allclose(np.diff(rows), 1.0 / factor, rtol=1e-5)


def test_c3d_tiny_video_from_generator():
    videos, digits, directions = video.make_moving_digits(3, frames=4, size=12, seed=0)
    model = c3d.C3D(num_classes=40, stages=((4,), (4,), (8,), (8,), (8,)), hidden=16)
    variables = _random_variables(model, videos)
    y = model.apply(variables, videos)
    chex.assert_shape(y, (3, 40))
    chex.assert_tree_all_finite(y)
    with pytest.raises(ValueError, match="NDHWC"):
        model.apply(variables, videos[:, 0])


# ---------------------------------------------------------------- generated data


def test_make_shapes():
    images, masks = shapes.make_shapes(6, size=24, seed=3)
    chex.assert_shape(images, (6, 24, 24, 3))
    chex.assert_shape(masks, (6, 24, 24))
    assert images.dtype == np.float32 and masks.dtype == np.int32
    assert set(np.unique(masks)) <= {0, 1, 2, 3} and (masks > 0).any(axis=(1, 2)).all()
    again = shapes.make_shapes(6, size=24, seed=3)
    np.testing.assert_array_equal(images, again[0], err_msg="seeded generator is deterministic")
    np.testing.assert_array_equal(masks, again[1])
    # Shapes are brighter than the background (uniform [0, 0.3] vs [0.4, 1] before noise).
    for img, mask in zip(images, masks):
        assert img[mask > 0].mean() > img[mask == 0].mean() + 0.2
    with pytest.raises(ValueError, match="size >= 8"):
        shapes.make_shapes(2, size=4)


def test_make_moving_digits_motion():
    videos, digits, directions = video.make_moving_digits(20, frames=5, size=14, seed=1)
    chex.assert_shape(videos, (20, 5, 14, 14, 1))
    assert set(np.unique(digits)) <= set(range(10)) and set(np.unique(directions)) <= set(range(4))
    steps = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}
    for clip, direction in zip(videos, directions):
        dy, dx = steps[int(direction)]
        for t in range(1, 5):
            # Each frame is the previous one shifted by one pixel (the digit stays in the frame).
            np.testing.assert_array_equal(clip[t], np.roll(clip[t - 1], (dy, dx), axis=(0, 1)))
        np.testing.assert_allclose(clip[0].sum(), clip[-1].sum(), rtol=1e-6)
    np.testing.assert_array_equal(
        video.combined_labels(digits, directions), digits * 4 + directions
    )
    with pytest.raises(ValueError, match="size must be"):
        video.make_moving_digits(2, frames=10, size=12)


@pytest.mark.parametrize("size", [224, 100])
def test_alexnet_matches_torch_layout(size):
    """Forward pass against torchvision's AlexNet layout transcribed in torch, same weights."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    model = alexnet.AlexNet(num_classes=5, width=1 / 16, hidden=16)
    x = np.random.default_rng(0).normal(size=(2, size, size, 3)).astype(np.float32)
    variables = _random_variables(model, x)
    p = variables["params"]
    ref = tnn.Sequential(
        tnn.Conv2d(3, 4, 11, 4, 2),
        tnn.ReLU(),
        tnn.MaxPool2d(3, 2),
        tnn.Conv2d(4, 12, 5, padding=2),
        tnn.ReLU(),
        tnn.MaxPool2d(3, 2),
        tnn.Conv2d(12, 24, 3, padding=1),
        tnn.ReLU(),
        tnn.Conv2d(24, 16, 3, padding=1),
        tnn.ReLU(),
        tnn.Conv2d(16, 16, 3, padding=1),
        tnn.ReLU(),
        tnn.MaxPool2d(3, 2),
        tnn.AdaptiveAvgPool2d(6),
        tnn.Flatten(),
        tnn.Dropout(),
        tnn.Linear(576, 16),
        tnn.ReLU(),
        tnn.Dropout(),
        tnn.Linear(16, 16),
        tnn.ReLU(),
        tnn.Linear(16, 5),
    ).eval()
    convs = [m for m in ref if isinstance(m, tnn.Conv2d)]
    linears = [m for m in ref if isinstance(m, tnn.Linear)]
    with torch.no_grad():
        for i, m in enumerate(convs):
            w = np.moveaxis(p[f"Conv_{i}"]["kernel"], (3, 2), (0, 1))  # (out, in, kh, kw)
            m.weight.copy_(torch.from_numpy(w.copy()))
            m.bias.copy_(torch.from_numpy(p[f"Conv_{i}"]["bias"]))
        # Our flatten is (H, W, C), torch's is (C, H, W): permute the first dense kernel's rows.
        w0 = p["Dense_0"]["kernel"].reshape(6, 6, 16, 16).transpose(3, 2, 0, 1).reshape(16, 576)
        for i, m in enumerate(linears):
            w = w0 if i == 0 else p[f"Dense_{i}"]["kernel"].T
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            m.bias.copy_(
                torch.from_numpy(
                    np.random.default_rng(i).normal(size=m.bias.shape).astype(np.float32)
                )
            )
            p[f"Dense_{i}"]["bias"] = m.bias.numpy().copy()
        y_ref = ref(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    y = jax.jit(model.apply)(variables, x)
    np.testing.assert_allclose(
        y, y_ref, rtol=1e-4, atol=1e-4, err_msg="torchvision AlexNet layout in torch, same weights"
    )


def test_googlenet_output_sizes_table1():
    # "output size" column of Szegedy et al. 2014, Table 1, at 224x224 input.
    table = {
        "inception_3a": (28, 28, 256),
        "inception_3b": (28, 28, 480),
        "inception_4a": (14, 14, 512),
        "inception_4b": (14, 14, 512),
        "inception_4c": (14, 14, 512),
        "inception_4d": (14, 14, 528),
        "inception_4e": (14, 14, 832),
        "inception_5a": (7, 7, 832),
        "inception_5b": (7, 7, 1024),
    }
    model = googlenet.GoogLeNet()

    def intermediates(x):
        variables = model.init(jax.random.key(0), x)
        return model.apply(variables, x, capture_intermediates=True, mutable=["intermediates"])[1]

    out = jax.eval_shape(intermediates, jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32))
    for name, shape in table.items():
        got = out["intermediates"][name]["__call__"][0].shape
        assert got == (1, *shape), f"{name}: {got}, Table 1 gives {shape}"


def test_inception_module_matches_a_torch_transcription():
    # Fig. 2b of Szegedy et al.: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3/1 max pool -> 1x1, ReLU after
    # every conv, concatenated on channels; the same weights in torch.nn.functional
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    channels = (3, 2, 4, 2, 3, 2)
    x = np.random.default_rng(0).normal(size=(2, 7, 6, 5)).astype(np.float32)
    module = googlenet.Inception(channels)
    rng = np.random.default_rng(1)  # non-zero biases, so their mapping counts too
    variables = jax.tree.map(
        lambda v: rng.normal(size=v.shape).astype(np.float32) * 0.1 if v.ndim == 1 else v,
        _random_variables(module, jnp.asarray(x)),
    )
    y = np.asarray(module.apply(variables, jnp.asarray(x)))
    p = variables["params"]

    def conv(name, t):
        w = torch.from_numpy(np.asarray(p[name]["kernel"]).transpose(3, 2, 0, 1).copy())
        b = torch.from_numpy(np.asarray(p[name]["bias"]))
        return F.relu(F.conv2d(t, w, b, padding=w.shape[-1] // 2))

    t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    ref = torch.cat(
        [
            conv("b1_1x1", t),
            conv("b3_3x3", conv("b3_reduce", t)),
            conv("b5_5x5", conv("b5_reduce", t)),
            conv("pool_proj", F.max_pool2d(t, 3, 1, 1)),
        ],
        dim=1,
    )
    chex.assert_shape(y, (2, 7, 6, 3 + 4 + 3 + 2))
    np.testing.assert_allclose(y, ref.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_c3d_matches_a_torch_transcription():
    # Tran et al. 2015: 3x3x3 convs (pad 1) + ReLU, pool1 1x2x2 and pool2-5 2x2x2 (ceil mode),
    # adaptive average pool, fc-fc-fc; the same weights in torch.nn.functional (eval: no dropout)
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = c3d.C3D(
        num_classes=5, stages=((3,), (4,), (4, 4), (4,), (4,)), hidden=6, pool_size=(1, 2, 2)
    )
    x = np.random.default_rng(0).normal(size=(2, 5, 13, 11, 2)).astype(np.float32)
    rng = np.random.default_rng(1)
    variables = jax.tree.map(
        lambda v: rng.normal(size=v.shape).astype(np.float32) * 0.1 if v.ndim == 1 else v,
        _random_variables(model, jnp.asarray(x)),
    )
    y = np.asarray(model.apply(variables, jnp.asarray(x)))
    p = variables["params"]
    tensor = lambda a, *axes: torch.from_numpy(
        np.asarray(a).transpose(*axes).copy() if axes else np.asarray(a)
    )
    t, k = tensor(x, 0, 4, 1, 2, 3), 0
    for i, stage in enumerate(model.stages):
        for _ in stage:
            layer = p[f"Conv_{k}"]
            t = F.relu(
                F.conv3d(
                    t, tensor(layer["kernel"], 4, 3, 0, 1, 2), tensor(layer["bias"]), padding=1
                )
            )
            k += 1
        t = F.max_pool3d(t, (1, 2, 2) if i == 0 else (2, 2, 2), ceil_mode=True)
    t = (
        F.adaptive_avg_pool3d(t, model.pool_size).permute(0, 2, 3, 4, 1).reshape(2, -1)
    )  # NDHWC order
    for j in range(3):
        t = t @ tensor(p[f"Dense_{j}"]["kernel"]) + tensor(p[f"Dense_{j}"]["bias"])
        t = F.relu(t) if j < 2 else t
    np.testing.assert_allclose(y, t.numpy(), rtol=1e-4, atol=1e-5)
