"""What a sweep's runs guarantee against the same runs launched alone, at every size 1-8 (README,
"Run a sweep"): a vmapped sweep's members equal solo runs up to float32 rounding; a sequential
sweep's members equal them bit for bit.

A vmapped program carries the run axis, and XLA:CPU may then sum a reduction over the batch (the
last layer's bias gradient of the digits MLP, for one) in another order than the solo program
does: the results differ in the last bits from the second step on, at every size, 1 included."""

import jax
import numpy as np
import pytest

from jaxdl.tasks import classify
from jaxdl.train import sweep
from tests import configs

SIZES = range(1, 9)
pytestmark = pytest.mark.xdist_group("sweep_exactness")  # one worker computes the solo runs once


def config(**overrides):
    return configs.tiny(
        "digits_mlp",
        **{"train.steps": 20, "train.log_every": 10, "checkpoint.every_steps": 0, **overrides},
    )


def leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves((state.params, state.opt_state))]


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    root = tmp_path_factory.mktemp("solo")
    runs = [sweep.train(classify.make_problem, config(seed=s), str(root / f"{s}")) for s in SIZES]
    return [leaves(r.fits[0].state) for r in runs]


@pytest.mark.parametrize("size", SIZES)
def test_vmapped_sweep_members_equal_solo_runs_up_to_rounding(solo, tmp_path, size):
    seeds = tuple(range(1, size + 1))
    c = config(**{"sweep.seed": seeds, "train.sweep_strategy": "vmap"})
    result = sweep.train(classify.make_problem, c, str(tmp_path))
    assert result.vmapped
    for i, seed in enumerate(seeds):
        for a, b in zip(leaves(result.run_state(i)), solo[seed - 1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"run {i} of {size}")


def test_sequential_sweep_members_equal_solo_runs_bitwise(solo, tmp_path):
    c = config(**{"sweep.seed": tuple(SIZES), "train.sweep_strategy": "sequential"})
    result = sweep.train(classify.make_problem, c, str(tmp_path))
    assert not result.vmapped
    for i in range(len(SIZES)):
        for a, b in zip(leaves(result.run_state(i)), solo[i]):
            np.testing.assert_array_equal(a, b, err_msg=f"run {i}")
