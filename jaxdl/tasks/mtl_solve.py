"""Multi-task structural regularization: λ paths, k-fold CV, planted-structure recovery, nlschools.

Every method is one least-squares problem over ``W (d, T)`` solved by the library's FISTA
(``jaxdl.multitask.solvers.fista``) for a whole grid of strengths at once: as one vmapped program
(``solve.grid_mode="vmap"``) or as one warm-started ``lax.scan`` down a decreasing grid
(``"scan"``, the CPU default, see ``jaxdl.multitask.path``). Methods (MALSAR names):

* ``l21`` Least_L21 (q = 2), ``l1inf`` the q = ∞ variant, ``trace`` Least_Trace,
* ``rmtfl`` Least_rMTFL (Gong, Ye & Zhang 2012) on a product grid of (λ1, λ2),
* ``cmtl`` Least_CMTL: the *convex relaxed* clustered MTL of Zhou, Chen & Ye (NIPS 2011, eq. 9),
  ``ρ1 η(1+η) tr(W(ηI + M)⁻¹Wᵀ)`` with ``tr M = k, 0 ≼ M ≼ I``, on a grid of ρ1 (ρ2 fixed),
* baselines: ``ridge`` and ``lasso`` fitted independently per task (their penalties separate over
  columns), and ``pooled``: one ridge model shared by every task.

Each strength is chosen by k-fold cross-validation (folds split every task's training samples),
then the method is refitted on all training samples and scored on held-out samples. Every seed of
``sweep.seed`` is one data draw (synthetic) or one split (nlschools); the table gives every method's
mean ± std over them, its wins (seeds where it had the lowest test MSE) and the methods it beats.
"""

import functools
import os
import time
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl.multitask import data as mtl_data
from jaxdl.multitask import malsar, prox, solvers, synthetic
from jaxdl.multitask import path as path_lib
from jaxdl.tasks import mtl_figures
from jaxdl.train import report, sweep

METHODS = ("l21", "l1inf", "trace", "rmtfl", "cmtl", "ridge", "lasso", "pooled")
STRUCTURES = ("shared_sparse", "low_rank", "outlier_tasks", "task_clusters")
MODEL_NAMES = ("multitask_linear",)  # one linear model per task, W (d, T), fitted in closed form
FREE_FIELDS = ("model.name",)  # a placeholder: W (d, T) by the solvers
TRAINS = False  # proximal solvers, no optimizer steps: opt / train / checkpoint are unused
_PENALTIES = {
    **solvers.PENALTIES,
    "lasso": prox.Penalty(value=lambda W: jnp.sum(jnp.abs(W)), prox=prox.soft_threshold),
}


def solve_config() -> ml_collections.ConfigDict:
    """The ``config.solve`` block of the mtl_solve experiments, with every default commented."""
    c = ml_collections.ConfigDict()
    c.methods = METHODS
    c.num_lambdas = 20  # grid points per method (rMTFL: times len(rmtfl_lam2_factors))
    c.lambda_ratio = 1e-3  # smallest / largest λ of the penalty grids (λ_max: W = 0)
    c.rmtfl_lam2_factors = (
        1.0,
        0.3,
        0.1,
    )  # rMTFL λ2 values, times the largest column norm of ∇f(0)
    c.cmtl_num_lambdas = 0  # cCMTL ρ1 grid points (0 = num_lambdas)
    c.cmtl_rho2 = 0.003  # cCMTL ρ2 (ridge part), times the mean feature energy; ρ1 is gridded
    c.folds = 5  # k of k-fold cross-validation (per task)
    c.selection = "min"  # min: smallest CV error | one_se: strongest penalty within one SE of it
    c.grid_mode = "scan"  # scan: warm-started path (CPU default) | vmap: all λ at once from 0
    c.max_iter = 1000  # FISTA iterations per λ
    c.tol = 1e-5  # FISTA relative objective-change tolerance
    c.compare_path_modes = True  # also time the ℓ2,1 path as vmap vs scan (synthetic only)
    return c


