"""Covariate shift on the 1-D toy: a line fitted to a cubic, unweighted vs importance-weighted.

Shimodaira (2000), Sec. 7 and Huang et al. (2007), Fig. 1: y = -x + x^3 + noise, source inputs
x ~ N(0.5, 0.5^2), target inputs x ~ N(0, 0.3^2). The model (a line, ``model.degree = 1``) is
misspecified, so the least-squares fit depends on where the inputs lie, and weighting the source
by w(x) = p_t(x) / p_s(x) moves the fit towards the best line under the target. Every method is
weighted least squares in closed form (nothing trains): unweighted, the true density ratio, kernel
mean matching and a logistic domain classifier (``jaxdl.transfer.importance``), the last two
estimated from an unlabelled target sample. Each ``sweep.seed`` is one draw of all the data.
"""

import os
from typing import Any

import ml_collections
import numpy as np
from scipy import stats

from jaxdl.train import report, sweep
from jaxdl.transfer import importance

METHODS = ("unweighted", "true", "kmm", "domain_classifier")
MODEL_NAMES = ("polynomial",)  # closed-form weighted least squares, no network
TRAINS = False  # nothing is optimised: opt / train / checkpoint are unused


def target_function(x: np.ndarray) -> np.ndarray:
    """The regression function of Shimodaira (2000): ``f(x) = -x + x^3``."""
    return -x + x**3


def seeds(config: ml_collections.ConfigDict) -> list[int]:
    """The data draws: ``sweep.seed``, else ``seed``; any other sweep is refused in one line.

    Args:
      config: the experiment config.

    Returns:
      The seeds, one data draw each.
    """
    runs = sweep.expand(config)
    other = sorted({path for o in runs for path in o if path != "seed"})
    if other:
        raise ValueError(
            f"the reweight_toy task sweeps only sweep.seed (one data draw each); "
            f"it got "
            f"{', '.join('sweep.' + p for p in other)}"
        )
    return [int(o["seed"]) for o in runs] or [int(config.seed)]


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError for a sweep other than ``sweep.seed``, bad sizes or scales."""
    seeds(config)
    d = config.data
    for name in ("n_source", "n_unlabelled", "n_test"):
        if int(d[name]) < 2:
            raise ValueError(f"data.{name}={d[name]} must be an integer >= 2")
    for name in ("source_std", "target_std", "noise_std"):
        if float(d[name]) <= 0:
            raise ValueError(f"data.{name}={d[name]} must be > 0")
    if int(config.model.degree) < 0:
        raise ValueError(f"model.degree={config.model.degree} must be >= 0 (1 = a straight line)")


def draw(config: ml_collections.ConfigDict, seed: int) -> dict[str, np.ndarray]:
    """One draw: labelled source, unlabelled target (for the weights), labelled target test.

    Returns:
      ``{"xs", "ys" (n_source,), "xu" (n_unlabelled,), "xt", "yt" (n_test,),
      "w_true" (n_source,)}``; ``w_true = p_t(xs) / p_s(xs)``, the exact density ratio of the
      two Gaussians.
    """
    d = config.data
    rng = np.random.default_rng(seed)
    xs = rng.normal(d.source_mean, d.source_std, int(d.n_source))
    ys = target_function(xs) + rng.normal(0.0, d.noise_std, len(xs))
    xu = rng.normal(d.target_mean, d.target_std, int(d.n_unlabelled))
    xt = rng.normal(d.target_mean, d.target_std, int(d.n_test))
    yt = target_function(xt) + rng.normal(0.0, d.noise_std, len(xt))
    p_t = stats.norm.pdf(xs, d.target_mean, d.target_std)
    w_true = p_t / stats.norm.pdf(xs, d.source_mean, d.source_std)
    return {"xs": xs, "ys": ys, "xu": xu, "xt": xt, "yt": yt, "w_true": w_true}


def weights(
    config: ml_collections.ConfigDict, data: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Each method's source weights, scaled to mean 1.

    Args:
      config: the experiment config (``transfer.*`` sets KMM and the domain classifier).
      data: one :func:`draw`; KMM and the classifier see ``xs`` and the unlabelled ``xu`` only.

    Returns:
      ``{method: (n_source,) weights}`` for every entry of METHODS.
    """
    t = config.transfer
    xs, xu = data["xs"][:, None], data["xu"][:, None]
    w_kmm = importance.kmm_weights(xs, xu, B=float(t.kmm_B), n_iter=int(t.kmm_iters))
    w_clf, _ = importance.domain_classifier_weights(
        xs, xu, l2=float(t.classifier_l2), quadratic=bool(t.classifier_quadratic)
    )
    columns = (np.ones_like(data["xs"]), data["w_true"], np.asarray(w_kmm), np.asarray(w_clf))
    return {m: np.asarray(c, np.float64) / np.mean(c) for m, c in zip(METHODS, columns)}


def fit_polynomial(x: np.ndarray, y: np.ndarray, w: np.ndarray, degree: int) -> np.ndarray:
    """Weighted least squares ``argmin_c sum_i w_i (y_i - sum_k c_k x_i^k)^2`` (Shimodaira 2000).

    Args:
      x, y, w: ``(n,)`` inputs, targets and non-negative weights.
      degree: polynomial degree (1 = a straight line).

    Returns:
      ``(degree + 1,)`` coefficients, constant term first.
    """
    A = np.vander(x, degree + 1, increasing=True)
    root = np.sqrt(w)
    return np.linalg.lstsq(A * root[:, None], y * root, rcond=None)[0]


