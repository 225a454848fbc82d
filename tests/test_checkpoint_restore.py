"""jaxdl.train.checkpoint.restore: a workdir's checkpoint on whatever devices exist now, whatever
device count saved it (CPU devices in subprocesses)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from jaxdl.train import checkpoint
from tests import subprocesses
from tests.configs import ROOT


def start(mode, workdir, out, devices):
    env = subprocesses.env(JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.checkpoint_worker", mode, str(workdir), str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_checkpoints_restore_on_another_device_count(tmp_path):
    # saved on 2 devices -> restored on 1; saved on 1 -> restored on 4
    saves = {n: start("save", tmp_path / f"on{n}", tmp_path / f"saved{n}.npz", n) for n in (2, 1)}
    saved = {n: finish(p) for n, p in saves.items()}
    restores = {
        n: start("restore", tmp_path / f"on{m}", tmp_path / f"restored{n}.npz", n)
        for n, m in ((1, 2), (4, 1))
    }
    restored = {n: finish(p) for n, p in restores.items()}
    # the savers' states were sharded over their devices (a single run data-parallel, the vmapped
    # sweep's 4 runs over "runs"); a restore on 4 devices splits the 4 runs over them again
    assert all(saved[2][k]["saved_on"] == 2 for k in ("single", "sweep", "sequential")), saved
    assert all(restored[1][k]["devices"] == 1 for k in ("single", "sweep", "sequential"))
    assert restored[4]["sweep"]["devices"] == 4, restored
    for info in (*saved.values(), *restored.values()):
        assert info["single"]["shape"] == [64, 32], info
        assert info["sweep"]["shape"] == [4, 64, 32] and info["sequential"]["shape"] == [2, 64, 32]
    for n, m in ((1, 2), (4, 1)):
        a, b = np.load(tmp_path / f"saved{m}.npz"), np.load(tmp_path / f"restored{n}.npz")
        assert sorted(a.files) == sorted(b.files) and len(a.files) > 20
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{name}: {m} -> {n} devices")


def test_restore_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint in .*neither checkpoints/"):
        checkpoint.restore(str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint at step 5 .* saved steps: none"):
        checkpoint.restore(str(tmp_path), step=5)
