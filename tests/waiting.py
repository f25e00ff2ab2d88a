"""Waiting for something another thread or process does: poll, give up after a timeout."""

import time


def wait_for(condition, timeout: float = 30.0, every: float = 0.02) -> bool:
    """True as soon as `condition()` is, False when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False
