"""Launches a jaxdl experiment.

  python launch.py                                           # the default experiment (digits MLP)
  python launch.py --list                                    # every experiment, one line each
  python launch.py --config=experiments/NAME.py --show_config   # its fields and values, then exit
  python launch.py --config=experiments/NAME.py[:variant] [--config.a.b=value ...] [--workdir=DIR]

Re-running the same command resumes from its newest checkpoint. The default --workdir is
runs/<experiment>[-<variant>], with a digest of the config appended when overrides change it; a
workdir holding a run of another config is refused.
Several hosts: pass --coordinator_address=HOST:PORT --num_processes=N --process_id=I on each.
"""

import atexit
import glob
import importlib.util
import os
import signal
import sys
import threading

from absl import app, flags, logging
import ml_collections
from ml_collections import config_flags

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(HERE, "experiments", "digits_mlp.py")

FLAGS = flags.FLAGS
# the --config file's own config and variant, before command-line overrides (set by _preflight)
_FILE_CONFIG: dict = {"config": None, "variant": None}


def _define_flags() -> None:
    # ml_collections applies --config.* overrides while defining the flag, so this runs only
    # after _preflight has checked them.
    config_flags.DEFINE_config_file(
        "config",
        DEFAULT_CONFIG,
        "Experiment config file, optionally :variant.",
        # _preflight accepts a new field only as an argument of the model (_ModelFields); main
        # locks the config once the overrides are in
        lock_config=False,
        accept_new_attributes=True,
    )
    flags.DEFINE_string(
        "workdir",
        None,
        "Output directory (default: runs/<experiment>[-<variant>][-<config digest>]). "
        "Re-use it to resume.",
    )
    flags.DEFINE_bool("list", False, "List the experiments and exit.")
    flags.DEFINE_bool(
        "show_config",
        False,
        "Print the config (after --config.* overrides) with every field and exit.",
    )
    flags.DEFINE_string("coordinator_address", None, "host:port of process 0, for multi-host runs.")
    flags.DEFINE_integer("num_processes", None, "Number of processes in a multi-host run.")
    flags.DEFINE_integer("process_id", None, "This process's index in a multi-host run.")
    flags.DEFINE_bool("debug", False, "Show full tracebacks instead of one-line errors.")
    flags.DEFINE_integer(
        "cpu_devices",
        0,
        "XLA:CPU devices to split the cores into (0: one per core; 1: one device on all cores).",
        lower_bound=0,
    )


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
        shown = os.path.relpath(path)
        shown = path if shown.startswith("..") else shown  # a path that works from here
        lines.append(f"{shown:40s} [{c.task}] {c.get('description', '')}")
    return "\n".join(lines)


def _initialize_distributed() -> None:
    """jax.distributed.initialize from the multi-host flags, before anything starts a backend."""
    given = [
        FLAGS.coordinator_address is not None,
        FLAGS.num_processes is not None,
        FLAGS.process_id is not None,
    ]
    if not any(given):
        return
    if not all(given):
        raise ValueError(
            "a multi-host run needs all of --coordinator_address=HOST:PORT, --num_processes=N "
            "and --process_id=I (0 <= I < N)"
        )
    if not 0 <= FLAGS.process_id < FLAGS.num_processes:
        raise ValueError(
            f"--process_id={FLAGS.process_id} must be in 0..{FLAGS.num_processes - 1} "
            f"(--num_processes={FLAGS.num_processes})"
        )
    import jax

    # CPU processes all-reduce over gloo; the option only concerns the CPU client, so it is set
    # without asking which backend will run (asking would start it before initialize)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    _gloo_lines_to_stderr()
    jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)


