"""Launches a jaxdl experiment.

  python launch.py                                           # the default experiment (digits MLP)
  python launch.py --list                                    # every experiment, one line each
  python launch.py --config=experiments/NAME.py[:variant] [--config.a.b=value ...] [--workdir=DIR]

Re-running the same command with the same --workdir resumes from its newest checkpoint.
Several hosts: pass --coordinator_address=HOST:PORT --num_processes=N --process_id=I on each.
"""

import glob
import importlib.util
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(HERE, "experiments", "digits_mlp.py")

FLAGS = flags.FLAGS


def _define_flags() -> None:
    # ml_collections applies --config.* overrides while defining the flag, so this runs only
    # after _preflight has checked them.
    config_flags.DEFINE_config_file("config", DEFAULT_CONFIG, "Experiment config file, optionally :variant.", lock_config=True)
    flags.DEFINE_string("workdir", None, "Output directory (default: runs/<experiment>). Re-use it to resume.")
    flags.DEFINE_bool("list", False, "List the experiments and exit.")
    flags.DEFINE_string("coordinator_address", None, "host:port of process 0, for multi-host runs.")
    flags.DEFINE_integer("num_processes", None, "Number of processes in a multi-host run.")
    flags.DEFINE_integer("process_id", None, "This process's index in a multi-host run.")
    flags.DEFINE_bool("debug", False, "Show full tracebacks instead of one-line errors.")
    flags.DEFINE_integer("cpu_devices", 0, "XLA:CPU devices to split the cores into (0: one per core; 1: one device on all cores).", lower_bound=0)


def _load_config_module(path: str):
    spec = importlib.util.spec_from_file_location("_experiment_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def list_experiments() -> str:
    """One line per experiment file: name, task and description."""
    lines = []
    for path in sorted(glob.glob(os.path.join(HERE, "experiments", "*.py"))):
        module = _load_config_module(path)
        if not hasattr(module, "get_config"):
            continue
        c = module.get_config()
        lines.append(f"{os.path.relpath(path, os.getcwd()):40s} [{c.task}] {c.get('description', '')}")
    return "\n".join(lines)


def _initialize_distributed() -> None:
    if FLAGS.coordinator_address is None:
        return
    import jax

    if jax.default_backend() == "cpu" or os.environ.get("JAX_PLATFORMS", "") == "cpu":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.list:
        print(list_experiments())
        return 0
    from jaxdl import xla_cpu
    from jaxdl.train import sharding

    xla_cpu.tune_malloc()  # before the first computation, so XLA:CPU's step buffers reuse the heap
    sharding.use_cpu_cores(FLAGS.cpu_devices)
    _initialize_distributed()
    import jax

    from jaxdl import tasks
    from jaxdl.train import report

    config = FLAGS.config
    workdir = FLAGS.workdir or os.path.join("runs", config.experiment)
    logging.info("jaxdl: process %d of %d, devices %s", jax.process_index(), jax.process_count(), jax.devices())
    logging.info("experiment %s (task %s) -> %s", config.experiment, config.task, os.path.abspath(workdir))
    results = tasks.run(config, workdir)
    if jax.process_index() == 0:
        print(report.format_results(results))
        table = report.read_table(workdir)
        if table is not None:
            print("\n" + table)
        print(f"\nresults: {os.path.join(workdir, 'results.json')}")
    return 0


def _run(argv: list[str]) -> None:
    try:
        sys.exit(main(argv))
    except Exception as err:  # one clear line for user mistakes; --debug for the traceback
        from jaxdl.train.loop import Interrupted, TrainingDiverged

        if FLAGS.debug or not isinstance(err, (ValueError, KeyError, FileNotFoundError, ImportError, Interrupted, TrainingDiverged)):
            raise
        message = str(err).strip("'\"") or type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        sys.exit(130 if isinstance(err, Interrupted) else 2)


def _preflight(argv: list[str]) -> str | None:
    """Checks the --config file and variant before flag parsing, so mistakes get one line.

    Returns:
      The error line, or None when the config loads.
    """
    value = os.path.relpath(DEFAULT_CONFIG)
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            value = arg.split("=", 1)[1]
        elif arg == "--config" and i + 1 < len(argv):
            value = argv[i + 1]
    path, _, variant = value.partition(":")
    if not os.path.isfile(path):
        return f"config file not found: {path}; see python launch.py --list"
    try:
        module = _load_config_module(path)
        if not hasattr(module, "get_config"):
            return f"{path} defines no get_config(); experiment files are configs with get_config(variant=None)"
        config = module.get_config(variant or None)
    except ValueError as err:
        return str(err)
    for arg in argv:
        if arg.startswith("--config."):
            field = arg[len("--config.") :].split("=", 1)[0]
            node, walked = config, []
            for part in field.split("."):
                if not hasattr(node, "keys") or part not in node:
                    where = ".".join(walked) or "the config"
                    valid = ", ".join(sorted(node.keys())) if hasattr(node, "keys") else "none (it is a value)"
                    return f"unknown config field {field!r} ({part!r} is not in {where}); fields there: {valid}"
                node, walked = node[part], walked + [part]
    return None


def _quiet_libraries(record) -> bool:
    """Keeps the progress lines readable: Orbax logs every save step at INFO."""
    return record.levelno >= 30 or "orbax" not in record.pathname


if __name__ == "__main__":
    logging.set_verbosity(logging.INFO)
    logging.get_absl_handler().addFilter(_quiet_libraries)
    problem = _preflight(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    _define_flags()
    app.run(_run)
