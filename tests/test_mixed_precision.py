"""Mixed precision (train.compute_dtype=bfloat16): every model family computes its matmuls and
convolutions in bfloat16 while parameters, optimizer state, losses and batch-norm statistics stay
float32; training reaches float32's accuracy; the config field is checked and part of a run's
identity."""

import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxdl import backend, tasks
from jaxdl.tasks import classify, reconstruct, segment, seq2seq, sequence, video, wide_deep
from jaxdl.train import precision, report, steps, sweep, workdir
from jaxdl.train.state import hparams_to_arrays
from tests import configs

BF16 = "bfloat16"
MATMULS = ("dot_general", "conv_general_dilated")

# family -> (task module, experiment, overrides of its :tiny config)
FAMILIES = {
    "mlp": (classify, "digits_mlp", {}),
    "cnn": (classify, "digits_cnn", {}),
    "resnet": (classify, "resnet20_fashion", {}),
    "vgg": (classify, "vgg_fashion", {}),
    "alexnet": (classify, "alexnet_ablation", {}),
    "googlenet": (classify, "cnn_families", {"model": "googlenet_small"}),
    "densenet": (classify, "cnn_families", {"model": "densenet_bc_22"}),
    "wrn": (classify, "wrn_fashion", {}),
    "fcn": (segment, "fcn_shapes", {"sweep.model.skips": (2,)}),
    "c3d": (video, "c3d_video", {}),
    "autoencoder": (reconstruct, "autoencoder_denoising", {}),
    "lstm_classifier": (sequence, "japanese_vowels", {}),
    "gru_classifier": (sequence, "japanese_vowels", {"sweep.model.cell": ("gru",)}),
    "seq2seq": (
        seq2seq,
        "seq2seq_reversal",
        {"model.cell": "lstm", "sweep.model.attention": ("additive",)},
    ),
    "wide_deep": (wide_deep, "wide_deep_adult", {"sweep.model.mode": ("wide_deep",)}),
}


def _config(experiment, compute_dtype=BF16, **overrides):
    c = configs.tiny(experiment)
    model = overrides.pop("model", None)
    if model is not None:  # one network of the families experiment, through the classify task
        c.model = ml_collections.ConfigDict(c.families[model].to_dict())
    for path, value in overrides.items():
        node = c
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    c.train.compute_dtype = compute_dtype
    runs = sweep.expand(c)
    return sweep.run_config(c, runs[0]) if runs else c


def _problem_and_state(family):
    task, experiment, overrides = FAMILIES[family]
    cfg = _config(experiment, **overrides)
    problem = sweep.with_compute_dtype(task.make_problem)(cfg)
    hp = hparams_to_arrays(sweep.traced_values(problem, cfg))
    state = jax.jit(steps.init_state, static_argnums=0)(problem, hp)
    size = min(int(cfg.train.batch_size), problem.num_train)
    batch = {k: jnp.asarray(v[:size]) for k, v in problem.train_data.items()}
    return problem, state, batch


