"""Hard parameter sharing on the training loop: shared trunk + per-task heads vs separate vs pooled.

The task family comes from digits. Each task is a binary problem on the same images under its own
label map, trained on ``n_t`` examples (half positive) with ``n_t`` shrinking geometrically, so
some tasks have plenty of data and some very little. ``data.label_maps``:

* ``shared_attributes`` (default): every digit has four ±1 attributes, the bits of its binary
  code (:data:`ATTRIBUTES`), and task t's positive digits are those with ``a_tᵀ s(digit) > 0``
  for a Gaussian ``a_t`` drawn per seed. All tasks are linear in the same four features by
  construction (the shared-representation assumption of Baxter 2000), and which tasks are small
  changes with the seed.
* ``random_halves``: task t's positive class is a random half of the ten digits, drawn per seed;
  a small task whose examples miss a digit cannot know that digit's side.
* ``digit_vs_rest``: task t is "digit π(t) or not" for a permutation π drawn per seed. Here a
  large task treats the small tasks' digits as "rest", so a shared trunk is trained to merge them
  (negative transfer built into the family); kept to show it.

Examples of all tasks are pooled into one training set with a task id per example; the objective
is ``Σ_t α_t L_t / Σ_t α_t`` with per-task mean losses ``L_t`` (``mtl.weighting="task"``, every task
counts by its weight α_t however much data it has) or the α-weighted mean over examples
(``"example"``, large tasks dominate). Both are written as one per-example weight, so minibatches
give unbiased estimates.

``model.sharing`` (Caruana 1997, "Multitask Learning"):

* ``hard``: one MLP trunk shared by every task, one logistic head per task;
* ``separate``: one whole MLP per task (no sharing);
* ``pooled``: one MLP for all tasks, the task id given to it as a one-hot input.
"""

import os
from typing import Any

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
LABEL_MAPS = ("shared_attributes", "random_halves", "digit_vs_rest")
ATTRIBUTES = 2 * ((np.arange(10)[:, None] >> np.arange(4)) & 1) - 1  # (10, 4): digit's bits as ±1
MODEL_NAMES = (
    "multitask_mlp",
)  # the task builds jaxdl.multitask.sharing.MultiTaskMLP from model.*
FREE_FIELDS = ("data.name",)  # always the bundled digits


def task_sizes(cfg) -> list[int]:
    """The number of training examples of each task t.

    ``n_t = max(min_per_task, round(max_per_task · size_decay^t))``.
    """
    return [
        max(int(cfg.min_per_task), int(round(cfg.max_per_task * cfg.size_decay**t)))
        for t in range(int(cfg.num_tasks))
    ]


def label_maps(cfg, seed) -> np.ndarray:
    """``(T, 10)`` bool: digit ``c`` is positive for task ``t`` (``cfg.label_maps``, per seed)."""
    T = int(cfg.num_tasks)
    rng = np.random.default_rng((int(cfg.split_seed), int(seed), 1))
    if cfg.label_maps == "digit_vs_rest":
        return np.eye(10, dtype=bool)[rng.permutation(10)[:T]]
    if cfg.label_maps == "shared_attributes":
        maps = []
        while len(maps) < T:
            positive = ATTRIBUTES @ rng.normal(size=4) > 0
            if 2 <= positive.sum() <= 8:  # both classes hold at least two digits
                maps.append(positive)
        return np.stack(maps)
    if cfg.label_maps == "random_halves":
        return np.stack([np.isin(np.arange(10), rng.permutation(10)[:5]) for _ in range(T)])
    raise ValueError(
        f"data.label_maps must be one of {', '.join(LABEL_MAPS)}, got {cfg.label_maps!r}"
    )


def _task_examples(x, y, positive, n, rng):
    """``n`` examples of one task (all when ``n == 0``), half with a digit in ``positive (10,)``."""
    label = positive[y]
    pos, neg = np.flatnonzero(label), np.flatnonzero(~label)
    k = min(n // 2 if n else len(pos), len(pos), len(neg))
    idx = np.concatenate([rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)])
    return x[idx], label[idx].astype(np.float32)


