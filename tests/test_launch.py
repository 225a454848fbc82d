"""launch.py as a user runs it: one-line errors, --list, SIGTERM saves and resumes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.configs import ROOT


def launch(*args, wait=True):
    cmd = [sys.executable, os.path.join(ROOT, "launch.py"), *args]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if not wait:
        return proc
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config.foo=1"], "unknown config field 'foo'"),
        (["--config.model.nope=1"], "fields there: activation, dropout_rate, hidden, name"),
        # a model field the experiment file leaves out: the model's arguments are accepted
        (
            ["--config=experiments/digits_cnn.py:tiny", "--config.model.nope=1"],
            "nor an argument of model 'cnn'); fields there: dense, dropout_rate, features, "
            "kernel_size, name",
        ),
        (
            ["--config=experiments/digits_cnn.py:tiny", "--config.model.kernel_size=5.5"],
            "model.kernel_size takes int values (model 'cnn' defaults it to 3)",
        ),
        (
            ["--config=experiments/digits_cnn.py:tiny", "--config.model.num_classes=3"],
            "the classify task sets this argument itself",
        ),
        # a task that reads only the model fields it declares takes no others
        (
            ["--config=experiments/universal_approximation.py", "--config.model.init_scale=5"],
            "'init_scale' is not in model)",
        ),
        (["--config=experiments/nope.py"], "config file not found"),
        (["--config=experiments/digits_mlp.py:huge"], "unknown variant 'huge'"),
        (["--config=experiments/README.md"], "is not a Python config file"),
        (["--config.train.steps=abc"], "train.steps takes int values (it is 3000 in"),
        (["--config.opt.lr=fast"], "opt.lr takes float values"),
        # a field an experiment does not read is not in its config (config_lib.drop)
        (
            ["--config=experiments/seq2seq_dates.py", "--config.data.test_fraction=0.5"],
            "'test_fraction' is not in data",
        ),
    ],
)
def test_user_mistakes_before_jax_starts(args, message):
    code, _, err = launch(*args)
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2 and lines == [lines[-1]] and message in lines[-1], err
    assert "Traceback" not in err


@pytest.mark.parametrize("flag", ["--help", "-h", "--helpfull"])
def test_help_succeeds(flag):
    code, out, err = launch(flag)
    assert code == 0 and "--workdir" in out and "Traceback" not in err, err[-2000:]


def test_bad_values_give_one_line(tmp_path):
    code, _, err = launch(
        "--config=experiments/digits_mlp.py:tiny",
        "--config.model.name=nope",
        f"--workdir={tmp_path}",
    )
    assert code == 2 and "Traceback" not in err
    assert "error: unknown model 'nope'; choose one of" in err and "mlp" in err


@pytest.mark.parametrize(
    "override, message",
    [
        ("--config.train.batch_size=0", "train.batch_size=0 must be a number >= 1"),
        ("--config.train.steps=-5", "train.steps=-5 must be a number >= 0"),
        (
            "--config.sweep.opt.lr=(0.1,-1.0)",
            "opt.lr=-1.0 (in sweep.opt.lr) must be a number >= 0.0",
        ),
        ("--config.model.hidden=(0,)", "model.hidden must be positive ints"),
        ("--config.sweep.seed=(0,'a')", "sweep.seed takes int values"),
    ],
)
def test_bad_training_values_give_one_line(tmp_path, override, message):
    code, _, err = launch(
        "--config=experiments/digits_mlp.py:tiny", override, f"--workdir={tmp_path / 'w'}"
    )
    assert code == 2 and "Traceback" not in err and message in err.splitlines()[-1], err[-2000:]
    if "model.hidden" not in override:  # the shared schema is checked before the workdir exists
        assert not os.path.exists(tmp_path / "w"), "a refused run must leave nothing behind"


def test_an_unwritable_workdir_gets_one_line():
    code, _, err = launch("--config=experiments/digits_mlp.py:tiny", "--workdir=/proc/jaxdl-test")
    assert code == 2 and "Traceback" not in err, err[-2000:]
    assert "cannot write to the workdir /proc/jaxdl-test" in err.splitlines()[-1]


def test_a_workdir_keeps_its_run_and_config(tmp_path):
    # another config into a workdir that holds a run is refused before anything is written; a run
    # may change its length, but not below its newest checkpoint
    args = [
        "--config=experiments/digits_mlp.py:tiny",
        "--config.opt.schedule=constant",
        f"--workdir={tmp_path}",
    ]
    code, _, err = launch(*args)
    assert code == 0 and "libtpu" not in err, (
        "platforms JAX probes and does not find are not logged"
    )
    before = {
        f: (tmp_path / f).read_text() for f in ("config.json", "results.json", "metrics.jsonl")
    }
    for extra, message in (
        ("--config.opt.lr=3e-3", "holds a run of another config (opt.lr: 0.01 -> 0.003)"),
        ("--config.train.steps=10", "is at step 40, past this config's 10 steps"),
    ):
        code, _, err = launch(*args, extra)
        assert code == 2 and message in err.splitlines()[-1], err[-2000:]
        assert {f: (tmp_path / f).read_text() for f in before} == before, extra
    code, _, err = launch(*args, "--config.train.steps=60")
    assert code == 0 and "resuming from the checkpoint at step 40" in err
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] == 60
    code, _, err = launch(
        "--config=experiments/digits_mlp.py:tiny", f"--workdir={tmp_path / 'results.json'}"
    )
    assert code == 2 and "is a file; give a directory" in err


def test_a_model_argument_the_file_leaves_at_its_default(tmp_path):
    # digits_cnn does not name model.kernel_size; cnn takes it
    code, out, err = launch(
        "--config=experiments/digits_cnn.py:tiny",
        "--config.model.kernel_size=5",
        f"--workdir={tmp_path}",
    )
    assert code == 0, err[-2000:]
    recorded = json.loads((tmp_path / "config.json").read_text())
    assert recorded["model"]["kernel_size"] == 5
    import jax
    import ml_collections

    from jaxdl.tasks import classify

    problem = classify.make_problem(ml_collections.ConfigDict(recorded))
    variables = jax.eval_shape(problem.init, jax.random.key(0), {})
    assert variables["params"]["Conv_0"]["kernel"].shape == (5, 5, 1, 4)


def test_show_config_prints_the_overridden_config():
    code, out, _ = launch(
        "--config=experiments/digits_mlp.py:tiny", "--config.opt.lr=0.25", "--show_config"
    )
    assert code == 0 and "lr: 0.25" in out and "hidden:" in out


def test_list_names_every_experiment():
    code, out, _ = launch("--list")
    assert code == 0
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "experiments")) if f.endswith(".py"))
    for f in files:
        assert f"experiments/{f}" in out, f


def test_sigterm_checkpoints_and_the_rerun_resumes(tmp_path):
    args = [
        "--config=experiments/digits_mlp.py:tiny",
        "--config.train.steps=200000",
        "--config.opt.schedule=constant",
        "--config.checkpoint.every_steps=0",
        f"--workdir={tmp_path}",
    ]
    proc = launch(*args, wait=False)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (
        metrics.exists() and metrics.read_text().count("\n") >= 2
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted at step" in err and "Traceback" not in err
    saved = [int(d) for d in os.listdir(tmp_path / "checkpoints") if d.isdigit()]
    assert saved and max(saved) < 200000
    # Same command, fewer total steps (constant schedule): resumes from the saved step and finishes.
    stop = max(saved) + 20
    code, out, err = launch(
        *[a if "train.steps" not in a else f"--config.train.steps={stop}" for a in args]
    )
    assert code == 0, err[-2000:]
    assert f"resuming from the checkpoint at step {max(saved)}" in err
    assert json.loads((tmp_path / "results.json").read_text())["metrics"]["test_accuracy"] > 0


def test_a_killed_streamed_run_resumes_to_the_uninterrupted_parameters(tmp_path):
    # kill -9 (no checkpoint on the way out) a run whose batches stream through grain in a worker
    # process; the rerun resumes from the newest checkpoint, the iterator's state with it, and
    # ends with the parameters of a run never interrupted, bit for bit
    import jax
    import numpy as np

    from jaxdl.train import checkpoint

    args = [
        "--config=experiments/digits_mlp.py:tiny",
        "--config.opt.schedule=constant",
        "--config.train.device_data_limit_mb=0",
        "--config.train.data_workers=1",
        "--config.checkpoint.every_steps=10",
        "--config.tensorboard=false",
    ]
    proc = launch(*args, "--config.train.steps=200000", f"--workdir={tmp_path / 'cut'}", wait=False)
    saved, deadline, folder = [], time.time() + 240, tmp_path / "cut" / "checkpoints"
    try:
        while time.time() < deadline and len(saved) < 2 and proc.poll() is None:
            time.sleep(0.2)
            found = os.listdir(folder) if folder.exists() else []
            saved = [int(d) for d in found if d.isdigit()]  # committed steps (Orbax renames them)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert len(saved) >= 2, "no checkpoint within the deadline"
    start = max(int(d) for d in os.listdir(tmp_path / "cut" / "checkpoints") if d.isdigit())
    stop = start + 30
    code, _, err = launch(*args, f"--config.train.steps={stop}", f"--workdir={tmp_path / 'cut'}")
    assert code == 0, err[-2000:]
    assert f"resuming from the checkpoint at step {start}" in err
    code, _, err = launch(*args, f"--config.train.steps={stop}", f"--workdir={tmp_path / 'full'}")
    assert code == 0, err[-2000:]
    cut, full = (checkpoint.restore(str(tmp_path / name)) for name in ("cut", "full"))
    assert int(cut.step) == int(full.step) == stop
    for x, y in zip(jax.tree.leaves(cut.params), jax.tree.leaves(full.params)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
