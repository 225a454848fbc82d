"""The suite's per-test timeout (pyproject.toml, tests/conftest.py): a hung test fails with every
thread's stack on the console, and the run ends instead of waiting."""

import os
import subprocess
import sys

from tests import subprocesses
from tests.configs import ROOT


def test_a_hung_test_fails_with_its_stack_and_the_run_ends():
    probe = os.path.join("tests", "timeout_probe.py")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", probe, "--timeout=3", "-n", "1", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=subprocesses.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert f"Timeout: {probe}::test_hangs ran over 3 s" in out, out[-3000:]
    assert 'timeout_probe.py", line 11 in test_hangs' in out, out[-3000:]
    assert "1 failed, 1 passed" in out, out[-3000:]