def make_data(cfg, alpha, weighting, seed=0):
    """Per-example arrays ``x, y, task, w`` (train) and ``x, y, task, w`` (test, balanced per task).

    The training weight ``w`` makes the minibatch mean of ``w·ℓ`` estimate the configured objective;
    the test weight ``w = N / n_t`` turns the trainer's sums-over-count into per-task means. The
    label maps and the examples drawn depend on ``seed``; the digits train/test split does not.
    """
    ds = images.digits(cfg.test_fraction, cfg.split_seed)
    rng = np.random.default_rng((int(cfg.split_seed), int(seed)))
    flat = lambda a: a.reshape(len(a), -1)
    parts = {"train": [], "test": []}
    for t, (n, positive) in enumerate(zip(task_sizes(cfg), label_maps(cfg, seed))):
        for split, size in (("train", n), ("test", 0)):
            src = getattr(ds, split)
            x, y = _task_examples(flat(src["x"]), src["y"], positive, size, rng)
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
    """Digit tasks, the ``model.sharing`` network, weighted multi-task loss and optimizer."""
    cfg = config.mtl
    T = int(config.data.num_tasks)
    most = 10 if config.data.label_maps == "digit_vs_rest" else 64
    if not 1 <= T <= most:
        raise ValueError(
            f"data.num_tasks must be in 1..{most} with data.label_maps="
            f"{config.data.label_maps}, got {T}"
        )
    if cfg.weighting not in WEIGHTING:
        raise ValueError(
            f"mtl.weighting must be one of {', '.join(WEIGHTING)}, got {cfg.weighting!r}"
        )
    if cfg.task_weights and len(cfg.task_weights) != T:
        raise ValueError(
            f"mtl.task_weights needs {T} values (one per task) or () for ones, "
            f"got {len(cfg.task_weights)}"
        )
    if config.model.sharing not in sharing.SHARING:
        raise ValueError(
            f"model.sharing must be one of {', '.join(sharing.SHARING)}, "
            f"got {config.model.sharing!r}"
        )
    alpha = np.asarray(cfg.task_weights or (1.0,) * T, np.float32)
    train, test = make_data(config.data, alpha, cfg.weighting, config.seed)
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
        sums = {
            "loss": jnp.sum(optax.sigmoid_binary_cross_entropy(logits, batch["y"])),
            "accuracy": jnp.sum(correct),
            "task_mean_accuracy": jnp.sum(correct * batch["w"]) / T,
            "count": jnp.asarray(batch["y"].shape[0]),
        }
        for t in range(T):
            sums[f"accuracy_task{t}"] = jnp.sum(correct * batch["w"] * (batch["task"] == t))
        return sums

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(train["y"])))
    return Problem(init, loss, evaluate, tx, train, test)


