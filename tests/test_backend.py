"""jaxdl.backend: the policy's values per platform, how models and training read it, and that the
rest of the package stays backend-neutral."""

import dataclasses
import functools
import os
import pathlib
import re
import subprocess
import sys

import flax.linen as nn
import pytest

from jaxdl import backend, models
from jaxdl.backend import xla_cpu
from jaxdl.tasks import classify
from jaxdl.train import sweep
from tests import subprocesses
from tests.configs import tiny

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_cpu_policy_values():
    policy = backend.for_platform("cpu")
    assert policy.platform == "cpu"
    assert policy.conv is xla_cpu.Conv
    assert policy.precompute_inputs is False
    assert policy.lstm_feature_major_above == xla_cpu.lstm_feature_major_above()
    assert policy.compiler_options("init") == xla_cpu.compiler_options("init")
    assert policy.compiler_options("train") == xla_cpu.compiler_options("train")
    assert policy.compiler_options("train")[xla_cpu.YNN_OPTION].startswith("LIBRARY_FUSION_TYPE")
    assert policy.strategies(convolutional=True) == ("loop", "sequential")
    assert policy.strategies(convolutional=False) == ("scan", "vmap")
    assert policy.split_batches is False
    # frozen and hashable: equal policies are one key of the compiled-program cache
    assert policy == backend.for_platform("cpu") and hash(policy) == hash(
        backend.for_platform("cpu")
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.platform = "gpu"


def test_other_platforms_get_the_plain_policy():
    for name, platform in (("gpu", "gpu"), ("cuda", "gpu"), ("TPU", "tpu")):
        policy = backend.for_platform(name)
        assert policy == backend.Policy(platform=platform)
        assert policy.conv is nn.Conv and policy.precompute_inputs is True
        assert policy.lstm_feature_major_above is None
        assert policy.compiler_options("init") is None and policy.compiler_options("train") is None
        assert policy.strategies(True) == policy.strategies(False) == ("scan", "vmap")
        assert policy.split_batches is True
    assert backend.for_platform("cpu", cpu_devices=1).cpu_devices == 1
    with pytest.raises(ValueError, match="Policy has no field threads; its fields are "):
        backend.for_platform("cpu", threads=2)
    with pytest.raises(ValueError, match="unknown program purpose 'eval'"):
        backend.Policy().compiler_options("eval")


class _WithConv(nn.Module):
    conv: backend.ModuleDef = nn.Conv
    features: int = 4


class _Recurrent(nn.Module):
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None


def _built_by_a_function(conv=nn.Conv, depth=2):
    return _WithConv(conv=conv)


def test_model_overrides_picks_only_declared_fields():
    policy = backend.for_platform("cpu")
    assert policy.model_overrides(_WithConv) == {"conv": xla_cpu.Conv}
    assert policy.model_overrides(_Recurrent) == {
        "precompute_inputs": False,
        "lstm_feature_major_above": policy.lstm_feature_major_above,
    }
    assert policy.model_overrides(nn.Dense) == {}
    assert policy.model_overrides(_built_by_a_function) == {"conv": xla_cpu.Conv}
    # a registry partial's own keywords stay as it fixed them
    assert policy.model_overrides(functools.partial(_WithConv, features=8)) == {
        "conv": xla_cpu.Conv
    }
    assert policy.model_overrides(functools.partial(_WithConv, conv=nn.Conv)) == {}


def test_models_get_fills_the_policy_fields_the_caller_left_out(monkeypatch):
    cpu = backend.for_platform("cpu")
    monkeypatch.setitem(models._REGISTRY, "_with_conv", _WithConv)
    monkeypatch.setitem(models._REGISTRY, "_recurrent", _Recurrent)
    monkeypatch.setitem(models._REGISTRY, "_dense", nn.Dense)
    with backend.use(cpu):
        assert models.get("_with_conv").conv is xla_cpu.Conv
        assert models.get("_with_conv", conv=nn.Conv).conv is nn.Conv, "the caller's value wins"
        rnn = models.get("_recurrent")
        assert (rnn.precompute_inputs, rnn.lstm_feature_major_above) == (
            False,
            cpu.lstm_feature_major_above,
        )
        assert models.get("_dense", features=3).features == 3  # declares none: nothing added
    assert models.get("_with_conv").conv is nn.Conv  # outside use(): the plain policy
    # the registered models that declare a policy field get it the same way
    for name in models.names():
        accepted = models.arguments(name) or ()
        if "conv" in accepted:
            kwargs = {"num_classes": 3} if "num_classes" in accepted else {}
            with backend.use(cpu):
                assert models.get(name, **kwargs).conv is xla_cpu.Conv, name


def test_use_nests_and_restores():
    cpu, gpu = backend.for_platform("cpu"), backend.for_platform("gpu")
    assert backend.current() == backend.Policy()
    with backend.use(cpu) as got:
        assert got is cpu and backend.current() is cpu
        with backend.use(gpu):
            assert backend.current() is gpu
        assert backend.current() is cpu
        with pytest.raises(RuntimeError, match="inside"):
            with backend.use(gpu):
                raise RuntimeError("inside")
        assert backend.current() is cpu
    assert backend.current() == backend.Policy()
    with pytest.raises(TypeError, match="backend.use takes a jaxdl.backend.Policy"):
        with backend.use("cpu"):
            pass


def test_nn_models_train_and_tasks_are_backend_neutral():
    # the platform is the policy's business: no branch on it, no XLA flags, no /sys reads elsewhere
    pattern = re.compile(r"default_backend\(|XLA_FLAGS|/sys/")
    found = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for path in sorted((ROOT / "jaxdl").rglob("*.py"))
        if "backend" not in path.relative_to(ROOT / "jaxdl").parts
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)


