"""Net2Net function-preserving growth (Chen, Goodfellow & Shlens 2016, ICLR, "Net2Net:
Accelerating Learning via Knowledge Transfer"), over flax variables dicts.

* Net2WiderNet (Sec. 2.2, Eq. (2)-(4)): layer i grows from n to q units with the random mapping
  ``g(j) = j`` for j < n and ``g(j) ~ Uniform{0..n-1}`` otherwise; unit j copies unit g(j)'s
  incoming weights, bias and BatchNorm parameters/statistics, and the next layer's weights out of
  unit j are divided by the replication count ``|{x : g(x) = g(j)}|``.
* Net2DeeperNet (Sec. 2.3): inserts a layer initialised to the identity (identity Dense kernel, or a
  conv kernel that is 1 at the spatial centre on the channel diagonal). ReLU(I ReLU(h)) = ReLU(h),
  and a new BatchNorm is set to the identity given its running statistics:
  ``scale = sqrt(var + eps)``, ``bias = mean``.

Both are exact in inference mode (BatchNorm with running averages) before the optional noise,
which breaks the symmetry of replicated units / the identity (Sec. 2.2, last paragraph).
The model-level functions act on ``jaxdl.models.transfer_nets`` MLP / CNN; ``widen_layer`` and the
identity helpers work for any chain of Dense / Conv layers named in a flax params dict.
"""

from collections.abc import Mapping

import jax
import jax.numpy as jnp

from jaxdl.models.transfer_nets import CNN, MLP


def _noise(key, shape, std):
    return std * jax.random.normal(key, shape)


def widen_layer(
    variables: Mapping,
    layer: str,
    next_layer: str,
    new_width: int,
    key,
    bn: str | None = None,
    noise_std: float = 0.0,
) -> dict:
    """Net2WiderNet on one layer (Dense ``(in, out)`` or Conv ``(kh, kw, in, out)`` kernel).

    Args:
      variables: ``{"params": ..., ["batch_stats": ...]}`` of the teacher.
      layer: name of the layer whose outputs are widened.
      next_layer: name of the layer that consumes them (its kernel's axis -2 is the input axis;
        only element-wise ops, BN or channel-preserving pooling may lie between the two).
      new_width: q, larger than the current width n.
      key: typed PRNG key for the mapping g (and the noise).
      bn: name of the BatchNorm between the two layers, if any.
      noise_std: std of Gaussian noise added to the new units' outgoing weights (0 = exact).

    Returns:
      The student's variables.
    """
    params = dict(variables["params"])
    for name in [layer, next_layer] + ([bn] if bn else []):
        if name not in params:
            raise ValueError(f"Unknown layer {name!r}; valid layer names are {list(params)}.")
    n = params[layer]["kernel"].shape[-1]
    if new_width <= n:
        raise ValueError(f"new_width={new_width} must exceed the current width {n} of {layer!r}.")
    key_g, key_noise = jax.random.split(key)
    g = jnp.concatenate([jnp.arange(n), jax.random.randint(key_g, (new_width - n,), 0, n)])
    counts = jnp.bincount(g, length=n)

    params[layer] = {k: jnp.take(v, g, axis=-1) for k, v in params[layer].items()}
    W_next = params[next_layer]["kernel"]
    # Per-input-unit column vector shaped to the kernel's rank (no implicit rank promotion).
    as_rows = lambda v: v.reshape((1,) * (W_next.ndim - 2) + (new_width, 1)).astype(W_next.dtype)
    W_next = jnp.take(W_next, g, axis=-2) / as_rows(counts[g])
    if noise_std > 0:
        new_rows = as_rows(jnp.arange(new_width) >= n)
        W_next = W_next + _noise(key_noise, W_next.shape, noise_std).astype(W_next.dtype) * new_rows
    params[next_layer] = {**params[next_layer], "kernel": W_next}
    out = {**variables, "params": params}
    if bn:
        params[bn] = {k: jnp.take(v, g, axis=-1) for k, v in params[bn].items()}
        stats = dict(variables["batch_stats"])
        stats[bn] = {k: jnp.take(v, g, axis=-1) for k, v in stats[bn].items()}
        out["batch_stats"] = stats
    return out


def identity_dense(width: int, dtype=jnp.float32) -> dict:
    """Params of an identity Dense layer: ``kernel = I (width, width)``, ``bias = 0``."""
    return {"kernel": jnp.eye(width, dtype=dtype), "bias": jnp.zeros((width,), dtype)}


def identity_conv(kernel_size: int, channels: int, dtype=jnp.float32) -> dict:
    """Params of an identity SAME conv: kernel ``(k, k, C, C)`` is I at the centre, 0 elsewhere."""
    if kernel_size % 2 != 1:
        raise ValueError(f"An identity conv needs an odd kernel size, got {kernel_size}.")
    c = kernel_size // 2
    kernel = jnp.zeros((kernel_size, kernel_size, channels, channels), dtype)
    return {
        "kernel": kernel.at[c, c].set(jnp.eye(channels, dtype=dtype)),
        "bias": jnp.zeros((channels,), dtype),
    }


