"""Device meshes for runs and batches (``jax.sharding``; no pmap).

A vmapped sweep shards its leading run axis over the mesh axis ``"runs"``; a single run
replicates its state and shards each batch over ``"data"``. The code is the same for one device,
several local devices (``JAX_NUM_CPU_DEVICES=4``) or several hosts (after
``jax.distributed.initialize``): arrays are global and jit partitions the program.
"""

import logging
import os
import re
from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np


def use_cpu_cores(num_devices: int = 0) -> int:
    """Splits XLA:CPU into ``num_devices`` devices; 0 means one per core this process may use.

    One XLA:CPU device runs each operation on all cores, which for the small matmuls of research
    models costs more in synchronisation than it gains: on 2 cores, benchmarks/sweep.py's 32
    vmapped MLP runs took 13.1 s on one device and 9.8 s sharded over two, compile included. With
    several devices a sweep shards its runs (a single run's batch only where
    ``train.data_parallel`` says so; see ``jaxdl.train.sweep.data_parallel``). Call it before JAX initialises its backends (before the first
    computation); afterwards, or when ``JAX_NUM_CPU_DEVICES`` or XLA's
    ``--xla_force_host_platform_device_count`` already sets the count, it changes nothing.

    Returns:
      The number of XLA:CPU devices that will be (or already are) in use.
    """
    if num_devices < 0:
        raise ValueError(
            f"number of CPU devices must be >= 0 (0 = one per core), got {num_devices}"
        )
    # read from the environment, not jax.devices(): that would start the backend, and a multi-host
    # launch calls jax.distributed.initialize after this
    # (XLA takes the last of repeated flags, and a quoted value)
    forced = re.findall(
        r"--xla_force_host_platform_device_count=[\"']?(\d+)", os.environ.get("XLA_FLAGS", "")
    )
    if os.environ.get("JAX_NUM_CPU_DEVICES") or forced:
        return int(os.environ.get("JAX_NUM_CPU_DEVICES") or forced[-1])
    num_devices = num_devices or len(os.sched_getaffinity(0))
    if num_devices > 1:
        _patient_collectives()
    try:
        jax.config.update("jax_num_cpu_devices", num_devices)
    except RuntimeError:  # backends already initialised: keep what they have
        logging.info(
            "JAX is already initialised; keeping its %d CPU device(s)", len(jax.devices("cpu"))
        )
        return len(jax.devices("cpu"))
    return num_devices


COLLECTIVE_TIMEOUT_S = 1200


def _patient_collectives() -> None:
    """Lets XLA:CPU's collectives wait ``COLLECTIVE_TIMEOUT_S`` for every device to arrive.

    Each CPU device runs on its own thread; on a busy machine one can reach an all-gather or
    all-reduce long after the other, and XLA's default terminates the program after 40 s. Flags
    the user set in ``XLA_FLAGS`` are kept.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    for name in (
        "xla_cpu_collective_timeout_seconds",
        "xla_cpu_collective_call_terminate_timeout_seconds",
    ):
        if f"--{name}=" not in flags:
            flags += f" --{name}={COLLECTIVE_TIMEOUT_S}"
    os.environ["XLA_FLAGS"] = flags.strip()


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
