"""Recurrent networks built from :mod:`jaxdl.nn.recurrent`: sequence classifier, regressor,
per-step tagger and language model.

All take batch-major inputs (B, T, D) (token ids (B, T) for the language model) and optional
``lengths (B,)`` for variable-length batches. ``cell`` is "rnn", "lstm" or "gru".
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn import recurrent

Array = jax.Array


def _last_state(carries: tuple[Any, ...], bidirectional: bool) -> Array:
    """Top layer's hidden state at each sequence's last valid step (both directions if bi)."""
    top = carries[-1]
    if bidirectional:
        return jnp.concatenate([recurrent.carry_output(c) for c in top], axis=-1)
    return recurrent.carry_output(top)


def _mean_over_time(h_BTH: Array, lengths: Array | None) -> Array:
    if lengths is None:
        return jnp.mean(h_BTH, axis=1)
    # Padded outputs are zero, so the sum only counts the valid steps.
    return jnp.sum(h_BTH, axis=1) / jnp.maximum(lengths, 1)[:, None].astype(h_BTH.dtype)


def _stack(module: nn.Module, bidirectional: bool) -> recurrent.StackedRNN:
    """The :class:`StackedRNN` of ``module``'s attributes, named "rnn" (inside a compact call)."""
    return recurrent.StackedRNN(
        module.features,
        module.num_layers,
        module.cell,
        bidirectional,
        module.dropout_rate,
        module.layer_kwargs,
        precompute_inputs=module.precompute_inputs,
        lstm_feature_major_above=module.lstm_feature_major_above,
        name="rnn",
    )


class _Encoder(nn.Module):
    """A :class:`StackedRNN` plus a pooled summary ("last" state or "mean" over valid steps)."""

    features: int
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = False
    dropout_rate: float = 0.0
    pooling: str = "last"
    layer_kwargs: Any = None
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None

    @nn.compact
    def __call__(self, x_BTD, lengths=None, train=False):
        if self.pooling not in ("last", "mean"):
            raise ValueError(f"pooling={self.pooling!r} is unknown; accepted: last, mean")
        carries, h_BTH = _stack(self, self.bidirectional)(x_BTD, lengths, train)
        if self.pooling == "last":
            return _last_state(carries, self.bidirectional), h_BTH
        return _mean_over_time(h_BTH, lengths), h_BTH


def _read_out(module, outputs, x_BTD, lengths, train):
    """The encoder summary of ``module``'s attributes and a linear head of ``outputs`` units.

    Called inside a compact ``__call__``, so "encoder" and "head" are that module's submodules.
    """
    summary, _ = _Encoder(
        module.features,
        module.num_layers,
        module.cell,
        module.bidirectional,
        module.dropout_rate,
        module.pooling,
        module.layer_kwargs,
        module.precompute_inputs,
        module.lstm_feature_major_above,
        name="encoder",
    )(x_BTD, lengths, train)
    return nn.Dense(outputs, name="head")(summary)


class SequenceClassifier(nn.Module):
    """Recurrent encoder + linear read-out of its summary: (B, T, D) -> logits (B, num_classes).

    Attributes:
      num_classes: number of output logits.
      features: hidden size of every recurrent layer.
      num_layers, cell, bidirectional, dropout_rate, layer_kwargs: as in ``StackedRNN``.
      pooling: "last" (state at each sequence's last valid step) or "mean" (over valid steps).
      precompute_inputs, lstm_feature_major_above: speed options of ``RNNLayer``.
    """

    num_classes: int = 10
    features: int = 64
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = False
    dropout_rate: float = 0.0
    pooling: str = "last"
    layer_kwargs: Any = None
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None

    @nn.compact
    def __call__(self, x_BTD: Array, lengths: Array | None = None, train: bool = False) -> Array:
        """Args: x_BTD (B, T, D); lengths (B,) or None; train enables dropout.

        Returns logits (B, num_classes).
        """
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {self.num_classes!r}.")
        return _read_out(self, self.num_classes, x_BTD, lengths, train)


