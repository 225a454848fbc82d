"""results.json and the printed table: runs, the summary's groups per setting, stages, names."""

import glob
import json
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
import numpy as np
import pytest

from jaxdl.tasks import classify
from jaxdl.train import loop, metrics, report, sweep
from tests import configs


def _stacked_result(overrides, train, test):
    fit = loop.FitResult(state=None, train=train, test=test, steps=1, resumed_from=0)
    return sweep.SweepResult(overrides, [fit], vmapped=True, strategy="scan")


def test_a_sweep_of_two_rates_and_two_seeds_gives_one_group_per_rate(tmp_path):
    config = configs.tiny("digits_mlp", **{"sweep.seed": (0, 1), "sweep.opt.lr": (1e-3, 3e-2)})
    results = classify.run(config, str(tmp_path))
    runs, groups = results["runs"], results["summary"]
    assert [g["hparams"] for g in groups] == [{"opt.lr": 1e-3}, {"opt.lr": 3e-2}]
    assert [g["n"] for g in groups] == [2, 2]
    for g in groups:
        mine = [r["metrics"] for r in runs if r["opt.lr"] == g["hparams"]["opt.lr"]]
        assert {r["seed"] for r in runs if r["opt.lr"] == g["hparams"]["opt.lr"]} == {0, 1}
        for name in ("test_accuracy", "test_loss", "train_loss"):
            values = [m[name] for m in mine]
            assert g["metrics"][name]["mean"] == pytest.approx(np.mean(values)), name
            assert g["metrics"][name]["std"] == pytest.approx(np.std(values)), name
            label = f"opt.lr={g['hparams']['opt.lr']:.3g}/{name}"
            assert results["metrics"][label] == g["metrics"][name]["mean"]
    assert "test_accuracy" not in results["metrics"], "no number pools the two rates"
    text = report.format_results(results)
    assert "per setting (mean ± std over seeds)" in text
    setting_rows = text.split("per setting")[1].splitlines()[3:]
    assert len(setting_rows) == 2, text


def test_results_dict_merges_task_metrics_before_means_and_summary():
    result = _stacked_result(
        [{"seed": 0}, {"seed": 1}],
        {"loss": np.array([1.0, 3.0])},
        {"accuracy": np.array([0.5, 0.7])},
    )
    out = report.results_dict(
        "e",
        configs.tiny("digits_mlp"),
        result,
        extra={"baseline": 0.1},
        run_metrics=[{"test_iou": 0.2}, {"test_iou": 0.4}],
        table=[{"a": 1}],
    )
    assert out["runs"][1] == {
        "seed": 1,
        "metrics": {"train_loss": 3.0, "test_accuracy": 0.7, "test_iou": 0.4},
    }
    (group,) = out["summary"]
    assert group["hparams"] == {} and group["n"] == 2
    assert group["metrics"]["test_iou"] == pytest.approx({"mean": 0.3, "std": 0.1})
    assert out["metrics"] == pytest.approx(
        {"train_loss": 2.0, "test_accuracy": 0.6, "test_iou": 0.3, "baseline": 0.1}
    )
    assert out["table"] == [{"a": 1}]

    single = _stacked_result([{}], {"loss": np.array([1.0])}, {})
    one = report.results_dict("e", configs.tiny("digits_mlp"), single, run_metrics=[{"iou": 0.2}])
    assert one["metrics"] == {"train_loss": 1.0, "iou": 0.2} and "runs" not in one
    assert one["summary"] == [
        {
            "hparams": {},
            "n": 1,
            "metrics": {"train_loss": {"mean": 1.0, "std": 0.0}, "iou": {"mean": 0.2, "std": 0.0}},
        }
    ]
    with pytest.raises(ValueError, match="run_metrics has 1 entries for 2 runs"):
        report.results_dict(
            "e", configs.tiny("digits_mlp"), result, run_metrics=[{"test_iou": 0.2}]
        )


def test_stages_join_into_one_summary_group_per_stage_and_setting():
    first = _stacked_result(
        [{"seed": 0}, {"seed": 1}], {"loss": np.array([1.0, 3.0])}, {"epochs": np.array([2, 4])}
    )
    second = _stacked_result([{"seed": 0}], {"loss": np.array([5.0])}, {})
    runs = report.stage_runs(first, {"model": "a"}) + report.stage_runs(
        second, {"model": "b"}, [{"test_epochs": None}]
    )
    assert runs[2] == {"model": "b", "seed": 0, "metrics": {"train_loss": 5.0, "test_epochs": None}}
    out = report.results_from_runs("e", configs.tiny("digits_mlp"), runs, extra={"x": 1.0})
    assert [(g["hparams"], g["n"]) for g in out["summary"]] == [
        ({"model": "a"}, 2),
        ({"model": "b"}, 1),
    ]
    assert out["summary"][0]["metrics"]["test_epochs"] == {"mean": 3.0, "std": 1.0}
    assert "test_epochs" not in out["summary"][1]["metrics"], "None has no mean"
    assert out["metrics"] == {
        "model=a/train_loss": 2.0,
        "model=a/test_epochs": 3.0,
        "model=b/train_loss": 5.0,
        "x": 1.0,
    }
    by_draw = report.summarize(
        [{"method": "m", "draw": d, "metrics": {"err": float(d)}} for d in (1, 3)], by=["method"]
    )
    assert by_draw == [
        {"hparams": {"method": "m"}, "n": 2, "metrics": {"err": {"mean": 2.0, "std": 1.0}}}
    ]
    rows = [{"method": m, "seed": s, "acc": 0.5 + s} for m in ("a", "b") for s in (0, 1)]
    by_method = report.summarize_rows(rows, ["method"], ["acc"])
    assert report.find_group(by_method, {"method": "b"}) == {
        "hparams": {"method": "b"},
        "n": 2,
        "metrics": {"acc": {"mean": 1.0, "std": 0.5}},
    }
    with pytest.raises(KeyError, match="no summary group method=c; the groups: method=a; method=b"):
        report.find_group(by_method, {"method": "c"})
    named = report.results_from_runs("e", configs.tiny("digits_mlp"), runs, metrics={"y": 2.0})
    assert named["metrics"] == {"y": 2.0}


