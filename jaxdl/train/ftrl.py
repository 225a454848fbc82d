"""FTRL-Proximal (McMahan et al. 2013) as an optax transformation; Wide & Deep's joint optimizer.

H. B. McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD 2013, Algorithm 1:
per-coordinate FTRL-Proximal with L1 and L2 regularization. Cheng et al. 2016 ("Wide & Deep
Learning for Recommender Systems", Sec. 3.3) train the wide part with it and the deep part with
AdaGrad; `wide_deep_optimizer` builds that pair with `optax.multi_transform`.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

Array = jax.Array


class FtrlState(NamedTuple):
    """Per-coordinate FTRL accumulators, one pytree like the params each.

    Attributes:
      z: McMahan's z_i, the accumulated (gradient - sigma * w) of Algorithm 1.
      n: McMahan's n_i, the accumulated squared gradients.
    """

    z: Any
    n: Any


def _weights(z: Array, n: Array, alpha, beta, l1, l2) -> Array:
    """Closed-form w_i from (z_i, n_i), Algorithm 1's first per-coordinate line.

    w_i = 0 if |z_i| <= lambda_1, else -((beta + sqrt(n_i)) / alpha + lambda_2)^-1
    (z_i - sgn(z_i) lambda_1).
    """
    denom = (beta + jnp.sqrt(n)) / alpha + l2
    w = -(z - jnp.sign(z) * l1) / denom
    return jnp.where(jnp.abs(z) <= l1, jnp.zeros_like(w), w)


def _z_for(w: Array, alpha, beta, l1, l2) -> Array:
    """The z_i (with n_i = 0) whose closed-form weight is w_i: starts Algorithm 1 at given params.

    With zero-initialised params this is z = 0, the paper's own start.
    """
    return -(beta / alpha + l2) * w - jnp.sign(w) * l1


def ftrl(
    learning_rate: float = 0.1, beta: float = 1.0, l1: float = 0.0, l2: float = 0.0
) -> optax.GradientTransformation:
    """FTRL-Proximal with L1 and L2 and per-coordinate learning rates (McMahan et al. 2013, Alg. 1).

    Per coordinate i, given the gradient g_i at the current weight w_i:
      sigma_i = (sqrt(n_i + g_i^2) - sqrt(n_i)) / alpha
      z_i <- z_i + g_i - sigma_i w_i
      n_i <- n_i + g_i^2
      w_i <- 0 if |z_i| <= lambda_1
             else -((beta + sqrt(n_i))/alpha + lambda_2)^-1 (z_i - sgn(z_i) lambda_1)
    and the update returned is (new w) - (current params), so `optax.apply_updates` lands on the
    FTRL weight (to rounding; exactly where it is 0, since w + (0 - w) == 0): L1 gives exact zeros.
    A zero gradient leaves z_i, n_i and w_i unchanged, which is the paper's sparse loop over the
    non-zero features. Every hyper-parameter may be a traced scalar (wrap with
    `optax.inject_hyperparams` to sweep them under `vmap`). `init` chooses z so that the closed form
    reproduces the given params; that z depends on the hyper-parameters unless the params are zero
    (the paper's start), so set swept values before `init` when starting from non-zero params.

    Args:
      learning_rate: alpha of the per-coordinate rate alpha / (beta + sqrt(n_i)); > 0.
      beta: beta of that rate; >= 0 (McMahan: beta = 1 is usually good enough).
      l1: lambda_1, the L1 strength; >= 0.
      l2: lambda_2, the L2 strength; >= 0.

    Returns:
      An optax GradientTransformation; its `update` needs `params`.

    Raises:
      ValueError: a Python-number hyper-parameter out of range.
    """
    for name, value, low in (
        ("learning_rate", learning_rate, None),
        ("beta", beta, 0.0),
        ("l1", l1, 0.0),
        ("l2", l2, 0.0),
    ):
        if isinstance(value, (int, float)):
            if (low is None and value <= 0) or (low is not None and value < low):
                bound = "> 0" if low is None else ">= 0"
                raise ValueError(
                    f"ftrl: {name}={value!r} is out of range; accepted: {name} {bound}."
                )

    def init_fn(params):
        z = jax.tree.map(lambda w: _z_for(w, learning_rate, beta, l1, l2).astype(w.dtype), params)
        n = jax.tree.map(jnp.zeros_like, params)
        return FtrlState(z=z, n=n)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                "ftrl: update needs params (FTRL returns new weight minus current weight)."
            )

        def per_leaf(g, z, n, w):
            sigma = (jnp.sqrt(n + g * g) - jnp.sqrt(n)) / learning_rate
            z_new = z + g - sigma * w
            n_new = n + g * g
            w_new = _weights(z_new, n_new, learning_rate, beta, l1, l2)
            return (w_new - w).astype(w.dtype), z_new.astype(z.dtype), n_new.astype(n.dtype)

        out = jax.tree.map(per_leaf, updates, state.z, state.n, params)
        treedef = jax.tree.structure(updates)
        leaves = treedef.flatten_up_to(out)
        new_updates = treedef.unflatten([leaf[0] for leaf in leaves])
        z = treedef.unflatten([leaf[1] for leaf in leaves])
        n = treedef.unflatten([leaf[2] for leaf in leaves])
        return new_updates, FtrlState(z=z, n=n)

    return optax.GradientTransformation(init_fn, update_fn)


def wide_deep_labels(params: Any, wide_key: str = "wide") -> Any:
    """Labels each params leaf "wide" if its path holds the key `wide_key`, else "deep".

    Args:
      params: a params pytree (e.g. `variables["params"]` of `jaxdl.models.wide_deep.WideDeep`).
      wide_key: the dict key that marks the wide (linear) part.

    Returns:
      A pytree like `params` of the strings "wide" / "deep", for `optax.multi_transform`.
    """

    def label(path, _):
        keys = {getattr(k, "key", getattr(k, "name", None)) for k in path}
        return "wide" if wide_key in keys else "deep"

    return jax.tree_util.tree_map_with_path(label, params)


def wide_deep_optimizer(
    wide_learning_rate: float = 0.1,
    deep_learning_rate: float = 0.05,
    *,
    beta: float = 1.0,
    l1: float = 0.0,
    l2: float = 0.0,
    initial_accumulator_value: float = 0.1,
    label_fn: Callable[[Any], Any] = wide_deep_labels,
) -> optax.GradientTransformation:
    """The joint optimizer of Wide & Deep (Cheng et al. 2016, Sec. 3.3): FTRL wide, AdaGrad deep.

    Args:
      wide_learning_rate: FTRL's alpha for the wide params.
      deep_learning_rate: AdaGrad's learning rate for the deep params.
      beta: FTRL's beta.
      l1: FTRL's lambda_1 (L1 on the wide weights; gives exact zeros).
      l2: FTRL's lambda_2.
      initial_accumulator_value: AdaGrad's initial accumulator.
      label_fn: params -> pytree of "wide" / "deep" labels; default `wide_deep_labels`.

    Returns:
      An `optax.multi_transform` routing "wide" leaves to `ftrl` and "deep" leaves to
      `optax.adagrad`; its `update` needs `params`.
    """
    return optax.multi_transform(
        {
            "wide": ftrl(wide_learning_rate, beta=beta, l1=l1, l2=l2),
            "deep": optax.adagrad(
                deep_learning_rate, initial_accumulator_value=initial_accumulator_value
            ),
        },
        label_fn,
    )
