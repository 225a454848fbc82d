"""Tests of the residual and dense CNN families (jaxdl/models/resnet, wide_resnet, densenet).

Golden parameter counts of the ImageNet models are torchvision's (its model docs and
``sum(p.numel() for p in m.parameters())``); those of the small-image models come from the PyTorch
re-implementations below, written from the papers independently of the flax code.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import models
from jaxdl.models import densenet, resnet, wide_resnet

ALL_MODELS = {**resnet.MODELS, **wide_resnet.MODELS, **densenet.MODELS}
IMAGENET = {
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "densenet",
    "densenet121",
    "densenet169",
    "densenet201",
}


def _abstract_variables(model, shape):
    return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))


@functools.lru_cache(maxsize=None)
def _abstract_init(name, num_classes, size):
    """Abstract (logits, variables) of the full-size registered model; traced once per name."""
    model = ALL_MODELS[name](num_classes=num_classes)
    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    return jax.eval_shape(lambda: model.init_with_output(rngs, jnp.zeros((1, size, size, 3))))


TORCHVISION_COUNTS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "wide_resnet50_2": 68_883_240,
    "densenet121": 7_978_856,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_imagenet_param_counts_equal_torchvision(name):
    logits, variables = _abstract_init(name, 1000, 224)
    chex.assert_shape(logits, (1, 1000))
    assert models.param_count(variables) == TORCHVISION_COUNTS[name], (
        f"{name}: torchvision.models.{name}() has {TORCHVISION_COUNTS[name]:,} parameters"
    )


# --- PyTorch re-implementations (test-only references) -------------------------------------


def _torch_models():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    def conv(cin, cout, k, s=1):
        return tnn.Conv2d(cin, cout, k, s, (k - 1) // 2, bias=False)

    class CifarBlock(tnn.Module):  # He et al. 2016 sec 4.2, option A shortcut
        def __init__(self, cin, cout, s):
            super().__init__()
            self.c1, self.b1, self.c2, self.b2 = (
                conv(cin, cout, 3, s),
                tnn.BatchNorm2d(cout),
                conv(cout, cout, 3),
                tnn.BatchNorm2d(cout),
            )
            self.s, self.pad = s, cout - cin

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            if self.s != 1 or self.pad:
                x = tnn.functional.pad(
                    x[:, :, :: self.s, :: self.s],
                    (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2),
                )
            return torch.relu(x + y)

    def cifar_resnet(depth, width=16, num_classes=10):
        n, layers, cin = (
            (depth - 2) // 6,
            [conv(3, width, 3), tnn.BatchNorm2d(width), tnn.ReLU()],
            width,
        )
        for i in range(3):
            for j in range(n):
                layers.append(CifarBlock(cin, width * 2**i, 2 if i and not j else 1))
                cin = width * 2**i
        return tnn.Sequential(
            *layers, tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(cin, num_classes)
        )

    class PreActBottleneck(tnn.Module):  # He et al. 2016b Fig. 4e
        def __init__(self, cin, planes, s):
            super().__init__()
            self.body = tnn.Sequential(
                tnn.BatchNorm2d(cin),
                tnn.ReLU(),
                conv(cin, planes, 1),
                tnn.BatchNorm2d(planes),
                tnn.ReLU(),
                conv(planes, planes, 3, s),
                tnn.BatchNorm2d(planes),
                tnn.ReLU(),
                conv(planes, 4 * planes, 1),
            )
            self.proj = conv(cin, 4 * planes, 1, s) if s != 1 or cin != 4 * planes else None

        def forward(self, x):
            return x + self.body(x) if self.proj is None else self.proj(x) + self.body(x)

    class WideBlock(tnn.Module):  # Zagoruyko & Komodakis 2016, B(3,3) pre-activation
        def __init__(self, cin, cout, s):
            super().__init__()
            self.body = tnn.Sequential(
                tnn.BatchNorm2d(cin),
                tnn.ReLU(),
                conv(cin, cout, 3, s),
                tnn.BatchNorm2d(cout),
                tnn.ReLU(),
                conv(cout, cout, 3),
            )
            self.proj = conv(cin, cout, 1, s) if s != 1 or cin != cout else None

        def forward(self, x):
            return x + self.body(x) if self.proj is None else self.proj(x) + self.body(x)

    def staged(block, n, widths, cin, stem, num_classes):
        layers = [stem]
        for i, w in enumerate(widths):
            for j in range(n):
                layers.append(block(cin, w, 2 if i and not j else 1))
                cin = w * (4 if block is PreActBottleneck else 1)
        return tnn.Sequential(
            *layers,
            tnn.BatchNorm2d(cin),
            tnn.ReLU(),
            tnn.AdaptiveAvgPool2d(1),
            tnn.Flatten(),
            tnn.Linear(cin, num_classes),
        )

    def preact(depth, num_classes=10):
        return staged(
            PreActBottleneck, (depth - 2) // 9, (16, 32, 64), 16, conv(3, 16, 3), num_classes
        )

    def wrn(depth, k, num_classes=10):
        return staged(
            WideBlock, (depth - 4) // 6, (16 * k, 32 * k, 64 * k), 16, conv(3, 16, 3), num_classes
        )

    def densenet_bc(depth=100, k=12, num_classes=10):  # Huang et al. 2017, DenseNet-BC
        n, c = (depth - 4) // 6, 2 * k
        layers = [conv(3, c, 3)]
        for i in range(3):
            for _ in range(n):
                layers.append(
                    tnn.Sequential(
                        tnn.BatchNorm2d(c),
                        conv(c, 4 * k, 1),
                        tnn.BatchNorm2d(4 * k),
                        conv(4 * k, k, 3),
                    )
                )
                c += k
            if i < 2:
                layers.append(tnn.Sequential(tnn.BatchNorm2d(c), conv(c, c // 2, 1)))
                c //= 2
        return tnn.Sequential(*layers, tnn.BatchNorm2d(c), tnn.Linear(c, num_classes))

    return torch, dict(cifar_resnet=cifar_resnet, preact=preact, wrn=wrn, densenet_bc=densenet_bc)


SMALL_IMAGE_REFS = {
    "resnet20": ("cifar_resnet", (20,)),
    "resnet56": ("cifar_resnet", (56,)),
    "resnet110": ("cifar_resnet", (110,)),
    "preact_resnet164": ("preact", (164,)),
    "preact_resnet1001": ("preact", (1001,)),
    "wrn_28_10": ("wrn", (28, 10)),
    "wrn_16_8": ("wrn", (16, 8)),
    "densenet_bc": ("densenet_bc", ()),
}


# He et al. 2016 Table 6 (0.27M), He et al. 2016b Table 3 (1.7M), Zagoruyko & Komodakis 2016
# Table 4 (36.5M), Huang et al. 2017 Table 2 (0.8M).
PUBLISHED_MILLIONS = {
    "resnet20": 0.27,
    "preact_resnet164": 1.7,
    "wrn_28_10": 36.5,
    "densenet_bc": 0.8,
}


@pytest.mark.parametrize("name", sorted(SMALL_IMAGE_REFS))
def test_small_image_param_counts_equal_torch_reimplementation(name):
    torch, refs = _torch_models()
    family, args = SMALL_IMAGE_REFS[name]
    expected = sum(p.numel() for p in refs[family](*args).parameters())
    logits, variables = _abstract_init(name, 10, 32)
    chex.assert_shape(logits, (1, 10))
    assert models.param_count(variables) == expected, (
        f"{name}: the PyTorch re-implementation {family}{args} in this file has {expected:,}"
    )
    if name in PUBLISHED_MILLIONS:
        np.testing.assert_allclose(
            expected / 1e6,
            PUBLISHED_MILLIONS[name],
            atol=0.05,
            err_msg=f"{name}: size quoted in the paper",
        )


# --- Every registered model builds and runs (abstractly at full depth, for real when small) --


@pytest.mark.parametrize("name", sorted(ALL_MODELS))
def test_every_registered_model_traces_train_and_eval(name):
    # Tracing cost does not depend on width, so the full-size abstract init is shared with the
    # count tests (it also traces train=False); numerics run on the small models below.
    imagenet = name in IMAGENET
    logits, variables = _abstract_init(name, 1000 if imagenet else 10, 224 if imagenet else 32)
    model = ALL_MODELS[name](num_classes=1000 if imagenet else 10)
    chex.assert_shape(logits, (1, model.num_classes))
    rngs = {"dropout": jax.random.key(1)}
    logits, updates = jax.eval_shape(
        lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"], rngs=rngs),
        variables,
        jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32),
    )
    chex.assert_shape(logits, (2, model.num_classes))
    chex.assert_trees_all_equal_shapes(updates["batch_stats"], variables["batch_stats"])


SMALL_REAL = {
    "resnet_bottleneck": functools.partial(
        resnet.ResNet, stage_sizes=(1, 1), block_cls=resnet.Bottleneck, width=4
    ),
    "resnet_basic": functools.partial(
        resnet.ResNet, stage_sizes=(1, 1), block_cls=resnet.BasicBlock, width=4
    ),
    "resnet20": functools.partial(resnet.MODELS["resnet20"], width=4),
    "cifar_resnet_B": functools.partial(resnet.CifarResNet, depth=8, width=4, shortcut="B"),
    "wrn_dropout": functools.partial(
        wide_resnet.WideResNet, depth=10, widen_factor=2, width=2, dropout_rate=0.3
    ),
    "densenet": functools.partial(
        densenet.DenseNet, block_config=(2, 2), growth_rate=2, num_init_features=4, drop_rate=0.2
    ),
    "densenet_bc": functools.partial(densenet.DenseNetBC, depth=10, growth_rate=2),
}


@pytest.mark.parametrize("name", sorted(SMALL_REAL))
def test_small_model_batch_norm_train_and_eval(name):
    model = SMALL_REAL[name](num_classes=3)
    x = jax.random.normal(jax.random.key(0), (3, 32, 32, 3))
    rngs = {"params": jax.random.key(1), "dropout": jax.random.key(2)}

    @jax.jit
    def run(x):
        variables = model.init(rngs, x)
        y_train, updates = model.apply(variables, x, train=True, mutable=["batch_stats"], rngs=rngs)
        y_train_1, _ = model.apply(variables, x[:1], train=True, mutable=["batch_stats"], rngs=rngs)
        new = {"params": variables["params"], **updates}
        return variables, updates, y_train, y_train_1, model.apply(new, x), model.apply(new, x[:1])

    variables, updates, y_train, y_train_1, y_eval, y_eval_1 = run(x)
    chex.assert_shape([y_train, y_eval], (3, 3))
    chex.assert_tree_all_finite([y_train, y_eval, updates])
    # Running averages start at mean 0 / var 1 and move by 0.1 of the batch statistics.
    means = jax.tree.leaves(
        jax.tree.map(
            lambda a, b: jnp.max(jnp.abs(a - b)), updates["batch_stats"], variables["batch_stats"]
        )
    )
    assert min(means) > 0, "train=True must update every batch_stats entry"
    # train=False normalises with the running averages: each example independent of the batch.
    np.testing.assert_allclose(
        y_eval_1[0],
        y_eval[0],
        rtol=1e-4,
        atol=1e-5,
        err_msg="eval output must not depend on the rest of the batch",
    )
    assert np.max(np.abs(y_train_1[0] - y_train[0])) > 1e-4, (
        "train output should depend on the batch through BN's batch statistics"
    )


def test_scan_matches_unrolled_preact():
    kwargs = dict(depth=29, width=2, num_classes=4)
    scanned, unrolled = (
        resnet.PreActResNet(scan=True, **kwargs),
        resnet.PreActResNet(scan=False, **kwargs),
    )
    x = jax.random.normal(jax.random.key(0), (2, 16, 16, 3))
    v_unrolled = jax.jit(unrolled.init)(jax.random.key(1), x)

    def stack(tree):  # stage{i}_rest_{j} -> stage{i}_rest/unit with a leading axis over j
        out = {k: v for k, v in tree.items() if "_rest_" not in k}
        for i in range(3):
            parts = [tree[f"stage{i}_rest_{j}"] for j in range(2)]
            out[f"stage{i}_rest"] = {"unit": jax.tree.map(lambda *a: jnp.stack(a), *parts)}
        return out

    v_scanned = {c: stack(t) for c, t in v_unrolled.items()}
    chex.assert_trees_all_equal_shapes(
        v_scanned, jax.eval_shape(scanned.init, jax.random.key(1), x)
    )

    def loss_and_stats(model, v):
        def loss(p):
            y, upd = model.apply({**v, "params": p}, x, train=True, mutable=["batch_stats"])
            return jnp.sum(y**2), (y, upd)

        return jax.grad(loss, has_aux=True)(v["params"])

    def grads_and_eval(model, v):
        return loss_and_stats(model, v), model.apply(v, x)

    (g_s, (y_s, upd_s)), e_s = jax.jit(lambda v: grads_and_eval(scanned, v))(v_scanned)
    (g_u, (y_u, upd_u)), e_u = jax.jit(lambda v: grads_and_eval(unrolled, v))(v_unrolled)
    chex.assert_trees_all_close(
        (y_s, upd_s["batch_stats"], g_s, e_s),
        (y_u, stack(upd_u["batch_stats"]), stack(g_u), e_u),
        rtol=1e-4,
        atol=1e-5,
        custom_message=(
            "nn.scan(nn.remat(unit)) must equal the unrolled units with the same weights"
        ),
    )


def test_preact_resnet1001_builds_abstractly_with_stacked_units():
    model = resnet.MODELS["preact_resnet1001"](num_classes=10)
    x = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
    variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x), x)
    kernel = variables["params"]["stage2_rest"]["unit"]["Conv_2"]["kernel"]
    chex.assert_shape(kernel, (110, 1, 1, 64, 256))  # n - 1 = (1001 - 2) / 9 - 1 stacked units

    def loss(p, v, x):
        y, _ = model.apply({**v, "params": p}, x, train=True, mutable=["batch_stats"])
        return jnp.mean(y)

    grads = jax.eval_shape(jax.grad(loss), variables["params"], variables, x)
    chex.assert_trees_all_equal_shapes(grads, variables["params"])


def test_resnet20_matches_torch_with_mapped_weights():
    torch, refs = _torch_models()
    torch.manual_seed(0)
    t_model = refs["cifar_resnet"](20).double()
    with torch.no_grad():  # random BN affine and running statistics so every mapping matters
        for m in t_model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                for t in (m.weight, m.bias, m.running_mean):
                    t.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    convs = [m for m in t_model.modules() if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in t_model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    fc = t_model[-1]

    model = resnet.MODELS["resnet20"](num_classes=10)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3))
    variables = jax.tree.map(
        lambda a: np.zeros(a.shape, a.dtype), _abstract_variables(model, x.shape)
    )
    # Flax visits modules in the same order as the torch re-implementation builds them.
    flax_convs = [
        p for path, p in _flat(variables["params"]) if path[-1] == "kernel" and p.ndim == 4
    ]
    assert len(flax_convs) == len(convs) == 19
    params, stats = _map_cifar_resnet(variables, convs, bns, fc)
    apply_eval = jax.jit(model.apply)
    apply_train = jax.jit(functools.partial(model.apply, train=True, mutable=["batch_stats"]))
    y_eval = apply_eval({"params": params, "batch_stats": stats}, jnp.asarray(x, jnp.float32))
    t_model.eval()
    with torch.no_grad():
        ref = t_model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(
        y_eval,
        ref,
        rtol=1e-4,
        atol=1e-4,
        err_msg="eval logits vs the PyTorch ResNet-20 (option A) in float64",
    )
    y_train, upd = apply_train(
        {"params": params, "batch_stats": stats}, jnp.asarray(x, jnp.float32)
    )
    t_model.train()
    with torch.no_grad():
        ref = t_model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(
        y_train,
        ref,
        rtol=1e-4,
        atol=1e-4,
        err_msg="train-mode logits vs PyTorch (batch statistics)",
    )
    np.testing.assert_allclose(
        upd["batch_stats"]["bn1"]["mean"],
        bns[0].running_mean.numpy(),
        rtol=1e-4,
        atol=1e-5,
        err_msg="running mean, torch momentum 0.1",
    )


def _flat(tree, prefix=()):
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from _flat(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def _map_cifar_resnet(variables, convs, bns, fc):
    """Copies the torch ResNet-20's weights into the flax variables (module order agrees)."""
    params = jax.tree.map(np.asarray, variables["params"])
    stats = jax.tree.map(np.asarray, variables["batch_stats"])
    names = ["conv1"] + [f"layer{i}_{j}" for i in (1, 2, 3) for j in range(3)]
    it_c, it_b = iter(convs), iter(bns)

    def set_bn(p, s, bn):
        p["scale"], p["bias"] = bn.weight.detach().numpy(), bn.bias.detach().numpy()
        s["mean"], s["var"] = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()

    params["conv1"]["kernel"] = next(it_c).weight.detach().numpy().transpose(2, 3, 1, 0)
    set_bn(params["bn1"], stats["bn1"], next(it_b))
    for name in names[1:]:
        for k in (0, 1):
            params[name][f"Conv_{k}"]["kernel"] = (
                next(it_c).weight.detach().numpy().transpose(2, 3, 1, 0)
            )
            set_bn(params[name][f"BatchNorm_{k}"], stats[name][f"BatchNorm_{k}"], next(it_b))
    params["fc"] = {"kernel": fc.weight.detach().numpy().T, "bias": fc.bias.detach().numpy()}
    cast = functools.partial(jax.tree.map, lambda a: jnp.asarray(a, jnp.float32))
    return cast(params), cast(stats)


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("resnet20", dict(depth=21), "6n\\+2"),
        ("cifar_resnet", dict(shortcut="C"), "shortcut"),
        ("preact_resnet", dict(depth=100), "9n\\+2"),
        ("wrn", dict(depth=27), "6n\\+4"),
        ("wrn", dict(dropout_rate=1.0), "dropout_rate"),
        ("densenet_bc", dict(depth=99), "6n\\+4"),
        ("densenet121", dict(compression=0.0), "compression"),
        ("resnet18", dict(num_classes=0), "num_classes"),
    ],
)
def test_bad_arguments_raise_one_line_value_error(name, kwargs, match):
    model = ALL_MODELS[name](**kwargs)
    with pytest.raises(ValueError, match=match):
        _abstract_variables(model, (1, 32, 32, 3))


