"""Whole networks, one file per family, behind one registry.

``get(name, **kwargs)`` builds a linen Module; ``names()`` lists every registered name.
Classifiers take ``num_classes``; images are NHWC (NDHWC for video).
"""

import importlib
from collections.abc import Mapping
from typing import Any, Callable

import flax.linen as nn
import jax
import numpy as np

# Each family module defines MODELS = {registry name: constructor}.
_FAMILIES = ("mlp", "cnn", "alexnet", "vgg", "googlenet", "fcn", "c3d", "transfer_nets", "autoencoder", "wide_deep", "recurrent", "seq2seq", "resnet", "wide_resnet", "densenet")


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

    Raises:
      ValueError: unknown name (listing the valid ones) or an argument the model does not take.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(names())}")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"model {name!r} does not accept these arguments ({err})") from None


def param_count(variables: Mapping) -> int:
    """Number of scalars in the ``params`` collection (works on ``jax.eval_shape`` output too)."""
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(variables["params"])))
