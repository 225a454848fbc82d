"""Tests of jaxdl.nn conv, pooling, normalization (LRN), augment against independent references."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from jaxdl.nn import augment, conv, normalization, pooling

# ---------------------------------------------------------------- convolve2d


def test_convolve2d_lecture_example():
    x = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    h = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    y = conv.convolve2d(x, h, mode="same")
    expected = np.array([[-13, -20, -17], [-18, -24, -18], [13, 20, 17]])
    np.testing.assert_allclose(y, expected, err_msg="lecture's worked 2-D convolution example")


def _explicit_full(x, h):
    """The lecture's definition y[m, n] = sum_i sum_j x[i, j] h[m - i, n - j], written as loops."""
    M, N = x.shape
    K, L = h.shape
    y = np.zeros((M + K - 1, N + L - 1))
    for i in range(M):
        for j in range(N):
            y[i : i + K, j : j + L] += x[i, j] * h
    return y


@pytest.mark.parametrize(
    "x_shape,h_shape",
    [
        ((7, 9), (3, 3)),
        ((8, 6), (2, 4)),
        ((5, 5), (4, 1)),
        ((6, 7), (5, 2)),
        ((3, 4), (5, 6)),  # kernel larger than the input on both axes
        ((4, 4), (4, 4)),
    ],
)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve2d_matches_scipy(x_shape, h_shape, mode):
    rng = np.random.default_rng(0)
    x = rng.normal(size=x_shape)
    h = rng.normal(size=h_shape)
    y = conv.convolve2d(x, h, mode=mode)
    expected = scipy.signal.convolve2d(x, h, mode=mode)
    chex.assert_shape(y, expected.shape)
    np.testing.assert_allclose(
        y, expected, rtol=1e-5, atol=1e-5, err_msg=f"scipy.signal.convolve2d(mode={mode!r})"
    )


def test_convolve2d_full_matches_definition_and_jit():
    rng = np.random.default_rng(1)
    x, h = rng.normal(size=(5, 4)), rng.normal(size=(3, 2))
    y = jax.jit(conv.convolve2d, static_argnames="mode")(x, h, mode="full")
    np.testing.assert_allclose(
        y,
        _explicit_full(x, h),
        rtol=1e-5,
        atol=1e-5,
        err_msg="explicit double sum of the lecture's definition",
    )


