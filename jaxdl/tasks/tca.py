"""Transfer Component Analysis alone: target accuracy against the embedding dimension m and
against mu (Pan et al. 2011 stress its choice), per kernel and domain pair.

TCA (Pan et al. 2011, ``jaxdl.transfer.tca``) is closed form, so nothing trains and nothing is
checkpointed. For every domain pair, seed (``sweep.seed``: which source and target points are
sampled), kernel and mu, one TCA is solved at the largest dimension of ``transfer.tca_dims`` and
its leading m columns are the m-dimensional embedding (the eigenvectors do not depend on m). A
1-NN and a logistic regression fitted on the source embeddings classify the target points; the
same two classifiers on raw pixels are the no-adaptation reference (Pan et al. also report their
results against the number of latent dimensions).
"""

import os
from typing import Any

import ml_collections
import numpy as np

from jaxdl.tasks import domain_adapt
from jaxdl.train import report, sweep
from jaxdl.transfer import tca_lib

CLASSIFIERS = ("1nn", "linear")
RAW = "raw pixels"
MODEL_NAMES = ("tca",)  # closed form (jaxdl.transfer.tca), no network
FREE_FIELDS = ("data.name", "model.name")  # placeholders: data.pairs; closed form
TRAINS = False  # nothing is optimised: opt / train / checkpoint are unused


def _seeds(config: ml_collections.ConfigDict) -> list[int]:
    """The sampled seeds: ``sweep.seed``, else ``seed``; any other sweep is refused in one line."""
    runs = sweep.expand(config)
    other = sorted({path for o in runs for path in o if path != "seed"})
    if other:
        raise ValueError(
            f"the tca task sweeps only sweep.seed (which points are sampled); it got "
            f"{', '.join('sweep.' + p for p in other)}: set transfer.tca_dims, "
            f"transfer.tca_mus or transfer.tca_kernels instead"
        )
    return [int(o["seed"]) for o in runs] or [int(config.seed)]


