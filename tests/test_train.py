"""The training core: strategies agree, sweeps equal solo runs, resume is exact, failures are
clean."""

import json
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxdl.tasks import approximate, classify
from jaxdl.train import loop, optim, report, sweep, workdir
from tests import configs, subprocesses


def tiny(**overrides):
    return configs.tiny("digits_mlp", **overrides)


def leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state.params)]


def test_scan_and_loop_strategies_agree(tmp_path):
    a = sweep.train(
        classify.make_problem, tiny(**{"train.strategy": "scan"}), str(tmp_path / "scan")
    )
    b = sweep.train(
        classify.make_problem, tiny(**{"train.strategy": "loop"}), str(tmp_path / "loop")
    )
    for x, y in zip(leaves(a.fits[0].state), leaves(b.fits[0].state)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    assert a.run_metrics(0)["test_loss"] == pytest.approx(b.run_metrics(0)["test_loss"], rel=1e-5)


@pytest.mark.parametrize("compute_dtype", ["float32", "bfloat16"])
def test_vmapped_sweep_members_equal_solo_runs(tmp_path, compute_dtype):
    c = tiny(
        **{
            "sweep.seed": (0, 1),
            "sweep.opt.lr": (1e-3, 3e-3),
            "train.sweep_strategy": "vmap",
            "train.compute_dtype": compute_dtype,
        }
    )
    swept = sweep.train(classify.make_problem, c, str(tmp_path / "sweep"))
    assert swept.vmapped and len(swept.overrides) == 4
    for i in (0, 3):
        o = swept.overrides[i]
        solo = sweep.train(
            classify.make_problem,
            tiny(
                **{"seed": o["seed"], "opt.lr": o["opt.lr"], "train.compute_dtype": compute_dtype}
            ),
            str(tmp_path / f"solo{i}"),
        )
        for name in ("test_loss", "test_accuracy", "train_loss"):
            assert swept.run_metrics(i)[name] == pytest.approx(
                solo.run_metrics(0)[name], rel=1e-4, abs=1e-6
            ), (i, name)


def test_sequential_sweep_equals_vmapped_sweep(tmp_path):
    c = tiny(**{"sweep.seed": (3, 4)})
    c.train.sweep_strategy = "vmap"
    v = sweep.train(classify.make_problem, c, str(tmp_path / "v"))
    c.train.sweep_strategy = "sequential"
    s = sweep.train(classify.make_problem, c, str(tmp_path / "s"))
    assert not s.vmapped and os.path.isdir(tmp_path / "s" / "run_1" / "checkpoints")
    for i in range(2):
        assert v.run_metrics(i)["test_loss"] == pytest.approx(
            s.run_metrics(i)["test_loss"], rel=1e-4
        )


@pytest.mark.parametrize("compute_dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("strategy", ["scan", "loop"])
def test_resume_is_bitwise_exact(tmp_path, strategy, compute_dtype):
    c = tiny(
        **{
            "train.strategy": strategy,
            "model.dropout_rate": 0.2,
            "train.compute_dtype": compute_dtype,
        }
    )
    full = sweep.train(classify.make_problem, c, str(tmp_path / "full"))
    # An interrupted run: the same run with its newest checkpoint (step 40) gone, as if killed after
    # step 20.
    sweep.train(classify.make_problem, c, str(tmp_path / "cut"))
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "40")
    resumed = sweep.train(classify.make_problem, c, str(tmp_path / "cut"))
    assert resumed.fits[0].resumed_from == 20
    for x, y in zip(leaves(full.fits[0].state), leaves(resumed.fits[0].state)):
        np.testing.assert_array_equal(x, y)
    assert full.run_metrics(0) == resumed.run_metrics(0)
    rows = [l for l in open(tmp_path / "cut" / "metrics.jsonl") if '"train"' in l]
    assert len(rows) == 4, "resume must drop metrics logged after the checkpoint and log them once"


def test_nan_stops_with_clear_error_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    # the third chunk (steps 20-30) turns the state and its loss to NaN: it must not be saved, and
    # the error names the last good checkpoint, step 20, which restores finite parameters
    run_chunk, calls = loop._run_chunk, []

    def poisoned(problem, state, *args):
        state, metrics = run_chunk(problem, state, *args)
        calls.append(1)
        if len(calls) == 3:
            state = state.replace(params=jax.tree.map(lambda p: p * np.nan, state.params))
            metrics = {**metrics, "loss": metrics["loss"] * np.nan}
        return state, metrics

    monkeypatch.setattr(loop, "_run_chunk", poisoned)
    c = tiny(**{"train.steps": 40, "train.log_every": 10, "checkpoint.every_steps": 10})
    with pytest.raises(
        loop.TrainingDiverged,
        match=r"between steps 20 and 30; stopped. Last good checkpoint: step 20",
    ):
        sweep.train(classify.make_problem, c, str(tmp_path))
    saved = sorted(int(d) for d in os.listdir(tmp_path / "checkpoints") if d.isdigit())
    assert saved == [10, 20]
    monkeypatch.setattr(loop, "_run_chunk", run_chunk)
    result = sweep.train(classify.make_problem, tiny(**{"train.steps": 20}), str(tmp_path))
    assert result.fits[0].resumed_from == 20 and all(
        np.all(np.isfinite(x)) for x in leaves(result.fits[0].state)
    )


def test_nan_in_the_first_chunk_leaves_no_empty_log_or_checkpoints(tmp_path, monkeypatch):
    run_chunk = loop._run_chunk

    def poisoned(problem, state, *args):
        state, metrics = run_chunk(problem, state, *args)
        return state, {**metrics, "loss": metrics["loss"] * np.nan}

    monkeypatch.setattr(loop, "_run_chunk", poisoned)
    for name, sweep_seeds in (("single", ()), ("sweep", (0, 1))):
        c = tiny(**{"sweep.seed": sweep_seeds, "train.sweep_strategy": "vmap"})
        with pytest.raises(loop.TrainingDiverged, match="Last good checkpoint: step none"):
            sweep.train(classify.make_problem, c, str(tmp_path / name))
        # a sweep records its list of runs before it trains (sweep.check_runs)
        assert set(os.listdir(tmp_path / name)) <= {"runs.json"}, os.listdir(tmp_path / name)


def test_universal_approximation_error_falls_with_width(tmp_path):
    c = configs.tiny(
        "universal_approximation", **{"sweep.model.width": (1, 16), "train.steps": 300}
    )
    result = sweep.train(approximate.make_problem, c, str(tmp_path))
    assert result.vmapped, "widths must train as one vmapped program"
    narrow, wide = (result.run_metrics(i)["test_mse"] for i in range(2))
    assert wide < 0.5 * narrow, (narrow, wide)


def test_bad_config_values_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="choose one of .*adamw"):
        sweep.train(classify.make_problem, tiny(**{"opt.name": "lbfgs"}), str(tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        sweep.train(classify.make_problem, tiny(**{"train.batch_size": 10**6}), str(tmp_path))
    with pytest.raises(ValueError, match="unknown model 'nope'; choose one of"):
        sweep.train(classify.make_problem, tiny(**{"model.name": "nope"}), str(tmp_path))
    with pytest.raises(
        ValueError,
        match="model 'cnn' does not take activation, hidden; it takes num_classes, features",
    ):
        sweep.train(classify.make_problem, tiny(**{"model.name": "cnn"}), str(tmp_path))
    with pytest.raises(ValueError, match="train.strategy"):
        sweep.train(classify.make_problem, tiny(**{"train.strategy": "fast"}), str(tmp_path))


def test_set_hyperparams_reaches_nested_injected_states():
    import jax.numpy as jnp
    import ml_collections
    import optax

    from jaxdl.train import optim

    opt = ml_collections.ConfigDict({"name": "adamw", "lr": 0.1, "weight_decay": 0.0})
    tx = optax.multi_transform(
        {"a": optim.make_optimizer(opt, 10), "b": optax.sgd(0.1)}, {"w": "a", "v": "b"}
    )
    state = optim.set_hyperparams(
        tx.init({"w": jnp.ones(2), "v": jnp.ones(2)}), {"learning_rate": 0.5}
    )
    assert float(state.inner_states["a"].inner_state.hyperparams["learning_rate"]) == 0.5


def streamed(**overrides):
    """The tiny digits run with its training batches streamed through grain."""
    return tiny(**{"train.device_data_limit_mb": 0, **overrides})


def test_streamed_runs_agree_across_strategies_and_sweep_one_after_another(tmp_path):
    # a sweep over streamed data runs sequentially even where it would be vmapped, each run with
    # its own pipeline seeded by its seed: run i equals the solo run of its seed bit for bit
    runs = {}
    for strategy in ("scan", "loop"):
        c = streamed(
            **{"train.strategy": strategy, "sweep.seed": (0, 1), "train.sweep_strategy": "vmap"}
        )
        runs[strategy] = sweep.train(classify.make_problem, c, str(tmp_path / strategy))
        assert not runs[strategy].vmapped
        assert os.path.isdir(tmp_path / strategy / "run_1" / "checkpoints")
    for i in range(2):
        for x, y in zip(leaves(runs["scan"].fits[i].state), leaves(runs["loop"].fits[i].state)):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    solo = sweep.train(
        classify.make_problem,
        streamed(**{"train.strategy": "loop", "seed": 1}),
        str(tmp_path / "1"),
    )
    for x, y in zip(leaves(solo.fits[0].state), leaves(runs["loop"].fits[1].state)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(
        leaves(runs["loop"].fits[0].state)[0], leaves(runs["loop"].fits[1].state)[0]
    ), "each run streams in its own seed's order"


@pytest.mark.parametrize("strategy, workers", [("scan", 0), ("loop", 1)])
def test_streamed_resume_is_bitwise_exact(tmp_path, strategy, workers):
    # as test_resume_is_bitwise_exact, on batches streamed through grain (in this process, or in
    # a worker process): the checkpoint at step 20 holds the iterator's state next to the state
    c = streamed(
        **{"train.strategy": strategy, "model.dropout_rate": 0.2, "train.data_workers": workers}
    )
    full = sweep.train(classify.make_problem, c, str(tmp_path / "full"))
    sweep.train(classify.make_problem, c, str(tmp_path / "cut"))
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "40")
    assert os.listdir(tmp_path / "cut" / "checkpoints" / "20" / "data")
    resumed = sweep.train(classify.make_problem, c, str(tmp_path / "cut"))
    assert resumed.fits[0].resumed_from == 20
    for x, y in zip(leaves(full.fits[0].state), leaves(resumed.fits[0].state)):
        np.testing.assert_array_equal(x, y)
    assert full.run_metrics(0) == resumed.run_metrics(0)
    rows = [l for l in open(tmp_path / "cut" / "metrics.jsonl") if '"train"' in l]
    assert len(rows) == 4, "resume must drop metrics logged after the checkpoint and log them once"


def test_a_run_never_resumes_on_the_other_data_path(tmp_path):
    from jaxdl.train import checkpoint as checkpoint_lib

    short = {"train.steps": 10, "train.log_every": 5, "checkpoint.every_steps": 5}
    sweep.train(classify.make_problem, tiny(**short), str(tmp_path / "device"))
    with pytest.raises(
        checkpoint_lib.CheckpointMismatchError,
        match=r"step 10 in .* was saved by a run with device training data, and this run's is "
        r"streamed",
    ):
        sweep.train(classify.make_problem, streamed(**short), str(tmp_path / "device"))
    sweep.train(classify.make_problem, streamed(**short), str(tmp_path / "streamed"))
    with pytest.raises(
        checkpoint_lib.CheckpointMismatchError, match="with streamed training data, and this run"
    ):
        sweep.train(classify.make_problem, tiny(**short), str(tmp_path / "streamed"))
    shutil.rmtree(tmp_path / "streamed" / "checkpoints" / "10")
    longer = streamed(**{**short, "train.steps": 20, "train.data_workers": 1})
    with pytest.raises(checkpoint_lib.CheckpointMismatchError, match="other train.data_workers"):
        sweep.train(classify.make_problem, longer, str(tmp_path / "streamed"))


def test_rerunning_a_finished_run_reports_the_same_metrics(tmp_path):
    c = tiny(**{"sweep.seed": (0, 1)})
    first = sweep.train(classify.make_problem, c, str(tmp_path))
    again = sweep.train(classify.make_problem, c, str(tmp_path))
    assert again.fits[0].resumed_from == 40
    for i in range(2):
        assert again.run_metrics(i) == pytest.approx(first.run_metrics(i), rel=1e-6)


def test_workdir_check_ignores_empty_attempts_and_reads_back_nan(tmp_path):
    # a run that diverged in its first chunk leaves an empty metrics.jsonl and checkpoints/: its
    # workdir is free for the corrected config
    config = configs.load_config("digits_mlp", "tiny")
    report.write_json(str(tmp_path / "config.json"), config.to_dict())
    (tmp_path / "metrics.jsonl").write_text("")
    (tmp_path / "checkpoints").mkdir()
    other = configs.load_config("digits_mlp", "tiny")
    other.opt.lr = 0.5
    assert not workdir.holds_a_run(str(tmp_path))
    workdir.check(other, str(tmp_path))
    # config.json stores inf as null: the same config still matches it
    config.opt.clip_norm = float("inf")
    report.write_json(str(tmp_path / "config.json"), config.to_dict())
    (tmp_path / "results.json").write_text("{}")
    assert workdir.check(config, str(tmp_path)) is False


def test_workdir_check_resumes_a_run_whose_config_had_a_field_since_dropped(tmp_path):
    # an experiment that stops declaring a field it never read (config_lib.drop) keeps its runs
    from jaxdl.train import config as config_lib

    config = configs.load_config("digits_mlp", "tiny")
    recorded = config.to_dict()
    config_lib.drop(config, "data.path", "data.split_seed")  # recorded at the skeleton's defaults
    report.write_json(str(tmp_path / "config.json"), recorded)
    (tmp_path / "results.json").write_text("{}")
    assert workdir.check(config, str(tmp_path)) is False
    # ... but not one whose recorded value the code may have used, nor a field the run lacked
    recorded["data"]["split_seed"] = 3
    report.write_json(str(tmp_path / "config.json"), recorded)
    with pytest.raises(ValueError, match=r"data.split_seed: 3 -> \(absent\)"):
        workdir.check(config, str(tmp_path))
    config.data.split_seed, config.data.added = 3, 1
    with pytest.raises(ValueError, match=r"data.added: \(absent\) -> 1"):
        workdir.check(config, str(tmp_path))


def test_a_task_resumes_runs_that_differ_only_in_fields_it_does_not_read(tmp_path):
    from jaxdl import tasks
    from jaxdl.tasks import classify, domain_adapt, tca

    config = configs.load_config("domain_adaptation", "tiny")
    recorded = config.to_dict()
    recorded["data"]["name"] = "digits"  # the placeholder before it was named domain_pairs
    report.write_json(str(tmp_path / "config.json"), recorded)
    (tmp_path / "results.json").write_text("{}")
    assert tasks.free_fields(domain_adapt) == ("data.name",)
    assert workdir.check(config, str(tmp_path), tasks.free_fields(domain_adapt)) is False
    with pytest.raises(ValueError, match="data.name: digits -> domain_pairs"):
        workdir.check(config, str(tmp_path), tasks.free_fields(classify))
    assert set(tasks.free_fields(tca)) >= {"opt", "train", "checkpoint"}  # a closed-form task


def test_default_workdir_depends_on_variant_and_overrides():
    base = configs.load_config("digits_mlp", None)
    assert workdir.default(base, None, base) == os.path.join("runs", "digits_mlp")
    tiny = configs.load_config("digits_mlp", "tiny")
    assert workdir.default(tiny, "tiny", tiny) == os.path.join("runs", "digits_mlp-tiny")
    changed = configs.load_config("digits_mlp", "tiny")
    changed.opt.lr = 3e-3
    name = workdir.default(changed, "tiny", tiny)
    assert name.startswith(os.path.join("runs", "digits_mlp-tiny-")) and name == workdir.default(
        changed, "tiny", tiny
    )
    assert workdir.differences(tiny.to_dict(), changed.to_dict()) == ["opt.lr: 0.01 -> 0.003"]
    longer = configs.load_config("digits_mlp", None)
    longer.train.steps, longer.train.log_every = 5000, 50  # extends the default run, in its workdir
    assert workdir.default(longer, None, base) == os.path.join("runs", "digits_mlp")


def test_workdir_check_refuses_another_configs_run(tmp_path):
    config = configs.load_config("digits_mlp", "tiny")
    workdir.check(config, str(tmp_path))  # empty: free
    report.write_json(str(tmp_path / "config.json"), config.to_dict())
    other = configs.load_config("digits_mlp", "tiny")
    other.model.hidden = (8,)
    workdir.check(other, str(tmp_path))  # a config.json alone (an attempt that failed early): free
    (tmp_path / "checkpoints" / "20").mkdir(parents=True)
    with pytest.raises(
        ValueError, match=r"holds a run of another config \(model.hidden: \[32\] -> \[8\]\)"
    ):
        workdir.check(other, str(tmp_path))
    logging_only = configs.load_config("digits_mlp", "tiny")
    logging_only.train.log_every, logging_only.checkpoint.keep = 5, 9
    workdir.check(logging_only, str(tmp_path))
    longer = configs.load_config("digits_mlp", "tiny")
    longer.train.steps = 80
    assert (
        workdir.check(longer, str(tmp_path)) is True
    )  # another length: config.json waits for success
    assert workdir.check(config, str(tmp_path)) is False
    longer.train.steps, longer.opt.lr = 80, 0.5
    with pytest.raises(
        ValueError, match=r"another config \(opt.lr: 0.01 -> 0.5; train.steps: 40 -> 80\)"
    ):
        workdir.check(longer, str(tmp_path))


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_optimizers_match_torch(name):
    # make_optimizer's update rule (constant schedule, weight decay, clipping) against torch.optim
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p0, grads = rng.normal(size=(3, 4)), rng.normal(size=(6, 3, 4)) * 3.0
    lr, wd, clip = 0.05, 0.01, 5.0
    opt = ml_collections.ConfigDict(
        dict(
            name=name,
            lr=lr,
            weight_decay=wd,
            schedule="constant",
            warmup_steps=0,
            clip_norm=clip,
            momentum=0.9,
            initial_accumulator=0.1,
            decay=0.9,
        )
    )
    tx = optim.make_optimizer(opt, total_steps=100)
    params = {"w": jnp.asarray(p0, jnp.float32)}
    state = tx.init(params)
    for g in grads:
        updates, state = tx.update({"w": jnp.asarray(g, jnp.float32)}, state, params)
        params = optax.apply_updates(params, updates)
    w = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    make = {
        "sgd": lambda: torch.optim.SGD([w], lr, weight_decay=wd),
        "momentum": lambda: torch.optim.SGD([w], lr, momentum=0.9, weight_decay=wd),
        "nesterov": lambda: torch.optim.SGD([w], lr, momentum=0.9, nesterov=True, weight_decay=wd),
        "adam": lambda: torch.optim.Adam([w], lr, weight_decay=wd),
        "adamw": lambda: torch.optim.AdamW([w], lr, weight_decay=wd),
        "adagrad": lambda: torch.optim.Adagrad(
            [w], lr, weight_decay=wd, initial_accumulator_value=0.1, eps=0.0
        ),
        "rmsprop": lambda: torch.optim.RMSprop([w], lr, alpha=0.9, eps=1e-8, weight_decay=wd),
    }[name]()
    for g in grads:
        w.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_([w], clip)
        make.step()
    np.testing.assert_allclose(params["w"], w.detach().numpy(), rtol=2e-4, atol=2e-5, err_msg=name)


def test_schedules_follow_their_formulas():
    T, w = 100, 10
    t = np.arange(T + 1)
    cosine = 0.5 * (1 + np.cos(np.pi * t / T))
    warm = np.where(t < w, t / w, 0.5 * (1 + np.cos(np.pi * (t - w) / (T - w))))
    expected = {
        "constant": np.ones(T + 1),
        "cosine": cosine,
        "warmup_cosine": warm,
        "linear": 1 - t / T,
        "step": 0.1 ** (t // (T // 3)),
    }
    for name, want in expected.items():
        opt = ml_collections.ConfigDict(
            dict(schedule=name, warmup_steps=w if name == "warmup_cosine" else 0)
        )
        got = np.array([float(optim.schedule_shape(opt, T)(k)) for k in t])
        np.testing.assert_allclose(got, want, atol=1e-6, err_msg=name)


def test_results_json_is_strict_json(tmp_path):
    path = str(tmp_path / "r.json")
    report.write_json(
        path, {"a": float("nan"), "b": [np.float32(1.5), np.inf], "c": (np.int64(2), None, True)}
    )
    text = open(path).read()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": [2, None, True]}


def test_a_sweep_refuses_a_workdir_whose_runs_differ(tmp_path):
    runs = [{"seed": 0, "opt.lr": 0.1}, {"seed": 1, "opt.lr": 0.1}]
    sweep.check_runs(str(tmp_path / "w"), runs)  # records them
    assert json.loads((tmp_path / "w" / sweep.RUNS_FILE).read_text()) == runs
    sweep.check_runs(str(tmp_path / "w"), runs)  # the same runs resume
    sweep.check_runs(str(tmp_path / "w"), runs[1:])  # nothing saved yet: the new list is taken
    assert json.loads((tmp_path / "w" / sweep.RUNS_FILE).read_text()) == runs[1:]
    os.makedirs(tmp_path / "w" / "checkpoints" / "10")
    with pytest.raises(ValueError, match="holds a sweep of other runs"):
        sweep.check_runs(
            str(tmp_path / "w"), runs
        )  # run 0 would resume from the saved run 0, another run
    # a workdir from before runs.json: a sequential run directory with outputs this sweep lacks
    os.makedirs(tmp_path / "old" / "run_2" / "checkpoints" / "10")
    with pytest.raises(ValueError, match="holds run_2, a run this sweep of 2 does not have"):
        sweep.check_runs(str(tmp_path / "old"), runs)
    assert not (tmp_path / "old" / sweep.RUNS_FILE).exists()


def test_a_checkpoint_of_another_model_is_one_clear_error_and_is_kept(tmp_path):
    from jaxdl.train import checkpoint as checkpoint_lib

    config = configs.tiny("digits_mlp")
    sweep.train(classify.make_problem, config, str(tmp_path))
    saved = sorted(os.listdir(tmp_path / "checkpoints"))
    other = configs.tiny("digits_mlp", **{"model.hidden": (7,)})
    with pytest.raises(
        checkpoint_lib.CheckpointMismatchError, match="does not fit the model this config builds"
    ):
        sweep.train(classify.make_problem, other, str(tmp_path))
    assert sorted(os.listdir(tmp_path / "checkpoints")) == saved, (
        "the old run's checkpoints must stay"
    )


def test_a_checkpoint_with_a_typed_key_in_the_optimizer_state_restores(tmp_path):
    # orbax stores a typed PRNG key by its key data, (2,) for a () key: the shape check must agree
    from jaxdl.train import checkpoint as checkpoint_lib
    from jaxdl.train.state import TrainState

    key = jax.random.key(3)
    state = TrainState(
        step=jnp.asarray(5, jnp.int32),
        params={"w": jnp.ones((2, 3))},
        opt_state={"noise_key": jax.random.key(7), "count": jnp.asarray(1)},
        model_state={},
        rng=key,
        data_key=key,
        hparams={"seed": jnp.asarray(0)},
    )
    with checkpoint_lib.Checkpointer(str(tmp_path / "c")) as ckpt:
        ckpt.save(5, state)
    with checkpoint_lib.Checkpointer(str(tmp_path / "c")) as ckpt:  # a new manager, as on resume
        back = ckpt.restore(state)
    assert np.array_equal(
        jax.random.key_data(back.opt_state["noise_key"]),
        jax.random.key_data(state.opt_state["noise_key"]),
    )
    assert np.array_equal(back.params["w"], state.params["w"])


def test_drop_removes_a_field_and_its_sweep_entry():
    from jaxdl.train import config as config_lib

    trained = config_lib.base("x", "classify", "a trained task")
    config_lib.drop(trained, "opt.lr", "opt.missing")
    assert (
        "lr" not in trained.opt
        and "lr" not in trained.sweep.opt
        and "weight_decay" in trained.sweep.opt
    )


def test_a_closed_form_task_names_the_training_fields_it_ignores():
    from jaxdl import tasks
    from jaxdl.tasks import classify, tca

    config = configs.load_config("tca_domains", "tiny")
    assert tasks.unused_training_fields(tca, config) == []
    config.train.steps, config.opt.lr = 5, 0.5
    assert tasks.unused_training_fields(tca, config) == [
        "opt.lr: 0.001 -> 0.5",
        "train.steps: 1000 -> 5",
    ]
    assert tasks.unused_training_fields(classify, config) == []


_TENSORBOARD_SCRIPT = r"""
import glob, json, os, sys
from jaxdl.train import metrics
writer = metrics.MetricWriter(sys.argv[1])
writer.write(3, "train", {"loss": 0.5})
writer.write(3, "test", {"accuracy": 0.25}, run=1)
writer.flush()
files = glob.glob(sys.argv[1] + "/tb/**/events.out.*", recursive=True)
events = {os.path.relpath(p, sys.argv[1]): open(p, "rb").read() for p in files}
tags = ("train/loss", "test/accuracy")
found = [(os.path.dirname(p), t) for p, data in events.items() for t in tags if t.encode() in data]
print(json.dumps({"torch": "torch" in sys.modules, "tags": sorted(found)}))
"""


def test_metrics_reach_jsonl_and_tensorboard_without_importing_torch(tmp_path):
    # a fresh interpreter: the test process has imported torch already
    proc = subprocess.run(
        [sys.executable, "-c", _TENSORBOARD_SCRIPT, str(tmp_path)],
        env=subprocesses.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out == {"torch": False, "tags": [["tb", "train/loss"], ["tb/run_1", "test/accuracy"]]}
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows == [
        {"step": 3, "split": "train", "loss": 0.5},
        {"step": 3, "split": "test", "run": 1, "accuracy": 0.25},
    ]


def test_sweep_curves_are_labelled_by_swept_values(tmp_path):
    with open(tmp_path / "runs.json", "w") as f:
        json.dump([{"opt.lr": 0.003, "seed": 0}, {"opt.lr": 0.001, "seed": 2}], f)
    assert report.run_labels(str(tmp_path), 3) == [
        "opt.lr=0.003 seed=0",
        "opt.lr=0.001 seed=2",
        "run 2",
    ]
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for run in (0, 1):
            for step in (1, 2):
                f.write(
                    json.dumps({"step": step, "split": "train", "run": run, "loss": 1.0 / step})
                    + "\n"
                )
    path = report.plot_curves(str(tmp_path))
    assert path and os.path.getsize(path) > 0
