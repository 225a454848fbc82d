"""Fine-tuning over flax params trees: layer masks, per-layer learning rates, heads, checkpoints.

A *layer* is a top-level entry of a flax params dict (``params["conv_0"]``, ``params["head"]``).
Everything that says which layers are frozen or how fast each learns comes in two forms:

* by name (``frozen=("conv_0", "conv_1")``), checked against the tree, for hand-written runs, and
* as DATA: a float array ``scale_L`` of length L = number of layers (0 = frozen, 1 = full rate,
  0.1 = a tenth of the rate), ordered like ``layer_names(params)``. Being an array, it can be a
  traced value inside ``jit`` and a leading axis of a ``vmap``ped sweep (layer transferability).
"""

from collections.abc import Iterable, Mapping, Sequence
import os

import jax
import jax.numpy as jnp
import optax
import orbax.checkpoint as ocp


def layer_names(params: Mapping) -> list[str]:
    """The layer names of a params tree, in the tree's key order.

    flax returns params dicts with *sorted* keys (``bn_0, dense_0, dense_10, dense_2, head``), so
    where bottom-up order matters (layer transferability) pass the names explicitly.

    Args:
      params: a flax params dict ``{layer_name: {param_name: array}}`` (not the outer
        ``{"params": ...}`` variables dict).

    Returns:
      The top-level keys, as a list.
    """
    return list(params.keys())


def layer_groups(params: Mapping, names: Sequence) -> list[tuple[str, ...]]:
    """Normalises layer specs: each item is a name or a tuple of names acting as one layer.

    A group such as ``("dense_0", "bn_0")`` lets a Dense layer and its BatchNorm be copied, frozen
    or scaled together.

    Args:
      params: the params tree the names refer to.
      names: a sequence of names or tuples of names.

    Returns:
      One tuple of names per item; raises a ValueError listing the valid names if one is unknown.
    """
    groups = [(n,) if isinstance(n, str) else tuple(n) for n in names]
    check_layer_names(params, [m for g in groups for m in g])
    return groups


def check_layer_names(params: Mapping, names: Iterable[str], what: str = "layer") -> list[str]:
    """Returns ``names`` as a list.

    Raises a one-line ValueError listing the valid names if one is unknown.
    """
    names = list(names)
    valid = layer_names(params)
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"Unknown {what} name(s) {unknown}; valid layer names are {valid}.")
    return names


def scale_layers(tree: Mapping, scale_L, names: Sequence | None = None) -> dict:
    """Multiplies every leaf of layer ``names[l]`` by ``scale_L[l]`` (a traced array is fine).

    Args:
      tree: a params-shaped tree (updates, gradients, params).
      scale_L: ``(L,)`` array, one factor per layer, e.g. ``1 - frozen_L`` or per-layer LR factors.
      names: the L layers ``scale_L`` refers to (names or tuples of names, see ``layer_groups``);
        default ``layer_names(tree)``. Layers of ``tree`` not named keep factor 1.

    Returns:
      A tree like ``tree``.
    """
    groups = layer_groups(tree, layer_names(tree) if names is None else names)
    scale_L = jnp.asarray(scale_L)
    if scale_L.shape != (len(groups),):
        raise ValueError(
            f"scale_L has shape {scale_L.shape}; expected ({len(groups)},) for layers {groups}."
        )
    out = dict(tree)
    for l, group in enumerate(groups):
        for name in group:
            out[name] = jax.tree.map(lambda x, s=scale_L[l]: x * s.astype(x.dtype), tree[name])
    return out


def mask_frozen_updates(updates: Mapping, frozen_L, names: Sequence | None = None) -> dict:
    """Zeroes the updates of frozen layers: ``u_l <- (1 - frozen_L[l]) * u_l``.

    Use inside a step after the optimizer, so weight decay or momentum cannot move a frozen layer.

    Args:
      updates: the optimizer's updates (params-shaped tree).
      frozen_L: ``(L,)`` array with 1 for a frozen layer, 0 for a trained one (bool or float,
        traced or not).
      names: the layer names ``frozen_L`` refers to; default ``layer_names(updates)``.

    Returns:
      The masked updates.
    """
    return scale_layers(updates, 1.0 - jnp.asarray(frozen_L, jnp.float32), names)


def scale_by_layer(scale_L, names: Sequence | None = None) -> optax.GradientTransformation:
    """An optax transformation scaling each layer's updates by ``scale_L[l]`` (stateless).

    Chain it *last* (``optax.chain(optax.adamw(lr), scale_by_layer(s))``) for per-layer
    learning-rate multipliers or, with ``s = 1 - frozen_L``, a frozen-layer mask. ``scale_L`` may be
    a traced array, so it can be built inside a jitted / vmapped step from data in the state.

    Args:
      scale_L: ``(L,)`` per-layer factors.
      names: the layer names; default the layers of the updates tree.

    Returns:
      An ``optax.GradientTransformation``.
    """
    return optax.stateless(lambda updates, params: scale_layers(updates, scale_L, names))


