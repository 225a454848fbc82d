"""Whole networks, one file per family, behind one registry.

``get(name, **kwargs)`` builds a linen Module; ``names()`` lists every registered name.
Every classifier takes ``num_classes`` with the default 10 and raises the one line
``ValueError: <Model>: num_classes must be a positive int, got <value>`` for anything else
(``jaxdl.models.common``). Images are NHWC (NDHWC for video); every model is called
``model.apply(variables, x, ..., train=bool)``.
"""

from collections.abc import Mapping
import dataclasses
import functools
import importlib
import inspect
from typing import Any, Callable

import flax.linen as nn
import jax
import numpy as np

from jaxdl import backend

# Each family module defines MODELS = {registry name: constructor}.
_FAMILIES = (
    "mlp",
    "cnn",
    "alexnet",
    "vgg",
    "googlenet",
    "fcn",
    "c3d",
    "transfer_nets",
    "autoencoder",
    "wide_deep",
    "recurrent",
    "seq2seq",
    "resnet",
    "wide_resnet",
    "densenet",
)


def _registry() -> dict[str, Callable[..., nn.Module]]:
    registry: dict[str, Callable[..., nn.Module]] = {}
    for family in _FAMILIES:
        module = importlib.import_module(f"jaxdl.models.{family}")
        for name, constructor in module.MODELS.items():
            if name in registry:
                raise RuntimeError(f"model name {name!r} registered twice (jaxdl.models.{family})")
            registry[name] = constructor
    return registry


_REGISTRY = _registry()


def names() -> list[str]:
    """All registered model names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs: Any) -> nn.Module:
    """Builds the registered model ``name`` with ``kwargs``.

    The backend policy fields the model declares (``conv``, ``precompute_inputs``,
    ``lstm_feature_major_above``) and ``kwargs`` leave out take the values of
    ``jaxdl.backend.current()``.

    Raises:
      ValueError: unknown name (listing the valid ones) or an argument the model does not take.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(names())}")
    accepted = arguments(name)
    unknown = sorted(set(kwargs) - set(accepted)) if accepted is not None else []
    if unknown:
        raise ValueError(
            f"model {name!r} does not take {', '.join(unknown)}; it takes {', '.join(accepted)} "
            f"(to train another model, start from an experiment built on it: launch.py --list)"
        )
    policy_values = backend.current().model_overrides(_REGISTRY[name])
    kwargs = {**policy_values, **kwargs}
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"model {name!r} does not accept these arguments ({err})") from None


def arguments(name: str) -> list[str] | None:
    """The keyword arguments model ``name`` takes (its dataclass fields), or None if unknown."""
    constructor = _REGISTRY[name]
    while isinstance(constructor, functools.partial):  # its keywords stay overridable
        constructor = constructor.func
    if isinstance(constructor, type) and dataclasses.is_dataclass(constructor):
        return [
            f.name
            for f in dataclasses.fields(constructor)
            if f.init and f.name not in ("parent", "name")
        ]
    try:
        params = inspect.signature(constructor).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params]


def defaults(name: str) -> dict[str, Any]:
    """The arguments model ``name`` takes with their defaults; ``dataclasses.MISSING`` for those it
    requires. A registered partial's keywords are the defaults they set."""
    constructor, preset = _REGISTRY[name], {}
    while isinstance(constructor, functools.partial):
        preset = {**constructor.keywords, **preset}
        constructor = constructor.func
    if isinstance(constructor, type) and dataclasses.is_dataclass(constructor):
        fields = {f.name: f for f in dataclasses.fields(constructor)}
        values = {
            k: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            for k, f in fields.items()
        }
    else:
        params = inspect.signature(constructor).parameters.values()
        values = {
            p.name: dataclasses.MISSING if p.default is p.empty else p.default
            for p in params
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
    accepted = arguments(name) or list(values)
    return {k: preset.get(k, values.get(k, dataclasses.MISSING)) for k in accepted}


def param_count(variables: Mapping) -> int:
    """Number of scalars in the ``params`` collection (works on ``jax.eval_shape`` output too)."""
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(variables["params"])))