def test_convolve2d_bad_input():
    with pytest.raises(ValueError, match="full, same, valid"):
        conv.convolve2d(np.ones((3, 3)), np.ones((2, 2)), mode="circular")
    with pytest.raises(ValueError, match="2-D"):
        conv.convolve2d(np.ones((3, 3, 1)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="valid"):
        conv.convolve2d(np.ones((3, 5)), np.ones((4, 2)), mode="valid")


# ---------------------------------------------------------------- conv layers


@pytest.mark.parametrize(
    "layer,in_shape,k,s,p",
    [
        (conv.Conv1D, (2, 17, 3), 5, 2, 1),
        (conv.Conv1D, (2, 10, 1), 3, 1, 0),
        (conv.Conv2D, (2, 11, 9, 3), (3, 5), (2, 1), (1, 2)),
        (conv.Conv3D, (1, 7, 9, 10, 2), 3, 2, 1),
        (conv.Conv3D, (1, 4, 6, 6, 1), (1, 3, 3), (1, 2, 3), (0, 1, 0)),
    ],
)
def test_conv_output_shape(layer, in_shape, k, s, p):
    nd = len(in_shape) - 2
    ks, ss, ps = (np.broadcast_to(v, (nd,)) for v in (k, s, p))
    expected = [(n + 2 * pi - ki) // si + 1 for n, ki, si, pi in zip(in_shape[1:-1], ks, ss, ps)]
    model = layer(features=4, kernel_size=k, stride=s, padding=p)
    # Shapes only: eval_shape traces the layer without compiling or running it.
    y, _ = jax.eval_shape(model.init_with_output, jax.random.key(0), jnp.ones(in_shape))
    chex.assert_shape(y, (in_shape[0], *expected, 4))  # floor((n + 2p - k) / s) + 1
    assert conv.conv_output_size(in_shape[1], int(ks[0]), int(ss[0]), int(ps[0])) == expected[0]


def test_conv_bad_rank():
    model = conv.Conv2D(features=2, kernel_size=3)
    with pytest.raises(ValueError, match="rank 4"):
        model.init(jax.random.key(0), jnp.ones((5, 5, 1)))


@pytest.mark.parametrize(
    "layer, channels, match",
    [
        (conv.Conv2D(3, 3, stride=0), 3, r"stride must be >= 1"),
        (conv.Conv2D(3, 0), 3, r"kernel_size must be >= 1"),
        (conv.Conv2D(0, 3), 3, r"features >= 1"),
        (conv.Conv2D(3, 3, padding=-1), 3, r"padding must be >= 0"),
        (conv.Conv2D(3, 7), 3, r"kernel \(7, 7\) does not fit the input \(4, 4\)"),
    ],
)
def test_conv_bad_arguments_raise_one_line_errors(layer, channels, match):
    with pytest.raises(ValueError, match=match) as err:
        layer.init(jax.random.key(0), jnp.ones((1, 4, 4, channels)))
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="kernel_size must lie in"):
        conv.conv_output_size(3, 5)


def test_conv_computes_integer_images_in_float():
    # the kernel is not cast to the images' integer dtype (it truncated and wrapped around)
    x = np.random.default_rng(0).integers(0, 255, (2, 6, 6, 3))
    for layer in (conv.Conv2D(4, 3, padding=1), conv.Conv2D(4, 3, stride=2)):
        v = layer.init(jax.random.key(0), x.astype(np.float32))
        y = layer.apply(v, x.astype(np.uint8))
        assert y.dtype == jnp.float32
        np.testing.assert_allclose(y, layer.apply(v, x.astype(np.float32)), rtol=1e-6)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_matches_torch(nd):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(nd)
    spatial = {1: (13,), 2: (9, 8), 3: (5, 6, 7)}[nd]
    x = rng.normal(size=(2, *spatial, 3)).astype(np.float32)
    model = conv.ConvND(features=4, kernel_size=3, stride=2, padding=1, ndim=nd)
    kernel = rng.normal(size=(3,) * nd + (3, 4)).astype(np.float32)  # (*k, in, out)
    b = rng.normal(size=(4,)).astype(np.float32)
    y = model.apply({"params": {"kernel": kernel, "bias": b}}, x)
    w = np.moveaxis(kernel, (-1, -2), (0, 1))  # torch (out, in, *k)
    torch_conv = {
        1: torch.nn.functional.conv1d,
        2: torch.nn.functional.conv2d,
        3: torch.nn.functional.conv3d,
    }[nd]
    x_t = torch.from_numpy(np.moveaxis(x, -1, 1).copy())
    y_t = torch_conv(
        x_t, torch.from_numpy(w.copy()), torch.from_numpy(b.copy()), stride=2, padding=1
    ).numpy()
    np.testing.assert_allclose(
        y,
        np.moveaxis(y_t, 1, -1),
        rtol=1e-4,
        atol=1e-4,
        err_msg=f"torch.nn.functional.conv{nd}d with mapped weights",
    )


def test_conv_init_and_no_bias():
    model = conv.Conv2D(features=2, kernel_size=(3, 1), use_bias=False)
    variables = model.init(jax.random.key(0), jnp.ones((1, 3, 3, 5)))
    assert set(variables["params"]) == {"kernel"}
    chex.assert_shape(variables["params"]["kernel"], (3, 1, 5, 2))


# ---------------------------------------------------------------- pooling


def _to_torch(torch, x):
    return torch.from_numpy(np.moveaxis(x, -1, 1).copy())


@pytest.mark.parametrize(
    "window,stride,padding,ceil_mode,size",
    [
        (2, 2, 0, False, 9),
        (3, 2, 1, False, 9),
        (3, 2, 0, True, 9),
        ((3, 2), (1, 2), (1, 0), False, 9),
        (3, 2, 1, True, 9),
        # ceil_mode windows that would start in the right padding, which torch drops (5 and 8 rows:
        # 3 outputs, 4 without that rule)
        (2, 2, 1, True, 5),
        (3, 2, 1, True, 7),
        (3, 3, 1, True, 8),
    ],
)
def test_max_pool_matches_torch(window, stride, padding, ceil_mode, size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(2, size, size + 1, 3)).astype(np.float32)
    y = pooling.max_pool(x, window, stride, padding, ceil_mode=ceil_mode)
    y_t = torch.nn.functional.max_pool2d(
        _to_torch(torch, x), window, stride, padding, ceil_mode=ceil_mode
    ).numpy()
    np.testing.assert_allclose(y, np.moveaxis(y_t, 1, -1), err_msg="torch max_pool2d")


def test_max_pool_3d_ceil_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(1, 3, 7, 5, 2)).astype(np.float32)
    y = pooling.max_pool(x, 2, 2, 0, ceil_mode=True)
    y_t = torch.nn.functional.max_pool3d(_to_torch(torch, x), 2, 2, ceil_mode=True).numpy()
    np.testing.assert_allclose(y, np.moveaxis(y_t, 1, -1), err_msg="torch max_pool3d ceil_mode")


