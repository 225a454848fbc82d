"""On-device, jit-able image augmentation: random crop with zero padding and horizontal flip.

Each example in the batch gets its own random crop offset and flip, drawn from the key, so the
same key always gives the same augmented batch (data order stays a pure function of the seed).
"""

import jax
import jax.numpy as jnp


def _check_nhwc(x, fn):
    if x.ndim != 4:
        raise ValueError(f"{fn} expects an NHWC batch of rank 4, got shape {x.shape}")


def random_crop(key: jax.Array, x: jax.Array, padding: int = 4) -> jax.Array:
    """Zero-pads every image by ``padding`` and crops a random window of the original size.

    Args:
      key: PRNG key (jax.random.key).
      x: images, shape (N, H, W, C).
      padding: zero padding on each side of H and W; offsets are uniform in [0, 2 * padding].

    Returns:
      Cropped images, shape (N, H, W, C).
    """
    _check_nhwc(x, "random_crop")
    if padding < 0:
        raise ValueError(f"random_crop: padding must be >= 0, got {padding}")
    if padding == 0:
        return x
    n, h, w, c = x.shape
    x_pad = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    offsets = jax.random.randint(key, (n, 2), 0, 2 * padding + 1)

    def crop(image, offset):
        return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

    return jax.vmap(crop)(x_pad, offsets)


def random_flip(key: jax.Array, x: jax.Array, prob: float = 0.5) -> jax.Array:
    """Flips each image left-right with probability ``prob``.

    Args:
      key: PRNG key.
      x: images, shape (N, H, W, C).
      prob: probability of flipping each example.

    Returns:
      Images, shape (N, H, W, C).
    """
    _check_nhwc(x, "random_flip")
    flip = jax.random.bernoulli(key, prob, (x.shape[0],))
    return jnp.where(flip[:, None, None, None], x[:, :, ::-1, :], x)


def crop_and_flip(key: jax.Array, x: jax.Array, padding: int = 4, flip: bool = True) -> jax.Array:
    """The standard CIFAR augmentation: random padded crop, then random horizontal flip.

    Args:
      key: PRNG key.
      x: images, shape (N, H, W, C).
      padding: zero padding for the crop (0 disables cropping).
      flip: whether to apply the random horizontal flip.

    Returns:
      Augmented images, shape (N, H, W, C).
    """
    key_crop, key_flip = jax.random.split(key)
    x = random_crop(key_crop, x, padding)
    return random_flip(key_flip, x) if flip else x
