"""Multi-class digits: softmax (multinomial logistic) vs one-vs-rest (a sigmoid per class).

Both are linear on the bundled 8x8 digits by default (--config.model.hidden='(64,)' adds a shared
hidden layer), trained on the same loop; also one-vs-rest logistic regression solved by FISTA.
Prediction is the arg-max class. 3 seeds, each its own split and initialisation. Prints accuracy,
Hamming loss, micro / macro F1 (mean ± std over seeds); writes metrics.png.

Run:
  python launch.py --config=experiments/multiclass_digits.py --workdir=/tmp/multiclass_digits
  python launch.py --config=experiments/multiclass_digits.py:tiny   # seconds; the tests run it
"""

from jaxdl.tasks import multilabel
from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("multiclass_digits", variant)
    c = config_lib.base(
        "multiclass_digits",
        "multilabel",
        "digits multi-class: softmax vs one-vs-rest sigmoids (linear) vs OvR logistic by FISTA",
    )
    config_lib.drop(c, "data.path")  # not read: bundled data sets
    c.data.name = "digits"  # yeast (multi-label) | digits (multi-class)
    # jaxdl.multitask.multilabel.MultiLabelMLP / IndependentMLP (model.sharing; the task builds it,
    # not jaxdl.models)
    c.model.name = "multilabel_mlp"
    # hidden widths (() = linear: multinomial vs one-vs-rest logistic regression)
    c.model.hidden = ()
    c.model.sharing = (
        "shared"  # shared: one network, one output per class | independent: one per class
    )
    c.model.loss = (
        "softmax"  # softmax: cross-entropy over classes | sigmoid: BCE per class (one-vs-rest)
    )
    c.opt.name = "adam"
    c.opt.lr = 1e-2
    c.opt.weight_decay = 1e-4  # L2
    c.train.steps = 1500
    c.train.batch_size = 64
    c.train.log_every = 250
    c.train.eval_every = 500
    c.checkpoint.every_steps = 500
    c.baseline = multilabel.baseline_config(tiny=variant == "tiny")  # one-vs-rest logistic by FISTA
    config_lib.sweepable(c, "model.sharing", "model.loss")
    c.sweep.model.loss = ("softmax", "sigmoid")  # not traced: runs one after another
    c.sweep.seed = (0, 1, 2)  # the initialisation and the train/test split (data.split_seed + seed)
    if variant == "tiny":
        c.sweep.seed = (0, 1)
        c.train.steps = 40
        c.train.log_every = 20
        c.train.eval_every = 40
        c.checkpoint.every_steps = 20
    return c
