"""Multi-task data layout and the smooth parts of the MALSAR objectives.

Tasks with different ``n_i`` are zero-padded to ``n_max`` with a mask (:func:`stack_tasks`), so one
jit-compiled program serves every task and every λ of a path. ``W`` is ``(d, T)`` (column ``w_i``
is task ``i``) and the least-squares loss is ``Σ_i ½‖X_i w_i − y_i‖²`` (Zhou, Chen & Ye 2011,
MALSAR).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.multitask import prox


class TaskData(NamedTuple):
    """Tasks stacked on a leading axis and padded to a common length.

    Attributes:
      X: ``(T, n_max, d)`` designs, or ``(1, n, d)`` for one design shared by all tasks.
      y: ``(T, n_max)`` targets (zero where padded).
      mask: ``(T, n_max)`` 1.0 for real samples, 0.0 for padding.
    """

    X: jax.Array
    y: jax.Array
    mask: jax.Array


def check_finite(**arrays) -> None:
    """One-line ValueError for the first concrete array holding a NaN or Inf: its name, the count
    and the first index (traced arrays pass)."""
    for name, x in arrays.items():
        if isinstance(x, jax.core.Tracer):
            continue
        a = np.asarray(x)
        if not np.issubdtype(a.dtype, np.inexact):
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            kind = "a NaN" if np.isnan(a[idx]) else "an Inf"
            raise ValueError(
                f"multi-task data: {name} has {int(bad.sum())} NaN/Inf value(s), the first "
                f"{kind} at index {idx}; remove or impute them (every value must be finite)."
            )


def check_solution(fn: str, params, objective, data: "TaskData") -> None:
    """One-line ValueError when a concrete solution of ``fn`` is not finite, naming the cause.

    With finite data (:func:`stack_tasks` checks it) and finite strengths, only float32 overflow
    of the loss (features or targets beyond about 1e19) or a non-finite strength can cause it.
    """
    leaves = jax.tree.leaves((params, objective))
    if any(isinstance(x, jax.core.Tracer) for x in leaves):
        return
    if all(np.all(np.isfinite(np.asarray(x))) for x in leaves):
        return
    big_x = float(np.max(np.abs(np.asarray(data.X)), initial=0.0))
    big_y = float(np.max(np.abs(np.asarray(data.y)), initial=0.0))
    raise ValueError(
        f"{fn}: the solution is not finite (objective {float(np.max(objective)):.3g}): the loss "
        f"overflows float32 at |X| <= {big_x:.3g}, |y| <= {big_y:.3g}, or a strength is not "
        "finite; divide X and y by common scales (and lambda accordingly)."
    )


def stack_tasks(Xs, ys, dtype=None) -> TaskData:
    """Pads and stacks per-task data into a :class:`TaskData`.

    Args:
      Xs: a sequence of ``(n_i, d)`` arrays; or a ``(T, n, d)`` array; or one ``(n, d)`` array
        shared by all tasks, in which case ``ys`` is ``(n, T)``; or a :class:`TaskData` (returned).
      ys: a sequence of ``(n_i,)`` arrays, or a ``(T, n)`` array, or ``(n, T)`` for a shared design.
      dtype: dtype of the result; defaults to jax's default float dtype.

    Returns:
      The padded :class:`TaskData`.
    """
    if isinstance(Xs, TaskData):
        return Xs
    dtype = dtype or jnp.result_type(float)
    if hasattr(Xs, "ndim") and Xs.ndim == 2:
        Y = jnp.asarray(ys, dtype)
        if Y.ndim != 2 or Y.shape[0] != Xs.shape[0]:
            raise ValueError(
                f"a shared design X {Xs.shape} needs ys of shape (n, T), got {Y.shape}"
            )
        check_finite(Xs=Xs, ys=ys)
        return TaskData(jnp.asarray(Xs, dtype)[None], Y.T, jnp.ones(Y.T.shape, dtype))
    Xs = [np.asarray(X) for X in Xs]
    ys = [np.asarray(y) for y in ys]
    if len(Xs) != len(ys) or not Xs:
        raise ValueError(
            f"Xs and ys must be non-empty and of equal length, got {len(Xs)} and {len(ys)}"
        )
    d = Xs[0].shape[-1]
    for i, (X, y) in enumerate(zip(Xs, ys)):
        if X.ndim != 2 or X.shape[1] != d or y.shape != (X.shape[0],):
            raise ValueError(
                f"task {i}: need X (n_i, {d}) and y (n_i,), got {X.shape} and {y.shape}"
            )
    for i, (X, y) in enumerate(zip(Xs, ys)):
        check_finite(**{f"Xs[{i}]": X, f"ys[{i}]": y})
    n_max = max(X.shape[0] for X in Xs)
    X_pad = np.zeros((len(Xs), n_max, d), dtype)
    y_pad = np.zeros((len(Xs), n_max), dtype)
    mask = np.zeros((len(Xs), n_max), dtype)
    for i, (X, y) in enumerate(zip(Xs, ys)):
        X_pad[i, : len(y)], y_pad[i, : len(y)], mask[i, : len(y)] = X, y, 1.0
    return TaskData(jnp.asarray(X_pad), jnp.asarray(y_pad), jnp.asarray(mask))


def predict(X, W):
    """Per-task linear predictions ``X_i w_i``.

    Args:
      X: ``(T, n, d)``, or ``(1, n, d)`` shared by all tasks.
      W: ``(d, T)``.

    Returns:
      ``(T, n)``.
    """
    if X.shape[0] == 1:
        return (X[0] @ W).T  # one matmul for a shared design instead of T matvecs
    return jnp.einsum("tnd,dt->tn", X, W)


def masked_mse(X, y, mask, W):
    """Mean squared error over the real samples of every task: ``W (..., d, T)`` -> ``(...)``.

    ``mask (T, n)`` picks the samples (e.g. a validation fold); the mean is over its nonzeros.
    """
    pred = jax.vmap(predict, in_axes=(None, 0))(X, W.reshape((-1,) + W.shape[-2:]))
    sq = (pred - jnp.broadcast_to(y, pred.shape)) ** 2 * jnp.broadcast_to(mask, pred.shape)
    return (jnp.sum(sq, axis=(-2, -1)) / jnp.sum(mask)).reshape(W.shape[:-2])


def ridge(W, hyper):
    """``ρ_L2‖W‖²_F`` (MALSAR's ``opts.rho_L2``; 0 unless ``hyper['rho_l2']`` is set)."""
    return hyper.get("rho_l2", 0.0) * jnp.sum(W * W)


def squared_residual(P, data: TaskData):
    """``Σ_i ½‖p_i − y_i‖²`` over the unpadded entries of predictions ``P (T, n)``."""
    r = (P - data.y) * data.mask
    return 0.5 * jnp.sum(r * r)


def squared_loss(W, data: TaskData, hyper):
    """``Σ_i ½‖X_i w_i − y_i‖² + ρ_L2‖W‖²_F`` (MALSAR's Least_* smooth part, ``opts.rho_L2``)."""
    return squared_residual(predict(data.X, W), data) + ridge(W, hyper)


def logistic_loss(params, data: TaskData, hyper):
    """``Σ_i (1/n_i) Σ_j log(1 + exp(−y_ij (x_ijᵀ w_i + c_i)))`` (MALSAR Logistic_*),
    y ∈ {−1, +1}."""
    W, c = params
    z = predict(data.X, W) + c[:, None]
    per_task = jnp.sum(jax.nn.softplus(-data.y * z) * data.mask, axis=1)
    n = jnp.maximum(jnp.sum(data.mask, axis=1), 1.0)
    return jnp.sum(per_task / n) + ridge(W, hyper)


def pq_squared_loss(params, data: TaskData, hyper):
    """rMTFL smooth part ``Σ_i ½‖X_i (p_i + q_i) − y_i‖²`` on ``params = (P, Q)``."""
    P, Q = params
    return squared_loss(P + Q, data, hyper)


def cmtl_loss(W, data: TaskData, hyper):
    """cCMTL smooth part ``Σ_i ½‖X_i w_i − y_i‖² + ρ1 η(1+η) min_M tr(W(ηI + M)⁻¹Wᵀ)``."""
    eta = hyper["rho2"] / hyper["rho1"]
    reg = prox.relaxed_cluster_norm(W, eta, hyper["k"])
    return squared_loss(W, data, hyper) + hyper["rho1"] * eta * (1.0 + eta) * reg


LOSSES = {
    "least": squared_loss,
    "logistic": logistic_loss,
    "least_pq": pq_squared_loss,
    "least_cmtl": cmtl_loss,
    "logistic_noc": lambda W, data, hyper: logistic_loss((W, hyper["c"]), data, hyper),
}
