"""Training: TrainState, optimizers, pure step functions, the loop, checkpoints, sweeps, sharding.

Typical use from a task: build a :class:`Problem` and call ``sweep.train(make_problem, config,
workdir)``; it resumes, logs, checkpoints, and vmaps or loops over the runs of a sweep.
"""

from jaxdl.train.problem import Problem
from jaxdl.train.state import TrainState

__all__ = ["Problem", "TrainState"]