@pytest.mark.parametrize(
    "shape,window",
    [((2, 9, 3), 3), ((2, 9, 7, 3), 2), ((2, 8, 8, 4), (2, 4)), ((1, 4, 6, 5, 2), 2)],
)
def test_max_pool_tiles_gradient_matches_torch_with_ties(shape, window):
    # stride = window, no padding: the reshape-and-max path; the gradient goes to the first maximum
    # of each tile as in torch (a channel of zeros, as after a ReLU, makes every tile a tie), and
    # rows/columns past the last whole tile get none
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    x[..., 0] = 0.0
    y, vjp = jax.vjp(lambda v: pooling.max_pool(v, window), jnp.asarray(x))
    g = rng.normal(size=y.shape).astype(np.float32)
    x_t = _to_torch(torch, x).requires_grad_()
    pool = (
        None,
        torch.nn.functional.max_pool1d,
        torch.nn.functional.max_pool2d,
        torch.nn.functional.max_pool3d,
    )[x.ndim - 2]
    y_t = pool(x_t, window)
    y_t.backward(_to_torch(torch, g))
    np.testing.assert_array_equal(y, np.moveaxis(y_t.detach().numpy(), 1, -1))
    np.testing.assert_array_equal(vjp(jnp.asarray(g))[0], np.moveaxis(x_t.grad.numpy(), 1, -1))


@pytest.mark.parametrize("window,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_avg_and_sum_pool_match_torch(window, stride, padding):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(2, 8, 7, 3)).astype(np.float32)
    y = pooling.avg_pool(x, window, stride, padding)
    y_t = torch.nn.functional.avg_pool2d(_to_torch(torch, x), window, stride, padding).numpy()
    np.testing.assert_allclose(
        y,
        np.moveaxis(y_t, 1, -1),
        rtol=1e-5,
        atol=1e-6,
        err_msg="torch avg_pool2d, count_include_pad=True",
    )
    np.testing.assert_allclose(
        pooling.sum_pool(x, window, stride, padding),
        y * window**2,
        rtol=1e-5,
        atol=1e-5,
        err_msg="sum pooling = average * window size",
    )


def test_avg_pool_1d_numpy():
    x = np.arange(6.0).reshape(1, 6, 1)
    y = pooling.avg_pool(x, 2)
    np.testing.assert_allclose(y[0, :, 0], [0.5, 2.5, 4.5], err_msg="hand-computed pair means")


def test_global_and_adaptive_avg_pool():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(2, 9, 13, 3)).astype(np.float32)
    np.testing.assert_allclose(
        pooling.global_avg_pool(x),
        x.mean(axis=(1, 2)),
        rtol=1e-5,
        atol=1e-6,
        err_msg="numpy mean over H, W",
    )
    for out in [(6, 6), (4, 5), (9, 13), (1, 1)]:
        y = pooling.adaptive_avg_pool(x, out)
        y_t = torch.nn.functional.adaptive_avg_pool2d(_to_torch(torch, x), out).numpy()
        np.testing.assert_allclose(
            y,
            np.moveaxis(y_t, 1, -1),
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"torch adaptive_avg_pool2d to {out}",
        )


def test_pool_bad_padding():
    with pytest.raises(ValueError, match="half the window"):
        pooling.max_pool(jnp.ones((1, 4, 4, 1)), 2, 2, 2)
    x = jnp.ones((1, 4, 4, 1))
    for call, match in (
        (lambda: pooling.max_pool(x, 5), r"window \(5, 5\) does not fit"),
        (lambda: pooling.avg_pool(x, 2, padding=-1), "padding must be >= 0"),
        (lambda: pooling.sum_pool(x, 0), "window must be >= 1"),
        (lambda: pooling.max_pool(x, 2, stride=0), "stride must be >= 1"),
        (lambda: pooling.adaptive_avg_pool(x, 0), "output_size must be >= 1"),
    ):
        with pytest.raises(ValueError, match=match):
            call()


