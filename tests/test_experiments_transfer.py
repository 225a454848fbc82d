"""End-to-end runs of the transfer-learning experiments' :tiny variants (digits, no download)."""

import os

import jax
import ml_collections
import numpy as np
import pytest

from jaxdl import tasks
from jaxdl.tasks import domain_adapt, finetune, net2net, reweight, tca, transferability
from jaxdl.train import report, sweep
from tests.configs import load_config, tiny


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """One fine-tuning run in ``<dir>/a``; its source network is pre-trained once for the module.

    The tests that use it share an ``xdist_group``, so under ``-n auto`` one worker runs them all.
    """
    tmp_path = tmp_path_factory.mktemp("finetune")
    config = load_config("transfer_finetune")
    return config, tmp_path, finetune.run(config, str(tmp_path / "a"))


@pytest.mark.xdist_group("finetuned")
def test_finetune_freezes_copied_layers_resumes_and_loads_a_checkpoint(finetuned):
    config, tmp_path, first = finetuned
    assert "source_test_accuracy" in first["metrics"] and len(first["runs"]) == 4
    groups = [(g["hparams"], g["n"]) for g in first["summary"]]
    assert groups == [
        ({"transfer.frozen_layers": f, "transfer.pretrained": p}, 1)
        for f in (0, 2)
        for p in (0.0, 1.0)
    ]
    assert all("test_accuracy" in g["metrics"] for g in first["summary"])
    assert (
        first["metrics"]["transfer.frozen_layers=2,transfer.pretrained=1/test_accuracy"]
        == (first["summary"][3]["metrics"]["test_accuracy"]["mean"])
    )
    assert first["metrics"]["source_test_accuracy"] > 0.5, (
        "source network (digits 0-4, 5 classes) did not learn"
    )
    assert os.path.getsize(tmp_path / "a" / "accuracy_vs_frozen_layers.png") > 0

    # Resume: the same runs in the same workdir restore their checkpoints and report the same
    # numbers.
    source, _ = finetune.source_params(config, str(tmp_path / "a"))
    again = sweep.train(
        lambda c: finetune.make_problem_from(c, source), config, str(tmp_path / "a" / "target")
    )
    assert again.fits[0].resumed_from == config.train.steps
    for i, r in enumerate(first["runs"]):
        assert again.run_metrics(i)["test_accuracy"] == pytest.approx(
            r["metrics"]["test_accuracy"], abs=1e-6
        )

    # Frozen layers still hold the source values; trained and randomly initialised ones do not.
    for i, o in enumerate(again.overrides):
        params = jax.device_get(again.run_state(i).params)
        pretrained, frozen = o["transfer.pretrained"] > 0.5, o["transfer.frozen_layers"]
        for l, name in enumerate(finetune.model_layers(config.model)[:-1]):  # conv_0, dense_0
            same = np.array_equal(params[name]["kernel"], source[name]["kernel"])
            assert same == (pretrained and l < frozen), (
                f"run {o}: layer {name} equal to the source = {same}"
            )
    assert params["head"]["kernel"].shape[-1] == 5, (
        "the head must be re-initialised for the 5 target classes"
    )

    # Loading the source network by path gives the same fine-tuning as pre-training in the run.
    loaded = config.copy_and_resolve_references()
    loaded.transfer.source_checkpoint = str(tmp_path / "a" / "source" / "checkpoints")
    by_path = finetune.run(loaded, str(tmp_path / "b"))
    assert not os.path.exists(tmp_path / "b" / "source"), (
        "a given checkpoint must not trigger pre-training"
    )
    for r1, r2 in zip(first["runs"], by_path["runs"]):
        assert r2["metrics"]["test_accuracy"] == pytest.approx(
            r1["metrics"]["test_accuracy"], abs=1e-5
        )


