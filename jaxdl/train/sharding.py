"""Device meshes for runs and batches (``jax.sharding``; no pmap).

A vmapped sweep shards its leading run axis over the mesh axis ``"runs"``; a single run
replicates its state and shards each batch over ``"data"``. The code is the same for one device,
several local devices (``JAX_NUM_CPU_DEVICES=4``, or ``jaxdl.backend.xla_cpu.use_cpu_cores``) or
several hosts (after ``jax.distributed.initialize``): arrays are global and jit partitions the
program.
"""

from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np


def make_mesh(axis: str, devices: list | None = None) -> Mesh | None:
    """A 1-D mesh named ``axis`` over ``devices`` (default all); None when there is one device."""
    devices = jax.devices() if devices is None else devices
    if len(devices) == 1:
        return None
    return Mesh(np.asarray(devices), (axis,))


def replicate(x: np.ndarray, mesh: Mesh | None) -> jax.Array:
    """Puts a host array on every device of ``mesh`` (or the default device)."""
    if mesh is None:
        return jax.device_put(x)
    return jax.make_array_from_callback(x.shape, NamedSharding(mesh, P()), lambda index: x[index])


def state_sharding(mesh: Mesh | None, vmapped: bool) -> Any:
    """Output sharding of the initial state: run axis split over ``runs``, else replicated."""
    if mesh is None:
        return None
    spec = P(mesh.axis_names[0]) if vmapped and mesh.axis_names[0] == "runs" else P()
    return NamedSharding(mesh, spec)
