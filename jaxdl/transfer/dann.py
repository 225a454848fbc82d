"""Domain-adversarial neural networks (Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette,
Marchand & Lempitsky 2016, JMLR 17, "Domain-Adversarial Training of Neural Networks").

A feature extractor G_f, a label predictor G_y on the features and a domain classifier G_d on the
*reversed* features (``jaxdl.nn.gradient_reversal``). Minimising ``L_y + L_d`` over all
parameters then realises the saddle point of Eq. (18)-(19): G_y and G_d descend their losses
while G_f descends ``L_y - lambda L_d``. lambda enters ``DANN.__call__`` as an array argument, so a
step can feed it from a schedule of the step count and a sweep can vmap it.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp
import optax

from jaxdl.models import common
from jaxdl.nn import pooling
from jaxdl.nn.gradient_reversal import gradient_reversal


def grl_lambda(p, gamma: float = 10.0):
    """The paper's adaptation factor ``lambda_p = 2 / (1 + exp(-gamma p)) - 1`` (Sec. 5.2.2).

    Args:
      p: training progress in [0, 1] (scalar or array).
      gamma: steepness, 10 in the paper.

    Returns:
      lambda_p, same shape as p (0 at p = 0, -> 1 as p -> 1).
    """
    return 2.0 / (1.0 + jnp.exp(-gamma * jnp.asarray(p, jnp.float32))) - 1.0


def annealed_lr(p, lr0: float = 0.01, alpha: float = 10.0, beta: float = 0.75):
    """The paper's learning rate ``mu_p = mu_0 / (1 + alpha p)^beta`` (Sec. 5.2.2).

    Args:
      p: training progress in [0, 1].
      lr0, alpha, beta: 0.01, 10 and 0.75 in the paper.

    Returns:
      mu_p, same shape as p.
    """
    return lr0 / (1.0 + alpha * jnp.asarray(p, jnp.float32)) ** beta


def _progress(count, total_steps: int):
    return jnp.clip(jnp.asarray(count, jnp.float32) / total_steps, 0.0, 1.0)


def lambda_schedule(total_steps: int, gamma: float = 10.0) -> Callable:
    """Optax-style schedule ``count -> lambda_p`` with ``p = count / total_steps`` (clipped to 1).

    Args:
      total_steps: training steps over which p goes from 0 to 1.
      gamma: steepness of Ganin & Lempitsky's ``lambda_p = 2 / (1 + exp(-gamma p)) - 1``.

    Returns:
      A function of the step count giving the gradient-reversal weight, rising from 0 to ~1.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}.")
    return lambda count: grl_lambda(_progress(count, total_steps), gamma)


