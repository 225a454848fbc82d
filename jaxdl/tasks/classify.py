"""Supervised classification: any registered model on any classification data set."""

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.data import pipeline
from jaxdl.nn import augment as augment_lib
from jaxdl.train import loop, optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import Problem

AUGMENTATIONS = ("none", "crop_flip")
# the model is models.get(model.name, **model fields, **these arguments taken from the data), so
# --config.model.<field> can set any other argument of the model (jaxdl.train.config.model_fields)
TASK_MODEL_ARGUMENTS = ("num_classes",)


def fashion_resnet_config(
    experiment: str, description: str, tiny: bool
) -> ml_collections.ConfigDict:
    """The recipe the residual-network experiments share on Fashion-MNIST (digits if absent).

    SGD with momentum 0.9, weight decay 5e-4 and a cosine decay from 0.1 (the papers' CIFAR
    optimizer, shortened to a few CPU minutes); ``tiny`` shrinks the run for the tests. The
    experiment adds its model and its momentum kind (``opt.name``).
    """
    from jaxdl.train import config as config_lib  # pylint: disable=g-import-not-at-top

    c = config_lib.base(experiment, "classify", description)
    c.data.name = "fashion_mnist_or_digits"  # Fashion-MNIST 28x28 if installed, else digits 8x8
    c.data.augment = "none"  # none | crop_flip (random crop with zero padding + horizontal flip)
    c.data.crop_padding = 2  # pixels of zero padding before the random crop
    c.data.flip = True  # clothes are left-right symmetric
    c.opt.lr = 0.1  # the papers' initial rate for batch 128
    c.opt.momentum = 0.9
    c.opt.weight_decay = 5e-4  # L2 added to the gradient (ResNet's CIFAR runs: 1e-4 over 64k steps)
    c.opt.schedule = "cosine"
    c.train.steps = 200  # ~1/5 epoch of Fashion-MNIST: a few CPU minutes (raise it for accuracy)
    c.train.batch_size = 64
    c.train.log_every = 50  # steps per progress line / metrics row
    c.train.eval_every = 200  # the test set is 10,000 images: evaluate only at the end
    c.train.eval_batch_size = 1000
    c.checkpoint.every_steps = 100
    if tiny:
        c.data.name = "digits"
        c.train.steps = 10
        c.train.batch_size = 16
        c.train.log_every = 5
        c.train.eval_every = 10
        c.checkpoint.every_steps = 5
    return c


def cifar_config(experiment: str, description: str, tiny: bool) -> ml_collections.ConfigDict:
    """The fields the CIFAR recipes share (He et al. 2016, Zagoruyko & Komodakis 2016).

    CIFAR-10's binary release at ``data.path``; SGD with momentum 0.9, learning rate 0.1 with a
    step schedule (``opt.boundaries``: fractions of the run), batch 128, a random crop of the
    4-pixel zero-padded image and a horizontal flip; 3 seeds. The experiment adds its model,
    weight decay, momentum kind, schedule and length. ``tiny`` shrinks the run for the tests (on
    small files in the binary layout, e.g. ``jaxdl.data.cifar.write_random``).
    """
    from jaxdl.train import config as config_lib  # pylint: disable=g-import-not-at-top

    c = config_lib.base(experiment, "classify", description)
    c.data.name = "cifar10"  # cifar10 | cifar100 (binary releases) | image_folder
    c.data.path = ""  # the folder holding cifar-10-batches-bin/ (or that folder itself)
    c.data.cifar100_labels = "fine"  # fine | coarse (data.name=cifar100)
    c.data.image_size = 32  # image_folder: every image resized to this
    c.data.augment = "crop_flip"  # random crop of the zero-padded image + horizontal flip
    c.data.crop_padding = 4
    c.data.flip = True
    c.opt.name = "momentum"
    c.opt.lr = 0.1
    c.opt.momentum = 0.9
    c.opt.schedule = "step"
    c.opt.boundaries = (0.5, 0.75)  # fractions of the run where the rate drops
    c.opt.decay_factor = 0.1
    c.train.batch_size = 128
    c.train.log_every = 500
    c.train.eval_every = 4000
    c.train.eval_batch_size = 1000
    c.checkpoint.every_steps = 4000
    c.sweep.seed = (0, 1, 2)
    if tiny:
        c.train.batch_size = 16
        c.train.log_every = 5
        c.train.eval_every = 10
        c.train.eval_batch_size = 64
        c.checkpoint.every_steps = 5
        c.sweep.seed = (0,)
    return c