def identity_batchnorm(width: int, epsilon: float, mean=None, var=None):
    """BatchNorm ``(params, batch_stats)`` that is the identity given its running statistics.

    Args:
      width: number of features.
      epsilon: the BatchNorm's epsilon.
      mean, var: ``(width,)`` running statistics to store (e.g. estimated on data); default 0 and 1.

    Returns:
      ``({"scale": sqrt(var + eps), "bias": mean}, {"mean": mean, "var": var})``.
    """
    mean = jnp.zeros((width,)) if mean is None else jnp.asarray(mean)
    var = jnp.ones((width,)) if var is None else jnp.asarray(var)
    return {"scale": jnp.sqrt(var + epsilon), "bias": mean}, {"mean": mean, "var": var}


def _prefix(model) -> str:
    if isinstance(model, MLP):
        return "dense"
    if isinstance(model, CNN):
        return "conv"
    raise ValueError(f"Net2Net model must be transfer_nets.MLP or CNN, got {type(model).__name__}.")


def _check_layer(model, layer: int):
    if not 0 <= layer < len(model.features):
        raise ValueError(
            f"layer={layer} out of range; the model has hidden layers 0..{len(model.features) - 1}."
        )


def net2wider(model, variables: Mapping, layer: int, new_width: int, key, noise_std: float = 0.0):
    """Net2WiderNet on hidden layer ``layer`` of a transfer_nets MLP or CNN.

    Args:
      model: the teacher module (``MLP`` or ``CNN``).
      variables: its variables.
      layer: index of the hidden layer to widen.
      new_width: its new width (units or channels).
      key: typed PRNG key.
      noise_std: symmetry-breaking noise on the new units' outgoing weights.

    Returns:
      ``(student_model, student_variables)``.
    """
    prefix = _prefix(model)
    _check_layer(model, layer)
    nxt = f"{prefix}_{layer + 1}" if layer + 1 < len(model.features) else "head"
    student_vars = widen_layer(
        variables,
        f"{prefix}_{layer}",
        nxt,
        new_width,
        key,
        bn=f"bn_{layer}" if model.use_bn else None,
        noise_std=noise_std,
    )
    features = tuple(new_width if i == layer else f for i, f in enumerate(model.features))
    return model.clone(features=features), student_vars


def _shift_names(tree: Mapping, prefixes, after: int) -> dict:
    """Renames ``{p}_{i}`` to ``{p}_{i+1}`` for i > after, making room for a new layer after+1."""
    out = {}
    for name, value in tree.items():
        base, _, idx = name.rpartition("_")
        if base in prefixes and idx.isdigit() and int(idx) > after:
            name = f"{base}_{int(idx) + 1}"
        out[name] = value
    return out


def net2deeper(
    model, variables: Mapping, layer: int, key=None, noise_std: float = 0.0, bn_stats=None
):
    """Net2DeeperNet: inserts an identity block right after hidden layer ``layer``.

    Args:
      model: the teacher module (``MLP`` or ``CNN``).
      variables: its variables.
      layer: index of the hidden layer after which the new block goes (it becomes ``layer + 1``).
      key: typed PRNG key for the noise (needed only if ``noise_std > 0``).
      noise_std: std of Gaussian noise added to the identity kernel.
      bn_stats: optional ``(mean, var)`` running statistics for the new BatchNorm (e.g. those of
        the activations it will see); the BN is the identity given whatever statistics it holds.

    Returns:
      ``(student_model, student_variables)``.
    """
    prefix = _prefix(model)
    _check_layer(model, layer)
    width = model.features[layer]
    dtype = variables["params"][f"{prefix}_{layer}"]["kernel"].dtype
    new = (
        identity_dense(width, dtype)
        if prefix == "dense"
        else identity_conv(model.kernel_size, width, dtype)
    )
    if model.use_bn:
        new = {"kernel": new["kernel"]}  # BN follows, so the layer has no bias (as in the model)
    if noise_std > 0:
        if key is None:
            raise ValueError("net2deeper needs a PRNG key when noise_std > 0.")
        new["kernel"] = new["kernel"] + _noise(key, new["kernel"].shape, noise_std).astype(dtype)
    prefixes = (prefix, "bn")
    params = _shift_names(variables["params"], prefixes, layer)
    params[f"{prefix}_{layer + 1}"] = new
    out = {**variables, "params": params}
    if model.use_bn:
        mean, var = (None, None) if bn_stats is None else bn_stats
        bn_params, bn_state = identity_batchnorm(width, model.bn_epsilon, mean, var)
        params[f"bn_{layer + 1}"] = bn_params
        stats = _shift_names(variables["batch_stats"], prefixes, layer)
        stats[f"bn_{layer + 1}"] = bn_state
        out["batch_stats"] = stats
    features = tuple(model.features[: layer + 1]) + (width,) + tuple(model.features[layer + 1 :])
    order = [f"{p}_{i}" for i in range(len(features)) for p in prefixes] + ["head"]
    # Keep the module-definition order so that finetune.layer_names lists layers bottom-up.
    out = {
        k: {**{n: v[n] for n in order if n in v}, **{n: v[n] for n in v if n not in order}}
        for k, v in out.items()
    }
    return model.clone(features=features), out
