"""Fixtures every connector's tests share; each vendor's conftest builds its connector on them. A module or
vendor that defines `sandbox_app` (an app wrapped in `Received`) gets it served as `sandbox` and its requests as
`received`; one that runs its sandbox another way defines its own `sandbox`."""

import pytest

from consentry.connectors.sandbox_kit import ServerThread
from tests.received import Received


@pytest.fixture
def sandbox(sandbox_app):
    with ServerThread(sandbox_app) as running:
        yield running


@pytest.fixture
def received(sandbox_app) -> Received:
    return sandbox_app.wsgi_app


@pytest.fixture
def recorded_sleep():
    """The connector's sleeps, recorded instead of slept (retries and rate limits stay fast and observable)."""
    return []


@pytest.fixture
def connector_defaults():
    """Settings a module adds to every connector it builds."""
    return {}


@pytest.fixture
def built(recorded_sleep, connector_defaults):
    """`build(kind, settings, overrides)`: a connector of class `kind` on its sandbox's `settings`, the module's
    defaults and the test's overrides laid over them, its sleeps recorded. Each vendor's `make_connector` uses it."""

    def build(kind, settings, overrides):
        return kind({**settings, **connector_defaults, **overrides}, sleep=recorded_sleep.append)

    return build