def layer_scale(params: Mapping, multipliers: Mapping[str, float], default: float = 1.0):
    """Builds the ``(L,)`` per-layer factor array from a ``{layer: factor}`` dict.

    Args:
      params: the params tree whose layers are named.
      multipliers: factors for some layers, e.g. ``{"conv_0": 0.0, "head": 10.0}``.
      default: factor of every layer not in ``multipliers``.

    Returns:
      ``(L,)`` float32 array ordered like ``layer_names(params)``.
    """
    check_layer_names(params, multipliers.keys())
    return jnp.asarray([multipliers.get(n, default) for n in layer_names(params)], jnp.float32)


def freeze(
    optimizer: optax.GradientTransformation, params: Mapping, frozen: Iterable[str]
) -> optax.GradientTransformation:
    """Wraps ``optimizer`` so that the named layers are frozen (``optax.multi_transform``).

    Frozen layers get ``optax.set_to_zero()`` and hold no optimizer state; use this when the frozen
    set is fixed for the run. For a frozen set that varies across a sweep use ``scale_by_layer``.

    Args:
      optimizer: the optimizer of the trained layers.
      params: the params tree (only its structure is read).
      frozen: names of the layers to freeze.

    Returns:
      An ``optax.GradientTransformation``.
    """
    frozen = set(check_layer_names(params, frozen, "frozen layer"))
    labels = {
        n: jax.tree.map(lambda _, f=(n in frozen): "frozen" if f else "trained", sub)
        for n, sub in params.items()
    }
    return optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()}, labels)


def copy_layers(target: Mapping, source: Mapping, names: Iterable[str]) -> dict:
    """Copies the named layers from ``source`` into ``target`` (transfer of pretrained layers).

    Args:
      target: params tree of the new network.
      source: params tree of the pretrained network.
      names: layers to copy; each must exist in both with the same shapes.

    Returns:
      A new params tree.
    """
    names = check_layer_names(target, names, "transfer")
    check_layer_names(source, names, "source")
    out = dict(target)
    for n in names:
        shapes_t = jax.tree.map(jnp.shape, target[n])
        shapes_s = jax.tree.map(jnp.shape, source[n])
        if shapes_t != shapes_s:
            raise ValueError(
                f"Layer {n!r}: target shapes {shapes_t} differ from source shapes {shapes_s}."
            )
        out[n] = source[n]
    return out


def reinit_head(params: Mapping, fresh_params: Mapping, head: Iterable[str] = ("head",)) -> dict:
    """Replaces the head layer(s) with freshly initialised ones (shapes may differ, e.g. classes).

    Args:
      params: pretrained params tree.
      fresh_params: params of ``model.init`` of the new network (new ``num_classes``, new key).
      head: names of the layers to take from ``fresh_params``.

    Returns:
      ``params`` with the head layers from ``fresh_params``; every other layer must exist in both.
    """
    head = check_layer_names(fresh_params, head, "head")
    body = [n for n in layer_names(fresh_params) if n not in head]
    out = copy_layers(dict(fresh_params), params, body)
    return out


def _resolve_checkpoint_dir(path: str) -> str:
    """Finds the item directory under a CheckpointManager root, a step dir, or an item dir."""
    steps = [d for d in os.listdir(path) if d.isdigit() and os.path.isdir(os.path.join(path, d))]
    if steps:
        path = os.path.join(path, max(steps, key=int))
    if os.path.exists(os.path.join(path, "_METADATA")):
        return path
    items = [
        d for d in sorted(os.listdir(path)) if os.path.exists(os.path.join(path, d, "_METADATA"))
    ]
    if len(items) != 1:
        raise ValueError(f"No single Orbax checkpoint item under {path!r} (found items {items}).")
    return os.path.join(path, items[0])


def load_params(path: str, key: str = "params"):
    """Reads the params tree of another experiment's Orbax checkpoint.

    ``path`` may be a CheckpointManager directory (its latest step is read), one step directory,
    or an item directory written by ``ocp.args.StandardSave``. If the saved tree is a dict holding
    ``key`` (a saved train state), that subtree is returned.

    Args:
      path: checkpoint directory.
      key: entry of the saved tree that holds the params; ignored if absent.

    Returns:
      The params tree (host/device arrays).
    """
    if not os.path.isdir(path):
        raise ValueError(f"Checkpoint path {path!r} is not a directory.")
    tree = ocp.StandardCheckpointer().restore(os.path.abspath(_resolve_checkpoint_dir(path)))
    if isinstance(tree, Mapping) and key in tree:
        return tree[key]
    return tree
