"""Sweeps: many runs of one experiment, as one vmapped program or one after another.

``config.sweep`` holds, for any scalar config field, a tuple of values (``sweep.seed = (0, 1, 2)``,
``sweep.opt.lr = (0.1, 0.01)``); the runs are their Cartesian product. Each run's config is the
base config with its values set, so run *i* of a sweep computes what launching it alone computes:
bit for bit when the runs go one after another, up to float32 rounding in one vmapped program
(XLA may order a reduction's sum differently with the run axis; tests/test_sweep_exactness.py).

When every swept field is *traced* by the task (``Problem.traced``: seed, learning rate, weight
decay and task-specific ones), the runs are stacked on a leading axis and trained in one jitted,
vmapped program (sharded over ``"runs"`` when there are several devices). Otherwise, when the
training data streams (``jaxdl.train.loop.streams``: each run has its own pipeline), or when
``train.sweep_strategy="sequential"``, they run one after another under the same interface.
"""

import dataclasses
import itertools
import json
import os
from typing import Any, Callable

from absl import logging
import jax
import ml_collections
import numpy as np

from jaxdl import backend
from jaxdl.train import loop, precision, sharding
from jaxdl.train.problem import Problem

SWEEP_STRATEGIES = ("auto", "vmap", "sequential")
TRAIN_STRATEGIES = ("auto",) + loop.STRATEGIES