def _objective(method, data, g, hyper):
    """``(smooth part f, penalty, λ, params0)`` of ``method`` at grid point ``g``."""
    d, T = data.X.shape[-1], data.y.shape[0]
    W0 = jnp.zeros((d, T), data.X.dtype)
    no_penalty = prox.zero()
    if method in ("l21", "l1inf", "trace", "lasso"):
        return (lambda W: mtl_data.squared_loss(W, data, {})), _PENALTIES[method], g, W0
    if method == "rmtfl":
        return (lambda PQ: mtl_data.pq_squared_loss(PQ, data, {})), _PENALTIES[method], g, (W0, W0)
    if method == "ridge":  # Σ_i ½‖X_i w_i − y_i‖² + ρ‖W‖²_F separates into T ridge regressions
        return (lambda W: mtl_data.squared_loss(W, data, {"rho_l2": g})), no_penalty, 0.0, W0
    if method == "pooled":  # one w for every task: W = w 1ᵀ
        f = lambda w: (
            mtl_data.squared_loss(jnp.broadcast_to(w[:, None], (d, T)), data, {}) + g * w @ w
        )
        return f, no_penalty, 0.0, W0[:, 0]
    if method == "cmtl":
        h = {"rho1": g, "rho2": hyper["rho2"], "k": hyper["k"]}
        return (lambda W: mtl_data.cmtl_loss(W, data, h)), no_penalty, 0.0, W0
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def _as_W(method, params, T):
    if method == "rmtfl":
        return params[0] + params[1], params[1]
    W = jnp.broadcast_to(params[:, None], (params.shape[0], T)) if method == "pooled" else params
    return W, jnp.zeros_like(W)


@functools.partial(jax.jit, static_argnames=("method", "mode", "max_iter"))
def fit_grid(data, grid, hyper, tol, *, method, mode="scan", max_iter=1000):
    """Solves ``method`` at every point of ``grid`` in one program.

    Args:
      data: :class:`jaxdl.multitask.data.TaskData` (masked samples are ignored).
      grid: ``(K,)`` strengths (``(K, 2)`` for rmtfl), decreasing for ``mode="scan"``.
      hyper: ``{"rho2", "k"}`` for cmtl (ignored otherwise).
      tol: FISTA tolerance.
      method: a name of :data:`METHODS`.
      mode: ``"vmap"`` (every point from zero at once) or ``"scan"`` (warm-started sequence).
      max_iter: FISTA iterations per point.

    Returns:
      ``(W (K, d, T), Q (K, d, T) rMTFL's outlier part (zeros otherwise), iterations (K,))``.
    """
    T = data.y.shape[0]

    def solve(g, params0, L0):
        f, penalty, lam, _ = _objective(method, data, g, hyper)
        return solvers.fista(
            f, penalty, jnp.asarray(lam, data.X.dtype), params0, L0=L0, max_iter=max_iter, tol=tol
        )

    res = path_lib.solve_over_grid(solve, grid, _objective(method, data, grid[0], hyper)[3], mode)
    W, Q = jax.vmap(lambda p: _as_W(method, p, T))(res.params)
    return W, Q, res.iterations


def feature_energy(data) -> float:
    """``Σ_i ‖X_i‖²_F / (T d)`` over real samples: the scale of the loss's curvature per feature."""
    X = data.X * data.mask[..., None] if data.X.shape[0] > 1 else data.X
    rows = data.y.shape[0] if data.X.shape[0] > 1 else 1
    return float(jnp.sum(X**2) / (rows * data.X.shape[-1]))


def make_grid(method, data, cfg) -> np.ndarray:
    """``method``'s decreasing strength grid, scaled by the data (λ_max where W = 0 is optimal).

    ``λ_max`` is the dual norm of ``∇f(0) = −[X_1ᵀy_1, …]``: max row 2-norm (ℓ2,1), max row 1-norm
    (ℓ∞,1), max entry (ℓ1), spectral norm (trace). Ridge-type strengths scale with the mean
    per-feature energy ``s = Σ_i ‖X_i‖²_F / (T d)``.
    """
    K, ratio = int(cfg.num_lambdas), float(cfg.lambda_ratio)
    G = np.asarray(
        jax.grad(mtl_data.squared_loss)(
            jnp.zeros((data.X.shape[-1], data.y.shape[0]), data.X.dtype), data, {}
        ),
        np.float64,
    )
    s = feature_energy(data)
    geo = lambda top, r: top * np.logspace(0.0, np.log10(r), K)
    tops = {
        "l21": np.linalg.norm(G, axis=1).max(),
        "l1inf": np.abs(G).sum(1).max(),
        "lasso": np.abs(G).max(),
        "trace": np.linalg.norm(G, 2),
    }
    if method in tops:
        return geo(tops[method], ratio)
    if method in ("ridge", "pooled"):
        return geo(100.0 * s, 1e-6)
    if method == "cmtl":  # each step eigendecomposes WᵀW (T x T): a coarser grid where T is large
        K = int(cfg.cmtl_num_lambdas) or K
        return 10.0 * s * np.logspace(0.0, -4.0, K)
    lam2 = np.linalg.norm(G, axis=0).max() * np.asarray(cfg.rmtfl_lam2_factors)
    return np.array([(a, b) for a in geo(tops["l21"], ratio) for b in lam2])


