"""Fine-tuning a convnet: pre-trained on MNIST-5k in the optdigits form of scikit-learn's digits
(8x8, jaxdl.data.domains.load_optmnist), re-headed and fine-tuned on 10 labels per class of the
digits, with 0..4 bottom layers (conv_0, conv_1, conv_2, dense_0) frozen, from the pre-trained
body or from a random one. Frozen random layers are the control the lecture's claim is tested
against: frozen pre-trained features should beat frozen random ones. All 2 x 5 settings x 3
seeds train in one sweep. Writes table.txt (mean ± std over seeds per setting) and
accuracy_vs_frozen_layers.png.

Run:
  python launch.py --config=experiments/transfer_finetune.py --workdir=/tmp/transfer_finetune
  python launch.py --config=experiments/transfer_finetune.py:tiny  # seconds; digits 0-4 -> 5-9
  # the MLP of the earlier version (MNIST-5k at 16x16 -> digits at 16x16):
  python launch.py --config=experiments/transfer_finetune.py --config.model.name=net2net_mlp \\
      --config.model.conv_features='()' --config.model.features='(256,128)' \\
      --config.data.source=mnist5k --config.data.size=16 \\
      --config.sweep.transfer.frozen_layers='(0,1,2)'
  # re-use the source network of an earlier run instead of pre-training again:
  python launch.py --config=experiments/transfer_finetune.py \\
      --config.transfer.source_checkpoint=/tmp/transfer_finetune/source/checkpoints \\
      --workdir=/tmp/ft2
  # smaller learning rate for the copied layers instead of freezing them:
  python launch.py --config=experiments/transfer_finetune.py \\
      --config.sweep.transfer.frozen_layers='()' \\
      --config.sweep.transfer.body_lr_scale='(1.0,0.1,0.01)'
"""

import ml_collections

from jaxdl.train import config as config_lib


def get_config(variant=None):
    """The experiment's config; ``variant="tiny"`` shrinks it for tests."""
    config_lib.check_variant("transfer_finetune", variant)
    c = config_lib.base(
        "transfer_finetune",
        "finetune",
        "Fine-tuning a convnet optmnist -> digits (10/class): frozen layers, pre-trained vs random",
    )
    config_lib.drop(c, "data.path")  # not read: bundled domains
    c.data.name = "source_target"  # not read: the domains are data.source / data.target
    c.data.source = "optmnist"  # pre-training domain (jaxdl.tasks.finetune.domain_names())
    c.data.target = "digits"  # fine-tuning domain
    c.data.size = 8  # both domains resized to size x size (8: the digits' own form)
    c.data.source_classes = ()  # kept source classes (empty = all)
    c.data.target_classes = ()  # kept target classes (empty = all)
    c.data.target_train_per_class = 10  # labelled target examples per class (0 = the whole split)
    c.model.name = "transfer_cnn"  # transfer_cnn | net2net_mlp (then conv_features='()')
    c.model.conv_features = (32, 32, 64)  # conv layers conv_i (3x3, ReLU)
    c.model.pool_after = (1, 2)  # conv layers followed by a 2x2 max pool
    c.model.features = (128,)  # hidden dense layers dense_i
    c.opt.name = "adam"
    c.opt.lr = 1e-3  # fine-tuning learning rate
    c.train.steps = 300
    c.train.batch_size = 32
    c.train.log_every = 100
    c.train.eval_every = 300
    c.checkpoint.every_steps = 300

    c.transfer = ml_collections.ConfigDict()
    c.transfer.source_checkpoint = (
        ""  # '' = pre-train under workdir/source; else a checkpoint dir to load
    )
    c.transfer.source_steps = 1500  # pre-training steps
    c.transfer.source_lr = 1e-3  # pre-training learning rate
    c.transfer.source_seed = 0  # pre-training seed (one source network for every run)
    c.transfer.pretrained = 1.0  # 1 = start from the source body, 0 = random init (traced)
    c.transfer.frozen_layers = 0  # bottom layers frozen (traced: the mask is data)
    c.transfer.body_lr_scale = 1.0  # learning-rate factor of the unfrozen copied layers (traced)
    c.transfer.freeze = ()  # layer names frozen with optax.multi_transform (fixed for the run)
    config_lib.sweepable(
        c, "transfer.pretrained", "transfer.frozen_layers", "transfer.body_lr_scale"
    )
    c.sweep.seed = (0, 1, 2)
    c.sweep.transfer.pretrained = (0.0, 1.0)
    c.sweep.transfer.frozen_layers = (0, 1, 2, 3, 4)
    if variant == "tiny":
        c.tensorboard = False
        c.data.source = "digits"
        c.data.target = "digits"
        c.data.size = 8
        c.data.source_classes = (0, 1, 2, 3, 4)
        c.data.target_classes = (5, 6, 7, 8, 9)
        c.data.target_train_per_class = 5
        c.model.conv_features = (8,)
        c.model.pool_after = (0,)
        c.model.features = (16,)
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