def model_kwargs(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The model's constructor arguments: ``config.model`` without ``name``.

    Raises a one-line ValueError for a field that the task sets from the data
    (``TASK_MODEL_ARGUMENTS``).
    """
    for field in TASK_MODEL_ARGUMENTS:
        if field in config.model:
            raise ValueError(
                f"model.{field} is set from the data by the {config.task} task; remove it "
                "from the config"
            )
    return {
        k: (tuple(v) if isinstance(v, list) else v)
        for k, v in config.model.to_dict().items()
        if k != "name"
    }


def apply_model(model, params, model_state, x, train, rng=None):
    """Runs ``model``: (logits, new model state); training updates the state collections."""
    variables = {"params": params, **model_state}
    rngs = {"dropout": rng} if rng is not None else None
    if train and model_state:
        logits, updates = model.apply(
            variables, x, train=True, rngs=rngs, mutable=list(model_state)
        )
        return logits, {**model_state, **updates}
    return model.apply(variables, x, train=train, rngs=rngs), model_state


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Data, model, loss and optimizer of a classification experiment.

    A training set over ``train.device_data_limit_mb`` streams through ``jaxdl.data.pipeline``:
    CIFAR files and image folders are then read on demand (never loaded whole, test set
    included), and ``data.augment`` runs on the host, in the pipeline, instead of on the device.
    """
    files = pipeline.file_sources(config.data)
    if files is not None and loop.over_device_limit(files.train_bytes, config.train):
        train, test, train_source, test_source = {}, {}, files.train, files.test
        num_classes, input_shape = files.num_classes, files.input_shape
    else:
        ds = data_lib.load(config.data)
        train, test, train_source, test_source = ds.train, ds.test, None, None
        num_classes, input_shape = ds.num_classes, ds.input_shape
        if loop.over_device_limit(sum(v.nbytes for v in train.values()), config.train):
            train, train_source = {}, pipeline.ArrayRecords(ds.train)
    model = models.get(config.model.name, num_classes=num_classes, **model_kwargs(config))
    example = jnp.zeros((1,) + tuple(input_shape), jnp.float32)

    def init(key, hparams):
        k_params, k_dropout = jax.random.split(key)
        return model.init({"params": k_params, "dropout": k_dropout}, example, train=False)

    augment = config.data.get("augment", "none")
    if augment not in AUGMENTATIONS:
        raise ValueError(
            f"unknown data.augment {augment!r}; choose one of {', '.join(AUGMENTATIONS)}"
        )
    padding, flip = config.data.get("crop_padding", 4), config.data.get("flip", True)
    streamed = train_source is not None  # then the pipeline augments, on the host

    def loss(params, model_state, batch, rng, hparams):
        x = batch["x"]
        if augment == "crop_flip" and not streamed:  # per example, keyed by the step's rng
            rng, k_aug = jax.random.split(rng)
            x = augment_lib.crop_and_flip(k_aug, x, padding=padding, flip=flip)
        logits, model_state = apply_model(model, params, model_state, x, True, rng)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
        return ce, ({"accuracy": accuracy}, model_state)

    def evaluate(params, model_state, batch, hparams):
        logits, _ = apply_model(model, params, model_state, batch["x"], False)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"])
        return {
            "loss": ce.sum(),
            "accuracy": jnp.sum(jnp.argmax(logits, -1) == batch["y"]),
            "count": jnp.asarray(batch["y"].shape[0]),
        }

    num_train = len(train_source) if streamed else len(train["y"])
    tx = optim.make_optimizer(config.opt, total_steps(config.train, num_train))
    return Problem(
        init=init,
        loss=loss,
        evaluate=evaluate,
        tx=tx,
        train_data=train,
        test_data=test,
        train_source=train_source,
        test_source=test_source,
        host_augment=(augment, padding, flip) if streamed else ("none", 0, False),
    )


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains (or resumes) the classifier, plots its curves, returns the results."""
    result = sweep.train(make_problem, config, workdir)
    if report.is_writer():  # a sequential sweep's runs each have a metrics.jsonl: plotted together
        report.plot_curves(workdir, run_dirs=result.run_dirs(workdir))
    return report.results_dict(config.experiment, config, result)