def cross_validate(method, data, cfg, hyper, seed):
    """k-fold CV over ``method``'s grid; returns ``(grid, cv_mse (K,), chosen index)``.

    ``cfg.selection="min"`` takes the smallest CV error; ``"one_se"`` the first grid point (the
    strongest penalty, the grids decrease) within one standard error of it (Hastie, Tibshirani &
    Friedman, ESL §7.10), which favours the simpler structure.
    """
    grid = make_grid(method, data, cfg)
    ids = path_lib.fold_ids(data.mask, int(cfg.folds), seed)
    fit = functools.partial(fit_grid, method=method, mode=cfg.grid_mode, max_iter=int(cfg.max_iter))
    tol = jnp.asarray(cfg.tol, data.X.dtype)
    errors = []
    for f in range(int(cfg.folds)):
        train_mask = data.mask * jnp.asarray(ids != f, data.X.dtype)
        val_mask = data.mask * jnp.asarray(ids == f, data.X.dtype)
        W, _, _ = fit(
            mtl_data.TaskData(data.X, data.y * train_mask, train_mask),
            jnp.asarray(grid, data.X.dtype),
            hyper,
            tol,
        )
        errors.append(np.asarray(mtl_data.masked_mse(data.X, data.y, val_mask, W)))
    cv = np.mean(errors, axis=0)
    if not np.all(np.isfinite(cv)):  # argmin would pick a NaN silently
        bad = np.flatnonzero(~np.isfinite(cv))
        raise ValueError(
            f"mtl_solve: {method}'s cross-validation error is not finite at {len(bad)} of "
            f"{len(cv)} strengths (first {grid[bad[0]]}); check the data's scale and the grid"
        )
    best = int(np.argmin(cv))
    if cfg.selection == "one_se":  # the strongest penalty within one standard error of the minimum
        se = np.std(errors, axis=0)[best] / np.sqrt(len(errors))
        best = int(np.flatnonzero(cv <= cv[best] + se)[0])
    return grid, cv, best


def evaluate_methods(train, test, cfg, k, seed):
    """CV-select, refit and score every method of ``cfg.methods``.

    Args:
      train: training :class:`TaskData`; test: held-out :class:`TaskData` (same tasks).
      cfg: ``config.solve``.
      k: number of task clusters for cmtl.
      seed: fold seed.

    Returns:
      ``{method: dict}`` with the chosen ``W``, ``Q``, the whole ``path``, the CV curve, test MSE.
    """
    out = {}
    hyper = {
        "rho2": jnp.asarray(cfg.cmtl_rho2 * feature_energy(train), train.X.dtype),
        "k": jnp.asarray(k, train.X.dtype),
    }
    methods = cfg.methods
    for method in methods:
        start = time.perf_counter()
        grid, cv, best = cross_validate(method, train, cfg, hyper, seed)
        W, Q, iters = fit_grid(
            train,
            jnp.asarray(grid, train.X.dtype),
            hyper,
            jnp.asarray(cfg.tol, train.X.dtype),
            method=method,
            mode=cfg.grid_mode,
            max_iter=int(cfg.max_iter),
        )
        if not np.all(np.isfinite(np.asarray(W[best]))):
            raise ValueError(f"mtl_solve: {method}'s refit at strength {grid[best]} is not finite")
        out[method] = dict(
            grid=grid,
            cv_mse=cv,
            best=best,
            rho2=float(hyper["rho2"]),
            W=np.asarray(W[best]),
            Q=np.asarray(Q[best]),
            path=np.asarray(W),
            iterations=int(iters[best]),
            test_mse=float(mtl_data.masked_mse(test.X, test.y, test.mask, W[best])),
            seconds=time.perf_counter() - start,
        )
        logging.info(
            "%s: best strength %s, test mse %.4g (%.1f s)",
            method,
            grid[best],
            out[method]["test_mse"],
            out[method]["seconds"],
        )
    return out


