"""The backend policy: every choice that depends on the platform XLA compiles for, in one object.

``nn/``, ``models/`` and ``train/`` are backend-neutral. What runs faster on one platform than on
another is a field of a :class:`Policy`: the conv layer models build, where an RNN computes its
input projection, the hand-BPTT LSTM's layout, compiler options, the default training and sweep
strategies, whether a single run splits its batches over devices, and process settings.

An entry point builds one with :func:`for_platform`, calls :meth:`Policy.setup_process` before the
first computation and runs under ``with use(policy):``; ``jaxdl.tasks.run`` and ``launch.py`` do
this. ``jaxdl.models.get`` and ``jaxdl.train.sweep.train`` read :func:`current`, which is the plain
``Policy()`` (flax's and XLA's defaults) outside any ``use``.

``for_platform("cpu")`` is the XLA:CPU policy (:mod:`jaxdl.backend.xla_cpu`): conv layers whose
kernel gradient runs in XLA:CPU's fast layout, first layers as patches times kernel, input
projections inside the recurrence, feature-major LSTM loops once the recurrent weights outgrow the
L2 cache, convolutions out of YNNPACK, conv nets trained by a Python loop of steps and their sweeps
one run after another, no batch split over the CPU devices of one process, and glibc's allocator
tuned.
"""

import contextlib
import dataclasses
import functools
import importlib.metadata
import importlib.util
import inspect
from typing import Any, Iterator

import flax.linen as nn
import jax

ModuleDef = Any

# the Policy fields a model or layer may declare (and models.get fills in)
MODEL_FIELDS = ("conv", "precompute_inputs", "lstm_feature_major_above")


@dataclasses.dataclass(frozen=True)
class Policy:
    """What jaxdl does differently per platform; frozen and hashable (a key of compiled programs).

    Attributes:
      platform: the platform it was built for ("cpu", "gpu", "tpu"), or "any".
      conv: the conv layer models build, ``flax.linen.Conv`` or one with its signature.
      precompute_inputs: RNN layers compute the input projections of all steps in one matmul
        before the recurrence (True) or inside it (False). Results are the same.
      lstm_feature_major_above: the hand-BPTT LSTM runs its loops feature-major when its hidden
        size exceeds this; None: always batch-major. Results are the same.
      init_options: ``jax.jit`` compiler options of programs that run once (initialisation).
      train_options: compiler options of the training and evaluation programs.
      conv_strategies: (``train.strategy``, ``train.sweep_strategy``) that ``auto`` means for a
        problem with convolutions.
      dense_strategies: the same for every other problem.
      split_batches: whether ``train.data_parallel=auto`` splits a single run's batches over the
        devices of one process (several processes always split).
      max_steps_ahead: how many multi-device steps the training loop dispatches before it waits for
        them (None: no limit). Multi-device steps queued far ahead can deadlock XLA:CPU
        (docs/design.md, "XLA:CPU collectives").
      cpu_devices: XLA:CPU devices :meth:`setup_process` splits the cores into (0: one per core;
        None: leave the count alone); only the XLA:CPU policy uses it.
    """

    platform: str = "any"
    conv: ModuleDef = nn.Conv
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None
    init_options: tuple[tuple[str, Any], ...] = ()
    train_options: tuple[tuple[str, Any], ...] = ()
    conv_strategies: tuple[str, str] = ("scan", "vmap")
    dense_strategies: tuple[str, str] = ("scan", "vmap")
    split_batches: bool = True
    max_steps_ahead: int | None = None
    cpu_devices: int | None = 0

    def model_overrides(self, model_cls: Any) -> dict[str, Any]:
        """This policy's values of the fields in :data:`MODEL_FIELDS` that ``model_cls`` declares.

        ``model_cls`` is a flax module class (its dataclass fields count), a ``functools.partial``
        of one (the fields it fixes do not count), or a function (its keyword parameters count).
        """
        fixed: set[str] = set()
        while isinstance(model_cls, functools.partial):
            fixed |= set(model_cls.keywords)
            model_cls = model_cls.func
        if isinstance(model_cls, type) and dataclasses.is_dataclass(model_cls):
            declared = {f.name for f in dataclasses.fields(model_cls) if f.init}
        else:
            try:
                declared = set(inspect.signature(model_cls).parameters)
            except (TypeError, ValueError):
                declared = set()
        return {name: getattr(self, name) for name in MODEL_FIELDS if name in declared - fixed}

    def compiler_options(self, purpose: str) -> dict[str, Any] | None:
        """``jax.jit`` compiler options for a program that runs once (``"init"``) or in the training
        loop (``"train"``); None for XLA's defaults."""
        if purpose not in ("init", "train"):
            raise ValueError(f"unknown program purpose {purpose!r}; choose one of init, train")
        return dict(self.init_options if purpose == "init" else self.train_options) or None

    def strategies(self, convolutional: bool) -> tuple[str, str]:
        """(``train.strategy``, ``train.sweep_strategy``) that ``auto`` means for a problem with
        (``convolutional``) or without convolutions."""
        return self.conv_strategies if convolutional else self.dense_strategies

    def setup_process(self) -> None:
        """Process-wide settings, for an entry point before the first JAX computation (never run on
        import); XLA:CPU's are :func:`jaxdl.backend.xla_cpu.setup_process`, other platforms have
        none."""
        if self.platform == "cpu":
            from jaxdl.backend import xla_cpu  # pylint: disable=g-import-not-at-top

            xla_cpu.setup_process(self.cpu_devices)


