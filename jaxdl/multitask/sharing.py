"""Hard parameter sharing: one shared trunk, one head per task stacked on a task axis.

Caruana (1997, "Multitask Learning") shares the hidden layers between tasks and gives each task
its own output layer. Here tasks arrive padded and masked, ``x (T, n_max, d)`` with a mask
``(T, n_max)`` (as :class:`jaxdl.multitask.solvers.TaskData`), the trunk runs on all of them at once
and the heads are one :func:`flax.linen.vmap` over the task axis (head kernel ``(T, H, out)``).
The training objective is ``Σ_t α_t L_t`` with per-task masked mean losses ``L_t`` and task
weights ``α_t``.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax


class HardSharingNet(nn.Module):
    """Shared MLP trunk plus per-task linear heads vmapped over the task axis.

    Attributes:
      num_tasks: T.
      trunk_features: widths of the shared hidden layers.
      head_features: outputs per task (1 for regression, C for C-way classification).
    """

    num_tasks: int
    trunk_features: Sequence[int] = (64,)
    head_features: int = 1

    @nn.compact
    def __call__(self, x):
        """Maps task inputs ``(T, n, d)`` to per-task outputs ``(T, n, head_features)``."""
        if x.ndim != 3 or x.shape[0] != self.num_tasks:
            raise ValueError(
                f"HardSharingNet needs x of shape ({self.num_tasks}, n, d), got {x.shape}"
            )
        h = x
        for i, width in enumerate(self.trunk_features):
            h = nn.relu(nn.Dense(width, name=f"trunk_{i}")(h))
        heads = nn.vmap(
            nn.Dense,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=0,
            out_axes=0,
            axis_size=self.num_tasks,
        )
        return heads(self.head_features, name="heads")(h)


SHARING = ("hard", "separate", "pooled")  # MultiTaskMLP.sharing


class _Trunk(nn.Module):
    """ReLU MLP ``(B, d) -> (B, H)``."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x):
        for i, width in enumerate(self.hidden):
            x = nn.relu(nn.Dense(width, name=f"dense_{i}")(x))
        return x


class MultiTaskMLP(nn.Module):
    """One logit per example for its own task: ``(x (B, d), task (B,)) -> (B,)``.

    Attributes:
      num_tasks: T.
      hidden: trunk widths.
      sharing: ``hard`` (shared trunk, per-task heads), ``separate`` (one MLP per task) or
        ``pooled`` (one MLP, task one-hot appended to the input).
    """

    num_tasks: int
    hidden: Sequence[int] = (64,)
    sharing: str = "hard"

    @nn.compact
    def __call__(self, x, task):
        """Returns the ``(B,)`` logits of each example's task."""
        T = self.num_tasks
        if self.sharing == "pooled":
            h = _Trunk(self.hidden, name="trunk")(
                jnp.concatenate([x, jax.nn.one_hot(task, T, dtype=x.dtype)], -1)
            )
            return nn.Dense(1, name="head")(h)[:, 0]
        if self.sharing == "separate":  # T trunks on every example, each example keeps its own
            trunks = nn.vmap(
                _Trunk,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                in_axes=None,
                out_axes=0,
                axis_size=T,
            )(self.hidden, name="trunk")
            h = jnp.take_along_axis(trunks(x), task[None, :, None], axis=0)[0]
        elif self.sharing == "hard":
            h = _Trunk(self.hidden, name="trunk")(x)
        else:
            raise ValueError(
                f"model.sharing must be one of {', '.join(SHARING)}, got {self.sharing!r}"
            )
        H = h.shape[-1]
        W_head = self.param("W_head", nn.initializers.lecun_normal(batch_axis=(0,)), (T, H))
        b_head = self.param("b_head", nn.initializers.zeros, (T,))
        return jnp.sum(h * W_head[task], axis=-1) + b_head[task]


def task_losses(outputs, y, mask, kind="mse"):
    """Per-task masked mean losses ``L_t``.

    Args:
      outputs: ``(T, n, out)`` network outputs.
      y: ``(T, n)`` targets (real values for ``mse``; {0, 1} for ``bce``; class ids for ``ce``).
      mask: ``(T, n)`` 1.0 on real samples.
      kind: ``"mse"`` (out = 1), ``"bce"`` (out = 1, logits) or ``"ce"`` (out = C, logits).

    Returns:
      ``(T,)`` losses.
    """
    if kind == "mse":
        per = 0.5 * (outputs[..., 0] - y) ** 2
    elif kind == "bce":
        per = optax.sigmoid_binary_cross_entropy(outputs[..., 0], y)
    elif kind == "ce":
        per = optax.softmax_cross_entropy_with_integer_labels(outputs, y.astype(jnp.int32))
    else:
        raise ValueError(f"kind must be 'mse', 'bce' or 'ce', got {kind!r}")
    return jnp.sum(per * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1.0)


def weighted_loss(params, model, x, y, mask, task_weights, kind="mse"):
    """``Σ_t α_t L_t`` and the per-task losses.

    Args:
      params: the model's ``params`` collection.
      model: a :class:`HardSharingNet`.
      x: ``(T, n, d)``; y: ``(T, n)``; mask: ``(T, n)``.
      task_weights: ``(T,)`` α_t.
      kind: see :func:`task_losses`.

    Returns:
      ``(scalar, (T,))``.
    """
    losses = task_losses(model.apply({"params": params}, x), y, mask, kind)
    return jnp.sum(task_weights * losses), losses


def train(
    key,
    model: HardSharingNet,
    x,
    y,
    mask,
    *,
    steps=200,
    learning_rate=1e-2,
    task_weights=None,
    kind="mse",
):
    """Full-batch Adam training inside one ``lax.scan`` (dense model: fast on CPU, docs/design.md).

    Args:
      key: ``jax.random.key`` for the initialisation.
      model: a :class:`HardSharingNet`.
      x: ``(T, n, d)``; y: ``(T, n)``; mask: ``(T, n)``.
      steps: optimisation steps.
      learning_rate: Adam step size.
      task_weights: ``(T,)`` α_t, ones by default.
      kind: see :func:`task_losses`.

    Returns:
      ``(params, per_task_losses (steps, T))``.
    """
    params = model.init(key, x)["params"]
    alpha = jnp.ones((x.shape[0],), x.dtype) if task_weights is None else jnp.asarray(task_weights)
    return _train(
        params, model, x, y, mask, alpha, steps=steps, learning_rate=learning_rate, kind=kind
    )


def _train(params, model, x, y, mask, alpha, *, steps, learning_rate, kind):
    opt = optax.adam(learning_rate)

    @jax.jit
    def run(params, x, y, mask, alpha):
        def step(carry, _):
            params, opt_state = carry
            (_, losses), grads = jax.value_and_grad(weighted_loss, has_aux=True)(
                params, model, x, y, mask, alpha, kind
            )
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), losses

        (params, _), history = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return params, history

    return run(params, x, y, mask, alpha)
