"""Several devices and several processes give the single-device results (CPU, in subprocesses)."""

import json
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_worker(args, env_extra=None, timeout=300):
    env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "tests.distributed_worker", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def close(a, b):
    return all(m1[k] == pytest.approx(m2[k], rel=1e-4, abs=1e-5) for m1, m2 in zip(a, b) for k in m1)


def test_four_local_devices_shard_runs_and_batches(tmp_path):
    single = run_worker([str(tmp_path / "s1"), "0,1,2,3"], {"JAX_NUM_CPU_DEVICES": "1"})
    multi = run_worker([str(tmp_path / "m1"), "0,1,2,3"], {"JAX_NUM_CPU_DEVICES": "4"})
    single, multi = result_of(single), result_of(multi)
    assert multi["devices"] == 4 and multi["vmapped"]
    assert "runs" in multi["state_sharding"], multi["state_sharding"]
    assert close(single["metrics"], multi["metrics"]), (single, multi)
    one = result_of(run_worker([str(tmp_path / "s2")], {"JAX_NUM_CPU_DEVICES": "1"}))
    data_parallel = result_of(run_worker([str(tmp_path / "m2")], {"JAX_NUM_CPU_DEVICES": "4"}))
    assert close(one["metrics"], data_parallel["metrics"]), (one, data_parallel)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_together(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    env = {"JAX_NUM_CPU_DEVICES": "1"}
    procs = [run_worker([str(tmp_path / "mh"), "", address, "2", str(i)], env) for i in range(2)]
    results = [result_of(p) for p in procs]
    assert all(r["processes"] == 2 and r["devices"] == 2 for r in results)
    assert results[0]["metrics"] == results[1]["metrics"], "the two processes disagree"
    alone = result_of(run_worker([str(tmp_path / "alone")], env))
    assert close(alone["metrics"], results[0]["metrics"]), (alone, results[0])
