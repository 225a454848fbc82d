"""End-to-end checks of the spine: launch, results, resume, sweeps, errors."""

import json
import os

import jax
import numpy as np
import pytest

from jaxdl import backend, tasks
from jaxdl.tasks import classify
from jaxdl.train import sweep
from tests.configs import load_config, tiny


def test_digits_tiny_end_to_end(tmp_path):
    config = load_config("digits_mlp")
    results = tasks.run(config, str(tmp_path))
    for name in ("config.json", "metrics.jsonl", "results.json", "curves.png"):
        assert (tmp_path / name).exists(), name
    assert os.listdir(tmp_path / "checkpoints"), "no checkpoint written"
    assert os.listdir(tmp_path / "tb"), "no TensorBoard events written"
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["experiment"] == "digits_mlp"
    assert on_disk["metrics"]["test_accuracy"] == pytest.approx(results["metrics"]["test_accuracy"])
    assert 0.0 <= results["metrics"]["test_accuracy"] <= 1.0


def test_reported_test_metrics_equal_sklearn_on_the_final_model(tmp_path):
    # the loop's batched evaluation (sums over batches of 100) against scikit-learn's metrics of
    # the final model's predictions on the whole test split; and the tiny run learned
    from sklearn.metrics import accuracy_score, log_loss

    from jaxdl import data as data_lib
    from jaxdl import models

    config = load_config("digits_mlp")
    config.train.eval_batch_size = 100
    result = sweep.train(classify.make_problem, config, str(tmp_path))
    ds = data_lib.load(config.data)
    model = models.get(
        config.model.name, num_classes=ds.num_classes, **classify.model_kwargs(config)
    )
    logits = np.asarray(
        model.apply({"params": result.fits[0].state.params}, ds.test["x"]), np.float64
    )
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    metrics = result.run_metrics(0)
    assert metrics["test_accuracy"] == pytest.approx(
        accuracy_score(ds.test["y"], probs.argmax(1)), abs=1e-6
    )
    assert metrics["test_loss"] == pytest.approx(
        log_loss(ds.test["y"], probs, labels=range(10)), rel=1e-4
    )
    assert metrics["test_accuracy"] > 0.6, "40 steps of the tiny MLP reach about 0.84"


def test_data_parallel_rule_and_cpu_core_split():
    from jaxdl.backend import xla_cpu

    config = load_config("digits_mlp")
    # this process has one CPU device (the subprocess tests in test_distributed use several)
    assert sweep.data_parallel(config) is False
    config.train.data_parallel = "always"
    assert sweep.data_parallel(config) is False, "one device: nothing to split over"
    config.train.data_parallel = "sometimes"
    with pytest.raises(
        ValueError, match="train.data_parallel 'sometimes'; choose one of auto, always, never"
    ):
        sweep.data_parallel(config)
    # JAX is initialised here, so the split is refused quietly and reports what exists
    import jax

    assert xla_cpu.use_cpu_cores() == len(jax.devices("cpu"))
    with pytest.raises(ValueError, match=">= 0"):
        xla_cpu.use_cpu_cores(-1)


def test_digits_cnn_tiny_end_to_end(tmp_path):
    config = tiny("digits_cnn")
    results = tasks.run(config, str(tmp_path))
    assert results["experiment"] == "digits_cnn"
    assert (
        np.isfinite(results["metrics"]["test_loss"])
        and 0.0 <= results["metrics"]["test_accuracy"] <= 1.0
    )
    # the policy tasks.run uses: on XLA:CPU the Python loop and one run after another are faster
    # for conv nets, on a GPU a vmapped sweep inside lax.scan (benchmarks/cnn_sweep.py)
    policy = backend.for_platform()
    strategies = sweep.choose_strategies(classify.make_problem(config), config, policy)
    expected = ("loop", "sequential") if jax.default_backend() == "cpu" else ("scan", "vmap")
    assert strategies == expected, f"conv models on {jax.default_backend()} default to {expected}"
