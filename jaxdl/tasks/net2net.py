"""Net2Net (Chen et al. 2016): teachers grown wider / deeper vs the same students from random init.

One teacher per seed trains first (``workdir/teacher``, the seeds as one vmapped program). Each
student architecture (``wider``: every hidden layer widened by Net2WiderNet; ``deeper``: identity
layers inserted by Net2DeeperNet) then trains as one vmapped program over the traced
``transfer.init`` (0 = random, 1 = Net2Net from the teacher) and the seeds; the growth itself runs
inside ``init`` from the teacher of the run's seed, so every seed draws its own teacher,
replication mapping and symmetry-breaking noise. Evaluation happens once per epoch (and before
training), which gives the paper's per-epoch table and, per seed, the epoch at which each student
first reaches its teacher's test accuracy (mean ± std over the seeds).
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
from jaxdl.train import loop, optim, report, sweep
from jaxdl.train import steps as steps_lib
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
    return models.get(
        config.model.name, features=tuple(config.model.features), num_classes=num_classes
    )


def grow(kind: str, config: ml_collections.ConfigDict, model, variables, key, noise_std: float):
    """The Net2Net student ``(model, variables)`` of the teacher: ``kind`` in STUDENTS."""
    t = config.transfer
    if kind == "wider":
        for layer, width in enumerate(tuple(t.wider_widths)):
            key, k = jax.random.split(key)
            model, variables = net2net.net2wider(
                model, variables, layer, int(width), k, noise_std=noise_std
            )
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
            raise ValueError(
                f"transfer.wider_widths has {len(widths)} entries; "
                f"the teacher has {len(features)} hidden layers"
            )
        return teacher.clone(features=tuple(widths) + tuple(features[len(widths) :]))
    for layer in sorted(tuple(t.deeper_after), reverse=True):
        features.insert(int(layer) + 1, features[int(layer)])
    return teacher.clone(features=tuple(features))


def make_student_problem(
    config: ml_collections.ConfigDict,
    kind: str,
    teachers: Any,
    teacher_seeds: tuple[int, ...],
    data: tuple[dict, dict],
) -> Problem:
    """Student ``kind`` from random init or from its Net2Net growth (traced ``transfer.init``).

    Args:
      config: the experiment config.
      kind: one of STUDENTS.
      teachers: the teachers' variables, every leaf stacked ``(len(teacher_seeds), ...)``.
      teacher_seeds: the seed each teacher trained with; a run grows the teacher of its seed.
      data: train and test splits.
    """
    train, test = data
    num_classes = int(train["y"].max()) + 1
    teacher = teacher_model(config, num_classes)
    student = student_model(kind, config, teacher)
    example = jnp.zeros((1,) + train["x"].shape[1:])
    noise_std = float(config.transfer.noise_std)

    def init(key, hparams):
        k_random, k_grow = jax.random.split(key)
        random = student.init(k_random, example)["params"]
        index = jnp.argmax(jnp.asarray(teacher_seeds) == hparams["seed"])  # the run's teacher
        teacher_vars = jax.tree.map(lambda a: jnp.asarray(a)[index], teachers)
        _, grown = grow(kind, config, teacher, teacher_vars, k_grow, noise_std)
        use = hparams["transfer.init"] > 0.5
        return {"params": jax.tree.map(lambda g, r: jnp.where(use, g, r), grown["params"], random)}

    loss, evaluate = finetune_task.classifier_fns(student)
    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["y"])))
    return Problem(init, loss, evaluate, tx, train, test, traced=TRACED)


def make_teacher_problem(config: ml_collections.ConfigDict, data: tuple[dict, dict]) -> Problem:
    """Plain classification with the teacher network."""
    train, test = data
    return finetune_task.classifier_problem(
        config, teacher_model(config, int(train["y"].max()) + 1), train, test
    )


def initial_accuracy(
    problem: Problem, config: ml_collections.ConfigDict, overrides: list[dict]
) -> list[float]:
    """Test accuracy of every run's initial state (epoch 0).

    Net2Net students start at the teacher's.
    """
    out = []
    test = {k: jnp.asarray(v) for k, v in problem.test_data.items()}
    for o in overrides:
        state = steps_lib.init_state(
            problem, hparams_to_arrays(sweep.traced_values(problem, sweep.run_config(config, o)))
        )
        out.append(
            float(
                loop.evaluate(problem, state, test, False, int(config.train.eval_batch_size))[
                    "accuracy"
                ][0]
            )
        )
    return out


def init_name(overrides: dict[str, Any], config: ml_collections.ConfigDict) -> str:
    """``"net2net"`` or ``"random"``: the initialisation of the run with ``overrides``."""
    return "net2net" if overrides.get("transfer.init", config.transfer.init) > 0.5 else "random"


def run_curves(
    workdir: str, overrides: list[dict], first: list[float], steps_per_epoch: int
) -> list[dict[int, dict[str, float]]]:
    """Each run's per-epoch test accuracy and train loss, read from ``workdir/metrics.jsonl``.

    Args:
      workdir: the student sweep's directory (a vmapped sweep: rows carry their ``run``).
      overrides: the sweep's runs.
      first: ``(R,)`` each run's test accuracy before training (epoch 0).
      steps_per_epoch: optimizer steps per epoch.

    Returns:
      Per run ``{epoch: {"test_accuracy", "train_loss"}}``; epoch 0 has no train loss.
    """
    metrics = report.read_metrics(workdir)
    curves = [{0: {"test_accuracy": first[r]}} for r in range(len(overrides))]
    for m in metrics:
        cell = curves[m.get("run", 0)].setdefault(m["step"] // steps_per_epoch, {})
        if m["split"] == "train":
            cell["train_loss"] = m["loss"]
        else:
            cell["test_accuracy"] = m["accuracy"]
    return curves


def epoch_rows(
    kind: str, curves: list[dict[int, dict[str, float]]], overrides: list[dict], config
) -> list[dict[str, Any]]:
    """Per (init, epoch): mean over seeds of the train loss and the test accuracy.

    Args:
      kind: the student (one of STUDENTS).
      curves: :func:`run_curves` of its runs.
      overrides: the runs (which init each used).
      config: the experiment config.

    Returns:
      Rows ``{"student", "init", "epoch", "train_loss", "test_accuracy"}``.
    """
    cells: dict[tuple, dict[str, list]] = {}
    for curve, o in zip(curves, overrides):
        for epoch, values in curve.items():
            key = (init_name(o, config), epoch)
            cell = cells.setdefault(key, {"test_accuracy": [], "train_loss": []})
            for k, v in values.items():
                cell[k].append(v)
    mean = lambda v: float(np.mean(v)) if v else float("nan")
    return [
        {
            "student": kind,
            "init": i,
            "epoch": e,
            "train_loss": mean(v["train_loss"]),
            "test_accuracy": mean(v["test_accuracy"]),
        }
        for (i, e), v in sorted(cells.items())
    ]


def epochs_to_teacher(curve: dict[int, dict[str, float]], target: float) -> int | None:
    """The first epoch whose test accuracy is >= ``target``; None when no epoch reaches it."""
    hit = [e for e, v in sorted(curve.items()) if v.get("test_accuracy", -1.0) >= target]
    return hit[0] if hit else None


def _reach_row(
    kind: str, init: str, reached: list[int | None], finals: list[float], epochs: int
) -> dict[str, Any]:
    """One (student, init) row: epochs to the teacher over seeds (those that reached it) and the
    final test accuracy, mean ± std over seeds."""
    hit = [e for e in reached if e is not None]
    n = len(reached)
    shown = report.mean_std(hit) if hit else f"never in {epochs}"
    return {
        "student": kind,
        "init": init,
        "epochs_to_teacher": shown,
        "reached": f"{len(hit)}/{n}",
        "final_test_accuracy": report.mean_std(finals),
        "seeds": n,
        "epochs_list": reached,
    }


def _plot(rows: list[dict[str, Any]], teacher: float, path: str) -> None:
    """Test accuracy against epoch, one panel per student, Net2Net vs random init (Chen et al.'s
    Fig. 3 / 4 layout), with the teacher's accuracy as a line."""
    plt = report.pyplot()

    students = list(dict.fromkeys(r["student"] for r in rows))
    fig, axes = plt.subplots(
        1, len(students), figsize=(4.6 * len(students), 3.6), squeeze=False, sharey=True
    )
    for ax, student in zip(axes[0], students):
        for init, style in (("net2net", "o-"), ("random", "s--")):
            pts = [
                (r["epoch"], r["test_accuracy"])
                for r in rows
                if r["student"] == student and r["init"] == init
            ]
            if pts:  # an init the sweep left out has none
                ax.plot(*zip(*pts), style, label=f"{init} init")
        ax.axhline(teacher, color="k", lw=0.8, ls=":", label="teacher")
        ax.set(xlabel="epoch", ylabel="test accuracy (mean over seeds)", title=f"{student} student")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
    report.save_figure(fig, path)