def _gloo_lines_to_stderr() -> None:
    """Moves the "[Gloo] Rank i is connected to ..." lines that gloo's C++ code prints to stdout
    when a multi-process run first communicates over to stderr, so stdout holds the results alone.

    stdout (file descriptor 1, which C++ writes to as well) becomes a pipe; a thread copies its
    lines to the real stdout, gloo's to stderr, until the process ends.
    """
    sys.stdout.flush()
    original = os.dup(1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.close(write_end)

    def copy(out_fd: int) -> None:
        with open(read_end, "rb", buffering=0) as pipe, open(out_fd, "wb", buffering=0) as out:
            for line in pipe:
                (sys.stderr.buffer if line.startswith(b"[Gloo]") else out).write(line)
        sys.stderr.flush()

    thread = threading.Thread(target=copy, args=(os.dup(original),), daemon=True)
    thread.start()

    def restore() -> None:  # the pipe's last writer closes: the thread copies what is left and ends
        sys.stdout.flush()
        os.dup2(original, 1)
        thread.join(timeout=10)

    atexit.register(restore)


def main(argv: list[str]) -> int:
    """Lists the experiments, shows a config, or runs the ``--config`` experiment in its workdir."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.list:
        print(list_experiments())
        return 0
    if FLAGS.show_config:
        print(FLAGS.config)
        return 0
    from jaxdl import backend

    # SIGTERM outside the training loop (which checkpoints on it) stops like Ctrl-C: one line, 130
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    _initialize_distributed()
    # the platform's policy and its process settings, before the first computation (XLA reads its
    # flags and device count, and glibc its allocator settings, once)
    policy = backend.for_platform(cpu_devices=FLAGS.cpu_devices)
    policy.setup_process()
    import jax

    from jaxdl import tasks
    from jaxdl.train import report
    from jaxdl.train import workdir as workdir_lib

    config = FLAGS.config
    config.lock()
    if FLAGS.workdir:
        workdir = os.path.expanduser(FLAGS.workdir)
    else:
        workdir = workdir_lib.default(config, _FILE_CONFIG["variant"], _FILE_CONFIG["config"])
    logging.info(
        "jaxdl: process %d of %d, devices %s",
        jax.process_index(),
        jax.process_count(),
        jax.devices(),
    )
    logging.info(
        "experiment %s (task %s) -> %s", config.experiment, config.task, os.path.abspath(workdir)
    )
    results = tasks.run(config, workdir, policy)
    if jax.process_index() == 0:
        print(report.format_results(results))
        table = report.read_table(workdir)
        if table is not None:
            print("\n" + table)
        print(f"\nresults: {os.path.join(workdir, 'results.json')}")
    return 0


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(argv: list[str]) -> None:
    try:
        sys.exit(main(argv))
    except KeyboardInterrupt:  # outside the training loop, which saves a checkpoint itself
        print(
            "error: interrupted; run the same command to resume from the newest checkpoint",
            file=sys.stderr,
        )
        sys.exit(130)
    except Exception as err:  # one clear line for user mistakes; --debug for the traceback
        from jaxdl.train.loop import Interrupted, TrainingDiverged

        if FLAGS.debug or not isinstance(
            err, (ValueError, KeyError, OSError, ImportError, Interrupted, TrainingDiverged)
        ):
            raise
        # a KeyError's str() is the repr of its key: show the message itself
        message = (
            str(err.args[0] if isinstance(err, KeyError) and err.args else err)
            or type(err).__name__
        )
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
    if not path.endswith(".py"):
        return (
            f"{path} is not a Python config file; "
            "experiment configs are .py files with get_config(variant=None)"
        )
    try:
        module = _load_config_module(path)
        if not hasattr(module, "get_config"):
            return (
                f"{path} defines no get_config(); "
                "experiment files are configs with get_config(variant=None)"
            )
        config = module.get_config(variant or None)
    except ValueError as err:
        return str(err)
    if not isinstance(config, ml_collections.ConfigDict):
        return (
            f"{path}: get_config() returned a {type(config).__name__}; "
            "it must return an ml_collections.ConfigDict"
        )
    _FILE_CONFIG.update(config=config, variant=variant or None)
    model_fields = _ModelFields(config, argv)
    for arg in argv:
        if arg.startswith("--config."):
            field = arg[len("--config.") :].split("=", 1)[0]
            node, walked, by_model = config, [], False
            for part in field.split("."):
                if walked == ["model"] and part not in node and part in model_fields.get():
                    # an argument of the model that the file leaves at the model's default
                    node, walked, by_model = model_fields.get()[part], walked + [part], True
                    continue
                if not hasattr(node, "keys") or part not in node:
                    where = ".".join(walked) or "the config"
                    keys = set(node.keys()) if hasattr(node, "keys") else set()
                    if walked == ["model"] and part in model_fields.set_by_task():
                        return f"--config.{field}: the {config.task} task sets this argument itself"
                    if walked == ["model"] and model_fields.get():
                        keys |= set(model_fields.get())
                        where += f" nor an argument of model {model_fields.name!r}"
                    valid = ", ".join(sorted(keys)) if keys else "none (it is a value)"
                    return (
                        f"unknown config field {field!r} ({part!r} is not in {where}); "
                        f"fields there: {valid}"
                    )
                node, walked = node[part], walked + [part]
            if "=" in arg and not _parses_as(node, arg.split("=", 1)[1]):
                now = (
                    f"model {model_fields.name!r} defaults it to {node!r}"
                    if by_model
                    else f"it is {node!r} in {path}"
                )
                return f"{arg}: {field} takes {type(node).__name__} values ({now})"
    return None


class _ModelFields:
    """The fields ``--config.model.<field>`` may add to the file's config, looked up once when
    needed: every argument of the model (``--config.model.name`` if given) that the task passes
    on from ``model`` (jaxdl.train.config.model_fields), with its default."""

    def __init__(self, config: ml_collections.ConfigDict, argv: list[str]):
        self.config = config
        self.name = config.get("model", {}).get("name")
        for arg in argv:
            if arg.startswith("--config.model.name="):
                self.name = arg.split("=", 1)[1]
        self._fields = None

    def get(self) -> dict:
        """``{field: default}``; empty when the task reads only the fields its config declares."""
        if self._fields is None:
            from jaxdl.train import config as config_lib

            try:
                self._fields = config_lib.model_fields(self.config, self.name) or {}
            except ValueError:  # an unknown task: refused with its own line when the run starts
                self._fields = {}
        return self._fields

    def set_by_task(self) -> tuple[str, ...]:
        """The model arguments the task sets itself (its ``TASK_MODEL_ARGUMENTS``)."""
        from jaxdl import tasks

        try:
            return tuple(getattr(tasks.get(self.config.task), "TASK_MODEL_ARGUMENTS", ()))
        except ValueError:
            return ()


def _parses_as(current, text: str) -> bool:
    """Whether ``text`` is a valid command-line value for a field now holding ``current``.

    Checked with absl's parsers.
    """
    parser = (
        flags.BooleanParser()
        if isinstance(current, bool)
        else flags.IntegerParser()
        if isinstance(current, int)
        else flags.FloatParser()
        if isinstance(current, float)
        else None
    )
    try:
        parser is None or parser.parse(text)
    except ValueError:
        return False
    return True


def _quiet_libraries(record) -> bool:
    """Keeps the progress lines readable: Orbax logs every save step at INFO, and JAX logs at INFO
    each platform it probes and does not find (libtpu on every CPU or GPU machine)."""
    if record.levelno >= 30:
        return True
    probe = (
        record.pathname.endswith("xla_bridge.py")
        and "Unable to initialize backend" in record.getMessage()
    )
    return "orbax" not in record.pathname and not probe


if __name__ == "__main__":
    logging.set_verbosity(logging.INFO)
    logging.get_absl_handler().addFilter(_quiet_libraries)
    if {"-h", "-?", "--help", "--helpshort", "--helpfull"} & set(sys.argv[1:]):
        _define_flags()  # asked for help: print it and succeed (absl's own --help exits 1)
        app.usage(shorthelp="--helpfull" not in sys.argv, writeto_stdout=True, exitcode=0)
    problem = _preflight(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    _define_flags()
    app.run(_run)
