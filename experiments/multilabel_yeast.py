"""Multi-label yeast: one MLP with a sigmoid per label on shared features vs one MLP per label.

Yeast (Elisseeff & Weston 2001): 2,417 genes, 103 features, 14 functional classes (via the PyPI
package river: pip install -e '.[mtl]'); 38% of the genes held out. Also one-vs-rest logistic
regression solved by FISTA. 3 seeds, each its own split and initialisation. Prints Hamming loss,
subset accuracy, micro / macro F1 (mean ± std over seeds); writes metrics.png.

Run:
  python launch.py --config=experiments/multilabel_yeast.py --workdir=/tmp/multilabel_yeast
  python launch.py --config=experiments/multilabel_yeast.py:tiny   # seconds; skipped without river
"""

from jaxdl.tasks import multilabel
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("multilabel_yeast", variant)
    c = config_lib.base(
        "multilabel_yeast",
        "multilabel",
        "yeast multi-label: shared sigmoid-per-label MLP vs one MLP per label vs OvR logistic",
    )
    config_lib.drop(c, "data.path")  # not read: bundled data sets
    c.data.name = "yeast"  # yeast (multi-label) | digits (multi-class)
    c.data.test_fraction = 0.38  # about MULAN's 1,500 / 917 split
    # jaxdl.multitask.multilabel.MultiLabelMLP / IndependentMLP (model.sharing; the task builds it,
    # not jaxdl.models)
    c.model.name = "multilabel_mlp"
    c.model.hidden = (64,)  # hidden widths (() = linear)
    c.model.sharing = (
        "shared"  # shared: one hidden layer for all labels | independent: one MLP per label
    )
    c.model.loss = "sigmoid"  # sigmoid: BCE per label | softmax: multi-class only
    c.opt.name = "adamw"
    c.opt.lr = 1e-3
    c.opt.weight_decay = 1e-3
    c.train.steps = 1500
    c.train.batch_size = 64
    c.train.log_every = 250
    c.train.eval_every = 500
    c.checkpoint.every_steps = 500
    c.baseline = multilabel.baseline_config(tiny=variant == "tiny")  # one-vs-rest logistic by FISTA
    config_lib.sweepable(c, "model.sharing", "model.loss")
    c.sweep.model.sharing = ("shared", "independent")  # not traced: runs one after another
    c.sweep.seed = (0, 1, 2)  # the initialisation and the train/test split (data.split_seed + seed)
    if variant == "tiny":
        c.sweep.seed = (0, 1)
        c.model.hidden = (8,)
        c.opt.lr = 1e-2
        c.train.steps = 60
        c.train.batch_size = 32
        c.train.log_every = 30
        c.train.eval_every = 60
        c.checkpoint.every_steps = 30
    return c