def predict(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The polynomial with coefficients ``c (degree + 1,)`` (constant first) at ``x (n,)``; (n,)."""
    return np.vander(x, len(c), increasing=True) @ c


def draw_rows(
    config: ml_collections.ConfigDict, seed: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per method for the draw ``seed``: target MSE and effective sample size.

    Returns:
      ``(rows, detail)``: rows ``{"seed", "method", "target_mse", "ess"}``; detail holds the draw,
      its weights and each method's coefficients (for the figure).
    """
    data = draw(config, seed)
    ws = weights(config, data)
    coefs, rows = {}, []
    for m, w in ws.items():
        coefs[m] = fit_polynomial(data["xs"], data["ys"], w, int(config.model.degree))
        mse = float(np.mean((predict(coefs[m], data["xt"]) - data["yt"]) ** 2))
        ess = float(importance.effective_sample_size(w))
        rows.append({"seed": seed, "method": m, "target_mse": mse, "ess": ess})
    return rows, {"data": data, "weights": ws, "coefs": coefs}


def _plot(
    config: ml_collections.ConfigDict,
    detail: dict[str, Any],
    table: list[dict[str, Any]],
    path: str,
) -> None:
    """Left: the first draw's source and target points, the true curve and each method's line
    (Huang et al. 2007, Fig. 1). Right: each method's weight against x."""
    plt = report.pyplot()
    data, ws, coefs = detail["data"], detail["weights"], detail["coefs"]
    d = config.data
    lo = min(data["xs"].min(), data["xt"].min())
    hi = max(data["xs"].max(), data["xt"].max())
    grid = np.linspace(lo, hi, 200)
    mse = {r["method"]: r["target_mse_mean"] for r in table}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 5))
    ax.scatter(
        data["xs"],
        data["ys"],
        s=10,
        c="tab:blue",
        alpha=0.5,
        label=f"source x~N({d.source_mean:g}, {d.source_std:g}²)",
    )
    ax.scatter(
        data["xt"][:200],
        data["yt"][:200],
        s=10,
        c="tab:red",
        marker="x",
        alpha=0.4,
        label=f"target x~N({d.target_mean:g}, {d.target_std:g}²)",
    )
    ax.plot(grid, target_function(grid), "k-", lw=1.5, label="true f(x) = -x + x³")
    for m, style in zip(METHODS, ("C0--", "C3-", "C2-.", "C1:")):
        ax.plot(
            grid, predict(coefs[m], grid), style, lw=2, label=f"{m} (mean target MSE {mse[m]:.3f})"
        )
    ax.set(xlabel="x", ylabel="y", title="least-squares line, first draw")
    ax.set_ylim(np.percentile(data["ys"], 1) - 0.5, np.percentile(data["ys"], 99) + 0.5)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)  # off data
    order = np.argsort(data["xs"])
    for m, style in zip(METHODS[1:], ("C3-", "C2.", "C1x")):
        w = ws[m][order]
        ax_kw = {"lw": 1.5} if style.endswith("-") else {"ms": 4}
        bx.plot(data["xs"][order], w, style, label=m, **ax_kw)
    bx.set(xlabel="source x", ylabel="weight (mean 1)", title="importance weights p_t/p_s")
    bx.legend(fontsize=8)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Every method on every data draw; table of target MSE and ESS, and ``fits.png``.

    Args:
      config: the experiment config (see experiments/covariate_shift_toy.py for every field).
      workdir: output directory (``table.txt``, ``fits.png``).

    Returns:
      The results.json content: ``metrics`` / ``summary`` (``target_mse_<method>``,
      ``ess_<method>``), ``runs`` (one per draw, with a seed sweep), ``groups`` and ``rows``.
    """
    check_config(config)
    rows, first = [], None
    for seed in seeds(config):
        seed_rows, detail = draw_rows(config, seed)
        rows += seed_rows
        first = first or detail
    summary = report.summarize_rows(rows, ["method"], ["target_mse", "ess"])  # over the draws
    table = [
        {
            "method": g["hparams"]["method"],
            **{f"{k}_{s}": v[s] for k, v in g["metrics"].items() for s in ("mean", "std")},
            "runs": g["n"],
        }
        for g in summary
    ]
    base = table[0]["target_mse_mean"]
    shown = [
        {
            "method": g["method"],
            "target MSE": report.mean_std_text(g["target_mse_mean"], g["target_mse_std"]),
            "unweighted / this": f"{base / g['target_mse_mean']:.2f}",
            "ESS": report.mean_std_text(g["ess_mean"], g["ess_std"]),
            "draws": g["runs"],
        }
        for g in table
    ]
    n_s, noise = int(config.data.n_source), float(config.data.noise_std) ** 2
    title = (
        f"toy covariate shift, {len(seeds(config))} draws, n_source={n_s} (noise floor {noise:.3f})"
    )
    if report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        report.write_table(workdir, title + "\n" + report.table(shown), title)
        _plot(config, first, table, os.path.join(workdir, "fits.png"))
    per_seed = {  # a seed sweep lists its runs (docs/design.md: results.json), one per draw
        s: {
            f"{k}_{r['method']}": r[k]
            for r in rows
            if r["seed"] == s
            for k in ("target_mse", "ess")
        }
        for s in seeds(config)
    }
    runs = [{"seed": s, "metrics": m} for s, m in per_seed.items()]
    return report.results_from_runs(
        config.experiment,
        config,
        runs if sweep.expand(config) else [{"metrics": runs[0]["metrics"]}],
        summary=summary,
        metrics={
            f"{k}_{g['method']}": g[f"{k}_mean"] for g in table for k in ("target_mse", "ess")
        },
        groups=table,
        rows=rows,
    )
