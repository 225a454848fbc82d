"""Multi-task and multi-label learning: MALSAR-style proximal solvers, paths, hard sharing.

Public contract (docs/design.md): ``least_l21(Xs, ys, lam)``, ``least_trace(Xs, ys, lam)``,
``least_rmtfl(Xs, ys, lam1, lam2)``, ``least_cmtl(Xs, ys, rho1, rho2, k)``,
``logistic_l21(Xs, ys, lam)`` with ``Xs[i] (n_i, d)``, ``ys[i] (n_i,)`` and results carrying
``.W (d, T)``, the iteration count and the optimality residual.
"""

from jaxdl.multitask import malsar, multilabel, path, prox, sharing, synthetic
from jaxdl.multitask.malsar import least_cmtl, least_l21, least_rmtfl, least_trace, logistic_l21
from jaxdl.multitask.path import cross_validate, lambda_grid, lambda_max_l21, regularization_path
from jaxdl.multitask.solvers import TaskData, fista, solve, stack_tasks
