"""Auto-encoders (dense, convolutional, stacked), denoising corruption, a linear probe of codes.

An auto-encoder maps x to a bottleneck code h = f(x) and back to a reconstruction x_hat = g(h),
trained to minimise ||x_hat - x||^2. The denoising auto-encoder (Vincent et al. 2008) feeds a
corrupted input instead and still reconstructs the clean one; the lecture's additive noise is
X = X' + noise with X' the clean input, and masking noise forces a random fraction of the inputs
to 0. Corruption is applied only with `train=True` and draws from the "noise" rng stream; the noise
level may be a traced scalar, so a sweep can `vmap` over it. Stacked auto-encoders are pre-trained
greedily, layer k on the codes of layers < k (Bengio et al. 2007; Vincent et al. 2010), then
fine-tuned whole; the training itself is the shared loop's (``jaxdl.tasks.stacked_ae``).
"""

import functools
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.models import common

Array = jax.Array
NOISES = ("none", "gaussian", "masking")


def gaussian_noise(key: Array, x: Array, std) -> Array:
    """Additive Gaussian corruption X = X' + noise, noise ~ N(0, std^2) per entry.

    Args:
      key: PRNG key.
      x: clean input X', any shape.
      std: noise standard deviation (Python float or traced scalar).

    Returns:
      The corrupted X, shape of `x`.
    """
    return x + jnp.asarray(std, x.dtype) * jax.random.normal(key, x.shape, x.dtype)


def masking_noise(key: Array, x: Array, fraction) -> Array:
    """Masking corruption: each entry independently forced to 0 with probability `fraction`.

    Vincent et al. 2008, Sec. 2.3 (here a Bernoulli mask, so the dropped fraction is `fraction` in
    expectation and `fraction` may be traced).

    Args:
      key: PRNG key.
      x: clean input, any shape.
      fraction: probability of dropping an entry, in [0, 1] (Python float or traced scalar).

    Returns:
      `x` with the dropped entries set to 0.
    """
    keep = jax.random.uniform(key, x.shape) >= fraction
    return jnp.where(keep, x, jnp.zeros_like(x))


def corrupt(key: Array, x: Array, noise: str, level) -> Array:
    """Applies a corruption: "none", "gaussian" (std `level`) or "masking" (fraction `level`)."""
    if noise == "none":
        return x
    if noise == "gaussian":
        return gaussian_noise(key, x, level)
    if noise == "masking":
        return masking_noise(key, x, level)
    raise ValueError(f"unknown noise {noise!r}; accepted: {NOISES}.")


def reconstruction_error(x_hat: Array, x: Array) -> Array:
    """Mean squared reconstruction error ||x_hat - x||^2 / (entries), a scalar."""
    return jnp.mean(jnp.square(x_hat - x))


class _Reconstructor(nn.Module):
    """Shared forward pass of the auto-encoders: corrupt (training only), encode, decode.

    Attributes:
      noise: "none" (plain AE), "gaussian" or "masking" (denoising AE).
      noise_level: default std (gaussian) or drop fraction (masking); a call may override it.
    """

    noise: str = "none"
    noise_level: float = 0.0

    def __call__(self, x: Array, train: bool = False, noise_level: Optional[Array] = None) -> Array:
        """Reconstruction of `x` (same shape); corrupts the input first only when `train` is True.

        Args:
          x: (B, ...) input batch.
          train: whether to apply the corruption (needs rngs={"noise": key} when noise != "none").
          noise_level: optional (traced) override of `self.noise_level`.

        Returns:
          x_hat, shape of `x`.
        """
        if self.noise not in NOISES:
            raise ValueError(
                f"{type(self).__name__}: unknown noise {self.noise!r}; accepted: {NOISES}."
            )
        if train and self.noise != "none":
            level = self.noise_level if noise_level is None else noise_level
            x = corrupt(self.make_rng("noise"), x, self.noise, level)
        return self.decode(self.encode(x)).reshape(x.shape)


class AutoEncoder(_Reconstructor):
    """Dense auto-encoder with a bottleneck: ReLU hidden layers, a linear code, sigmoid output.

    Attributes:
      input_shape: shape of one example (e.g. (8, 8, 1) for digits, (64,) for vectors).
      hidden: encoder hidden widths (the decoder mirrors them).
      latent_dim: bottleneck width.
    """

    input_shape: Sequence[int] = (8, 8, 1)
    hidden: Sequence[int] = (64,)
    latent_dim: int = 16

    def setup(self):
        self.encoder = [nn.Dense(w) for w in self.hidden] + [nn.Dense(self.latent_dim)]
        self.decoder = [nn.Dense(w) for w in reversed(self.hidden)] + [
            nn.Dense(int(np.prod(self.input_shape)))
        ]

    def encode(self, x: Array) -> Array:
        """Args: x (B, *input_shape). Returns: codes h (B, latent_dim)."""
        h = x.reshape(x.shape[0], -1)
        for layer in self.encoder[:-1]:
            h = nn.relu(layer(h))
        return self.encoder[-1](h)

    def decode(self, h: Array) -> Array:
        """Args: h (B, latent_dim). Returns: x_hat (B, *input_shape) in (0, 1)."""
        for layer in self.decoder[:-1]:
            h = nn.relu(layer(h))
        return nn.sigmoid(self.decoder[-1](h)).reshape((h.shape[0],) + tuple(self.input_shape))


