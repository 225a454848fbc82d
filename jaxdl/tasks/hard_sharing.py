"""Hard parameter sharing on the training loop: shared trunk + per-task heads vs one model per task vs one pooled model.

The task family comes from digits: task ``t`` is the binary problem "digit t or not", trained on
``n_t`` examples (half positive) with ``n_t`` shrinking geometrically, so some tasks have plenty of
data and some very little. Examples of all tasks are pooled into one training set with a task id
per example; the objective is ``Σ_t α_t L_t / Σ_t α_t`` with per-task mean losses ``L_t``
(``mtl.weighting="task"``, every task counts by its weight α_t however much data it has) or the
α-weighted mean over examples (``"example"``, large tasks dominate). Both are written as one
per-example weight, so minibatches give unbiased estimates.

``model.sharing`` (Caruana 1997, "Multitask Learning"):

* ``hard``: one MLP trunk shared by every task, one logistic head per task;
* ``separate``: one whole MLP per task (no sharing);
* ``pooled``: one MLP for all tasks, the task id given to it as a one-hot input.
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl.data import images
from jaxdl.multitask import sharing
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import Problem

WEIGHTING = ("task", "example")
MODEL_NAMES = ("multitask_mlp",)  # the task builds jaxdl.multitask.sharing.MultiTaskMLP from model.*
FREE_FIELDS = ("data.name",)  # always the bundled digits


def task_sizes(cfg) -> list[int]:
  """``n_t = max(min_per_task, round(max_per_task · size_decay^t))`` training examples of task t."""
  return [max(int(cfg.min_per_task), int(round(cfg.max_per_task * cfg.size_decay ** t)))
          for t in range(int(cfg.num_tasks))]


def _task_examples(x, y, t, n, rng):
  """``n`` examples of "digit t or not": half digit ``t``, half other digits (as many as exist)."""
  pos, neg = np.flatnonzero(y == t), np.flatnonzero(y != t)
  k = min(n // 2, len(pos)) if n else len(pos)
  idx = np.concatenate([rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)])
  return x[idx], (y[idx] == t).astype(np.float32)


def make_data(cfg, alpha, weighting):
  """Per-example arrays ``x, y, task, w`` (train) and ``x, y, task, w`` (test, balanced per task).

  The training weight ``w`` makes the minibatch mean of ``w·ℓ`` estimate the configured
  objective; the test weight ``w = N / n_t`` turns the trainer's sums-over-count into per-task means.
  """
  ds = images.digits(cfg.test_fraction, cfg.split_seed)
  rng = np.random.default_rng(cfg.split_seed)
  flat = lambda a: a.reshape(len(a), -1)
  parts = {"train": [], "test": []}
  for t, n in enumerate(task_sizes(cfg)):
    for split, size in (("train", n), ("test", 0)):
      src = getattr(ds, split)
      x, y = _task_examples(flat(src["x"]), src["y"], t, size, rng)
      parts[split].append((x, y, np.full(len(y), t, np.int32)))
  out = {}
  for split, chunks in parts.items():
    x, y, task = (np.concatenate(c) for c in zip(*chunks))
    n_t = np.bincount(task)[task].astype(np.float32)
    if split == "train":
      a = alpha[task]
      w = a * len(y) / (n_t * alpha.sum()) if weighting == "task" else a * len(y) / a.sum()
    else:
      w = len(y) / n_t
    out[split] = {"x": x, "y": y, "task": task, "w": w.astype(np.float32)}
  return out["train"], out["test"]


def make_problem(config: ml_collections.ConfigDict) -> Problem:
  """Digit tasks, the ``model.sharing`` network, the weighted multi-task loss and the optimizer."""
  cfg = config.mtl
  T = int(config.data.num_tasks)
  if not 1 <= T <= 10:
    raise ValueError(f"data.num_tasks must be in 1..10 (one task per digit), got {T}")
  if cfg.weighting not in WEIGHTING:
    raise ValueError(f"mtl.weighting must be one of {', '.join(WEIGHTING)}, got {cfg.weighting!r}")
  if cfg.task_weights and len(cfg.task_weights) != T:
    raise ValueError(f"mtl.task_weights needs {T} values (one per task) or () for ones, got {len(cfg.task_weights)}")
  if config.model.sharing not in sharing.SHARING:
    raise ValueError(f"model.sharing must be one of {', '.join(sharing.SHARING)}, got {config.model.sharing!r}")
  alpha = np.asarray(cfg.task_weights or (1.0,) * T, np.float32)
  train, test = make_data(config.data, alpha, cfg.weighting)
  model = sharing.MultiTaskMLP(T, tuple(config.model.hidden), config.model.sharing)

  def init(key, hparams):
    return model.init(key, train["x"][:1], train["task"][:1])

  def loss(params, model_state, batch, key, hparams):
    logits = model.apply({"params": params}, batch["x"], batch["task"])
    per = optax.sigmoid_binary_cross_entropy(logits, batch["y"])
    accuracy = jnp.mean((logits > 0) == (batch["y"] > 0.5))
    return jnp.mean(batch["w"] * per), ({"accuracy": accuracy}, model_state)

  def evaluate(params, model_state, batch, hparams):
    logits = model.apply({"params": params}, batch["x"], batch["task"])
    correct = ((logits > 0) == (batch["y"] > 0.5)).astype(jnp.float32)
    sums = {"loss": jnp.sum(optax.sigmoid_binary_cross_entropy(logits, batch["y"])),
            "accuracy": jnp.sum(correct),
            "task_mean_accuracy": jnp.sum(correct * batch["w"]) / T,
            "count": jnp.asarray(batch["y"].shape[0])}
    for t in range(T):
      sums[f"accuracy_task{t}"] = jnp.sum(correct * batch["w"] * (batch["task"] == t))
    return sums

  tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["y"])))
  return Problem(init, loss, evaluate, tx, train, test)


def _plot(rows, sizes, workdir) -> None:
  plt = report.pyplot()

  fig, ax = plt.subplots(figsize=(5.5, 3.8))
  for row in rows:
    acc = [row[f"task{t}"] for t in range(len(sizes))]
    ax.semilogx(sizes, acc, "o-", label=f"{row['sharing']} (seed {row['seed']})")
  ax.set(xlabel="training examples of the task n_t", ylabel="test accuracy (balanced)",
         title="digit-t-or-not tasks")
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, "task_accuracy.png"), dpi=100)
  plt.close(fig)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains every ``model.sharing`` of the sweep; table of per-task accuracy against n_t."""
  result = sweep.train(make_problem, config, workdir)
  sizes = task_sizes(config.data)
  rows = []
  for i, o in enumerate(result.overrides):
    m = result.run_metrics(i)
    rows.append({"sharing": o.get("model.sharing", config.model.sharing),
                 "seed": o.get("seed", config.seed),
                 "task_mean": m["test_task_mean_accuracy"],
                 "small_tasks": float(np.mean([m[f"test_accuracy_task{t}"]
                                               for t in range(len(sizes)) if sizes[t] <= np.median(sizes)])),
                 **{f"task{t}": m[f"test_accuracy_task{t}"] for t in range(len(sizes))}})
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    _plot(rows, sizes, workdir)
    report.write_table(workdir, report.table(rows), f"balanced test accuracy per task (n_t = {sizes})")
  out = report.results_dict(config.experiment, config, result)
  out["task_sizes"] = sizes
  out["table"] = rows
  return out