def flatten(cfg: ml_collections.ConfigDict | dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` for every leaf of a nested ConfigDict (or a plain dict: a config.json)."""
    out = {}
    for key, value in cfg.items():
        path = f"{prefix}{key}"
        if isinstance(value, (ml_collections.ConfigDict, dict)):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def get_path(cfg: ml_collections.ConfigDict, path: str) -> Any:
    """The value at dotted ``path``; ValueError naming the path when it does not exist."""
    node = cfg
    for part in path.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            raise ValueError(
                f"config has no field {path!r} (swept or traced fields must exist in the config)"
            )
        node = node[part]
    return node


def values(config: ml_collections.ConfigDict, path: str) -> tuple:
    """The values dotted ``path`` takes: ``sweep.<path>`` when swept, else its configured value."""
    swept = tuple(flatten(config.get("sweep", ml_collections.ConfigDict())).get(path, ()))
    return swept or (get_path(config, path),)


def expand(config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
    """The runs of ``config.sweep`` as ``[{path: value}, ...]``; ``[]`` when there is no sweep."""
    fields = {
        p: v
        for p, v in flatten(config.get("sweep", ml_collections.ConfigDict())).items()
        if v != ()
    }
    if not fields:
        return []
    for path, values in fields.items():
        current = get_path(config, path)
        if not isinstance(values, (tuple, list)) or not values:
            raise ValueError(f"sweep.{path} must be a non-empty tuple of values, got {values!r}")
        if isinstance(current, (int, float)) and not isinstance(current, bool):
            for v in values:
                try:
                    type(current)(v)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"sweep.{path} takes {type(current).__name__} values like {path} "
                        f"(now {current!r}), got {v!r} in {values!r}"
                    ) from None
    paths = list(fields)
    return [dict(zip(paths, combo)) for combo in itertools.product(*(fields[p] for p in paths))]


def run_config(
    config: ml_collections.ConfigDict, overrides: dict[str, Any]
) -> ml_collections.ConfigDict:
    """A copy of ``config`` with ``overrides`` set and no sweep left."""
    cfg = ml_collections.ConfigDict(config.to_dict())
    for path, value in overrides.items():
        *parents, leaf = path.split(".")
        node = cfg
        for part in parents:
            node = node[part]
        node[leaf] = (
            type(node[leaf])(value)
            if isinstance(node[leaf], (int, float)) and not isinstance(node[leaf], bool)
            else value
        )
    cfg.sweep = ml_collections.ConfigDict()
    return cfg


def traced_values(problem: Problem, cfg: ml_collections.ConfigDict) -> dict[str, Any]:
    """``{path: value}`` of the problem's traced fields in ``cfg``."""
    return {path: get_path(cfg, path) for path in problem.traced}


def is_convolutional(problem: Problem) -> bool:
    """Whether the problem's model convolves, told from its parameters' shapes alone: a parameter of
    rank 3 or more is taken for a convolution kernel ((*kernel_size, in, out), 1 to 3 spatial axes),
    as dense layers, biases, norms and recurrent cells have rank 1 or 2. A layer stacked over a
    leading axis (``nn.scan``, ``nn.vmap``) counts too.
    """
    hp = {p: np.float32(0) if p != "seed" else np.int32(0) for p in problem.traced}
    variables = jax.eval_shape(problem.init, jax.random.key(0), hp)
    return any(leaf.ndim >= 3 for leaf in jax.tree.leaves(variables.get("params", {})))


def choose_strategies(
    problem: Problem, config: ml_collections.ConfigDict, policy: backend.Policy | None = None
) -> tuple[str, str]:
    """(chunk strategy, sweep strategy) from the config; ``auto`` asks the backend policy
    (default :func:`jaxdl.backend.current`), per :func:`is_convolutional`.

    Both strategies of each pair compute the same; which one is faster depends on the platform
    (jaxdl.backend, benchmarks/README.md).
    """
    train_strategy = config.train.get("strategy", "auto")
    sweep_strategy = config.train.get("sweep_strategy", "auto")
    if train_strategy not in TRAIN_STRATEGIES:
        raise ValueError(
            f"unknown train.strategy {train_strategy!r}; "
            f"choose one of {', '.join(TRAIN_STRATEGIES)}"
        )
    if sweep_strategy not in SWEEP_STRATEGIES:
        raise ValueError(
            f"unknown train.sweep_strategy {sweep_strategy!r}; "
            f"choose one of {', '.join(SWEEP_STRATEGIES)}"
        )
    if "auto" in (train_strategy, sweep_strategy):
        policy = policy or backend.current()
        auto_train, auto_sweep = policy.strategies(is_convolutional(problem))
        train_strategy = auto_train if train_strategy == "auto" else train_strategy
        sweep_strategy = auto_sweep if sweep_strategy == "auto" else sweep_strategy
    return train_strategy, sweep_strategy


DATA_PARALLEL = ("auto", "always", "never")


def data_parallel(config: ml_collections.ConfigDict, policy: backend.Policy | None = None) -> bool:
    """Whether a single run splits its batches over the devices (``train.data_parallel``).

    ``auto`` does so across hosts, and within one process where the backend policy (default
    :func:`jaxdl.backend.current`) says so (``split_batches``; not over XLA:CPU's devices).
    ``always`` forces it (tests/test_distributed.py uses it on 4 CPU devices). Only meaningful with
    more than one device.
    """
    mode = config.train.get("data_parallel", "auto")
    if mode not in DATA_PARALLEL:
        raise ValueError(
            f"unknown train.data_parallel {mode!r}; choose one of {', '.join(DATA_PARALLEL)}"
        )
    if len(jax.devices()) == 1:
        return False
    if mode != "auto":
        return mode == "always"
    return (policy or backend.current()).split_batches or jax.process_count() > 1


@dataclasses.dataclass
class SweepResult:
    """Every run's overrides and FitResult (a vmapped sweep shares one stacked FitResult)."""

    overrides: list[dict[str, Any]]
    fits: list[loop.FitResult]
    vmapped: bool
    strategy: str

    def run_metrics(self, i: int) -> dict[str, float]:
        """Final metrics of run ``i``: ``train_<name>`` and ``test_<name>``."""
        fit, j = (self.fits[0], i) if self.vmapped else (self.fits[i], 0)
        out = {f"train_{k}": float(v[j]) for k, v in fit.train.items()}
        out.update({f"test_{k}": float(v[j]) for k, v in fit.test.items()})
        return out

    def run_dirs(self, workdir: str) -> list[str]:
        """Each run's directory when a sequential sweep trained them (``run_<i>``, each with its own
        metrics.jsonl); ``[]`` when they all logged to ``workdir`` (one run, or a vmapped sweep)."""
        if self.vmapped or self.overrides == [{}]:
            return []
        return [run_dir(workdir, i) for i in range(len(self.overrides))]

    def run_state(self, i: int) -> Any:
        """Final TrainState of run ``i`` (sliced from the stacked state of a vmapped sweep)."""
        if self.vmapped:
            return jax.tree.map(lambda a: a[i], self.fits[0].state)
        return self.fits[i].state


RUNS_FILE = "runs.json"


def run_dir(workdir: str, i: int) -> str:
    """Where run ``i`` of a sequential sweep writes (a vmapped sweep writes all to ``workdir``)."""
    return os.path.join(workdir, f"run_{i}")


def check_runs(workdir: str, overrides: list[dict[str, Any]]) -> None:
    """Refuses a workdir whose sweep trained other runs, then records this sweep's runs there.

    Run i of a sweep resumes from run i's checkpoint, so the same config must mean the same list of
    runs (a task or jaxdl version that drops or reorders runs would otherwise resume each run from
    another one's state). ``RUNS_FILE`` keeps the list. A workdir from before it existed is refused
    when it holds a sequential run directory (``run_<i>``) with outputs that this sweep does not
    have. A workdir with no outputs yet (an attempt that failed early) takes the new list.
    """
    # report and workdir import this module
    from jaxdl.train import report  # pylint: disable=g-import-not-at-top
    from jaxdl.train import workdir as workdir_lib

    runs = report.json_value(overrides)
    path = os.path.join(workdir, RUNS_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        if saved == runs:
            return
        if workdir_lib.holds_a_run(workdir):
            i = next(
                (i for i, (a, b) in enumerate(zip(saved, runs)) if a != b),
                min(len(saved), len(runs)),
            )
            now = runs[i] if i < len(runs) else "none"
            was = saved[i] if i < len(saved) else "none"
            raise ValueError(
                f"{workdir} holds a sweep of other runs ({path}: {len(saved)} runs, run {i} {was}; "
                f"this config: {len(runs)} runs, run {i} {now}); use a new --workdir"
            )
    extra = sorted(
        d
        for d in (os.listdir(workdir) if os.path.isdir(workdir) else [])
        if d.startswith("run_")
        and d[4:].isdigit()
        and int(d[4:]) >= len(runs)
        and workdir_lib.holds_a_run(os.path.join(workdir, d))
    )
    if extra:
        raise ValueError(
            f"{workdir} holds {extra[0]}, a run this sweep of {len(runs)} does not have "
            f"(written by another version of this experiment); use a new --workdir"
        )
    if jax.process_index() == 0:
        os.makedirs(workdir, exist_ok=True)
        report.write_json(path, runs)  # atomic: another host never reads half of it


def train(
    make_problem: Callable[[ml_collections.ConfigDict], Problem],
    config: ml_collections.ConfigDict,
    workdir: str,
    overrides: list[dict[str, Any]] | None = None,
    policy: backend.Policy | None = None,
) -> SweepResult:
    """Trains the experiment ``config``: one run, or every run of its sweep.

    Args:
      make_problem: the task's ``config -> Problem``.
      config: the experiment config.
      workdir: output directory (a sequential sweep puts run i under ``run_<i>/``).
      overrides: the runs to train, a subset of :func:`expand`'s (default: all of them), for a
        task whose product of swept values holds runs that would train alike.
      policy: the backend policy (default :func:`jaxdl.backend.current`); ``make_problem`` runs
        under it, so the models it builds follow it too.
    """
    policy = policy or backend.current()
    with backend.use(policy):
        return _train(make_problem, config, workdir, overrides, policy)


def with_compute_dtype(
    make_problem: Callable[[ml_collections.ConfigDict], Problem],
) -> Callable[[ml_collections.ConfigDict], Problem]:
    """``make_problem`` whose problems compute in their config's ``train.compute_dtype`` (kept as
    the task set it when the config has no such field)."""

    def make(cfg: ml_collections.ConfigDict) -> Problem:
        problem = make_problem(cfg)
        if "compute_dtype" not in cfg.get("train", {}):
            return problem
        return dataclasses.replace(problem, compute_dtype=precision.of_config(cfg))

    return make


def _train(make_problem, config, workdir, overrides, policy) -> SweepResult:
    """:func:`train` under ``policy``."""
    precision.of_config(config)  # one line for a bad train.compute_dtype, before any work
    make_problem = with_compute_dtype(make_problem)
    overrides = expand(config) if overrides is None else overrides
    base = run_config(config, overrides[0]) if overrides else config
    problem = make_problem(base)
    loop.check_train(base.train, problem.num_train)  # before choose_strategies traces the model
    train_strategy, sweep_strategy = choose_strategies(problem, base, policy)
    if not overrides:
        mesh = sharding.make_mesh("data") if data_parallel(base, policy) else None
        fit = loop.fit(
            problem,
            [traced_values(problem, base)],
            base,
            workdir,
            vmapped=False,
            strategy=train_strategy,
            mesh=mesh,
            policy=policy,
        )
        return SweepResult([{}], [fit], False, train_strategy)
    check_runs(workdir, overrides)
    untraced = sorted({p for o in overrides for p in o} - set(problem.traced))
    if sweep_strategy == "vmap" and untraced:
        logging.info(
            "sweeping %s (not traced by this task): running the sweep sequentially",
            ", ".join(untraced),
        )
        sweep_strategy = "sequential"
    if sweep_strategy == "vmap" and loop.streams(problem, base.train):
        logging.info("streamed training data: running the sweep sequentially, one pipeline a run")
        sweep_strategy = "sequential"
    logging.info(
        "sweep of %d runs: %s, %s strategy", len(overrides), sweep_strategy, train_strategy
    )
    if sweep_strategy == "vmap":
        if base.train.get("data_parallel", "auto") == "always":
            logging.info(
                "train.data_parallel=always splits single runs; "
                "this vmapped sweep shards its runs instead"
            )
        hps = [traced_values(problem, run_config(config, o)) for o in overrides]
        devices = jax.devices()
        mesh = sharding.make_mesh("runs") if len(hps) % len(devices) == 0 else None
        fit = loop.fit(
            problem,
            hps,
            base,
            workdir,
            vmapped=True,
            strategy=train_strategy,
            mesh=mesh,
            policy=policy,
        )
        return SweepResult(overrides, [fit], True, train_strategy)
    fits = []
    for i, o in enumerate(overrides):
        cfg = run_config(config, o)
        run_problem = problem if set(o) <= set(problem.traced) else make_problem(cfg)
        # each run as a single run
        mesh = sharding.make_mesh("data") if data_parallel(cfg, policy) else None
        fits.append(
            loop.fit(
                run_problem,
                [traced_values(run_problem, cfg)],
                cfg,
                run_dir(workdir, i),
                vmapped=False,
                strategy=train_strategy,
                mesh=mesh,
                label=f"run {i + 1}/{len(overrides)}",
                policy=policy,
            )
        )
    return SweepResult(overrides, fits, False, train_strategy)
