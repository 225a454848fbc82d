"""Multi-task and multi-label learning: MALSAR-style proximal solvers, paths, hard sharing.

Public contract (docs/design.md): ``least_l21(Xs, ys, lam)``, ``least_trace(Xs, ys, lam)``,
``least_rmtfl(Xs, ys, lam1, lam2)``, ``least_cmtl(Xs, ys, rho1, rho2, k)``,
``logistic_l21(Xs, ys, lam)`` with ``Xs[i] (n_i, d)``, ``ys[i] (n_i,)`` and results carrying
``.W (d, T)``, the iteration count and the optimality residual.
"""

from jaxdl.multitask import malsar
from jaxdl.multitask import multilabel
from jaxdl.multitask import path
from jaxdl.multitask import prox
from jaxdl.multitask import sharing
from jaxdl.multitask import synthetic
from jaxdl.multitask.path import cross_validate
from jaxdl.multitask.path import lambda_grid
from jaxdl.multitask.path import lambda_max_l21
from jaxdl.multitask.path import regularization_path
from jaxdl.multitask.solvers import fista
from jaxdl.multitask.malsar import least_cmtl
from jaxdl.multitask.malsar import least_l21
from jaxdl.multitask.malsar import least_rmtfl
from jaxdl.multitask.malsar import least_trace
from jaxdl.multitask.malsar import logistic_l21
from jaxdl.multitask.solvers import solve
from jaxdl.multitask.solvers import stack_tasks
from jaxdl.multitask.solvers import TaskData