def train_teachers(
    cfg: ml_collections.ConfigDict, data: tuple[dict, dict], per_epoch: int, workdir: str
) -> tuple[Any, tuple[int, ...], list[float]]:
    """One teacher per seed of the sweep (one vmapped program).

    Returns:
      ``(variables stacked (S, ...), seeds (S,), test accuracies (S,))``.
    """
    seeds = tuple(int(s) for s in sweep.values(cfg, "seed"))
    t_cfg = sweep.run_config(cfg, {})
    t_cfg.train.steps = int(cfg.transfer.teacher_epochs) * per_epoch
    if len(seeds) > 1:
        t_cfg.sweep.seed = seeds
    teacher = sweep.train(
        lambda c: make_teacher_problem(c, data), t_cfg, os.path.join(workdir, "teacher")
    )
    params = [jax.device_get(teacher.run_state(i).params) for i in range(len(seeds))]
    stacked = {"params": jax.tree.map(lambda *a: np.stack(a), *params)}
    return stacked, seeds, [teacher.run_metrics(i)["test_accuracy"] for i in range(len(seeds))]


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Teachers, then each student from random and Net2Net init; per-epoch table.

    Args:
      config: the experiment config (see experiments/net2net.py for every field).
      workdir: output directory; re-running in it resumes every stage from its checkpoints.

    Returns:
      The results.json content: ``experiment``, ``config``, ``metrics``, ``runs``, ``summary``,
      ``groups`` (epochs to the teacher per student and init, over the seeds) and ``epochs``
      (per-epoch table, mean over seeds, plotted in ``accuracy_vs_epoch.png``).
    """
    data = task_data(config)
    cfg = ml_collections.ConfigDict(config.to_dict())
    per_epoch = len(data[0]["y"]) // int(cfg.train.batch_size)
    cfg.train.steps, cfg.train.log_every, cfg.train.eval_every = (
        int(cfg.train.epochs) * per_epoch,
        per_epoch,
        per_epoch,
    )
    teachers, seeds, teacher_acc = train_teachers(cfg, data, per_epoch, workdir)
    target = dict(zip(seeds, teacher_acc))
    tolerance = float(cfg.transfer.reach_tolerance)
    rows, runs, reach, per_run = [], [], [], {}
    for kind in tuple(cfg.transfer.students):
        if kind not in STUDENTS:
            raise ValueError(
                f"unknown student {kind!r} in transfer.students; choose from {', '.join(STUDENTS)}"
            )
        make = lambda c, kind=kind: make_student_problem(c, kind, teachers, seeds, data)
        result = sweep.train(make, cfg, os.path.join(workdir, kind))
        overrides = result.overrides or [{}]
        first = initial_accuracy(make(sweep.run_config(cfg, overrides[0])), cfg, overrides)
        curves = run_curves(os.path.join(workdir, kind), overrides, first, per_epoch)
        rows += epoch_rows(kind, curves, overrides, cfg)
        for i, (o, curve) in enumerate(zip(overrides, curves)):
            seed = int(o.get("seed", cfg.seed))
            hit = epochs_to_teacher(curve, target[seed] - tolerance)
            final = result.run_metrics(i)
            per_run.setdefault((kind, init_name(o, cfg)), []).append((hit, final["test_accuracy"]))
            reached = {"epochs_to_teacher": hit, "reached_teacher": float(hit is not None)}
            runs.append(
                {
                    "student": kind,
                    **o,
                    "metrics": {**final, "teacher_test_accuracy": target[seed], **reached},
                }
            )
    for (kind, init), values in per_run.items():
        reach.append(
            _reach_row(
                kind, init, [h for h, _ in values], [a for _, a in values], int(cfg.train.epochs)
            )
        )
    teacher_line = f"teacher test accuracy {report.mean_std(teacher_acc)} over seeds {seeds}"
    shown = [{k: v for k, v in r.items() if k != "epochs_list"} for r in reach]
    text = (
        f"{teacher_line}\n(epochs to teacher: mean ± std over the seeds that reached their own"
        f" teacher)\n\n{report.table(shown)}\n\n{report.table(rows)}"
    )
    report.write_table(workdir, text, "net2net")
    if report.is_writer():
        _plot(rows, float(np.mean(teacher_acc)), os.path.join(workdir, "accuracy_vs_epoch.png"))
    summary = report.summarize(runs)  # one group per student and init
    metrics: dict[str, Any] = {"teacher_test_accuracy": float(np.mean(teacher_acc))}
    for g in summary:
        name, m = f"{g['hparams']['student']}_{init_name(g['hparams'], cfg)}", g["metrics"]
        # a mean only where every seed reached its teacher: "never" has no number to average
        metrics[f"{name}_epochs_to_teacher"] = m.get("epochs_to_teacher", {}).get("mean")
        metrics[f"{name}_reached_teacher"] = m["reached_teacher"]["mean"]
        metrics[f"{name}_final_test_accuracy"] = m["test_accuracy"]["mean"]
    return report.results_from_runs(
        config.experiment, config, runs, summary=summary, metrics=metrics, groups=reach, epochs=rows
    )
