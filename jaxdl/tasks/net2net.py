"""Net2Net (Chen, Goodfellow & Shlens 2016): a trained teacher grown into wider / deeper students vs the same students from random init, loss per epoch.

The teacher trains first (``workdir/teacher``). Each student architecture (``wider``: every hidden
layer widened by Net2WiderNet; ``deeper``: identity layers inserted by Net2DeeperNet) then trains
as one vmapped program over the traced ``transfer.init`` (0 = random, 1 = Net2Net from the
teacher) and the seeds; the growth itself runs inside ``init``, so every seed draws its own
replication mapping and symmetry-breaking noise. Evaluation happens once per epoch (and before
training), which gives the paper's per-epoch table and the epoch at which each student first
reaches the teacher's test accuracy.
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import models
from jaxdl.data import core as data_core
from jaxdl.tasks import finetune as finetune_task
from jaxdl.train import loop, optim, report, steps as steps_lib, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import COMMON_TRACED, Problem
from jaxdl.train.state import hparams_to_arrays
from jaxdl.transfer import net2net

TRACED = COMMON_TRACED + ("transfer.init",)
STUDENTS = ("wider", "deeper")


def task_data(config: ml_collections.ConfigDict) -> tuple[dict, dict]:
    """Train and test splits of ``data.name``."""
    d = config.data
    x, y = finetune_task.load_domain(d.name, d.size)
    return data_core.split(x, y, d.test_fraction, d.split_seed)


def teacher_model(config: ml_collections.ConfigDict, num_classes: int):
    """The teacher: a ``net2net_mlp`` with ``model.features`` hidden widths."""
    return models.get(config.model.name, features=tuple(config.model.features), num_classes=num_classes)


def grow(kind: str, config: ml_collections.ConfigDict, model, variables, key, noise_std: float):
    """The Net2Net student ``(model, variables)`` of the teacher: ``kind`` in STUDENTS."""
    t = config.transfer
    if kind == "wider":
        for layer, width in enumerate(tuple(t.wider_widths)):
            key, k = jax.random.split(key)
            model, variables = net2net.net2wider(model, variables, layer, int(width), k, noise_std=noise_std)
        return model, variables
    # Insert from the top down so that earlier indices still name the teacher's layers.
    for layer in sorted(tuple(t.deeper_after), reverse=True):
        key, k = jax.random.split(key)
        model, variables = net2net.net2deeper(model, variables, int(layer), k, noise_std=noise_std)
    return model, variables


def student_model(kind: str, config: ml_collections.ConfigDict, teacher):
    """The student architecture that :func:`grow` produces from ``teacher``."""
    t, features = config.transfer, list(teacher.features)
    if kind == "wider":
        widths = tuple(t.wider_widths)
        if len(widths) > len(features):
            raise ValueError(f"transfer.wider_widths has {len(widths)} entries; the teacher has {len(features)} hidden layers")
        return teacher.clone(features=tuple(widths) + tuple(features[len(widths):]))
    for layer in sorted(tuple(t.deeper_after), reverse=True):
        features.insert(int(layer) + 1, features[int(layer)])
    return teacher.clone(features=tuple(features))


def make_student_problem(config: ml_collections.ConfigDict, kind: str, teacher_vars: Any, data: tuple[dict, dict]) -> Problem:
    """Student ``kind`` trained from random init or from its Net2Net growth (traced ``transfer.init``)."""
    train, test = data
    num_classes = int(train["y"].max()) + 1
    teacher = teacher_model(config, num_classes)
    student = student_model(kind, config, teacher)
    example = jnp.zeros((1,) + train["x"].shape[1:])
    noise_std = float(config.transfer.noise_std)

    def init(key, hparams):
        k_random, k_grow = jax.random.split(key)
        random = student.init(k_random, example)["params"]
        _, grown = grow(kind, config, teacher, teacher_vars, k_grow, noise_std)
        use = hparams["transfer.init"] > 0.5
        return {"params": jax.tree.map(lambda g, r: jnp.where(use, g, r), grown["params"], random)}

    loss, evaluate = finetune_task.classifier_fns(student)
    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["y"])))
    return Problem(init, loss, evaluate, tx, train, test, traced=TRACED)


def make_teacher_problem(config: ml_collections.ConfigDict, data: tuple[dict, dict]) -> Problem:
    """Plain classification with the teacher network."""
    train, test = data
    return finetune_task.classifier_problem(config, teacher_model(config, int(train["y"].max()) + 1), train, test)


def initial_accuracy(problem: Problem, config: ml_collections.ConfigDict, overrides: list[dict]) -> list[float]:
    """Test accuracy of every run's initial state (epoch 0: Net2Net students start at the teacher's)."""
    out = []
    test = {k: jnp.asarray(v) for k, v in problem.test_data.items()}
    for o in overrides:
        state = steps_lib.init_state(problem, hparams_to_arrays(sweep.traced_values(problem, sweep.run_config(config, o))))
        out.append(float(loop.evaluate(problem, state, test, False, int(config.train.eval_batch_size))["accuracy"][0]))
    return out


def init_name(overrides: dict[str, Any], config: ml_collections.ConfigDict) -> str:
    """``"net2net"`` or ``"random"``: the initialisation of the run with ``overrides``."""
    return "net2net" if overrides.get("transfer.init", config.transfer.init) > 0.5 else "random"


def epoch_rows(kind: str, workdir: str, overrides: list[dict], first: list[float], steps_per_epoch: int, config) -> list[dict[str, Any]]:
    """Per (init, epoch): mean over seeds of the train loss and the test accuracy."""
    metrics = report.read_metrics(workdir)
    cells: dict[tuple, dict[str, list]] = {}
    for r, o in enumerate(overrides):
        init = init_name(o, config)
        cells.setdefault((init, 0), {"test_accuracy": [], "train_loss": []})["test_accuracy"].append(first[r])
        for m in metrics:
            if m.get("run", 0) == r:
                cell = cells.setdefault((init, m["step"] // steps_per_epoch), {"test_accuracy": [], "train_loss": []})
                cell["train_loss" if m["split"] == "train" else "test_accuracy"].append(m["loss" if m["split"] == "train" else "accuracy"])
    return [{"student": kind, "init": i, "epoch": e, "train_loss": float(np.mean(v["train_loss"])) if v["train_loss"] else float("nan"), "test_accuracy": float(np.mean(v["test_accuracy"]))} for (i, e), v in sorted(cells.items())]


def _plot(rows: list[dict[str, Any]], teacher: float, path: str) -> None:
    """Test accuracy against epoch, one panel per student, Net2Net vs random init (Chen et al.'s
    Fig. 3 / 4 layout), with the teacher's accuracy as a line."""
    plt = report.pyplot()

    students = list(dict.fromkeys(r["student"] for r in rows))
    fig, axes = plt.subplots(1, len(students), figsize=(4.6 * len(students), 3.6), squeeze=False, sharey=True)
    for ax, student in zip(axes[0], students):
        for init, style in (("net2net", "o-"), ("random", "s--")):
            pts = [(r["epoch"], r["test_accuracy"]) for r in rows if r["student"] == student and r["init"] == init]
            if pts:  # an init the sweep left out has none
                ax.plot(*zip(*pts), style, label=f"{init} init")
        ax.axhline(teacher, color="k", lw=0.8, ls=":", label="teacher")
        ax.set(xlabel="epoch", ylabel="test accuracy (mean over seeds)", title=f"{student} student")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Teacher, then each student from random and Net2Net init; per-epoch table.

    Args:
      config: the experiment config (see experiments/net2net.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary``, ``groups`` (epochs to the teacher) and ``epochs`` (per-epoch table, plotted in ``accuracy_vs_epoch.png``).
    """
    data = task_data(config)
    cfg = ml_collections.ConfigDict(config.to_dict())
    per_epoch = len(data[0]["y"]) // int(cfg.train.batch_size)
    cfg.train.steps, cfg.train.log_every, cfg.train.eval_every = int(cfg.train.epochs) * per_epoch, per_epoch, per_epoch
    t_cfg = sweep.run_config(cfg, {})
    t_cfg.train.steps = int(cfg.transfer.teacher_epochs) * per_epoch
    teacher = sweep.train(lambda c: make_teacher_problem(c, data), t_cfg, os.path.join(workdir, "teacher"))
    teacher_vars = {"params": jax.device_get(teacher.fits[0].state.params)}
    target = teacher.run_metrics(0)["test_accuracy"]
    rows, runs, reach = [], [], []
    for kind in tuple(cfg.transfer.students):
        if kind not in STUDENTS:
            raise ValueError(f"unknown student {kind!r} in transfer.students; choose from {', '.join(STUDENTS)}")
        make = lambda c, kind=kind: make_student_problem(c, kind, teacher_vars, data)
        result = sweep.train(make, cfg, os.path.join(workdir, kind))
        overrides = result.overrides
        kind_rows = epoch_rows(kind, os.path.join(workdir, kind), overrides, initial_accuracy(make(sweep.run_config(cfg, overrides[0])), cfg, overrides), per_epoch, cfg)
        rows += kind_rows
        runs += [{"student": kind, **o, "metrics": result.run_metrics(i)} for i, o in enumerate(overrides)]
        for init in [i for i in ("random", "net2net") if any(r["init"] == i for r in kind_rows)]:
            hit = [r["epoch"] for r in kind_rows if r["init"] == init and r["test_accuracy"] >= target - float(cfg.transfer.reach_tolerance)]
            final = [r for r in kind_rows if r["init"] == init][-1]
            reach.append({"student": kind, "init": init, "epochs_to_teacher_accuracy": min(hit) if hit else None, "final_test_accuracy": final["test_accuracy"], "final_train_loss": final["train_loss"]})
    shown = [{**r, "epochs_to_teacher_accuracy": "never" if r["epochs_to_teacher_accuracy"] is None
              else r["epochs_to_teacher_accuracy"]} for r in reach]
    text = f"teacher test accuracy {target:.4f}\n\n{report.table(shown)}\n\n{report.table(rows)}"
    report.write_table(workdir, text, "net2net")
    if jax.process_index() == 0:
        _plot(rows, target, os.path.join(workdir, "accuracy_vs_epoch.png"))
    metrics = {"teacher_test_accuracy": target, **{f"{r['student']}_{r['init']}_epochs_to_teacher": r["epochs_to_teacher_accuracy"] for r in reach}, **{f"{r['student']}_{r['init']}_final_test_accuracy": r["final_test_accuracy"] for r in reach}}
    groups: dict[str, list[float]] = {}  # each (student, init)'s final metrics over its seeds
    for r in runs:
        for k, v in r["metrics"].items():
            groups.setdefault(f"{r['student']}_{init_name(r, cfg)}_final_{k}", []).append(v)
    summary = {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in groups.items()}
    return {"experiment": config.experiment, "config": config.to_dict(), "metrics": metrics, "runs": runs, "summary": summary, "groups": reach, "epochs": rows}
