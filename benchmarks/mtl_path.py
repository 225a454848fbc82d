"""ℓ2,1 regularisation path: vmapped path vs warm-started scan vs a loop of solves vs scikit-learn.

One shared design (n = 50, d = 500, T = 50 tasks, so scikit-learn's MultiTaskLasso solves the same
problem) and a 50-value λ grid from λ_max down to ``ratio · λ_max``. scikit-learn's objective is
``(1/(2n))‖Y − XW‖² + α‖W‖_{2,1}``, i.e. ours divided by n with ``α = λ/n``.

Run:  PYTHONPATH=. python benchmarks/mtl_path.py [--quick] [--x64]
Prints one row per strategy: seconds (compile excluded, best of --repeats), objective gap to the
best solution found, and the speed ratios against scikit-learn's lasso_path and against its
MultiTaskLasso warm-started over the grid. The default scan path solves each λ on a working set
of 64 feature rows (checked by KKT, ``jaxdl.multitask.path.working_set_size``); the
"no working set" row is the same path on all d rows.
"""

import argparse
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np


def _timed(fn, repeats):
    out = jax.block_until_ready(fn())  # warm-up: compile
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best, out


def _objective(X, Y, W, lam):
    return 0.5 * np.sum((X @ W - Y) ** 2) + lam * np.sum(np.linalg.norm(W, axis=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problem, 10 λ values")
    parser.add_argument("--x64", action="store_true", help="run JAX in float64 (sklearn always is)")
    parser.add_argument("--ratio", type=float, default=0.05, help="λ_min / λ_max")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tol", type=float, default=1e-6, help="FISTA relative objective tol")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", args.x64)

    from sklearn.linear_model import MultiTaskLasso, lasso_path  # pylint: disable=g-import-not-at-top

    from jaxdl.multitask import path, solvers, synthetic  # pylint: disable=g-import-not-at-top

    n, d, T, num = (30, 100, 10, 10) if args.quick else (50, 500, 50, 50)
    X, Y, _ = synthetic.shared_sparse(
        jax.random.key(0), T=T, d=d, n=n, s=10, noise=0.1, shared_X=True
    )
    X64, Y64 = np.asarray(X, np.float64), np.asarray(Y, np.float64).T  # (n, d), (n, T)
    dtype = jnp.float64 if args.x64 else jnp.float32
    data = solvers.stack_tasks(jnp.asarray(X64, dtype), jnp.asarray(Y64, dtype))
    lams = np.asarray(
        path.lambda_grid(path.lambda_max_l21(data, None), num, args.ratio), np.float64
    )
    kw = dict(max_iter=5000, tol=args.tol)
    W0 = jnp.zeros((d, T), dtype)

    def jax_loop():
        return jnp.stack(
            [
                solvers.solve(
                    data,
                    lam,
                    W0,
                    loss="least",
                    penalty="l21",
                    max_iter=kw["max_iter"],
                    tol=kw["tol"],
                ).params
                for lam in lams
            ]
        )

    def sk_path():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, coefs, _ = lasso_path(X64, Y64, alphas=lams / n, tol=1e-6, max_iter=50_000)
        return np.moveaxis(coefs, -1, 0).transpose(0, 2, 1)  # (K, d, T)

    def sk_loop():
        model = MultiTaskLasso(fit_intercept=False, tol=1e-6, max_iter=50_000, warm_start=True)
        out = []
        for lam in lams:
            out.append(model.set_params(alpha=lam / n).fit(X64, Y64).coef_.T.copy())
        return np.stack(out)

    runs = {
        "jax vmap path (one program)": lambda: (
            path.regularization_path(data, None, lams, mode="vmap", **kw).params
        ),
        "jax scan path (warm start)": lambda: (
            path.regularization_path(data, None, lams, mode="scan", **kw).params
        ),
        "jax scan path, no working set": lambda: (
            path.regularization_path(data, None, lams, mode="scan", working_set=None, **kw).params
        ),
        "jax python loop of solves": jax_loop,
        "sklearn lasso_path (CD)": sk_path,
        "sklearn MultiTaskLasso loop": sk_loop,
    }
    results = {name: _timed(fn, args.repeats) for name, fn in runs.items()}
    objs = {
        name: np.array(
            [_objective(X64, Y64, np.asarray(W[i], np.float64), lam) for i, lam in enumerate(lams)]
        )
        for name, (_, W) in results.items()
    }
    best = np.min(np.stack(list(objs.values())), axis=0)
    ref = results["sklearn lasso_path (CD)"][0]
    ref_loop = results["sklearn MultiTaskLasso loop"][0]
    print(
        f"ℓ2,1 path: n={n} d={d} T={T}, {num} λ values down to {args.ratio}·λ_max, "
        f"jax dtype={jnp.dtype(dtype).name}, device={jax.devices()[0].platform}"
    )
    print(
        f"{'strategy':32s} {'seconds':>9s} {'max rel obj gap':>16s} {'vs lasso_path':>14s} "
        f"{'vs MultiTaskLasso':>18s}"
    )
    for name, (sec, _) in results.items():
        gap = np.max((objs[name] - best) / best)
        print(f"{name:32s} {sec:9.3f} {gap:16.2e} {ref / sec:13.2f}x {ref_loop / sec:17.2f}x")
    W_sk = results["sklearn lasso_path (CD)"][1]
    W_vm = np.asarray(results["jax vmap path (one program)"][1])
    print(
        f"max |W_vmap − W_sklearn| / max |W_sklearn| = "
        f"{np.max(np.abs(W_vm - W_sk)) / np.max(np.abs(W_sk)):.2e}"
    )


if __name__ == "__main__":
    main()