def _matmul_dtypes(jaxpr, found):
    """The operand dtypes of every dot_general and convolution in ``jaxpr`` and its sub-jaxprs."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in MATMULS:
            found.append((eqn.primitive.name, tuple(str(v.aval.dtype) for v in eqn.invars)))
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else [param]:
                if hasattr(sub, "eqns"):
                    _matmul_dtypes(sub, found)
                elif hasattr(getattr(sub, "jaxpr", None), "eqns"):
                    _matmul_dtypes(sub.jaxpr, found)
    return found


def _dtypes(tree):
    return {str(x.dtype) for x in jax.tree.leaves(tree)}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_bfloat16_step_keeps_float32_state_and_loss(family):
    with backend.use(backend.for_platform()):
        problem, state, batch = _problem_and_state(family)
        assert problem.compute_dtype == BF16
        new, metrics = jax.jit(steps.train_step, static_argnums=0)(problem, state, batch)
        assert _dtypes(new.params) == {"float32"}
        assert _dtypes(new.opt_state) <= {"float32", "int32"}
        assert _dtypes(new.model_state) <= {"float32"}
        assert all(v.dtype == jnp.float32 for v in metrics.values())
        assert np.isfinite(float(metrics["loss"]))
        moved = [not np.array_equal(a, b) for a, b in zip(*map(jax.tree.leaves, (state, new)))]
        assert any(moved)
        if state.model_state:  # batch-norm statistics were updated (in float32, above)
            old, now = jax.tree.leaves(state.model_state), jax.tree.leaves(new.model_state)
            assert any(not np.array_equal(a, b) for a, b in zip(old, now))

        loss = precision.mixed(problem.loss, problem.compute_dtype, returns_state=True)
        rng = jax.random.key(0)
        grad = jax.value_and_grad(
            lambda p: loss(p, state.model_state, batch, rng, state.hparams), has_aux=True
        )
        found = _matmul_dtypes(jax.make_jaxpr(grad)(state.params).jaxpr, [])
        assert found, "no matmul or convolution traced"
        wide = sorted({f for f in found if set(f[1]) != {BF16}})
        assert not wide, f"{family}: matmuls or convolutions outside bfloat16: {wide}"


@pytest.mark.parametrize(
    ("experiment", "steps_", "lr"), [("digits_mlp", 200, 0.01), ("digits_cnn", 400, 0.01)]
)
def test_bfloat16_training_reaches_float32_accuracy(tmp_path, experiment, steps_, lr):
    accuracy = {}
    for compute_dtype in ("float32", BF16):
        c = configs.tiny(experiment, **{"train.steps": steps_, "opt.lr": lr})
        c.train.compute_dtype = compute_dtype
        with backend.use(backend.for_platform()):
            result = sweep.train(classify.make_problem, c, str(tmp_path / compute_dtype))
        accuracy[compute_dtype] = result.run_metrics(0)["test_accuracy"]
    assert accuracy["float32"] > 0.85, accuracy
    assert abs(accuracy[BF16] - accuracy["float32"]) <= 0.03, accuracy


def test_a_bad_compute_dtype_is_one_line_before_anything_runs(tmp_path):
    c = configs.tiny("digits_mlp")
    c.train.compute_dtype = "float16"
    message = "train.compute_dtype='float16' is not a compute dtype; accepted: float32, bfloat16"
    with pytest.raises(ValueError, match=f"^{message}$"):
        tasks.run(c, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")
    with pytest.raises(ValueError, match=f"^{message}$"):
        sweep.train(classify.make_problem, c, str(tmp_path / "sweep"))
    assert not os.path.exists(tmp_path / "sweep")


def test_compute_dtype_is_part_of_a_runs_identity(tmp_path):
    base = configs.load_config("digits_mlp", "tiny")
    assert base.train.compute_dtype == "float32"
    bf16 = configs.load_config("digits_mlp", "tiny")
    bf16.train.compute_dtype = BF16
    # its own default workdir, and a workdir of the other dtype is refused before anything changes
    assert workdir.default(bf16, "tiny", base) != workdir.default(base, "tiny", base)
    report.write_json(str(tmp_path / "config.json"), base.to_dict())
    (tmp_path / "checkpoints" / "20").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"train.compute_dtype: float32 -> bfloat16"):
        workdir.check(bf16, str(tmp_path))
    # a run recorded before the field existed computed in float32: it resumes, in float32 only
    old = base.to_dict()
    del old["train"]["compute_dtype"]
    with open(tmp_path / "config.json", "w", encoding="utf-8") as f:
        json.dump(report.json_value(old), f)
    assert workdir.check(base, str(tmp_path)) is False
    with pytest.raises(ValueError, match=r"train.compute_dtype: \(absent\) -> bfloat16"):
        workdir.check(bf16, str(tmp_path))


def test_float32_leaves_the_task_functions_untouched():
    def loss(params, model_state, batch, rng, hparams):
        return params, ({}, model_state)

    assert precision.mixed(loss, "float32", returns_state=True) is loss
    x = {"w": jnp.ones(3), "n": jnp.arange(3), "s": jnp.float32(2.0)}
    assert jax.tree.map(lambda a: str(a.dtype), precision.cast_floating(x, jnp.bfloat16)) == {
        "w": BF16,
        "n": "int32",
        "s": BF16,
    }