class ConvAutoEncoder(_Reconstructor):
    """Convolutional auto-encoder (NHWC): stride-2 convs, a dense code, transposed-conv decoder.

    Attributes:
      input_shape: (H, W, C) of one example; H and W divisible by 2 ** len(channels).
      channels: encoder conv widths, each halving H and W (the decoder mirrors them).
      latent_dim: bottleneck width.
      conv: the convolution layer (nn.Conv's signature).
    """

    input_shape: Sequence[int] = (8, 8, 1)
    channels: Sequence[int] = (16, 32)
    latent_dim: int = 16
    conv: common.ModuleDef = nn.Conv

    def setup(self):
        height, width, c_in = self.input_shape
        factor = 2 ** len(self.channels)
        if height % factor or width % factor:
            raise ValueError(
                f"ConvAutoEncoder: input_shape {tuple(self.input_shape)} needs H and W "
                f"divisible by {factor} (2 ** len(channels))."
            )
        self.code_shape = (height // factor, width // factor, self.channels[-1])
        self.encoder = [self.conv(c, (3, 3), strides=(2, 2)) for c in self.channels]
        self.to_code = nn.Dense(self.latent_dim)
        self.from_code = nn.Dense(int(np.prod(self.code_shape)))
        outs = tuple(self.channels[-2::-1]) + (c_in,)
        self.decoder = [nn.ConvTranspose(c, (3, 3), strides=(2, 2)) for c in outs]

    def encode(self, x: Array) -> Array:
        """Args: x (B, H, W, C). Returns: codes h (B, latent_dim)."""
        for conv in self.encoder:
            x = nn.relu(conv(x))
        return self.to_code(x.reshape(x.shape[0], -1))

    def decode(self, h: Array) -> Array:
        """Args: h (B, latent_dim). Returns: x_hat (B, H, W, C) in (0, 1)."""
        y = nn.relu(self.from_code(h)).reshape((h.shape[0],) + self.code_shape)
        for deconv in self.decoder[:-1]:
            y = nn.relu(deconv(y))
        return nn.sigmoid(self.decoder[-1](y))


class StackedAutoEncoder(_Reconstructor):
    """Stack of sigmoid auto-encoder layers: layer k maps d_k -> d_{k+1} (enc_k) and back (dec_k).

    `encode(x, depth=k)` gives the codes of layers < k, which greedy pre-training
    (`jaxdl.tasks.stacked_ae.layer_problem`) uses as layer k's training data; the whole stack is
    x -> enc_0..enc_{K-1} -> dec_{K-1}..dec_0.

    Attributes:
      input_dim: d_0, the flattened input width.
      layer_sizes: (d_1, ..., d_K), the code widths of the K layers.
    """

    input_dim: int = 64
    layer_sizes: Sequence[int] = (32, 16)

    def setup(self):
        dims = (self.input_dim,) + tuple(self.layer_sizes)
        self.enc = [nn.Dense(d) for d in dims[1:]]
        self.dec = [nn.Dense(d) for d in dims[:-1]]

    def encode(self, x: Array, depth: Optional[int] = None) -> Array:
        """Args: x (B, ...) -> (B, d_0); depth: layers to apply (default all).

        Returns (B, d_depth).
        """
        h = x.reshape(x.shape[0], -1)
        for layer in self.enc[: len(self.enc) if depth is None else depth]:
            h = nn.sigmoid(layer(h))
        return h

    def decode(self, h: Array, depth: Optional[int] = None) -> Array:
        """Args: h (B, d_depth); depth: layers to undo (default all). Returns (B, d_0)."""
        for layer in reversed(self.dec[: len(self.dec) if depth is None else depth]):
            h = nn.sigmoid(layer(h))
        return h

    def reconstruct_layer(self, h: Array, k: int) -> Array:
        """Layer k alone as an AE: sigmoid(dec_k(sigmoid(enc_k(h)))); h (B, d_k) -> (B, d_k)."""
        return nn.sigmoid(self.dec[k](nn.sigmoid(self.enc[k](h))))


def linear_probe(train_codes, train_labels, test_codes, test_labels, C: float = 1.0) -> float:
    """Test accuracy of a logistic-regression probe (scikit-learn) fitted on auto-encoder codes.

    Args:
      train_codes: (N, d) codes of the training inputs.
      train_labels: (N,) integer classes.
      test_codes: (M, d) codes of the test inputs.
      test_labels: (M,) integer classes.
      C: inverse L2 strength of the logistic regression.

    Returns:
      Accuracy on the test codes, a float in [0, 1].
    """
    from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top

    probe = LogisticRegression(C=C, max_iter=2000)
    probe.fit(np.asarray(train_codes), np.asarray(train_labels))
    return float(probe.score(np.asarray(test_codes), np.asarray(test_labels)))


MODELS = {
    "autoencoder": AutoEncoder,
    "conv_autoencoder": ConvAutoEncoder,
    "stacked_autoencoder": StackedAutoEncoder,
    "denoising_autoencoder": functools.partial(AutoEncoder, noise="gaussian", noise_level=0.3),
}
