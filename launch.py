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

config_flags.DEFINE_config_file("config", DEFAULT_CONFIG, "Experiment config file, optionally :variant.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output directory (default: runs/<experiment>). Re-use it to resume.")
flags.DEFINE_bool("list", False, "List the experiments and exit.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0, for multi-host runs.")
flags.DEFINE_integer("num_processes", None, "Number of processes in a multi-host run.")
flags.DEFINE_integer("process_id", None, "This process's index in a multi-host run.")
flags.DEFINE_bool("debug", False, "Show full tracebacks instead of one-line errors.")
FLAGS = flags.FLAGS


def list_experiments() -> str:
    """One line per experiment file: name, task and description."""
    lines = []
    for path in sorted(glob.glob(os.path.join(HERE, "experiments", "*.py"))):
        spec = importlib.util.spec_from_file_location("_exp", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
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


def _quiet_libraries(record) -> bool:
    """Keeps the progress lines readable: Orbax logs every save step at INFO."""
    return record.levelno >= 30 or "orbax" not in record.pathname


if __name__ == "__main__":
    logging.set_verbosity(logging.INFO)
    logging.get_absl_handler().addFilter(_quiet_libraries)
    app.run(_run)
