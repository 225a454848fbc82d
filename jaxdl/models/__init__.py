"""Whole networks, one file per family, behind one registry.

``get(name, **kwargs)`` builds a linen Module; ``names()`` lists every registered name.
Classifiers take ``num_classes``; images are NHWC (NDHWC for video).
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


def param_count(variables: Mapping) -> int:
    """Number of scalars in the ``params`` collection (works on ``jax.eval_shape`` output too)."""
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(variables["params"])))
