"""Figures of the multi-task solver experiments (``jaxdl.tasks.mtl_solve``): CV curves, the ℓ2,1
regularisation path and heat-maps of the weight matrices W (d, T)."""

import os

import numpy as np

from jaxdl.train import report


def _cv_x(fit):
    """x-axis of a CV curve: strength / its maximum; rMTFL's product grid at its best λ2 column."""
    grid, cv = np.asarray(fit["grid"]), np.asarray(fit["cv_mse"])
    if grid.ndim == 2:
        nb = len(np.unique(grid[:, 1]))
        col = fit["best"] % nb
        return grid[col::nb, 0] / grid[0, 0], cv[col::nb], fit["best"] // nb
    return grid / grid[0], cv, fit["best"]


def plot_cv(fits, path):
    """k-fold CV error against the relative strength: one panel per problem, a line per method,
    the chosen strength marked."""
    plt = report.pyplot()
    fig, axes = plt.subplots(1, len(fits), figsize=(4.2 * len(fits), 3.4), squeeze=False)
    for ax, (name, by_method) in zip(axes[0], fits.items()):
        for method, fit in by_method.items():
            if method.startswith("_"):
                continue
            x, cv, best = _cv_x(fit)
            (line,) = ax.loglog(x, cv, "-", label=method)
            ax.plot(x[best], cv[best], "o", color=line.get_color())
        ax.set(title=name, xlabel="strength / largest strength", ylabel="k-fold CV MSE")
        ax.legend(fontsize=7)
    report.save_figure(fig, path)


def plot_weights(panels, names, path, ncols=None):
    """Heat-maps of ``W (d, T)``: one panel per ``(title, method, W)``, ``ncols`` per row."""
    plt = report.pyplot()
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (title, method, W) in zip(axes.flat, panels):
        v = max(np.abs(W).max(), 1e-12)
        image = ax.imshow(W, aspect="auto", cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
        ax.set(title=f"{title}\n{method}", xlabel="task", ylabel="feature")
        if names is not None:
            ax.set_yticks(range(len(names)), names, fontsize=6)
    report.save_figure(fig, path)


def plot_path(fit, support, path):
    """The ℓ2,1 path: every feature row's norm ``‖W_j‖₂`` against λ, true support in colour."""
    plt = report.pyplot()
    norms = np.linalg.norm(fit["path"], axis=2)  # (K, d)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for j in range(norms.shape[1]):
        ax.semilogx(fit["grid"], norms[:, j], color="C3" if support[j] else "0.7", lw=1)
    ax.axvline(fit["grid"][fit["best"]], ls="--", color="k", label="CV choice")
    ax.set(xlabel="λ", ylabel="row norm ‖W_j‖₂", title="ℓ2,1 path (red: true support)")
    ax.legend()
    report.save_figure(fig, path)


def plot_test_mse(tables, path):
    """Held-out MSE per method, mean ± std over seeds: one panel per structure (or data set)."""
    plt = report.pyplot()
    structures = list(dict.fromkeys(r["structure"] for r in tables[0]))
    fig, axes = plt.subplots(
        1, len(structures), figsize=(3.6 * len(structures), 3.4), squeeze=False
    )
    for ax, structure in zip(axes[0], structures):
        methods = [r["method"] for r in tables[0] if r["structure"] == structure]
        mse = np.array(
            [
                [
                    next(
                        r["test_mse"] for r in t if r["structure"] == structure and r["method"] == m
                    )
                    for m in methods
                ]
                for t in tables
            ]
        )
        ax.bar(range(len(methods)), mse.mean(0), yerr=mse.std(0), capsize=3, color="C0")
        ax.set_xticks(range(len(methods)), methods, rotation=60, fontsize=7)
        ax.set(title=structure, ylabel=f"test MSE (mean ± std, {len(tables)} seeds)")
    report.save_figure(fig, path)


# the method whose penalty matches each planted structure (shown beside the truth and ridge)
MATCHED = {
    "shared_sparse": "l21",
    "low_rank": "trace",
    "outlier_tasks": "rmtfl",
    "task_clusters": "cmtl",
}


def synthetic_figures(fits, workdir) -> None:
    """``cv_curves.png``, ``lambda_path.png`` and ``weights.png``.

    ``weights.png``: truth vs matched method vs ridge.
    """
    plot_cv(fits, os.path.join(workdir, "cv_curves.png"))
    if "l21" in fits.get("shared_sparse", {}):
        plot_path(
            fits["shared_sparse"]["l21"],
            np.asarray(fits["shared_sparse"]["_truth"].support),
            os.path.join(workdir, "lambda_path.png"),
        )
    panels = []
    for structure, by_method in fits.items():
        panels.append((structure, "truth", np.asarray(by_method["_truth"].W)))
        panels += [
            (structure, m, by_method[m]["W"])
            for m in (MATCHED[structure], "ridge")
            if m in by_method
        ]
    plot_weights(panels, None, os.path.join(workdir, "weights.png"), ncols=3)


def nlschools_figures(fits, names, workdir) -> None:
    """``cv_curves.png`` and ``weights.png`` (every method's W, rows named by ``names``)."""
    plot_cv({"nlschools": fits}, os.path.join(workdir, "cv_curves.png"))
    plot_weights(
        [("nlschools", m, fits[m]["W"]) for m in fits], names, os.path.join(workdir, "weights.png")
    )
