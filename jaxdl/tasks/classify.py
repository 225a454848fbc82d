"""Supervised classification: any registered model on any classification data set."""

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxdl import data as data_lib
from jaxdl import models
from jaxdl.nn import augment as augment_lib
from jaxdl.train import optim, report, sweep
from jaxdl.train.loop import total_steps
from jaxdl.train.problem import Problem


AUGMENTATIONS = ("none", "crop_flip")


def model_kwargs(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The model's constructor arguments: ``config.model`` without ``name``."""
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in config.model.to_dict().items() if k != "name"}


def apply_model(model, params, model_state, x, train, rng=None):
    """Runs ``model`` and returns (logits, new model state); state collections are updated in training."""
    variables = {"params": params, **model_state}
    rngs = {"dropout": rng} if rng is not None else None
    if train and model_state:
        logits, updates = model.apply(variables, x, train=True, rngs=rngs, mutable=list(model_state))
        return logits, {**model_state, **updates}
    return model.apply(variables, x, train=train, rngs=rngs), model_state


def make_problem(config: ml_collections.ConfigDict) -> Problem:
    """Data, model, loss and optimizer of a classification experiment."""
    ds = data_lib.load(config.data)
    model = models.get(config.model.name, num_classes=ds.num_classes, **model_kwargs(config))
    example = jnp.zeros((1,) + ds.input_shape, jnp.float32)

    def init(key, hparams):
        k_params, k_dropout = jax.random.split(key)
        return model.init({"params": k_params, "dropout": k_dropout}, example, train=False)

    augment = config.data.get("augment", "none")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown data.augment {augment!r}; choose one of {', '.join(AUGMENTATIONS)}")

    def loss(params, model_state, batch, rng, hparams):
        x = batch["x"]
        if augment == "crop_flip":  # on device, per example, keyed by the step's rng
            rng, k_aug = jax.random.split(rng)
            x = augment_lib.crop_and_flip(k_aug, x, padding=config.data.get("crop_padding", 4), flip=config.data.get("flip", True))
        logits, model_state = apply_model(model, params, model_state, x, True, rng)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
        return ce, ({"accuracy": accuracy}, model_state)

    def evaluate(params, model_state, batch, hparams):
        logits, _ = apply_model(model, params, model_state, batch["x"], False)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"])
        return {"loss": ce.sum(), "accuracy": jnp.sum(jnp.argmax(logits, -1) == batch["y"]), "count": jnp.asarray(batch["y"].shape[0])}

    tx = optim.make_optimizer(config.opt, total_steps(config.train, len(ds.train["y"])))
    return Problem(init=init, loss=loss, evaluate=evaluate, tx=tx, train_data=ds.train, test_data=ds.test)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains (or resumes) the classifier, plots its curves, returns the results."""
    result = sweep.train(make_problem, config, workdir)
    if len(result.fits) == 1 and jax.process_index() == 0:  # one metrics.jsonl: a single run or a vmapped sweep
        report.plot_curves(workdir)
    return report.results_dict(config.experiment, config, result)
