"""Mixed precision (``train.compute_dtype``): one mechanism in the trainer, no model edits.

With ``bfloat16`` the train and eval steps call the task's ``loss`` / ``evaluate`` with the
parameters cast to bfloat16 and, inside, every call into a flax model takes its floating inputs
in bfloat16 and returns its floating outputs in float32 (a ``flax.linen.intercept_methods``
interceptor on the outermost module call). Flax layers compute in the dtype of their inputs and
parameters, so every matmul and convolution of the model runs in bfloat16, while what the task
computes from the model's outputs (losses, accuracies) stays float32. What stays float32:

- the parameters and optimizer state: the cast's gradient brings the update back to float32;
- the losses and metrics the task returns (cast to float32 if they are not);
- batch-norm statistics: flax computes them in float32 from bfloat16 inputs, and the returned
  model state is cast back to float32 (:func:`mixed`);
- the batch's targets: only what the task passes into a model is cast.

``float32`` leaves the functions untouched (bit for bit what they computed before).
"""

import contextlib
import functools
from typing import Any, Callable, Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

COMPUTE_DTYPES = ("float32", "bfloat16")


def check(name: Any, where: str = "train.compute_dtype") -> str:
    """``name`` when it is one of :data:`COMPUTE_DTYPES`, else a one-line ValueError."""
    if not isinstance(name, str) or name not in COMPUTE_DTYPES:
        raise ValueError(
            f"{where}={name!r} is not a compute dtype; accepted: {', '.join(COMPUTE_DTYPES)}"
        )
    return name


def dtype(name: str) -> jnp.dtype:
    """The numpy dtype of a compute-dtype name (checked by :func:`check`)."""
    return jnp.dtype(check(name))


def _is_float(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray)) and jnp.issubdtype(x.dtype, jnp.floating)


def cast_floating(tree: Any, to: Any, only: Any = None) -> Any:
    """``tree`` with its floating array leaves cast to ``to`` (those of dtype ``only`` when given);
    integers, booleans, PRNG keys and Python scalars are left alone."""
    to = jnp.dtype(to)

    def cast(x):
        if _is_float(x) and x.dtype != to and (only is None or x.dtype == jnp.dtype(only)):
            return jnp.asarray(x).astype(to)
        return x

    return jax.tree.map(cast, tree)


def _to_float32(tree: Any) -> Any:
    """Floating leaves narrower than float32 (bfloat16, float16) cast to float32."""
    return jax.tree.map(
        lambda x: x.astype(jnp.float32) if _is_float(x) and x.dtype.itemsize < 4 else x, tree
    )


def _model_inputs(tree: Any, to: jnp.dtype) -> Any:
    """The float32 arrays among a model call's arguments cast to ``to``; scalars (a swept value
    passed to the model) stay as they are."""
    return jax.tree.map(
        lambda x: x.astype(to) if _is_float(x) and x.dtype == jnp.float32 and x.ndim else x, tree
    )


@contextlib.contextmanager
def model_boundary(compute: Any) -> Iterator[None]:
    """Inside the block, the outermost call of any flax module method takes its float32 array
    arguments in ``compute`` and returns its floating outputs in float32; nested calls (the
    model's own layers) are left alone. Acts while tracing, so it costs nothing at run time."""
    compute = jnp.dtype(compute)
    depth = [0]

    def interceptor(next_fun, args, kwargs, context):
        del context
        if depth[0]:
            return next_fun(*args, **kwargs)
        depth[0] += 1
        try:
            out = next_fun(*_model_inputs(args, compute), **_model_inputs(kwargs, compute))
        finally:
            depth[0] -= 1
        return _to_float32(out)

    with nn.intercept_methods(interceptor):
        yield


def mixed(fn: Callable[..., Any], compute_dtype: str, returns_state: bool) -> Callable[..., Any]:
    """``fn(params, model_state, batch, ...)`` run in ``compute_dtype`` (module docstring).

    Args:
      fn: a :class:`~jaxdl.train.problem.Problem`'s ``loss`` (``returns_state=True``: it returns
        ``(loss, (metrics, model_state))``) or ``evaluate`` (it returns a dict of sums).
      compute_dtype: one of :data:`COMPUTE_DTYPES`; ``"float32"`` returns ``fn`` itself.
      returns_state: whether ``fn`` is a loss with the structure above.

    Returns:
      A function of the same signature whose floating results are float32.
    """
    compute = dtype(compute_dtype)
    if compute == jnp.float32:
        return fn

    @functools.wraps(fn)
    def wrapped(params, model_state, batch, *args):
        low = cast_floating(params, compute, only=jnp.float32)
        with model_boundary(compute):
            out = fn(low, model_state, batch, *args)
        if not returns_state:
            return _to_float32(out)
        loss, (metrics, new_state) = out
        return jnp.asarray(loss, jnp.float32), (_to_float32(metrics), _to_float32(new_state))

    return wrapped


def of_config(config: Any) -> str:
    """The config's ``train.compute_dtype`` (``"float32"`` when it has none), checked."""
    train = config.get("train", {}) if hasattr(config, "get") else {}
    return check(train.get("compute_dtype", "float32") if hasattr(train, "get") else "float32")