def test_transferability_every_setting_of_the_convnet(tmp_path):
    result = transferability.run(load_config("transferability"), str(tmp_path))
    labels = [g["setting"] for g in result["groups"]]
    assert labels == [
        "baseB",
        "BnB n=1",
        "BnB n=2",
        "BnB+ n=1",
        "BnB+ n=2",
        "AnB n=1",
        "AnB n=2",
        "AnB+ n=1",
        "AnB+ n=2",
    ]
    assert all(g["runs"] == 2 for g in result["groups"]), "every setting runs once per seed"
    metrics = result["metrics"]
    assert metrics["baseA_test_accuracy"] > 0.5 and metrics["baseB_test_accuracy"] > 0.5, (
        "5-class base networks should beat chance (0.2)"
    )
    mean = {g["setting"]: g["test_accuracy_mean"] for g in result["groups"]}
    assert metrics["anb_decline"] == pytest.approx(mean["AnB n=1"] - mean["AnB n=2"])
    assert np.isnan(metrics["bnb_dip"]), "n=1..2 has no middle layer: no dip to measure"
    assert (tmp_path / "transferability.png").exists() and (tmp_path / "table.txt").exists()


def test_transferability_copies_each_seeds_base_networks():
    # Fake base networks (A = 1 + seed index, B = -1 - seed index) make the copied layers visible.
    config = load_config("transferability")
    train, _ = transferability.half_tasks(config)["B"]
    model = finetune.build_model(config.model, int(train["y"].max()) + 1)
    shapes = jax.eval_shape(model.init, jax.random.key(0), train["x"][:1])["params"]
    seeds = (3, 7)

    def fake(sign):
        return jax.tree.map(
            lambda s: np.stack([np.full(s.shape, sign * (1.0 + k)) for k in (0, 1)]), shapes
        )

    params_A, params_B = fake(1.0), fake(-1.0)
    problem = transferability.make_transfer_problem(config, params_A, params_B, seeds)
    labels = transferability.settings_of(config).labels
    for label, seed, want in (
        ("AnB n=2", 7, {"conv_0": 2.0, "dense_0": 2.0}),
        ("BnB+ n=1", 3, {"conv_0": -1.0}),
        ("AnB+ n=1", 7, {"conv_0": 2.0}),
    ):
        hparams = {"transfer.setting": labels.index(label), "seed": seed}
        params = problem.init(jax.random.key(0), hparams)["params"]
        for name in ("conv_0", "dense_0", "head"):
            copied = np.all(np.asarray(params[name]["kernel"]) == want.get(name, np.nan))
            assert copied == (name in want), (label, seed, name)


