"""Experiment configs for the tests: load a config file's variant, and set fields by dotted path."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config(name, variant="tiny"):
    """``experiments/<name>.py``'s ``get_config(variant)``."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "experiments", f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant)


def tiny(name, **overrides):
    """``name``'s ``:tiny`` config without TensorBoard, with ``{"a.b": value}`` overrides set."""
    c = load_config(name)
    c.tensorboard = False
    for path, value in overrides.items():
        node = c
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return c
