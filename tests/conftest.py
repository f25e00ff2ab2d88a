"""Shared fixtures: real databases (a SQLite file, and PostgreSQL when the CI services are up)."""

import os
import shutil
import tempfile

import pytest
from sqlalchemy import text

from consentry.sdk.store import make_engine, metadata, upgrade
from consentry.sdk.suppression import Keyring

pytest_plugins = ["tests.processes"]  # the run fails when a test leaves a process or a listening socket behind
IN_CI = os.environ.get("CONSENTRY_CI") == "1"
# Files the code under test creates by default (the default database) go to a scratch home, removed at the end.
SCRATCH_HOME = tempfile.mkdtemp(prefix="consentry-tests-")
os.environ["CONSENTRY_HOME"] = SCRATCH_HOME


def pytest_unconfigure(config):
    shutil.rmtree(SCRATCH_HOME, ignore_errors=True)


def service_url(name: str) -> str:
    """The URL of a test service, or a skip (a failure in CI, where `.ci/run` starts every service)."""
    url = os.environ.get(f"CONSENTRY_TEST_{name.upper()}_URL")
    if not url:
        message = f"set CONSENTRY_TEST_{name.upper()}_URL (bash .ci/services.sh starts one) to run this test"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


def fresh_postgres(url: str) -> str:
    engine = make_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A freshly migrated database on each backend."""
    return migrated(request.param, tmp_path)


def migrated(backend: str, tmp_path, revision: str = "head") -> str:
    """A fresh database on `backend` ("sqlite" in `tmp_path`, or "postgresql"), migrated to `revision`."""
    url = f"sqlite:///{tmp_path / 'consentry.db'}" if backend == "sqlite" else fresh_postgres(service_url("postgres"))
    upgrade(url, revision)
    return url


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def keyring():
    return Keyring({"p1": b"test-pepper-0123456789"}, "p1")