# ---------------------------------------------------------------- LRN


@pytest.mark.parametrize(
    "size,alpha,beta,k", [(5, 1e-4, 0.75, 2.0), (4, 1e-2, 0.5, 1.0), (3, 1.0, 0.75, 1.0)]
)
def test_lrn_matches_torch(size, alpha, beta, k):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).normal(size=(2, 4, 3, 9)).astype(np.float32) * 3
    b = normalization.LocalResponseNorm(size, alpha, beta, k).apply({}, a)
    b_t = torch.nn.LocalResponseNorm(size, alpha, beta, k)(_to_torch(torch, a)).numpy()
    np.testing.assert_allclose(
        b, np.moveaxis(b_t, 1, -1), rtol=1e-5, atol=1e-6, err_msg="torch.nn.LocalResponseNorm"
    )


def test_lrn_formula_numpy():
    a = np.random.default_rng(1).normal(size=(1, 7)).astype(np.float32)
    n, alpha, beta, k = 3, 0.5, 0.75, 2.0
    sq = np.pad(a[0] ** 2, (1, 1))
    expected = a[0] / (k + alpha / n * (sq[:-2] + sq[1:-1] + sq[2:])) ** beta
    np.testing.assert_allclose(
        normalization.local_response_norm(a, n, alpha, beta, k)[0],
        expected,
        rtol=1e-5,
        err_msg="Krizhevsky 2012 Sec. 3.3 with alpha/n",
    )


# ---------------------------------------------------------------- augmentation


def test_augment_shapes_and_determinism():
    x = jax.random.normal(jax.random.key(0), (6, 8, 8, 3))
    aug = jax.jit(augment.crop_and_flip)
    y1 = aug(jax.random.key(1), x)
    y2 = aug(jax.random.key(1), x)
    y3 = aug(jax.random.key(2), x)
    chex.assert_shape(y1, x.shape)
    np.testing.assert_array_equal(y1, y2, err_msg="same key must give the same batch")
    assert not np.array_equal(y1, y3), "different keys should give different augmentations"


def test_random_crop_is_a_window_of_padded_input():
    x = np.random.default_rng(0).normal(size=(8, 5, 6, 2)).astype(np.float32)
    p = 2
    y = np.asarray(augment.random_crop(jax.random.key(3), x, padding=p))
    x_pad = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    offsets = set()
    for i in range(len(x)):
        hits = [
            (a, b)
            for a in range(2 * p + 1)
            for b in range(2 * p + 1)
            if np.array_equal(x_pad[i, a : a + 5, b : b + 6], y[i])
        ]
        assert hits, f"example {i} is not a crop of its zero-padded image"
        offsets.add(hits[0])
    assert len(offsets) > 1, "offsets should differ between examples"
    np.testing.assert_array_equal(augment.random_crop(jax.random.key(3), x, padding=0), x)


def test_random_flip_per_example():
    x = np.random.default_rng(0).normal(size=(16, 4, 5, 1)).astype(np.float32)
    y = np.asarray(augment.random_flip(jax.random.key(0), x))
    flipped = [np.array_equal(y[i], x[i, :, ::-1]) for i in range(16)]
    same = [np.array_equal(y[i], x[i]) for i in range(16)]
    assert all(f or s for f, s in zip(flipped, same)), "each example is itself or its mirror"
    assert 0 < sum(flipped) < 16, "flips should be drawn per example"
    with pytest.raises(ValueError, match="NHWC"):
        augment.random_flip(jax.random.key(0), x[0])


def test_sum_and_avg_pool_differentiate_under_jit():
    # reduce_window's gradient exists for a concrete zero init value only (the window-sum primitive)
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    for pool, scale in ((pooling.sum_pool, 1.0), (pooling.avg_pool, 1.0 / 9.0)):
        g = jax.jit(jax.grad(lambda x: pool(x, 3, stride=1, padding=1).sum()))(x)
        # each input is counted once per window that covers it: 4 at corners, 6 at edges, 9 inside
        covers = np.array([[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]], np.float32)
        np.testing.assert_allclose(g[0, :, :, 0], covers * scale, rtol=1e-6, err_msg=pool.__name__)
