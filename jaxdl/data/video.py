"""Generated video: scikit-learn's 8x8 digits moving across a small frame in one of 4 directions.

Pure numpy and seeded. Each clip shows one digit sliding one pixel per frame to the right, left,
down or up. The middle frame (index ``frames // 2``) places the digit uniformly in one square that
is the same for every direction, so that frame alone says nothing about the motion; with an odd
number of frames the clips of opposite directions also cover the same positions, so the average
frame cannot tell right from left or up from down. Labels are returned separately (``digits``,
``directions``); ``combined_labels`` gives the 40-class label digit * 4 + direction when one
classifier should predict both.
"""

import numpy as np
from sklearn import datasets

DIRECTIONS = ("right", "left", "down", "up")
# (dy, dx) per frame for each direction.
_STEPS = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])


def combined_labels(digits: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """One class per (digit, direction) pair: digit * 4 + direction, in [0, 40)."""
    return np.asarray(digits) * len(DIRECTIONS) + np.asarray(directions)


def make_moving_digits(
    n: int, frames: int = 8, size: int = 16, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clips of a digit moving one pixel per frame in one of four directions.

    Args:
      n: number of clips.
      frames: frames per clip.
      size: frame height and width; at least 8 + 2 * (frames // 2) so the digit stays in view.
      seed: seed of numpy's random generator (digit images, directions and positions).

    Returns:
      videos: float32 (n, frames, size, size, 1) in [0, 1] (NDHWC).
      digits: int32 (n,), the digit 0-9.
      directions: int32 (n,), index into ``DIRECTIONS`` (0 right, 1 left, 2 down, 3 up).
    """
    if n < 1 or frames < 1:
        raise ValueError(f"make_moving_digits: need n >= 1 and frames >= 1, got {n} and {frames}")
    middle = frames // 2
    if size < 8 + 2 * middle:
        raise ValueError(
            f"make_moving_digits: size must be >= 8 + 2 * (frames // 2) = {8 + 2 * middle}, "
            f"got {size}"
        )
    bank = datasets.load_digits()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(bank.target), size=n)
    directions = rng.integers(0, len(DIRECTIONS), size=n).astype(np.int32)
    videos = np.zeros((n, frames, size, size, 1), np.float32)
    for i in range(n):
        dy, dx = _STEPS[directions[i]]
        # The middle frame's corner, drawn from the same range for every direction: no position
        # tells the label.
        ym, xm = rng.integers(middle, size - 8 - middle + 1, size=2)
        digit = bank.images[idx[i]] / 16.0
        for t in range(frames):
            y, x = ym + (t - middle) * dy, xm + (t - middle) * dx
            videos[i, t, y : y + 8, x : x + 8, 0] = digit
    return videos, bank.target[idx].astype(np.int32), directions
