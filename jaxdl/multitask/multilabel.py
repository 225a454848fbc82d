"""Multi-label learning: a sigmoid-per-label network, one-vs-rest logistic regression, metrics.

Labels are a ``(n, L)`` 0/1 matrix. The network shares its hidden layers across labels and puts
one sigmoid per label on top (binary cross-entropy summed over labels; :class:`IndependentMLP` is
the unshared control, one network per label); one-vs-rest (binary
relevance) fits ``L`` independent ℓ2-regularised logistic regressions, solved together as a
multi-task problem with a shared design by :func:`jaxdl.multitask.solvers.solve`.
"""

from typing import NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.multitask import data as mtl_data
from jaxdl.multitask import solvers


class MultiLabelMLP(nn.Module):
    """MLP with ``num_labels`` sigmoid outputs (logits returned).

    Attributes:
      num_labels: L.
      hidden: hidden-layer widths.
    """

    num_labels: int
    hidden: Sequence[int] = (64,)

    @nn.compact
    def __call__(self, x):
        """Maps ``(n, d)`` inputs to ``(n, L)`` logits."""
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.num_labels)(x)


class _OneOutputMLP(nn.Module):
    """ReLU MLP with one output: ``(n, d) -> (n,)``."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(1)(x)[:, 0]


class IndependentMLP(nn.Module):
    """``L`` separate one-output MLPs (binary relevance) in one vmapped module.

    Maps ``(n, d)`` inputs to ``(n, L)`` logits.
    """

    num_labels: int
    hidden: Sequence[int] = (64,)

    @nn.compact
    def __call__(self, x):
        """Returns ``(n, L)`` logits, label ``l`` from its own network."""
        per_label = nn.vmap(
            _OneOutputMLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=1,
            axis_size=self.num_labels,
        )
        return per_label(self.hidden)(x)


def sigmoid_loss(logits, Y):
    """Binary cross-entropy per label, summed over labels, averaged over samples.

    Args:
      logits: ``(n, L)``.
      Y: ``(n, L)`` in {0, 1}.

    Returns:
      Scalar.
    """
    return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(logits, Y), axis=1))


def train_mlp(key, model: MultiLabelMLP, X, Y, *, steps=300, learning_rate=1e-2):
    """Full-batch Adam on :func:`sigmoid_loss` inside one jitted ``lax.scan``.

    Args:
      key: ``jax.random.key``.
      model: a :class:`MultiLabelMLP`.
      X: ``(n, d)``; Y: ``(n, L)`` in {0, 1}.
      steps: optimisation steps.
      learning_rate: Adam step size.

    Returns:
      ``(params, losses (steps,))``.
    """
    params = model.init(key, X)["params"]
    opt = optax.adam(learning_rate)
    loss_fn = lambda p: sigmoid_loss(model.apply({"params": p}, X), Y)

    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return params, losses

    return run(params)


class OneVsRest(NamedTuple):
    """``L`` logistic regressions: ``W (d, L)``, intercepts ``c (L,)``."""

    W: jax.Array
    c: jax.Array

    def decision_function(self, X):
        """``(n, L)`` scores ``X W + c``."""
        return X @ self.W + self.c[None, :]

    def predict(self, X):
        """``(n, L)`` 0/1 predictions (score > 0, i.e. probability > ½)."""
        return (self.decision_function(X) > 0).astype(jnp.int32)


def one_vs_rest(X, Y, C=1.0, *, max_iter=2000, tol=1e-8) -> OneVsRest:
    """Binary relevance: per label ``min C Σ_j log(1 + exp(−s_j (x_jᵀw + c))) + ½‖w‖²``.

    The same objective as scikit-learn's ``LogisticRegression(C=C)`` (intercept unpenalised),
    rescaled to MALSAR's form ``(1/n) Σ log(…) + ρ‖w‖²`` with ``ρ = 1/(2Cn)``, ``s_j = 2Y_j − 1``.

    Args:
      X: ``(n, d)`` features.
      Y: ``(n, L)`` labels in {0, 1}.
      C: inverse regularisation strength (> 0).
      max_iter: maximum FISTA iterations.
      tol: relative objective-change tolerance.

    Returns:
      :class:`OneVsRest`.
    """
    Y = np.asarray(Y)
    if Y.ndim != 2 or not np.all(np.isin(Y, (0, 1))) or C <= 0:
        raise ValueError(
            f"one_vs_rest needs Y (n, L) in {{0, 1}} and C > 0, got shape {Y.shape}, C={C}"
        )
    data = solvers.stack_tasks(X, 2.0 * Y - 1.0)
    d, L = data.X.shape[-1], Y.shape[1]
    dtype = data.X.dtype
    params0 = (jnp.zeros((d, L), dtype), jnp.zeros((L,), dtype))
    res = solvers.solve(
        data,
        jnp.zeros((2,), dtype),
        params0,
        {"rho_l2": jnp.asarray(1.0 / (2.0 * C * Y.shape[0]), dtype)},
        tol=tol,
        loss="logistic",
        penalty="l21_intercept",
        max_iter=max_iter,
    )
    mtl_data.check_solution("one_vs_rest", res.params, res.objective, data)
    return OneVsRest(*res.params)


def _counts(Y, Y_hat):
    Y, Y_hat = jnp.asarray(Y) > 0, jnp.asarray(Y_hat) > 0
    tp = jnp.sum(Y & Y_hat, axis=0)
    fp = jnp.sum(~Y & Y_hat, axis=0)
    fn = jnp.sum(Y & ~Y_hat, axis=0)
    return tp, fp, fn


def hamming_loss(Y, Y_hat):
    """Fraction of wrong label entries, ``mean(Y ≠ Ŷ)`` over ``(n, L)``."""
    return jnp.mean(jnp.asarray(Y) != jnp.asarray(Y_hat))


def subset_accuracy(Y, Y_hat):
    """Exact-match ratio: fraction of samples whose whole label vector is right."""
    return jnp.mean(jnp.all(jnp.asarray(Y) == jnp.asarray(Y_hat), axis=1))


def f1_micro(Y, Y_hat):
    """Micro F1: ``2ΣTP / (2ΣTP + ΣFP + ΣFN)`` pooled over labels (0 when undefined)."""
    tp, fp, fn = (jnp.sum(c) for c in _counts(Y, Y_hat))
    denom = 2 * tp + fp + fn
    return jnp.where(denom > 0, 2 * tp / jnp.maximum(denom, 1), 0.0)


def f1_macro(Y, Y_hat):
    """Macro F1: the unweighted mean over labels of ``2TP / (2TP + FP + FN)`` (0 when undefined)."""
    tp, fp, fn = _counts(Y, Y_hat)
    denom = 2 * tp + fp + fn
    return jnp.mean(jnp.where(denom > 0, 2 * tp / jnp.maximum(denom, 1), 0.0))
