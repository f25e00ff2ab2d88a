"""Fixtures every connector's tests share; each vendor's conftest builds its connector on them."""

import pytest


@pytest.fixture
def recorded_sleep():
    """The connector's sleeps, recorded instead of slept (retries and rate limits stay fast and observable)."""
    return []


@pytest.fixture
def connector_defaults():
    """Settings a module adds to every connector it builds."""
    return {}