def _split_tasks(X, y, n_train):
    return (
        mtl_data.stack_tasks(X[:, :n_train], y[:, :n_train]),
        mtl_data.stack_tasks(X[:, n_train:], y[:, n_train:]),
    )


def synthetic_problem(structure, key, cfg):
    """Train / test :class:`TaskData` and the planted :class:`synthetic.Truth` of one structure."""
    n = int(cfg.num_train) + int(cfg.num_test)
    T, d, noise = int(cfg.num_tasks), int(cfg.dim), float(cfg.noise)
    makers = {
        "shared_sparse": lambda: synthetic.shared_sparse(key, T, d, n, int(cfg.support), noise),
        "low_rank": lambda: synthetic.low_rank(key, T, d, n, int(cfg.rank), noise),
        "outlier_tasks": lambda: synthetic.outlier_tasks(
            key, T, d, n, int(cfg.support), int(cfg.outliers), noise
        ),
        "task_clusters": lambda: synthetic.task_clusters(
            key, T, d, n, int(cfg.clusters), float(cfg.cluster_spread), noise
        ),
    }
    if structure not in makers:
        raise ValueError(
            f"unknown data.structures entry {structure!r}; choose from {', '.join(STRUCTURES)}"
        )
    X, y, truth = makers[structure]()
    return (*_split_tasks(np.asarray(X), np.asarray(y), int(cfg.num_train)), truth)


def recovery(structure, method, fit, truth, cfg, seed) -> dict[str, float]:
    """Recovery metrics of the planted structure: support F1, rank, outlier F1, cluster purity/ARI.

    Args:
      structure: a name of :data:`STRUCTURES`; method: a name of :data:`METHODS`.
      fit: one entry of :func:`evaluate_methods`; truth: the planted :class:`synthetic.Truth`.
      cfg: ``config.data``; seed: k-means seed.

    Returns:
      ``{"rel_err": ‖Ŵ − W‖/‖W‖, ...}`` with the metrics that the structure defines.
    """
    W, W_true = fit["W"], np.asarray(truth.W)
    scale = max(np.abs(W).max(), 1e-30)
    row = {"rel_err": float(np.linalg.norm(W - W_true) / np.linalg.norm(W_true))}
    if structure in ("shared_sparse", "outlier_tasks"):
        P = W - fit["Q"] if method == "rmtfl" else W  # rMTFL's shared rows are P's support
        row["support_f1"] = synthetic.support_f1(P, truth.support, threshold=1e-4 * scale)
        if method in (
            "l21",
            "l1inf",
            "lasso",
        ):  # does the path pass through the true support at all?
            row["path_best_support_f1"] = max(
                synthetic.support_f1(
                    W_k, truth.support, threshold=1e-4 * max(np.abs(W_k).max(), 1e-30)
                )
                for W_k in fit["path"]
            )
    if structure == "outlier_tasks" and method == "rmtfl":
        col = np.linalg.norm(fit["Q"], axis=0) > 1e-4 * scale
        row["outlier_f1"] = synthetic.support_f1(col[:, None], np.asarray(truth.outliers))
    if structure == "low_rank":
        row["rank"] = synthetic.numerical_rank(W, rtol=float(cfg.rank_rtol))
    if structure == "task_clusters":
        k = int(cfg.clusters)
        if method == "cmtl":  # the method's own task relation M (Zhou et al. 2011)
            eta = fit["rho2"] / fit["grid"][fit["best"]]
            labels = malsar.cluster_tasks(
                prox.cluster_matrix(jnp.asarray(W), eta, float(k)), k, seed
            )
        else:
            from sklearn.cluster import KMeans  # pylint: disable=g-import-not-at-top

            labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(W.T)
        row["cluster_purity"] = synthetic.cluster_purity(truth.clusters, labels)
        row["cluster_ari"] = synthetic.adjusted_rand(truth.clusters, labels)
    return row


def path_modes(train, cfg) -> dict[str, float]:
    """The ℓ2,1 λ path as one vmapped program and as a warm-started scan: seconds and agreement."""
    lams = jnp.asarray(make_grid("l21", train, cfg), train.X.dtype)
    out, sols = {}, {}
    for mode in ("vmap", "scan"):
        run = lambda: path_lib.regularization_path(
            train, None, lams, mode=mode, max_iter=int(cfg.max_iter), tol=float(cfg.tol)
        )
        jax.block_until_ready(run())  # compile
        start = time.perf_counter()
        res = jax.block_until_ready(run())
        out[f"path_{mode}_seconds"] = time.perf_counter() - start
        out[f"path_{mode}_iterations"] = int(np.sum(res.iterations))
        sols[mode] = np.asarray(res.params)
    out["path_max_rel_diff"] = float(
        np.max(np.abs(sols["vmap"] - sols["scan"])) / max(np.abs(sols["scan"]).max(), 1e-30)
    )
    return out