def settings(config: ml_collections.ConfigDict) -> tuple[list[int], list[float]]:
    """The dimensions and mus studied: ``transfer.tca_dims`` / ``tca_mus`` plus the reported
    ``tca_dim`` / ``tca_mu``, sorted; one-line ValueError for values TCA cannot take."""
    t = config.transfer
    dims = sorted({int(d) for d in tuple(t.tca_dims)} | {int(t.tca_dim)})
    mus = sorted({float(m) for m in tuple(t.tca_mus)} | {float(t.tca_mu)})
    n = 2 * int(t.tca_samples)
    if dims[0] < 1 or dims[-1] > n:
        raise ValueError(
            f"transfer.tca_dims and tca_dim must lie in 1..{n} (at most "
            f"transfer.tca_samples source + as many target points), got {dims}"
        )
    if mus[0] <= 0:
        raise ValueError(f"transfer.tca_mus and tca_mu must be > 0, got {mus}")
    return dims, mus


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line ValueError, before anything is written, for a sweep other than ``sweep.seed``,
    dimensions or mus TCA cannot take, or an unknown kernel."""
    _seeds(config)
    settings(config)
    unknown = [k for k in tuple(config.transfer.tca_kernels) if k not in tca_lib.KERNELS]
    if unknown or not tuple(config.transfer.tca_kernels):
        raise ValueError(
            f"transfer.tca_kernels={tuple(config.transfer.tca_kernels)!r}: accepted a non-empty "
            f"tuple of {', '.join(tca_lib.KERNELS)}"
        )


def pair_rows(
    config: ml_collections.ConfigDict,
    data: dict,
    pair: str,
    seed: int,
    dims: list[int],
    mus: list[float],
) -> list[dict[str, Any]]:
    """One row per (method, mu, dim, classifier) for one domain pair and seed.

    Args:
      config: the experiment config.
      data: the pair's data (``jaxdl.tasks.domain_adapt.pair_data``).
      pair: its name, ``"source>target"``.
      seed: picks the sampled points (``domain_adapt.tca_sample``).
      dims: embedding dimensions m.
      mus: TCA's mu values.

    Returns:
      Rows ``{"pair", "kernel", "mu", "dim", "classifier", "seed", "target_accuracy"}``; the raw
      pixel rows have kernel :data:`RAW`, mu None and dim the number of pixels.
    """
    t = config.transfer
    C = float(t.linear_C)
    Xs, ys, Xt, yt = domain_adapt.tca_sample(config, data, seed)
    if dims[-1] > len(Xs) + len(Xt):  # a domain smaller than transfer.tca_samples
        raise ValueError(
            f"transfer.tca_dims reach m={dims[-1]}, but {pair} has only {len(Xs)} source + "
            f"{len(Xt)} target points to embed; give dimensions up to {len(Xs) + len(Xt)}"
        )
    base = {"pair": pair, "seed": seed}
    raw = domain_adapt.classifier_scores(Xs, ys, Xt, yt, C)
    rows = [
        {
            **base,
            "kernel": RAW,
            "mu": None,
            "dim": Xs.shape[1],
            "classifier": k,
            "target_accuracy": v,
        }
        for k, v in raw.items()
    ]
    Xs, Xt = domain_adapt.unit_scale(Xs, Xt)
    for kernel in tuple(t.tca_kernels):
        for mu in mus:
            Zs, Zt = domain_adapt.tca_embeddings(Xs, Xt, dims[-1], mu, kernel)
            if not (np.all(np.isfinite(Zs)) and np.all(np.isfinite(Zt))):  # jitted: no check inside
                raise ValueError(
                    f"the {kernel} TCA embedding of {pair} (seed {seed}, mu={mu}) is not finite"
                )
            for dim in dims:
                scores = domain_adapt.classifier_scores(Zs[:, :dim], ys, Zt[:, :dim], yt, C)
                rows += [
                    {
                        **base,
                        "kernel": kernel,
                        "mu": mu,
                        "dim": dim,
                        "classifier": k,
                        "target_accuracy": v,
                    }
                    for k, v in scores.items()
                ]
    return rows


def _table_rows(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The grouped rows with the two classifiers (``1nn``, ``linear``) side by side: mean ± std."""
    out: dict[tuple, dict[str, Any]] = {}
    for g in groups:
        key = (g["pair"], g["kernel"], g["mu"], g["dim"])
        row = out.setdefault(
            key,
            {
                "pair": g["pair"],
                "kernel": g["kernel"],
                "mu": "" if g["mu"] is None else g["mu"],
                "dim": g["dim"],
            },
        )
        row[g["classifier"]] = report.mean_std_text(
            g["target_accuracy_mean"], g["target_accuracy_std"]
        )
    return list(out.values())


def _curve(ax, groups: list[dict[str, Any]], x: str, fixed: dict[str, Any]) -> None:
    """Target accuracy (mean ± std over seeds) against ``x`` ("dim" or "mu") for every kernel and
    classifier at the ``fixed`` value of the other setting; raw pixels as horizontal lines."""
    from matplotlib import ticker  # pylint: disable=g-import-not-at-top

    style = {"1nn": "o-", "linear": "s--"}
    lines: dict[tuple, list[dict[str, Any]]] = {}
    for g in groups:
        if g["kernel"] == RAW or all(g[k] == v for k, v in fixed.items()):
            lines.setdefault((g["kernel"], g["classifier"]), []).append(g)
    for (kernel, clf), pts in lines.items():
        if kernel == RAW:
            ax.axhline(
                pts[0]["target_accuracy_mean"],
                color="gray",
                ls=":" if clf == "1nn" else "-.",
                label=f"raw pixels, {clf}",
            )
            continue
        pts.sort(key=lambda g: g[x])
        ax.errorbar(
            [g[x] for g in pts],
            [g["target_accuracy_mean"] for g in pts],
            yerr=[g["target_accuracy_std"] for g in pts],
            fmt=style[clf],
            capsize=3,
            label=f"TCA {kernel}, {clf}",
        )
    ax.set_xscale("log")
    if x == "dim":
        ax.set_xticks(sorted({g["dim"] for g in groups if g["kernel"] != RAW}))
        ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
        ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set(
        xlabel="embedding dimension m" if x == "dim" else "mu (weight of tr(W^T W))",
        ylabel="target accuracy",
    )


