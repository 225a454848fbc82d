"""A test that hangs, for test_timeout.py (not collected by the suite: not named test_*.py)."""

import time


def test_runs_before_the_hang():
    pass


def test_hangs():
    time.sleep(600)