def run_synthetic(config, workdir, figures=True) -> dict[str, Any]:
    """Every structure x every method of one data draw (``config.seed``): CV-chosen strength, test
    MSE and recovery metrics; the figures of this draw when ``figures``."""
    cfg, scfg = config.data, config.solve
    rows, fits, metrics = [], {}, {}
    for i, structure in enumerate(cfg.structures):
        key = jax.random.fold_in(jax.random.key(config.seed), i)
        train, test, truth = synthetic_problem(structure, key, cfg)
        fits[structure] = evaluate_methods(train, test, scfg, int(cfg.clusters), config.seed)
        for method, fit in fits[structure].items():
            row = {
                "structure": structure,
                "method": method,
                "test_mse": fit["test_mse"],
                **recovery(structure, method, fit, truth, cfg, config.seed),
            }
            rows.append(row)
            metrics.update(
                {
                    f"{structure}/{method}/{k}": v
                    for k, v in row.items()
                    if k not in ("structure", "method")
                }
            )
        if structure == "shared_sparse" and scfg.compare_path_modes:
            metrics.update(path_modes(train, scfg))
        fits[structure]["_truth"] = truth
    if figures and report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        mtl_figures.synthetic_figures(fits, workdir)
    return {"metrics": metrics, "table": rows}


def nlschools_problem(cfg, seed):
    """nlschools as one task per class: train / test :class:`TaskData` and the feature names.

    Each class's pupils are split at random (``cfg.test_fraction`` held out, at least one); the
    features are z-scored and the language score centred with training statistics only, and a
    constant column gives every class its own intercept.
    """
    from jaxdl.data import nlschools  # pylint: disable=g-import-not-at-top

    ds = nlschools.load_nlschools(tuple(cfg.features), standardize=False)
    rng = np.random.default_rng(seed)
    parts = []
    for X, y in zip(ds.Xs, ds.ys):
        if len(y) < int(cfg.min_class_size):
            continue
        order = rng.permutation(len(y))
        n_test = max(1, int(round(float(cfg.test_fraction) * len(y))))
        parts.append((X[order[n_test:]], y[order[n_test:]], X[order[:n_test]], y[order[:n_test]]))
    X_all = np.concatenate([p[0] for p in parts])
    mean, std, y_mean = (
        X_all.mean(0),
        X_all.std(0) + 1e-6,
        np.concatenate([p[1] for p in parts]).mean(),
    )
    prep = lambda X: np.concatenate([(X - mean) / std, np.ones((len(X), 1), X.dtype)], 1)
    train = mtl_data.stack_tasks([prep(p[0]) for p in parts], [p[1] - y_mean for p in parts])
    test = mtl_data.stack_tasks([prep(p[2]) for p in parts], [p[3] - y_mean for p in parts])
    return train, test, tuple(cfg.features) + ("bias",)


def run_nlschools(config, workdir, figures=True) -> dict[str, Any]:
    """Every method on nlschools (one task per class) for one split (``config.seed``): CV-chosen
    strength, held-out MSE and R²; the figures of this split when ``figures``."""
    train, test, names = nlschools_problem(config.data, config.seed)
    fits = evaluate_methods(train, test, config.solve, int(config.data.clusters), config.seed)
    var = float(jnp.sum(test.y**2 * test.mask) / jnp.sum(test.mask))  # y is centred
    rows = [
        {
            "structure": "nlschools",
            "method": m,
            "test_mse": f["test_mse"],
            "test_r2": 1.0 - f["test_mse"] / var,
            "strength": float(np.ravel(f["grid"][f["best"]])[0]),
            "seconds": f["seconds"],
        }
        for m, f in fits.items()
    ]
    metrics = {f"{r['method']}/{k}": r[k] for r in rows for k in ("test_mse", "test_r2")}
    metrics.update(
        num_tasks=int(train.y.shape[0]),
        num_train=int(jnp.sum(train.mask)),
        num_test=int(jnp.sum(test.mask)),
    )
    if figures and report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        mtl_figures.nlschools_figures(fits, names, workdir)
    return {"metrics": metrics, "table": rows}