def _plot(groups: list[dict[str, Any]], dim: int, mu: float, path: str) -> None:
    """``accuracy_vs_dim_and_mu.png``: one column per pair; target accuracy against m at the
    reported ``mu`` (top) and against mu at the reported ``dim`` (bottom)."""
    plt = report.pyplot()
    pairs = list(dict.fromkeys(g["pair"] for g in groups))
    fig, axes = plt.subplots(2, len(pairs), figsize=(5.4 * len(pairs), 7.2), squeeze=False)
    for j, pair in enumerate(pairs):
        mine = [g for g in groups if g["pair"] == pair]
        _curve(axes[0, j], mine, "dim", {"mu": mu})
        axes[0, j].set_title(f"{pair}, mu={mu:g}", fontsize=9)
        _curve(axes[1, j], mine, "mu", {"dim": dim})
        axes[1, j].set_title(f"{pair}, m={dim}", fontsize=9)
    axes[0, -1].legend(fontsize=7)
    report.save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """TCA on every domain pair, seed, kernel, mu and dimension; table and plot of target accuracy.

    Args:
      config: the experiment config (see experiments/tca_domains.py for every field).
      workdir: output directory (``table.txt``, ``accuracy_vs_dim_and_mu.png``).

    Returns:
      The results.json content: ``metrics`` at the reported ``transfer.tca_dim`` and ``tca_mu``
      (``<pair>/raw_<classifier>`` and ``<pair>/tca_<kernel>_<classifier>``), ``summary`` (a
      group per pair, kernel, mu, dim and classifier at those values), ``runs`` (those per seed,
      with a ``sweep.seed``), ``groups`` (every setting, mean ± std over seeds) and ``rows``.
    """
    check_config(config)
    seeds = _seeds(config)
    dims, mus = settings(config)
    rows = []
    for pair in tuple(config.data.pairs):
        data = domain_adapt.pair_data(config, pair)
        for seed in seeds:
            rows += pair_rows(config, data, pair, seed, dims, mus)
    by = ["pair", "kernel", "mu", "dim", "classifier"]
    groups = report.group(rows, by, "target_accuracy")
    t = config.transfer
    reported_mu_or_dim = lambda r: r["mu"] == float(t.tca_mu) or r["dim"] == int(t.tca_dim)
    reported = lambda r: (
        r["kernel"] == RAW or (r["dim"] == int(t.tca_dim) and r["mu"] == float(t.tca_mu))
    )
    name = lambda r: (
        f"{r['pair']}/{'raw' if r['kernel'] == RAW else 'tca_' + r['kernel']}_{r['classifier']}"
    )
    summary = report.summarize_rows([r for r in rows if reported(r)], by, ["target_accuracy"])
    runs = [  # a seed sweep lists its runs (docs/design.md: results.json)
        {
            "seed": s,
            "metrics": {
                name(r): r["target_accuracy"] for r in rows if r["seed"] == s and reported(r)
            },
        }
        for s in seeds
    ]
    if report.is_writer():
        os.makedirs(workdir, exist_ok=True)
        # the two curves of the figure: every m at the reported mu, every mu at the reported m
        curves = [g for g in groups if g["kernel"] == RAW or reported_mu_or_dim(g)]
        report.write_table(
            workdir,
            report.table(_table_rows(curves)),
            f"TCA, target accuracy over {len(seeds)} seed(s)",
        )
        _plot(
            groups,
            int(t.tca_dim),
            float(t.tca_mu),
            os.path.join(workdir, "accuracy_vs_dim_and_mu.png"),
        )
    return report.results_from_runs(
        config.experiment,
        config,
        runs if sweep.expand(config) else [{"metrics": runs[0]["metrics"]}],
        summary=summary,
        metrics={name(g): g["target_accuracy_mean"] for g in groups if reported(g)},
        groups=groups,
        rows=rows,
    )
