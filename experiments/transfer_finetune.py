"""Fine-tuning: an MLP pre-trained on MNIST-5k, re-headed and fine-tuned on 10 labels per class of
the 8x8 digits (both at 16x16), with 0, 1 or 2 bottom layers frozen, against the same network
trained from scratch. All 2 x 3 x 3 settings x seeds train as one vmapped program. Writes
table.txt (mean ± std over seeds per setting) and accuracy_vs_frozen_layers.png.

Run:
  python launch.py --config=experiments/transfer_finetune.py --workdir=/tmp/transfer_finetune
  python launch.py --config=experiments/transfer_finetune.py:tiny          # seconds; digits 0-4 -> 5-9
  # re-use the source network of an earlier run instead of pre-training again:
  python launch.py --config=experiments/transfer_finetune.py \
      --config.transfer.source_checkpoint=/tmp/transfer_finetune/source/checkpoints --workdir=/tmp/ft2
  # smaller learning rate for the copied layers instead of freezing them:
  python launch.py --config=experiments/transfer_finetune.py --config.sweep.transfer.frozen_layers='()' \
      --config.sweep.transfer.body_lr_scale='(1.0,0.1,0.01)'
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("transfer_finetune", variant)
    c = config_lib.base("transfer_finetune", "finetune", "Fine-tuning MNIST-5k -> digits (10/class): frozen layers vs scratch, one program")
    config_lib.drop(c, "data.path")  # not read: bundled domains
    c.data.name = "source_target"  # not read: the domains are data.source / data.target
    c.data.source = "mnist5k"  # pre-training domain (jaxdl.tasks.finetune.domain_names())
    c.data.target = "digits"  # fine-tuning domain
    c.data.size = 16  # both domains resized to size x size
    c.data.source_classes = ()  # kept source classes (empty = all)
    c.data.target_classes = ()  # kept target classes (empty = all)
    c.data.target_train_per_class = 10  # labelled target examples per class (0 = the whole split)
    c.model.name = "net2net_mlp"  # jaxdl.models.transfer_nets.MLP: dense_0.., head
    c.model.features = (256, 128)  # hidden widths
    c.opt.name = "adam"
    c.opt.lr = 1e-3  # fine-tuning learning rate
    c.train.steps = 300
    c.train.batch_size = 32
    c.train.log_every = 100
    c.train.eval_every = 300
    c.checkpoint.every_steps = 300

    c.transfer = ml_collections.ConfigDict()
    c.transfer.source_checkpoint = ""  # '' = pre-train under workdir/source; else a checkpoint dir to load
    c.transfer.source_steps = 1500  # pre-training steps
    c.transfer.source_lr = 1e-3  # pre-training learning rate
    c.transfer.source_seed = 0  # pre-training seed (one source network for every run)
    c.transfer.pretrained = 1.0  # 1 = start from the source body, 0 = random init (traced)
    c.transfer.frozen_layers = 0  # bottom layers frozen (traced: the mask is data)
    c.transfer.body_lr_scale = 1.0  # learning-rate factor of the unfrozen copied layers (traced)
    c.transfer.freeze = ()  # layer names frozen with optax.multi_transform (fixed for the run)
    config_lib.sweepable(c, "transfer.pretrained", "transfer.frozen_layers", "transfer.body_lr_scale")
    c.sweep.seed = (0, 1, 2)
    c.sweep.transfer.pretrained = (0.0, 1.0)
    c.sweep.transfer.frozen_layers = (0, 1, 2)
    if variant == "tiny":
        c.tensorboard = False
        c.data.source = "digits"
        c.data.target = "digits"
        c.data.size = 8
        c.data.source_classes = (0, 1, 2, 3, 4)
        c.data.target_classes = (5, 6, 7, 8, 9)
        c.data.target_train_per_class = 5
        c.model.features = (16, 16)
        c.transfer.source_steps = 40
        c.transfer.source_lr = 1e-2
        c.opt.lr = 1e-2
        c.train.steps = 20
        c.train.batch_size = 16
        c.train.log_every = 10
        c.train.eval_every = 20
        c.checkpoint.every_steps = 10
        c.sweep.seed = (0,)
        c.sweep.transfer.frozen_layers = (0, 2)
    return c