_PLATFORM_ALIASES = {"cuda": "gpu", "rocm": "gpu", "host": "cpu"}


def default_platform() -> str:
    """The platform JAX runs on ("cpu", "gpu", "tpu"), found without starting a backend where it
    can be: from the started backends, ``JAX_PLATFORMS``, or the absence of accelerator plugins
    (only XLA:CPU can start then). Otherwise it starts JAX's backends to ask."""
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top

    if not xla_bridge.backends_are_initialized():
        requested = jax.config.jax_platforms
        if requested:
            first = requested.split(",")[0].strip().lower()
            return _PLATFORM_ALIASES.get(first, first)
        plugins = importlib.metadata.entry_points(group="jax_plugins")
        if (
            not plugins
            and importlib.util.find_spec("jax_plugins") is None
            and importlib.util.find_spec("libtpu") is None
        ):
            return "cpu"
    return jax.default_backend()


def for_platform(platform: str | None = None, **fields: Any) -> Policy:
    """The policy for ``platform`` (default :func:`default_platform`): XLA:CPU's on "cpu", the plain
    ``Policy`` elsewhere; ``fields`` replace its values (e.g. ``cpu_devices=1``)."""
    platform = platform or default_platform()
    if not isinstance(platform, str):
        raise ValueError(f"platform must be a name such as 'cpu' or 'gpu', got {platform!r}")
    platform = _PLATFORM_ALIASES.get(platform.lower(), platform.lower())
    if platform == "cpu":
        from jaxdl.backend import xla_cpu  # pylint: disable=g-import-not-at-top

        policy = Policy(
            platform="cpu",
            conv=xla_cpu.Conv,
            # XLA:CPU runs the per-step input projection inside the loop faster than one big
            # matmul up front (accelerators the other way round)
            precompute_inputs=False,
            lstm_feature_major_above=xla_cpu.lstm_feature_major_above(),
            init_options=tuple(sorted(xla_cpu.compiler_options("init").items())),
            train_options=tuple(sorted(xla_cpu.compiler_options("train").items())),
            # conv training inside lax.scan, or vmapped over runs (grouped convolutions), is
            # several times slower on XLA:CPU than a Python loop of jitted steps
            conv_strategies=("loop", "sequential"),
            dense_strategies=("scan", "vmap"),
            # splitting a run's batch over one process's CPU devices is slower
            split_batches=False,
            max_steps_ahead=16,
        )
    else:
        policy = Policy(platform=platform)
    names = {f.name for f in dataclasses.fields(Policy)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(
            f"Policy has no field {', '.join(unknown)}; its fields are {', '.join(sorted(names))}"
        )
    return dataclasses.replace(policy, **fields)


_STACK: list[Policy] = []


def current() -> Policy:
    """The policy of the innermost :func:`use` block, else the plain ``Policy()``."""
    return _STACK[-1] if _STACK else Policy()


@contextlib.contextmanager
def use(policy: Policy) -> Iterator[Policy]:
    """Makes ``policy`` :func:`current` inside the ``with`` block (process-wide; blocks nest)."""
    if not isinstance(policy, Policy):
        raise TypeError(
            f"backend.use takes a jaxdl.backend.Policy (for_platform() builds one), got "
            f"{type(policy).__name__}"
        )
    _STACK.append(policy)
    try:
        yield policy
    finally:
        _STACK.pop()


__all__ = ["MODEL_FIELDS", "Policy", "current", "default_platform", "for_platform", "use"]