def test_preact_resnet_matches_a_torch_transcription():
    # He et al. 2016b, Fig. 4e with the authors' projection of the pre-activated input
    # (fb.resnet.torch 'both_preact'), evaluated with random batch-norm statistics, in
    # torch.nn.functional
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = resnet.PreActResNet(depth=11, width=4, num_classes=3, scan=False)
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 3)).astype(np.float32)
    abstract = _abstract_variables(model, x.shape)
    rng = np.random.default_rng(1)
    fill = lambda path, a: (
        rng.uniform(0.5, 1.5, a.shape)
        if path[-1].key == "var"
        else rng.normal(size=a.shape)
        * (0.3 if len(a.shape) == 1 else np.sqrt(2 / np.prod(a.shape[:-1])))
    )
    variables = jax.tree_util.tree_map_with_path(
        lambda p, a: np.asarray(fill(p, a), np.float32), abstract
    )
    y = np.asarray(model.apply(variables, jnp.asarray(x)))
    p, s = variables["params"], variables["batch_stats"]
    T = lambda a, *axes: torch.from_numpy(
        np.asarray(a).transpose(*axes).copy() if axes else np.asarray(a)
    )
    conv = lambda t, k, stride=1: F.conv2d(
        t, T(k, 3, 2, 0, 1), stride=stride, padding=(k.shape[0] - 1) // 2
    )
    bn_relu = lambda t, bp, bs: F.relu(
        F.batch_norm(t, T(bs["mean"]), T(bs["var"]), T(bp["scale"]), T(bp["bias"]), eps=1e-5)
    )
    t = conv(T(x, 0, 3, 1, 2), p["conv1"]["kernel"])
    for i in range(3):
        u, us = p[f"stage{i}_first"], s[f"stage{i}_first"]
        stride = 1 if i == 0 else 2
        a = bn_relu(t, u["BatchNorm_0"], us["BatchNorm_0"])
        h = conv(a, u["Conv_0"]["kernel"])
        h = conv(bn_relu(h, u["BatchNorm_1"], us["BatchNorm_1"]), u["Conv_1"]["kernel"], stride)
        h = conv(bn_relu(h, u["BatchNorm_2"], us["BatchNorm_2"]), u["Conv_2"]["kernel"])
        t = conv(a, u["shortcut"]["kernel"], stride) + h
    t = bn_relu(t, p["final_bn"], s["final_bn"]).mean(dim=(2, 3))
    ref = t @ T(p["fc"]["kernel"]) + T(p["fc"]["bias"])
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-4, atol=1e-4)