_IMPORT_SCRIPT = r"""
import os
before = dict(os.environ)
import jaxdl
assert dict(os.environ) == before, "import jaxdl changed the environment"
assert jaxdl.train.sweep.train is not None  # documented submodules load on first use
print(sorted(set(jaxdl.SUBPACKAGES) - set(dir(jaxdl))), os.environ.get("XLA_FLAGS"))
"""


def test_import_jaxdl_changes_no_environment_and_loads_submodules_lazily():
    env = subprocesses.env(XLA_FLAGS="--xla_cpu_enable_fast_math=false")
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["[]", "--xla_cpu_enable_fast_math=false"], proc.stdout


_SETUP_SCRIPT = r"""
import os
from jax._src import xla_bridge
from jaxdl import backend
assert backend.default_platform() == "cpu"
assert not xla_bridge.backends_are_initialized(), "default_platform started a backend"
backend.Policy().setup_process()  # the plain policy sets nothing
assert os.environ.get("XLA_FLAGS") is None
backend.for_platform("cpu", cpu_devices=2).setup_process()
import jax
print(len(jax.devices()), os.environ.get("XLA_FLAGS"))
"""


@pytest.mark.parametrize("opt_out", [False, True])
def test_cpu_setup_process_in_a_fresh_process(opt_out):
    env = subprocesses.env(
        XLA_FLAGS=None,
        JAX_NUM_CPU_DEVICES=None,
        JAX_PLATFORMS="cpu",
        JAXDL_XLA_CPU_DEFAULTS="0" if opt_out else None,
    )
    proc = subprocess.run(
        [sys.executable, "-c", _SETUP_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    devices, flags = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert devices == "2"
    assert (f"--{xla_cpu.YNN_OPTION}=" in flags) is not opt_out, flags
    assert f"--xla_cpu_collective_timeout_seconds={xla_cpu.COLLECTIVE_TIMEOUT_S}" in flags


def test_strategy_rule_on_a_conv_and_an_mlp_problem():
    cpu = backend.for_platform("cpu")
    cnn, mlp = tiny("digits_cnn"), tiny("digits_mlp")
    cnn_problem, mlp_problem = classify.make_problem(cnn), classify.make_problem(mlp)
    # a parameter of rank >= 3 is a convolution kernel
    assert sweep.is_convolutional(cnn_problem) and not sweep.is_convolutional(mlp_problem)
    assert sweep.choose_strategies(cnn_problem, cnn, cpu) == ("loop", "sequential")
    assert sweep.choose_strategies(mlp_problem, mlp, cpu) == ("scan", "vmap")
    assert sweep.choose_strategies(cnn_problem, cnn, backend.Policy()) == ("scan", "vmap")
    with backend.use(cpu):  # the default is the current policy
        assert sweep.choose_strategies(cnn_problem, cnn) == ("loop", "sequential")
    cnn.train.strategy = "scan"  # an explicit choice stands
    assert sweep.choose_strategies(cnn_problem, cnn, cpu) == ("scan", "sequential")


def test_data_parallel_auto_asks_the_policy(monkeypatch):
    config = tiny("digits_mlp")
    monkeypatch.setattr(sweep.jax, "devices", lambda: [0, 1])  # as if two devices existed
    assert sweep.data_parallel(config, backend.for_platform("cpu")) is False
    assert sweep.data_parallel(config, backend.for_platform("gpu")) is True
    config.train.data_parallel = "always"
    assert sweep.data_parallel(config, backend.for_platform("cpu")) is True


def test_no_process_settings_without_setup():
    # building policies (as tasks.run does) leaves the process alone
    before = dict(os.environ)
    backend.for_platform("cpu")
    backend.for_platform()
    assert dict(os.environ) == before
