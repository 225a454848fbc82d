"""Several devices and several processes give the single-device results (CPU, in subprocesses).

All workers start at once (they are mostly import and compile time) and are compared at the end.
"""

import json
import socket
import subprocess
import sys

import pytest

from jaxdl import backend
from jaxdl.backend import xla_cpu
from tests import subprocesses
from tests.configs import ROOT


def start(args, devices):
    env = subprocesses.env(JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.distributed_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def close(a, b):
    return all(
        m1[k] == pytest.approx(m2[k], rel=1e-4, abs=1e-5) for m1, m2 in zip(a, b) for k in m1
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_four_devices_and_two_processes_match_one_device(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    procs = {
        "one": start([str(tmp_path / "one"), "0,1,2,3"], 1),
        "four": start([str(tmp_path / "four"), "0,1,2,3"], 4),
        "host0": start([str(tmp_path / "hosts"), "-", address, "2", "0"], 1),
        "host1": start([str(tmp_path / "hosts"), "-", address, "2", "1"], 1),
    }
    r = {name: result_of(p) for name, p in procs.items()}
    # 4 local devices: the sweep's run axis is sharded over "runs", a single run's batch over
    # "data".
    assert r["four"]["devices"] == 4 and r["four"]["sweep_vmapped"]
    assert "runs" in r["four"]["sweep_sharding"], r["four"]["sweep_sharding"]
    assert close(r["one"]["sweep"], r["four"]["sweep"]), (r["one"]["sweep"], r["four"]["sweep"])
    assert "data" in r["four"]["sequential_sharding"], r["four"]["sequential_sharding"]
    assert close(r["one"]["sequential"], r["four"]["sequential"]), (
        r["one"]["sequential"],
        r["four"]["sequential"],
    )
    assert close(r["one"]["single"], r["four"]["single"]), (r["one"]["single"], r["four"]["single"])
    # 2 processes (jax.distributed, gloo) train one data-parallel run together.
    assert all(r[h]["processes"] == 2 and r[h]["devices"] == 2 for h in ("host0", "host1"))
    assert r["host0"]["single"] == r["host1"]["single"], "the two processes disagree"
    assert close(r["one"]["single"], r["host0"]["single"]), (
        r["one"]["single"],
        r["host0"]["single"],
    )
    # streamed batches: 4 local devices split each batch; 2 processes each read half of it
    assert r["host0"]["streamed"] == r["host1"]["streamed"], "the two processes disagree"
    for name in ("four", "host0"):
        assert close(r["one"]["streamed"], r[name]["streamed"]), (name, r[name]["streamed"])


def test_cpu_device_count_from_xla_flags_leaves_the_backend_unstarted():
    # use_cpu_cores must not start JAX (launch.py starts it after the policy's process settings)
    # repeated: XLA takes the last one
    env = subprocesses.env(
        JAX_NUM_CPU_DEVICES=None,
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=(
            "--xla_force_host_platform_device_count=2 --xla_force_host_platform_device_count=3"
        ),
    )
    code = (
        "from jaxdl.backend import xla_cpu; from jax._src import xla_bridge; "
        "print(xla_cpu.use_cpu_cores(0), xla_bridge.backends_are_initialized())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["3", "False"], out.stdout
    code = "import jax; print(len(jax.devices('cpu')))"  # XLA's own count, to agree with
    xla = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert xla.stdout.split()[-1] == "3", xla.stdout


def test_split_cpu_devices_wait_for_each_other_at_collectives():
    # on a busy machine one device thread can reach a collective long after the other
    env = subprocesses.env(
        JAX_NUM_CPU_DEVICES=None,
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_cpu_collective_timeout_seconds=7",
    )
    code = (
        "import os; from jaxdl.backend import xla_cpu; n = xla_cpu.use_cpu_cores(2); "
        "import jax, jax.numpy as jnp; "
        "print(n, len(jax.devices()), jax.jit(jnp.sum)(jnp.ones(4))); "
        "print(os.environ['XLA_FLAGS'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    counts, flags = out.stdout.strip().splitlines()[-2:]
    assert counts.split()[:2] == ["2", "2"]
    assert "--xla_cpu_collective_timeout_seconds=7" in flags, "a flag the user set is kept"
    assert (
        f"--xla_cpu_collective_call_terminate_timeout_seconds={xla_cpu.COLLECTIVE_TIMEOUT_S}"
        in flags
    )


DISPATCH_AHEAD = """
import sys
from jaxdl.backend import xla_cpu
xla_cpu.use_cpu_cores(2)
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
mesh = Mesh(np.asarray(jax.devices()), ("data",))
rep, dat = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
def loss(w, x):
    for wi in w:
        x = jax.nn.relu(jax.lax.conv_general_dilated(
            x, wi, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
    return jnp.mean(x**2)
def step(w, x):  # replicated params, sharded batch: the gradients are all-reduced
    l, g = jax.value_and_grad(loss)(w, x)
    return [a - 0.01 * b for a, b in zip(w, g)], l
step = jax.jit(step, donate_argnums=0, out_shardings=(rep, rep))
w = jax.device_put([jnp.full((3, 3, 8, 8), 0.01) for _ in range(3)], rep)
x = jax.device_put(np.ones((16, 8, 8, 8), np.float32), dat)
wait_every = int(sys.argv[1])  # 0: no read until the end, dispatch runs far ahead of the devices
for i in range(120):
    w, l = step(w, x)
    if wait_every and (i + 1) % wait_every == 0:
        jax.block_until_ready(w)
print("loss", np.asarray(l))
"""


@pytest.mark.parametrize(
    "pjrt_threads, wait_every",
    [(4, 0), (None, backend.for_platform("cpu").max_steps_ahead)],
    ids=["two_threads_a_device", "policy_waits"],
)
def test_data_parallel_steps_dispatched_ahead_do_not_deadlock(pjrt_threads, wait_every):
    # 120 steps queued at once aborted after the terminate timeout with PJRT's default of one
    # thread a device (docs/design.md, "XLA:CPU collectives"); either remedy avoids it
    env = subprocesses.env(
        JAX_NUM_CPU_DEVICES=None,
        PJRT_NPROC=None if pjrt_threads is None else str(pjrt_threads),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_cpu_collective_call_terminate_timeout_seconds=30",
    )
    out = subprocess.run(
        [sys.executable, "-c", DISPATCH_AHEAD, str(wait_every)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "loss"
