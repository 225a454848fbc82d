"""Generated segmentation data: rectangles, circles and triangles on a noisy background.

Pure numpy and seeded: the same (n, size, seed) always gives the same arrays. Each image holds one
to three shapes of random size, position and colour (colour carries no class information, so a
model must use the outline); later shapes cover earlier ones in both image and mask.
"""

import numpy as np

CLASSES = ("background", "rectangle", "circle", "triangle")


def _shape_mask(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean (size, size) mask of one random shape of class ``kind`` (1, 2 or 3)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    r = rng.uniform(0.12, 0.3) * size
    cy, cx = rng.uniform(r, size - r, size=2)
    if kind == 1:  # axis-aligned rectangle with a random aspect ratio
        hy, hx = r * rng.uniform(0.5, 1.0, size=2)
        return (np.abs(yy - cy) <= hy) & (np.abs(xx - cx) <= hx)
    if kind == 2:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    # Upward triangle: below the apex, inside the two slanted edges.
    top, bottom = cy - r, cy + r
    half_width = (yy - top) / (bottom - top) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half_width)


def make_shapes(
    n: int, size: int = 32, seed: int = 0, max_shapes: int = 3, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Images of random shapes and their per-pixel class masks.

    Args:
      n: number of images.
      size: height and width in pixels (at least 8).
      seed: seed of numpy's random generator.
      max_shapes: each image has between 1 and ``max_shapes`` shapes.
      noise: standard deviation of the Gaussian background / pixel noise.

    Returns:
      images: float32 (n, size, size, 3), roughly in [0, 1].
      masks: int32 (n, size, size), 0 background, 1 rectangle, 2 circle, 3 triangle (``CLASSES``).
    """
    if n < 1 or size < 8 or max_shapes < 1:
        raise ValueError(
            "make_shapes: need n >= 1, size >= 8 and max_shapes >= 1, "
            f"got {n}, {size}, {max_shapes}"
        )
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), np.float32)
    masks = np.zeros((n, size, size), np.int32)
    for i in range(n):
        image = np.broadcast_to(rng.uniform(0.0, 0.3, size=3), (size, size, 3)).copy()
        for _ in range(rng.integers(1, max_shapes + 1)):
            kind = int(rng.integers(1, len(CLASSES)))
            inside = _shape_mask(kind, size, rng)
            image[inside] = rng.uniform(0.4, 1.0, size=3)
            masks[i][inside] = kind
        images[i] = image + rng.normal(0.0, noise, size=image.shape)
    return images, masks