def attribute_probe(config, params, seed, n=10, repeats=5) -> dict[str, float]:
    """Test accuracy of linear probes of the four :data:`ATTRIBUTES` from ``n`` training images.

    The probes read the hard-sharing trunk's features or the pixels (scikit-learn's logistic
    regression, C = 1), averaged over the attributes and ``repeats`` draws of the images: whether
    the trunk learned the features that every task is built on.

    Args:
      config: the run's config; params: its hard-sharing ``params``; seed: the draws' seed.
      n: training images per probe (a small task's size).
      repeats: draws per attribute.

    Returns:
      ``{"probe_pixels": accuracy, "probe_trunk": accuracy}``.
    """
    from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top

    ds = images.digits(config.data.test_fraction, config.data.split_seed)
    flat = lambda a: np.asarray(a.reshape(len(a), -1))
    trunk = sharing._Trunk(tuple(config.model.hidden))  # pylint: disable=protected-access
    features = {
        "pixels": lambda x: x,
        "trunk": lambda x: np.asarray(trunk.apply({"params": params["trunk"]}, x)),
    }
    x_tr, y_tr, x_te, y_te = flat(ds.train["x"]), ds.train["y"], flat(ds.test["x"]), ds.test["y"]
    rng = np.random.default_rng((int(seed), 2))
    scores = {name: [] for name in features}
    for b in range(ATTRIBUTES.shape[1]):
        label = ATTRIBUTES[:, b] > 0
        for _ in range(repeats):
            idx = np.concatenate(
                [
                    rng.choice(np.flatnonzero(label[y_tr] == v), n // 2, replace=False)
                    for v in (True, False)
                ]
            )
            for name, f in features.items():
                clf = LogisticRegression(C=1.0, max_iter=2000).fit(f(x_tr[idx]), label[y_tr[idx]])
                scores[name].append(clf.score(f(x_te), label[y_te]))
    return {f"probe_{name}": float(np.mean(v)) for name, v in scores.items()}


def _plot(rows, sizes, workdir) -> None:
    """Balanced test accuracy against n_t (tasks of equal n_t averaged): mean ± std over seeds."""
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    distinct = sorted(set(sizes), reverse=True)
    for k, name in enumerate(dict.fromkeys(r["sharing"] for r in rows)):
        acc = np.array(
            [
                [
                    np.mean([r[f"task{t}"] for t in range(len(sizes)) if sizes[t] == n])
                    for n in distinct
                ]
                for r in rows
                if r["sharing"] == name
            ]
        )  # (seeds, sizes)
        x = np.asarray(distinct) * (
            1.0 + 0.04 * (k - 1)
        )  # a small offset keeps the error bars apart
        ax.errorbar(
            x, acc.mean(0), acc.std(0), fmt="o-", capsize=3, label=f"{name} ({len(acc)} seeds)"
        )
    ax.set_xscale("log")
    ax.set(
        xlabel="training examples of the task n_t",
        ylabel="balanced test accuracy",
        title="per-task accuracy (mean ± std over seeds)",
    )
    ax.legend(fontsize=8, loc="lower right")
    report.save_figure(fig, os.path.join(workdir, "task_accuracy.png"))


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains every ``model.sharing`` x seed of the sweep; per-task accuracy against n_t."""
    # the seed also draws the tasks: every run names its (untraced) sharing, so that each one is
    # built from its own config rather than vmapped over the first seed's data
    overrides = [{"model.sharing": config.model.sharing, **o} for o in sweep.expand(config) or [{}]]
    result = sweep.train(make_problem, config, workdir, overrides)
    sizes = task_sizes(config.data)
    small = [t for t in range(len(sizes)) if sizes[t] <= np.median(sizes)]
    rows = []
    for i, o in enumerate(result.overrides):
        m = result.run_metrics(i)
        rows.append(
            {
                "sharing": o.get("model.sharing", config.model.sharing),
                "seed": o.get("seed", config.seed),
                "task_mean": m["test_task_mean_accuracy"],
                "small_tasks": float(np.mean([m[f"test_accuracy_task{t}"] for t in small])),
                **{f"task{t}": m[f"test_accuracy_task{t}"] for t in range(len(sizes))},
            }
        )
    probes = [
        {
            "seed": r["seed"],
            **attribute_probe(sweep.run_config(config, o), result.run_state(i).params, r["seed"]),
        }
        for i, (o, r) in enumerate(zip(result.overrides, rows))
        if r["sharing"] == "hard"
    ]
    probe_text = ""
    if probes:
        probe_text = (
            "\n\nlinear probes of the 4 shared attributes from 10 images (test accuracy): "
            + ", ".join(
                f"{k} {report.mean_std([p[k] for p in probes])}"
                for k in ("probe_pixels", "probe_trunk")
            )
            + f" over {len(probes)} hard-sharing seeds"
        )
    out = report.results_dict(
        config.experiment,
        config,
        result,
        run_metrics=[{"test_small_task_accuracy": r["small_tasks"]} for r in rows],
        task_sizes=sizes,
        table=rows,
        attribute_probe=probes,
    )
    shown = [  # the summary's groups: one per sharing mode, over the seeds
        {
            "sharing": g["hparams"].get("model.sharing", config.model.sharing),
            "seeds": g["n"],
            "task_mean": report.mean_std_text(**g["metrics"]["test_task_mean_accuracy"]),
            "small_tasks": report.mean_std_text(**g["metrics"]["test_small_task_accuracy"]),
        }
        for g in out["summary"]
    ]
    if report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        _plot(rows, sizes, workdir)
        report.write_table(
            workdir,
            report.table(shown) + probe_text + "\n\n" + report.table(rows),
            f"balanced test accuracy (mean ± std over seeds; n_t = {sizes}, "
            f"small tasks: n_t <= {np.median(sizes):g})",
        )
    return out
