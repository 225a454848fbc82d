"""Regenerates the figures of docs/gallery.md: runs each experiment's default config and copies
the figure its run draws to ``docs/figures/<experiment>.png``.

Run from the repository root:
    python docs/gallery.py                                 # every experiment, one after another
    python docs/gallery.py --only digits_mlp,fcn_shapes    # some of them
    python docs/gallery.py --list                          # experiment -> figure, nothing run

The runs go to ``runs/gallery/<experiment>``; a finished run found there is resumed (it ends at
once with the same result), so a second call only copies.
"""

import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURE_DIR = os.path.join(ROOT, "docs", "figures")
MAX_BYTES = 250_000  # a figure larger than this is stored with a 64-colour palette

# experiment (config file name) -> the PNG its default run writes in its workdir
FIGURES = {
    "alexnet_ablation": "compare.png",
    "autoencoder_denoising": "error_vs_test_noise.png",
    "autoencoder_features": "filters.png",
    "c3d_motion": "accuracy.png",
    "c3d_video": "accuracy.png",
    "cnn_families": "accuracy_vs_params.png",
    "covariate_shift": "weights_vs_true.png",
    "covariate_shift_toy": "fits.png",
    "degradation": "compare.png",
    "digits_cnn": "curves.png",
    "digits_mlp": "curves.png",
    "domain_adaptation": "accuracy.png",
    "fcn_shapes": "segmentation.png",
    "japanese_vowels": "test_accuracy.png",
    "mtl_hard_sharing": "task_accuracy.png",
    "mtl_nlschools": "test_mse.png",
    "mtl_synthetic": "test_mse.png",
    "multiclass_digits": "metrics.png",
    "multilabel_yeast": "metrics.png",
    "net2net": "accuracy_vs_epoch.png",
    "resnet20_fashion": "curves.png",
    "rnn_exploding": "exploding.png",
    "rnn_gradient_flow": "gradient_vs_lag.png",
    "rnn_long_range": "success_vs_lag.png",
    "seq2seq_addition": "attention_attention-general_seed-0.png",
    "seq2seq_dates": "attention_attention-additive_seed-0.png",
    "seq2seq_reversal": "attention_attention-additive_seed-0.png",
    "sunspots_forecast": "test_rmse.png",
    "tca_domains": "accuracy_vs_dim_and_mu.png",
    "transfer_finetune": "accuracy_vs_frozen_layers.png",
    "transferability": "transferability.png",
    "universal_approximation": "error_vs_width.png",
    "universal_approximation_depth": "error_vs_units.png",
    "vgg_fashion": "compare.png",
    "wide_deep_adult": "roc.png",
    "wrn_fashion": "curves.png",
}

# experiments whose default run needs data or hardware this machine lacks: no figure is claimed,
# and docs/gallery.md gives the reason instead (experiment -> reason)
NOT_RUN = {
    "resnet20_cifar": "needs CIFAR-10 (binary release) and an accelerator",
    "wrn_cifar": "needs CIFAR-10 (binary release) and an accelerator",
}


def figure_path(experiment: str) -> str:
    """Where the gallery keeps ``experiment``'s figure."""
    return os.path.join(FIGURE_DIR, f"{experiment}.png")


def regenerate(experiment: str, runs_dir: str) -> str:
    """Runs ``experiments/<experiment>.py`` and copies its figure into docs/figures.

    Args:
      experiment: a key of ``FIGURES``.
      runs_dir: parent of the run's workdir.

    Returns:
      The path of the copied figure.
    """
    workdir = os.path.join(runs_dir, experiment)
    command = [
        sys.executable,
        os.path.join(ROOT, "launch.py"),
        f"--config={os.path.join(ROOT, 'experiments', experiment + '.py')}",
        f"--workdir={workdir}",
    ]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    source = os.path.join(workdir, FIGURES[experiment])
    if not os.path.exists(source):
        raise FileNotFoundError(f"{experiment}'s run wrote no {FIGURES[experiment]} in {workdir}")
    os.makedirs(FIGURE_DIR, exist_ok=True)
    target = shutil.copyfile(source, figure_path(experiment))
    if os.path.getsize(target) > MAX_BYTES:  # e.g. image grids of noise: a 64-colour palette
        from PIL import Image  # pylint: disable=g-import-not-at-top  (matplotlib depends on Pillow)

        Image.open(target).convert("RGB").quantize(64).save(target, optimize=True)
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated experiments (default: all)")
    parser.add_argument("--runs_dir", default=os.path.join(ROOT, "runs", "gallery"))
    parser.add_argument("--list", action="store_true", help="print experiment -> figure and exit")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or sorted(FIGURES)
    unknown = sorted(set(names) - set(FIGURES) - set(NOT_RUN))
    if unknown:
        parser.error(
            f"unknown experiment(s) {', '.join(unknown)}; valid: {', '.join(sorted(FIGURES))}"
        )
    for name in names:
        if name in NOT_RUN:
            print(f"{name}: not run here ({NOT_RUN[name]})")
        elif args.list:
            print(f"{name}: {FIGURES[name]} -> {os.path.relpath(figure_path(name), ROOT)}")
        else:
            print("wrote", regenerate(name, args.runs_dir), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
