"""Layer transferability (Yosinski, Clune, Bengio & Lipson 2014, "How transferable are features
in deep neural networks?"), with every setting as data so that all of them run as one program.

The classes are split into halves A and B; base networks baseA and baseB are trained on each.
For n = 1..L (L = number of layers below the head) the paper builds, on task B:

* ``BnB``  : the first n layers copied from baseB and frozen, the rest random and trained;
* ``BnB+`` : as BnB but the copied layers are fine-tuned;
* ``AnB``  : the first n layers copied from baseA and frozen, the rest random and trained;
* ``AnB+`` : as AnB but fine-tuned;

plus the control ``baseB`` (all layers random and trained). A setting is the pytree
``{"source": (L_all,) int32, "frozen": (L_all,) float32}`` over *all* layers (head included), with
source 0 = random init, 1 = copied from A, 2 = copied from B. ``transfer_settings`` stacks all of
them on a leading axis S; ``initial_params`` and ``mask_frozen_updates`` take one setting and are
written with ``jnp.where`` so they can be ``vmap``ped over S inside one ``jit``.
"""

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.transfer import finetune

SOURCE_RANDOM, SOURCE_A, SOURCE_B = 0, 1, 2
KINDS = ("baseB", "BnB", "BnB+", "AnB", "AnB+")

# Re-exported: zero the updates of frozen layers inside a step, with the mask a traced array.
mask_frozen_updates = finetune.mask_frozen_updates


class TransferSettings(NamedTuple):
    """All settings of the experiment, stacked on a leading axis S.

    Attributes:
      labels: S strings such as ``"AnB+ n=3"``.
      kind: ``(S,)`` int32 index into ``KINDS``.
      n: ``(S,)`` int32 number of transferred layers (0 for baseB).
      setting: ``{"source": (S, L_all) int32, "frozen": (S, L_all) float32}``.
    """

    labels: list[str]
    kind: np.ndarray
    n: np.ndarray
    setting: dict


def split_classes(num_classes: int, key) -> tuple[np.ndarray, np.ndarray]:
    """Randomly splits ``range(num_classes)`` into halves A and B (the paper's random A/B split).

    Args:
      num_classes: number of classes (even or odd; A gets the smaller half if odd).
      key: a typed PRNG key.

    Returns:
      ``(classes_A, classes_B)``, sorted int arrays.
    """
    perm = np.asarray(jax.random.permutation(key, num_classes))
    half = num_classes // 2
    return np.sort(perm[:half]), np.sort(perm[half:])


def select_classes(x, y, classes) -> tuple[np.ndarray, np.ndarray]:
    """Keeps the examples whose label is in ``classes`` and relabels them ``0..len(classes)-1``.

    Args:
      x: inputs ``(N, ...)``.
      y: integer labels ``(N,)``.
      classes: the kept classes, e.g. one half from ``split_classes``.

    Returns:
      ``(x_sub, y_sub)`` with ``y_sub[i] = index of y[i] in classes``.
    """
    x, y, classes = np.asarray(x), np.asarray(y), np.asarray(classes)
    keep = np.isin(y, classes)
    return x[keep], np.searchsorted(classes, y[keep]).astype(np.int32)


def make_setting(kind: str, n: int, num_layers: int) -> dict:
    """One setting (see the module docstring) for ``kind`` in ``KINDS`` with n transferred layers.

    Args:
      kind: one of ``KINDS``.
      n: number of bottom layers transferred, ``0 <= n < num_layers`` (0 only for baseB).
      num_layers: number of layers of the network, head included.

    Returns:
      ``{"source": (num_layers,) int32, "frozen": (num_layers,) float32}``.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown transfer setting {kind!r}; valid settings are {list(KINDS)}.")
    if kind == "baseB":
        n = 0
    elif not 1 <= n < num_layers:
        raise ValueError(
            f"n={n} for {kind}; accepted 1..{num_layers - 1} (the head is never copied)."
        )
    first_n = np.arange(num_layers) < n
    source = {
        "baseB": SOURCE_RANDOM,
        "BnB": SOURCE_B,
        "BnB+": SOURCE_B,
        "AnB": SOURCE_A,
        "AnB+": SOURCE_A,
    }[kind]
    frozen = first_n & (not kind.endswith("+"))
    return {
        "source": np.where(first_n, source, SOURCE_RANDOM).astype(np.int32),
        "frozen": frozen.astype(np.float32),
    }


def transfer_settings(
    names: Sequence, kinds: Sequence[str] = KINDS, ns: Sequence[int] | None = None
) -> TransferSettings:
    """All settings of the paper for a network with the given layers, stacked on axis S.

    Args:
      names: the network's layers bottom-up, head last (names or tuples of names; flax sorts
        params keys, so list them explicitly, e.g. ``["dense_0", "dense_1", "head"]``).
      kinds: which of ``KINDS`` to include (baseB appears once, with n = 0).
      ns: transferred depths; default ``1..len(names) - 1``.

    Returns:
      A ``TransferSettings`` with ``S = [baseB] + len(other kinds) * len(ns)`` rows.
    """
    num_layers = len(names)
    ns = list(range(1, num_layers)) if ns is None else list(ns)
    rows, labels, kind_idx, n_idx = [], [], [], []
    for kind in kinds:
        for n in [0] if kind == "baseB" else ns:
            rows.append(make_setting(kind, n, num_layers))
            labels.append(kind if kind == "baseB" else f"{kind} n={n}")
            kind_idx.append(KINDS.index(kind))
            n_idx.append(n)
    setting = {k: np.stack([r[k] for r in rows]) for k in ("source", "frozen")}
    return TransferSettings(
        labels, np.asarray(kind_idx, np.int32), np.asarray(n_idx, np.int32), setting
    )


def initial_params(
    setting: Mapping, params_random: Mapping, params_A: Mapping, params_B: Mapping, names: Sequence
):
    """The initial params of one setting and its per-layer frozen mask (vmappable over settings).

    Args:
      setting: ``{"source": (L,) int, "frozen": (L,) float}`` (may be traced).
      params_random: freshly initialised params of the network for task B.
      params_A: params of the trained baseA (same structure and shapes).
      params_B: params of the trained baseB.
      names: the L layers, bottom-up, that the setting refers to: names or tuples of names
        (``("dense_0", "bn_0")`` moves a layer with its BatchNorm params).

    Returns:
      ``(params, frozen_L)``: layer l is taken from A, B or the random init according to
      ``source[l]``; ``frozen_L`` is ``setting["frozen"]`` for ``mask_frozen_updates``.
    """
    groups = finetune.layer_groups(params_random, names)
    for other, label in ((params_A, "params_A"), (params_B, "params_B")):
        if jax.tree.structure(other) != jax.tree.structure(params_random):
            raise ValueError(f"{label} has a different tree structure from params_random.")
    source = jnp.asarray(setting["source"])
    if source.shape != (len(groups),):
        raise ValueError(f"setting['source'] has shape {source.shape}; expected ({len(groups)},).")
    out = dict(params_random)
    for l, group in enumerate(groups):

        def pick(r, a, b, s=source[l]):
            return jnp.where(s == SOURCE_A, a, jnp.where(s == SOURCE_B, b, r))

        for name in group:
            out[name] = jax.tree.map(pick, params_random[name], params_A[name], params_B[name])
    return out, jnp.asarray(setting["frozen"], jnp.float32)
