"""Universal approximation, depth vs width: the masked deep sigmoid network and its experiment."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.tasks import approximate
from tests.configs import tiny


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_deep_sigmoid_net_masks_depth_and_width_against_numpy():
    x = np.random.default_rng(0).uniform(size=(5, 2)).astype(np.float32)
    net = approximate.DeepSigmoidNet(max_width=6, max_depth=3)
    p = jax.tree.map(np.asarray, net.init(jax.random.key(0), jnp.asarray(x))["params"])
    p["Dense_0"]["kernel"] = np.random.default_rng(1).normal(size=(6, 1)).astype(np.float32)
    width = 4
    mask = (np.arange(6) < width).astype(np.float32)
    h = _sigmoid(x @ p["W"] - np.sum(p["c"] * p["W"].T, axis=1)) * mask
    for depth in (1, 2, 3):
        if depth > 1:
            layer = p[f"hidden_{depth}"]
            h = _sigmoid(h @ layer["kernel"] + layer["bias"]) * mask
        want = h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
        got = net.apply({"params": p}, jnp.asarray(x), width, depth)
        np.testing.assert_allclose(
            got,
            want,
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"depth {depth}: that many sigmoid layers of {width} units",
        )
    q = jax.tree.map(np.copy, p)
    q["W"][:, width:] += 5.0  # masked units of every layer must not matter
    q["hidden_2"]["kernel"][:, width:] += 5.0
    np.testing.assert_allclose(
        net.apply({"params": q}, jnp.asarray(x), width, 3),
        net.apply({"params": p}, jnp.asarray(x), width, 3),
        rtol=1e-6,
    )


def test_units_needed_is_the_fewest_units_reaching_the_target_per_seed():
    rows = [
        {"depth": d, "width": w, "seed": s, "test_mse": 1.0 / (d * w) + 0.01 * s}
        for d in (1, 2)
        for w in (1, 2, 4, 8)
        for s in (0, 1)
    ]
    needed = approximate.units_needed(rows, target=0.2)
    assert needed[1] == [8.0, 8.0], "depth 1: 1/8 + 0.01 s <= 0.2 first at width 8"
    assert needed[2] == [8.0, 8.0], "depth 2: 1/(2 w) <= 0.2 first at width 4 (8 units)"
    assert approximate.units_needed(rows, target=1e-3)[1] == [float("inf")] * 2, "never reached"


def test_universal_approximation_depth_tiny(tmp_path):
    config = tiny("universal_approximation_depth")
    results = approximate.run(config, str(tmp_path))
    runs = results["runs"]
    assert len(runs) == 8, "depths x widths x seeds in one sweep"
    problem = approximate.make_problem(config)
    zero_mse = float(np.mean(problem.test_data["y"] ** 2))  # the untrained net predicts 0
    for r in runs:
        assert r["metrics"]["test_mse"] < zero_mse, r
    assert {row["depth"] for row in results["table"]} == {1, 2}
    assert results["metrics"]["target_mse"] == np.var(problem.test_data["y"]) * 0.01
    assert os.path.exists(tmp_path / "error_vs_units.png")
    json.dumps(results["table"])