def test_printed_summary_averages_seeds_only_within_a_setting():
    def printed(runs):
        return report.format_results(
            {"experiment": "x", "runs": runs, "summary": report.summarize(runs)}
        )

    runs = [
        {"seed": s, "opt.lr": lr, "metrics": {"test_accuracy": acc}}
        for lr, accs in ((0.1, (0.5, 0.7)), (0.01, (0.9, 0.9)))
        for s, acc in enumerate(accs)
    ]
    text = printed(runs)
    assert (
        "per setting (mean ± std over seeds)" in text and "0.6 ± 0.1" in text and "0.9 ± 0" in text
    )
    text = printed([{"seed": s, "metrics": {"m": float(s)}} for s in range(2)])
    assert "mean ± std over runs" in text
    one_each = [{"opt.lr": lr, "seed": 0, "metrics": {"m": lr}} for lr in (0.1, 0.01)]
    text = printed(one_each)
    assert "per setting" not in text and "0.01" in text, (
        "one run per setting: the per-run table only"
    )
    one_each_wide = [
        {
            "opt.lr": lr,
            "seed": 0,
            "metrics": {f"m{j}": lr for j in range(report.MAX_RUN_COLUMNS + 1)},
        }
        for lr in (0.1, 0.01)
    ]
    text = printed(one_each_wide)
    assert "per setting" in text and "m8" in text, (
        "too wide for the per-run table: the numbers must still print"
    )
    wide = [
        {"seed": s, "metrics": {f"m{j}": float(j) for j in range(report.MAX_RUN_COLUMNS + 1)}}
        for s in range(2)
    ]
    text = printed(wide)
    assert "2 runs; each run's metrics are in results.json" in text and "m8" in text


def test_tensorboard_names_runs_by_their_swept_values(tmp_path):
    assert metrics.tensorboard_names([{"opt.lr": 0.003, "seed": 2}, {"data.pair": "a>b/c"}]) == [
        "opt.lr=0.003,seed=2",
        "data.pair=a_b_c",
    ]
    assert metrics.tensorboard_names([{"opt.lr": 0.0031}, {"opt.lr": 0.0030999}]) == [
        "run_0_opt.lr=0.0031",
        "run_1_opt.lr=0.0031",
    ]
    for strategy in ("vmap", "sequential"):
        config = configs.tiny(
            "digits_mlp",
            **{"sweep.seed": (0, 1), "sweep.opt.lr": (1e-3,), "train.sweep_strategy": strategy},
        )
        config.tensorboard = True
        workdir = tmp_path / strategy
        sweep.train(classify.make_problem, config, str(workdir))
        events = glob.glob(str(workdir / "**" / "events.out.*"), recursive=True)
        dirs = sorted(os.path.relpath(os.path.dirname(p), workdir) for p in events)
        assert dirs == ["tb/opt.lr=0.001,seed=0", "tb/opt.lr=0.001,seed=1"], (strategy, dirs)


def test_curves_of_a_16_run_sweep_keep_their_legend_inside_the_figure(tmp_path):
    runs = [{"opt.lr": lr, "seed": s} for lr in (1e-3, 3e-3) for s in range(8)]
    with open(tmp_path / "runs.json", "w") as f:
        json.dump(runs, f)
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for i in range(len(runs)):
            for step in (1, 2, 3):
                for split in ("train", "test"):
                    row = {"step": step, "split": split, "run": i, "loss": 1.0 / step + i}
                    f.write(json.dumps({**row, "accuracy": 0.1 * step}) + "\n")
    plt = report.pyplot()
    figures = []
    savefig = plt.Figure.savefig

    def record(fig, *args, **kwargs):
        figures.append(fig)
        return savefig(fig, *args, **kwargs)

    plt.Figure.savefig = record
    try:
        path = report.plot_curves(str(tmp_path))
    finally:
        plt.Figure.savefig = savefig
    (fig,) = figures
    renderer = FigureCanvasAgg(fig).get_renderer()  # pyplot closed the figure
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), "legend covers a panel"
    saved = fig.get_tightbbox(renderer)  # what bbox_inches="tight" writes, in inches
    inches = box.transformed(fig.dpi_scale_trans.inverted())
    assert saved.x0 <= inches.x0 and inches.x1 <= saved.x1, "legend clipped"
    assert saved.y0 <= inches.y0 and inches.y1 <= saved.y1, "legend clipped"
    assert os.path.getsize(path) > 0
