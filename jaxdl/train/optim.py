"""Optax optimizers and learning-rate schedules from a config.

Every optimizer is wrapped in ``optax.inject_hyperparams`` so that the learning rate and weight
decay are *values in the optimizer state*, not constants compiled into the program: a vmapped sweep
can then give every run its own (docs/design.md, optax#577). The schedule is a unit-peak shape
multiplied by the injected learning rate.
"""

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "linear", "step")


def _base(name: str, opt: ml_collections.ConfigDict) -> tuple[optax.GradientTransformation, bool]:
    """The optimizer's preconditioner and whether its weight decay is decoupled (AdamW)."""
    momentum = opt.get("momentum", 0.9)
    if name == "sgd":
        return optax.identity(), False
    if name in ("momentum", "nesterov"):
        return optax.trace(decay=momentum, nesterov=name == "nesterov"), False
    if name in ("adam", "adamw"):
        return optax.scale_by_adam(
            b1=opt.get("b1", 0.9), b2=opt.get("b2", 0.999), eps=opt.get("eps", 1e-8)
        ), name == "adamw"
    if name == "adagrad":
        return optax.scale_by_rss(
            initial_accumulator_value=opt.get("initial_accumulator", 0.1)
        ), False
    if name == "rmsprop":
        return optax.scale_by_rms(decay=opt.get("decay", 0.9), eps=opt.get("eps", 1e-8)), False
    raise ValueError(f"unknown optimizer opt.name={name!r}; choose one of {', '.join(OPTIMIZERS)}")


def schedule_shape(opt: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
    """The learning-rate schedule with peak 1; the injected ``learning_rate`` scales it.

    Args:
      opt: ``config.opt`` with ``schedule`` and, as the schedule needs, ``warmup_steps``,
        ``end_factor`` (linear), ``decay_steps``/``decay_factor`` (step).
      total_steps: the run's number of optimizer steps.
    """
    name = opt.get("schedule", "constant")
    warmup = int(opt.get("warmup_steps", 0))
    if name == "constant":
        return optax.constant_schedule(1.0)
    if name in ("cosine", "warmup_cosine"):
        if (
            warmup <= 0
        ):  # (optax's warm-up schedule logs a misleading "constant schedule" warning at 0)
            return optax.cosine_decay_schedule(1.0, max(total_steps, 1))
        return optax.warmup_cosine_decay_schedule(
            0.0, 1.0, warmup, max(total_steps, warmup + 1), end_value=0.0
        )
    if name == "linear":
        return optax.linear_schedule(1.0, opt.get("end_factor", 0.0), max(total_steps, 1))
    if name == "step":
        factor = opt.get("decay_factor", 0.1)
        boundaries = tuple(opt.get("boundaries", ()) or ())
        if boundaries:  # fractions of the run (the papers' decay epochs), so steps can change
            if not all(0 < b < 1 for b in boundaries) or list(boundaries) != sorted(boundaries):
                raise ValueError(
                    f"opt.boundaries={boundaries} must be increasing fractions of the run in (0, 1)"
                )
            scales = {}  # the decay starts at step b * steps (optax: count >= key)
            for b in boundaries:  # boundaries that round to one step multiply there
                key = max(int(round(b * total_steps)), 1)
                scales[key] = scales.get(key, 1.0) * factor
            return optax.piecewise_constant_schedule(1.0, scales)
        every = int(opt.get("decay_steps", max(total_steps // 3, 1)))
        return optax.exponential_decay(1.0, every, factor, staircase=True)
    raise ValueError(
        f"unknown schedule opt.schedule={name!r}; choose one of {', '.join(SCHEDULES)}"
    )


def make_optimizer(
    opt: ml_collections.ConfigDict, total_steps: int, shape: optax.Schedule | None = None
) -> optax.GradientTransformation:
    """Builds ``clip -> [L2] -> preconditioner -> [decoupled decay] -> schedule -> -lr``.

    Args:
      opt: ``config.opt``: ``name`` (one of OPTIMIZERS), ``lr``, ``weight_decay``, ``schedule``,
        ``warmup_steps``, ``clip_norm`` (0 = none), and the optimizer's own fields.
      total_steps: the run's number of optimizer steps (for the schedule).
      shape: a schedule with peak 1 to use instead of ``opt.schedule``'s (e.g. a paper's own).

    Returns:
      An optax transformation whose state carries ``hyperparams['learning_rate']`` and
      ``hyperparams['weight_decay']`` (see :func:`set_hyperparams`).
    """
    base, decoupled = _base(opt.name, opt)
    shape = schedule_shape(opt, total_steps) if shape is None else shape
    clip_norm = float(opt.get("clip_norm", 0.0) or 0.0)

    def build(learning_rate, weight_decay):
        parts = [optax.clip_by_global_norm(clip_norm)] if clip_norm > 0 else []
        decay = optax.add_decayed_weights(weight_decay)
        parts += [base, decay] if decoupled else [decay, base]
        parts += [optax.scale_by_schedule(shape), optax.scale(-1.0), optax.scale(learning_rate)]
        return optax.chain(*parts)

    return optax.inject_hyperparams(build)(
        learning_rate=float(opt.lr), weight_decay=float(opt.get("weight_decay", 0.0))
    )


def set_hyperparams(opt_state: Any, values: dict[str, Any]) -> Any:
    """Writes ``values`` (e.g. ``{'learning_rate': lr}``) into every injected-hyperparameter state.

    Works for a plain ``inject_hyperparams`` state and for ones nested inside ``multi_transform``
    or ``chain``; names a state does not have are left alone.
    """

    def is_injected(node) -> bool:
        # optax has two state classes (InjectHyperparamsState, InjectStatefulHyperparamsState)
        return (
            isinstance(node, tuple)
            and hasattr(node, "hyperparams")
            and hasattr(node, "inner_state")
        )

    def visit(node):
        if is_injected(node):
            hyper = dict(node.hyperparams)
            for name, value in values.items():
                if name in hyper:
                    hyper[name] = jnp.asarray(value, jnp.result_type(hyper[name]))
            return node._replace(hyperparams=hyper)
        return node

    return jax.tree.map(visit, opt_state, is_leaf=is_injected)