class SequenceRegressor(nn.Module):
    """Recurrent encoder + linear read-out: (B, T, D) -> (B, out_features), e.g. the adding
    problem (one output) or next-value forecasting of a time series (sunspots).

    Attributes: as :class:`SequenceClassifier`, with ``out_features`` outputs instead of classes.
    """

    out_features: int = 1
    features: int = 64
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = False
    dropout_rate: float = 0.0
    pooling: str = "last"
    layer_kwargs: Any = None
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None

    @nn.compact
    def __call__(self, x_BTD: Array, lengths: Array | None = None, train: bool = False) -> Array:
        """Args: x_BTD (B, T, D); lengths (B,) or None; train enables dropout.

        Returns (B, out_features).
        """
        return _read_out(self, self.out_features, x_BTD, lengths, train)


class SequenceTagger(nn.Module):
    """Recurrent stack + a linear head at every step: (B, T, D) -> (B, T, num_outputs), e.g. the
    copy task (a symbol per step) or many-to-many forecasting. Padded steps output the bias only.

    Attributes:
      num_outputs: outputs per step.
      features, num_layers, cell, bidirectional, dropout_rate, layer_kwargs: as ``StackedRNN``.
      precompute_inputs, lstm_feature_major_above: speed options of ``RNNLayer``.
    """

    num_outputs: int
    features: int = 64
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = False
    dropout_rate: float = 0.0
    layer_kwargs: Any = None
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None

    @nn.compact
    def __call__(self, x_BTD: Array, lengths: Array | None = None, train: bool = False) -> Array:
        """Args: x_BTD (B, T, D); lengths (B,) or None; train enables dropout.

        Returns (B, T, num_outputs).
        """
        _, h_BTH = _stack(self, self.bidirectional)(x_BTD, lengths, train)
        return nn.Dense(self.num_outputs, name="head")(h_BTH)


class LanguageModel(nn.Module):
    """Token embedding + unidirectional recurrent stack + softmax head over the vocabulary
    (Mikolov et al. 2010 with LSTM / GRU cells): tokens (B, T) -> next-token logits (B, T, V).

    Attributes:
      vocab_size: V.
      embed_features: embedding size.
      features, num_layers, cell, dropout_rate, layer_kwargs: as ``StackedRNN``.
      precompute_inputs, lstm_feature_major_above: speed options of ``RNNLayer``.
    """

    vocab_size: int
    embed_features: int = 64
    features: int = 256
    num_layers: int = 1
    cell: str = "lstm"
    dropout_rate: float = 0.0
    layer_kwargs: Any = None
    precompute_inputs: bool = True
    lstm_feature_major_above: int | None = None

    @nn.compact
    def __call__(
        self, tokens_BT: Array, lengths: Array | None = None, train: bool = False
    ) -> Array:
        """Args: tokens_BT (B, T) ints; lengths (B,) or None; train enables dropout.

        Returns logits (B, T, vocab_size).
        """
        x_BTD = nn.Embed(self.vocab_size, self.embed_features, name="embed")(tokens_BT)
        _, h_BTH = _stack(self, False)(x_BTD, lengths, train)
        if self.dropout_rate > 0:
            h_BTH = nn.Dropout(self.dropout_rate)(h_BTH, deterministic=not train)
        return nn.Dense(self.vocab_size, name="head")(h_BTH)


MODELS = {
    # the cell as an argument (the sequence experiments' model.name, with model.cell swept)
    "sequence_classifier": SequenceClassifier,
    "sequence_regressor": SequenceRegressor,
    "rnn_classifier": functools.partial(SequenceClassifier, cell="rnn"),
    "lstm_classifier": functools.partial(SequenceClassifier, cell="lstm"),
    "gru_classifier": functools.partial(SequenceClassifier, cell="gru"),
    "rnn_regressor": functools.partial(SequenceRegressor, cell="rnn"),
    "lstm_regressor": functools.partial(SequenceRegressor, cell="lstm"),
    "gru_regressor": functools.partial(SequenceRegressor, cell="gru"),
    "rnn_tagger": functools.partial(SequenceTagger, cell="rnn"),
    "lstm_tagger": functools.partial(SequenceTagger, cell="lstm"),
    "gru_tagger": functools.partial(SequenceTagger, cell="gru"),
    "rnn_lm": functools.partial(LanguageModel, cell="rnn"),
    "lstm_lm": functools.partial(LanguageModel, cell="lstm"),
    "gru_lm": functools.partial(LanguageModel, cell="gru"),
}