@pytest.mark.parametrize(
    "name, override, message",
    [
        ("transfer_finetune", {"model.name": "net2net_mlp"}, "needs model.name='transfer_cnn'"),
        ("transferability", {"model.name": "mlp"}, "accepted: net2net_mlp, transfer_cnn"),
        ("transferability", {"transfer.setting": 40}, "accepted 0..8 for 2 layers below the head"),
    ],
)
def test_transfer_tasks_refuse_bad_networks_before_writing(tmp_path, name, override, message):
    with pytest.raises(ValueError, match=message):
        tasks.run(tiny(name, **override), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_covariate_shift_kmm_matches_means(tmp_path):
    result = reweight.run(load_config("covariate_shift"), str(tmp_path))
    assert [g["method"] for g in result["groups"]] == list(reweight.METHODS)
    for g in result["groups"]:
        assert 0.0 <= g["target_error_mean"] < 0.8, g
    mmd = result["mmd2"][0]
    # KMM minimises exactly this MMD (Huang et al. 2007, Eq. 6): it must beat the unweighted source.
    assert mmd["mmd2_kmm"] < 0.5 * mmd["mmd2_unweighted"], mmd
    assert os.path.getsize(tmp_path / "weights_vs_true.png") > 0


def test_domain_adaptation_methods_and_oracle(tmp_path):
    result = domain_adapt.run(load_config("domain_adaptation"), str(tmp_path))
    acc = {g["method"]: g["target_accuracy_mean"] for g in result["groups"]}
    assert set(acc) >= {
        "source_only",
        "dann",
        "train_on_target",
        "raw_1nn",
        "raw_linear",
        "tca_linear_1nn",
        "tca_linear_linear",
    }
    # Digits -> rotated digits: labels of the target itself must beat any source-trained model.
    assert acc["train_on_target"] > acc["source_only"] + 0.1, acc
    pngs = [f for f in os.listdir(tmp_path) if f.startswith("features_") and f.endswith(".png")]
    assert len(pngs) == len(load_config("domain_adaptation").data.pairs), pngs


def test_tca_task_slices_one_fit_into_every_dimension(tmp_path):
    config = load_config("tca_domains")
    result = tca.run(config, str(tmp_path))
    pair, seeds = config.data.pairs[0], tuple(config.sweep.seed)
    # The dimension study reads every m off one fit at the largest m; a fresh fit at m = tca_dim
    # (domain_adaptation's own TCA) must score the same (within one of the 150 target points).
    # Compared at the smallest m, which is a slice of the fit at the largest.
    data = domain_adapt.pair_data(config, pair)
    smallest = min(config.transfer.tca_dims)
    assert smallest < config.transfer.tca_dim == max(config.transfer.tca_dims)
    fresh_config = tiny("tca_domains", **{"transfer.tca_dim": smallest})
    for seed in seeds:
        fresh = domain_adapt.tca_scores(fresh_config, data, seed)
        for kernel in config.transfer.tca_kernels:
            for clf in tca.CLASSIFIERS:
                sliced = [
                    r["target_accuracy"]
                    for r in result["rows"]
                    if (r["seed"], r["kernel"], r["mu"], r["dim"], r["classifier"])
                    == (seed, kernel, config.transfer.tca_mu, smallest, clf)
                ]
                assert (
                    len(sliced) == 1
                    and abs(sliced[0] - fresh[f"tca_{kernel}_{clf}"]) <= 1 / 150 + 1e-9
                ), (seed, kernel, clf)
    dims = {g["dim"] for g in result["groups"] if g["kernel"] != tca.RAW}
    assert dims == set(config.transfer.tca_dims) | {config.transfer.tca_dim}
    raw = [g for g in result["groups"] if g["kernel"] == tca.RAW]
    assert {g["dim"] for g in raw} == {config.data.size**2} and all(
        g["runs"] == len(seeds) for g in raw
    )
    t = config.transfer
    group = report.find_group(
        result["summary"],
        {"pair": pair, "kernel": "linear", "mu": t.tca_mu, "dim": t.tca_dim, "classifier": "1nn"},
    )
    assert group["metrics"]["target_accuracy"]["std"] > 0  # two samples of points differ
    assert (
        result["metrics"][f"{pair}/tca_linear_1nn"] == group["metrics"]["target_accuracy"]["mean"]
    )
    assert os.path.getsize(tmp_path / "accuracy_vs_dim_and_mu.png") > 0 and os.path.exists(
        tmp_path / "table.txt"
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ({"sweep.data": ml_collections.ConfigDict({"size": (8, 16)})}, "sweeps only sweep.seed"),
        ({"transfer.tca_dims": (0, 4)}, "must lie in 1..300"),
        ({"transfer.tca_mus": (-1.0,)}, "must be > 0"),
        ({"transfer.tca_kernels": ("poly",)}, "accepted a non-empty tuple of linear, rbf"),
    ],
)
def test_tca_task_refuses_bad_settings(tmp_path, override, message):
    config = tiny("tca_domains", **override)
    with pytest.raises(ValueError, match=message):
        tasks.run(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_tca_task_bounds_the_dimension_by_the_points_it_has(tmp_path):
    # digits>digits_rot90 at 8x8: the rotated digits' test split has 359 points, fewer than asked
    config = tiny(
        "tca_domains",
        **{"transfer.tca_samples": 500, "transfer.tca_dims": (2, 900), "sweep.seed": (0,)},
    )
    with pytest.raises(
        ValueError, match="reach m=900, but digits>digits_rot90 has only 500 source"
    ):
        tca.run(config, str(tmp_path))


def test_dann_and_tca_are_task_names():
    assert tasks.get("dann") is domain_adapt and tasks.get("tca") is tca


def test_a_task_with_a_fixed_network_refuses_another_model_name(tmp_path):
    config = tiny("domain_adaptation", **{"model.name": "mlp"})
    with pytest.raises(
        ValueError,
        match="model.name='mlp' is not what the domain_adapt task builds; accepted: dann",
    ):
        tasks.run(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_net2net_students_start_at_the_teacher(tmp_path):
    result = net2net.run(load_config("net2net"), str(tmp_path))
    teacher = result["metrics"]["teacher_test_accuracy"]
    assert os.path.getsize(tmp_path / "accuracy_vs_epoch.png") > 0
    epoch0 = {
        (r["student"], r["init"]): r["test_accuracy"] for r in result["epochs"] if r["epoch"] == 0
    }
    for student in ("wider", "deeper"):
        # Function-preserving growth (Chen et al. 2016): only the small symmetry-breaking noise
        # differs.
        assert epoch0[(student, "net2net")] == pytest.approx(teacher, abs=0.03), (
            student,
            epoch0,
            teacher,
        )
        grown, scratch = (
            result["metrics"][f"{student}_{i}_epochs_to_teacher"] for i in ("net2net", "random")
        )
        assert grown is not None and (scratch is None or grown <= scratch), (
            student,
            grown,
            scratch,
        )
    # the summary: each (student, init)'s final metrics, mean and std over its runs (seeds)
    for student in ("wider", "deeper"):
        for init, value in (("random", 0.0), ("net2net", 1.0)):
            accs = [
                r["metrics"]["test_accuracy"]
                for r in result["runs"]
                if r["student"] == student and r["transfer.init"] == value
            ]
            group = report.find_group(
                result["summary"], {"student": student, "transfer.init": value}
            )
            s = group["metrics"]["test_accuracy"]
            assert (
                accs
                and s["mean"] == pytest.approx(np.mean(accs))
                and s["std"] == pytest.approx(np.std(accs))
            )
            # the same name as the metric (the mean over the seeds' final epoch)
            assert result["metrics"][f"{student}_{init}_final_test_accuracy"] == pytest.approx(
                s["mean"], abs=1e-6
            )


@pytest.mark.xdist_group("finetuned")
def test_finetune_freeze_by_name_uses_multi_transform(finetuned, tmp_path):
    config = load_config("transfer_finetune")
    config.transfer.freeze = ("dense_0",)
    config.sweep.transfer.frozen_layers = ()
    config.sweep.transfer.pretrained = ()
    # the source network the other test pre-trained, loaded from its checkpoint (no second
    # pre-training)
    config.transfer.source_checkpoint = str(finetuned[1] / "a" / "source" / "checkpoints")
    source, _ = finetune.source_params(config, str(tmp_path))
    result = sweep.train(
        lambda c: finetune.make_problem_from(c, source), config, str(tmp_path / "target")
    )
    params = jax.device_get(result.run_state(0).params)
    assert np.array_equal(params["dense_0"]["kernel"], source["dense_0"]["kernel"]), (
        "optax.multi_transform freeze moved dense_0"
    )
    assert not np.array_equal(params["conv_0"]["kernel"], source["conv_0"]["kernel"]), (
        "conv_0 is not frozen and must train"
    )


def test_net2net_without_an_init_sweep(tmp_path):
    config = load_config("net2net")
    config.sweep.transfer.init = ()  # Net2Net init only (transfer.init = 1): no random-init rows
    config.transfer.init = 1.0
    result = net2net.run(config, str(tmp_path))
    assert {r["init"] for r in result["epochs"]} == {"net2net"}
    assert set(result["metrics"]) >= {
        "wider_net2net_final_test_accuracy",
        "deeper_net2net_epochs_to_teacher",
    }
    assert os.path.getsize(tmp_path / "accuracy_vs_epoch.png") > 0
