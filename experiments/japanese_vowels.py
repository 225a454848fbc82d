"""JapaneseVowels (Kudo et al. 1999): speaker classification from 12 LPC cepstrum channels.

9 speakers, 270 training and 370 test utterances of 7-29 frames, padded and masked with their
lengths. Reports test accuracy of each cell (seeds vmapped in one program per cell).
Needs sktime's data files: pip install -e '.[seq]' (or pip install --no-deps sktime).

Run:
  python launch.py --config=experiments/japanese_vowels.py --workdir=/tmp/japanese_vowels
  # synthetic sequences; the tests run it:
  python launch.py --config=experiments/japanese_vowels.py:tiny
"""

from jaxdl.tasks import sequence
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("japanese_vowels", variant)
    c = sequence.base_config(
        "japanese_vowels",
        "sequence",
        "JapaneseVowels speaker classification: RNN/LSTM/GRU test accuracy",
        "sequence_classifier",
    )
    c.data.name = (
        "japanese_vowels"  # jaxdl.tasks.sequence data: adding | sunspots | japanese_vowels
    )
    c.data.source = "real"  # real (sktime's .ts files) | synthetic (class-dependent trajectories)
    c.data.path = ""  # a folder with JapaneseVowels_{TRAIN,TEST}.ts instead of sktime's copy
    c.data.num_train = 270  # synthetic source only
    c.data.num_test = 370  # synthetic source only
    c.opt.schedule = "cosine"
    c.train.steps = 600
    c.train.batch_size = 30
    c.train.log_every = 100
    c.train.eval_every = 300
    c.checkpoint.every_steps = 300
    c.sweep.seed = (0, 1, 2)
    if variant == "tiny":
        c.data.source = "synthetic"
        c.data.num_train = 96
        c.data.num_test = 64
        c.model.features = 8
        c.sweep.model.cell = ("lstm",)
        c.sweep.seed = ()
        c.train.steps = 20
        c.train.batch_size = 16
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 10
    return c