def summarize(tables: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (structure, method), and each method's paired comparison.

    Args:
      tables: one list of rows (``structure``, ``method``, ``test_mse``, ...) per seed.

    Returns:
      One row per (structure, method): ``test_mse`` and the recovery metrics as "mean ± std",
      ``wins`` (seeds where its test MSE was the lowest of its structure) and ``beats`` (the other
      methods it beat on mean test MSE, by their names).
    """
    by = {}
    for table in tables:
        for r in table:
            by.setdefault((r["structure"], r["method"]), []).append(r)
    best = []  # per seed: {(structure, the method with the lowest test MSE)}
    for table in tables:
        lowest = {}
        for r in table:
            if r["structure"] not in lowest or r["test_mse"] < lowest[r["structure"]]["test_mse"]:
                lowest[r["structure"]] = r
        best.append({(k, r["method"]) for k, r in lowest.items()})
    mean_mse = {k: np.mean([r["test_mse"] for r in v]) for k, v in by.items()}
    out = []
    for (structure, method), runs in by.items():
        row = {"structure": structure, "method": method, "seeds": len(runs)}
        for name in runs[0]:
            skip = name in ("structure", "method", "seconds", "strength")
            if not skip and all(name in r for r in runs):
                row[name] = report.mean_std([r[name] for r in runs])
        row["wins"] = sum((structure, method) in b for b in best)
        row["beats"] = ",".join(
            m
            for (s_, m), v in mean_mse.items()
            if s_ == structure and m != method and mean_mse[(s_, method)] < v
        )
        out.append(row)
    return out


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for a sweep of anything but the seed (each seed is one data draw or
    split, run one after another) or an unknown ``solve.methods`` / ``solve.selection`` /
    ``solve.grid_mode`` / ``data.name``."""
    swept = sweep.expand(config)
    other = sorted({p for o in swept for p in o} - {"seed"})
    if other:  # refused, not ignored: each method picks its strength by cross-validation
        raise ValueError(
            f"the mtl_solve task runs one configuration per seed (each method picks its "
            f"strength by cross-validation); it sweeps only seed, not {', '.join(other)}"
        )
    unknown = set(config.solve.methods) - set(METHODS)
    if unknown:
        raise ValueError(
            f"unknown solve.methods {sorted(unknown)}; choose from {', '.join(METHODS)}"
        )
    if config.solve.selection not in ("min", "one_se"):
        raise ValueError(
            f"solve.selection must be 'min' or 'one_se', got {config.solve.selection!r}"
        )
    if config.solve.grid_mode not in ("scan", "vmap"):
        raise ValueError(
            f"solve.grid_mode must be 'scan' or 'vmap', got {config.solve.grid_mode!r}"
        )
    if config.data.name not in ("synthetic", "nlschools"):
        raise ValueError(
            f"mtl_solve needs data.name 'synthetic' or 'nlschools', got {config.data.name!r}"
        )


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Runs the synthetic-structure or the nlschools experiment (``config.data.name``) for every
    seed of ``sweep.seed`` (a data draw, or a split of nlschools); the first seed draws the
    per-run figures, and ``test_mse.png`` shows every method's mean ± std over seeds."""
    check_config(config)
    os.makedirs(workdir, exist_ok=True)
    seeds = sweep.values(config, "seed")
    one = run_synthetic if config.data.name == "synthetic" else run_nlschools
    per_seed = [
        one(sweep.run_config(config, {"seed": s}), workdir, figures=i == 0)
        for i, s in enumerate(seeds)
    ]
    tables = [r["table"] for r in per_seed]
    summary = summarize(tables)
    if report.is_writer():
        report.write_table(
            workdir,
            report.table(summary),
            f"test error per structure and method, mean ± std over seeds {tuple(seeds)}",
        )
        mtl_figures.plot_test_mse(tables, os.path.join(workdir, "test_mse.png"))
    # one run per seed (a data draw or split), as a sweep over seeds only lists them
    runs = [{"seed": s, "metrics": r["metrics"]} for s, r in zip(seeds, per_seed)]
    return report.results_from_runs(
        config.experiment,
        config,
        runs if len(seeds) > 1 else [{"metrics": per_seed[0]["metrics"]}],
        table=[{**row, "seed": s} for s, t in zip(seeds, tables) for row in t],
        table_summary=summary,
    )