def lr_schedule(
    total_steps: int, lr0: float = 0.01, alpha: float = 10.0, beta: float = 0.75
) -> optax.Schedule:
    """Optax schedule ``count -> lr0 / (1 + alpha p)^beta`` (Ganin & Lempitsky 2015).

    ``p = count / total_steps``.

    Args:
      total_steps: training steps over which p goes from 0 to 1.
      lr0: the initial learning rate.
      alpha, beta: the annealing constants (the paper's 10 and 0.75).

    Returns:
      An ``optax.Schedule``; e.g. ``optax.sgd(lr_schedule(T), 0.9)``.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}.")
    return lambda count: annealed_lr(_progress(count, total_steps), lr0, alpha, beta)


class FeatureExtractor(nn.Module):
    """G_f: optional conv blocks (conv 5x5, ReLU, 2x2 max-pool: the paper's MNIST net), then Dense.

    Attributes:
      conv_features: channels of the conv blocks; used only for image inputs ``(B, H, W, C)``.
      hidden: widths of the Dense + ReLU layers after flattening.
      conv: the convolution layer (nn.Conv's signature).
    """

    conv_features: Sequence[int] = ()
    hidden: Sequence[int] = (128,)
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x):
        """Maps ``(B, H, W, C)`` or ``(B, D)`` inputs to features ``(B, hidden[-1])``."""
        if x.ndim == 4:
            for i, c in enumerate(self.conv_features):
                x = nn.relu(self.conv(c, (5, 5), padding="SAME", name=f"conv_{i}")(x))
                x = pooling.max_pool(x, 2)
        x = x.reshape((x.shape[0], -1))
        for i, h in enumerate(self.hidden):
            x = nn.relu(nn.Dense(h, name=f"dense_{i}")(x))
        return x


class LabelPredictor(nn.Module):
    """G_y: Dense + ReLU hidden layers, then ``num_classes`` logits."""

    num_classes: int
    hidden: Sequence[int] = ()

    @nn.compact
    def __call__(self, f):
        """Maps features ``(B, D)`` to class logits ``(B, num_classes)``."""
        for i, h in enumerate(self.hidden):
            f = nn.relu(nn.Dense(h, name=f"dense_{i}")(f))
        return nn.Dense(self.num_classes, name="head")(f)


class DomainClassifier(nn.Module):
    """G_d: Dense + ReLU hidden layers, then one logit of "target domain"."""

    hidden: Sequence[int] = (100,)

    @nn.compact
    def __call__(self, f):
        """Maps features ``(B, D)`` to domain logits ``(B,)``."""
        for i, h in enumerate(self.hidden):
            f = nn.relu(nn.Dense(h, name=f"dense_{i}")(f))
        return nn.Dense(1, name="head")(f)[:, 0]


class DANN(nn.Module):
    """The three-part DANN network; ``__call__(x, lam)`` returns class and domain logits.

    Attributes:
      num_classes: classes of the label predictor.
      conv_features, feature_hidden: the feature extractor (see ``FeatureExtractor``).
      label_hidden: hidden widths of the label predictor.
      domain_hidden: hidden widths of the domain classifier.
      conv: the convolution layer of the feature extractor (nn.Conv's signature).
    """

    num_classes: int = common.NUM_CLASSES
    conv_features: Sequence[int] = ()
    feature_hidden: Sequence[int] = (128,)
    label_hidden: Sequence[int] = ()
    domain_hidden: Sequence[int] = (100,)
    conv: common.ModuleDef = nn.Conv

    @nn.compact
    def __call__(self, x, lam=1.0, train: bool = False):
        """Forward pass.

        Args:
          x: ``(B, H, W, C)`` images or ``(B, D)`` vectors (source and target rows together).
          lam: scalar lambda of the gradient reversal (may be traced: ``lambda_schedule``).
          train: unused (no dropout or batch norm); every model takes it.

        Returns:
          ``(class_logits (B, num_classes), domain_logits (B,))``.
        """
        common.check_num_classes("DANN", self.num_classes)
        features = FeatureExtractor(
            self.conv_features, self.feature_hidden, self.conv, name="features"
        )
        f = features(x)
        class_logits = LabelPredictor(self.num_classes, self.label_hidden, name="label")(f)
        domain_logits = DomainClassifier(self.domain_hidden, name="domain")(
            gradient_reversal(f, lam)
        )
        return class_logits, domain_logits


def dann_loss(class_logits, labels, domain_logits, domain_labels, label_mask=None):
    """The DANN objective ``L_y + L_d`` (the reversal layer supplies the -lambda; Eq. (18)-(19)).

    Args:
      class_logits: ``(B, C)`` label-predictor logits.
      labels: ``(B,)`` int labels (rows with ``label_mask == 0`` are ignored; fill them with 0).
      domain_logits: ``(B,)`` domain-classifier logits.
      domain_labels: ``(B,)`` 0 for source rows, 1 for target rows.
      label_mask: ``(B,)`` 1 where the label is used (labelled source rows); default
        ``1 - domain_labels``.

    Returns:
      ``(loss, metrics)`` with metrics ``class_loss``, ``domain_loss``, ``domain_accuracy``.
    """
    domain_labels = jnp.asarray(domain_labels, jnp.float32)
    if label_mask is None:
        label_mask = 1.0 - domain_labels
    label_mask = jnp.asarray(label_mask, jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(class_logits, labels)
    class_loss = jnp.sum(label_mask * ce) / jnp.maximum(jnp.sum(label_mask), 1.0)
    domain_loss = jnp.mean(optax.sigmoid_binary_cross_entropy(domain_logits, domain_labels))
    domain_accuracy = jnp.mean((domain_logits > 0).astype(jnp.float32) == domain_labels)
    metrics = {
        "class_loss": class_loss,
        "domain_loss": domain_loss,
        "domain_accuracy": domain_accuracy,
    }
    return class_loss + domain_loss, metrics
