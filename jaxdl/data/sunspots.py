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

    Raises:
      ValueError: one line: not two columns, or (``jaxdl.data.core.check_features``) the count
        and first row index (0 = the row after the header) of empty, non-numeric, NaN or Inf
        values in a column.
    """
    file = path or _bundled_csv()
    try:  # empty and non-numeric cells read as NaN, counted by check_features below
        table = np.genfromtxt(file, delimiter=",", skip_header=1, ndmin=2)
    except ValueError as err:  # rows of unequal length; numpy's message spans lines
        raise ValueError(
            f"{file}: expected two columns YEAR,SUNACTIVITY on every row "
            f"({' '.join(str(err).split())})"
        ) from None
    if table.shape[1] != 2:
        raise ValueError(f"{file}: expected two columns YEAR,SUNACTIVITY, got {table.shape[1]}")
    name = os.path.basename(file)
    years = core.check_features(f"{name} YEAR", table[:, 0])
    activity = core.check_features(f"{name} SUNACTIVITY", table[:, 1])
    return years.astype(np.int32), activity.astype(np.float32)


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
