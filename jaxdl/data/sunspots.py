"""Yearly sunspot numbers 1700-2008 (Wolfer / SIDC), the series bundled with statsmodels.

The CSV is read straight from the installed statsmodels package (statsmodels itself is not
imported); ``pip install statsmodels`` provides it, or pass ``path=`` to a copy of
``statsmodels/datasets/sunspots/sunspots.csv``.
"""

import os

import numpy as np

from jaxdl.data import core

_RELATIVE = os.path.join("datasets", "sunspots", "sunspots.csv")


def _bundled_csv() -> str:
    return core.package_file(
        "statsmodels",
        _RELATIVE,
        missing="the sunspots data ships with statsmodels: pip install statsmodels (or pass path=)",
    )


def load_sunspots(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Loads the yearly sunspot series.

    Args:
      path: a ``sunspots.csv`` with header ``"YEAR","SUNACTIVITY"``; statsmodels' copy if None.

    Returns:
      ``(years (N,) int32, activity (N,) float32)``, N = 309 for 1700-2008.
    """
    table = np.loadtxt(path or _bundled_csv(), delimiter=",", skiprows=1, ndmin=2)
    if table.shape[1] != 2:
        raise ValueError(f"{path}: expected two columns YEAR,SUNACTIVITY, got {table.shape[1]}")
    return table[:, 0].astype(np.int32), table[:, 1].astype(np.float32)


def forecasting_windows(series: np.ndarray, window: int, horizon: int = 1):
    """Sliding windows for one-step (or ``horizon``-step) forecasting.

    Args:
      series: (N,) values.
      window: input length.
      horizon: number of following values to predict.

    Returns:
      ``x (M, window, 1), y (M, horizon)`` with M = N - window - horizon + 1; window m covers
      ``series[m : m + window]`` and targets ``series[m + window : m + window + horizon]``.
    """
    series = np.asarray(series)
    M = len(series) - window - horizon + 1
    if window < 1 or horizon < 1 or M < 1:
        raise ValueError(
            f"window={window}, horizon={horizon} do not fit a series of length {len(series)}"
        )
    idx = np.arange(M)[:, None]
    x = series[idx + np.arange(window)[None, :]][..., None]
    y = series[idx + window + np.arange(horizon)[None, :]]
    return x, y
