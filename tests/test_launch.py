"""launch.py as a user runs it: one-line errors, --list, SIGTERM saves and resumes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def launch(*args, wait=True):
    cmd = [sys.executable, os.path.join(ROOT, "launch.py"), *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config.foo=1"], "unknown config field 'foo'"),
        (["--config.model.nope=1"], "fields there: activation, dropout_rate, hidden, name"),
        (["--config=experiments/nope.py"], "config file not found"),
        (["--config=experiments/digits_mlp.py:huge"], "unknown variant 'huge'"),
    ],
)
def test_user_mistakes_before_jax_starts(args, message):
    code, _, err = launch(*args)
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2 and lines == [lines[-1]] and message in lines[-1], err
    assert "Traceback" not in err


def test_bad_values_give_one_line(tmp_path):
    code, _, err = launch("--config=experiments/digits_mlp.py:tiny", "--config.model.name=nope", f"--workdir={tmp_path}")
    assert code == 2 and "Traceback" not in err
    assert "error: unknown model 'nope'; choose one of" in err and "mlp" in err


def test_list_names_every_experiment():
    code, out, _ = launch("--list")
    assert code == 0
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "experiments")) if f.endswith(".py"))
    for f in files:
        assert f"experiments/{f}" in out, f


def test_sigterm_checkpoints_and_the_rerun_resumes(tmp_path):
    args = ["--config=experiments/digits_mlp.py:tiny", "--config.train.steps=200000", "--config.opt.schedule=constant",
            "--config.checkpoint.every_steps=0", f"--workdir={tmp_path}"]
    proc = launch(*args, wait=False)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted at step" in err and "Traceback" not in err
    saved = [int(d) for d in os.listdir(tmp_path / "checkpoints") if d.isdigit()]
    assert saved and max(saved) < 200000
    # Same command, fewer total steps (constant schedule): resumes from the saved step and finishes.
    stop = max(saved) + 20
    code, out, err = launch(*[a if "train.steps" not in a else f"--config.train.steps={stop}" for a in args])
    assert code == 0, err[-2000:]
    assert f"resuming from the checkpoint at step {max(saved)}" in err
    assert json.loads((tmp_path / "results.json").read_text())["metrics"]["test_accuracy"] > 0
