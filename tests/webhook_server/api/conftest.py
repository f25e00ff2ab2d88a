"""The API served over HTTP on 127.0.0.1 by the real server (two relay connectors), keys of every scope, and a
client that checks every answer against the OpenAPI document the server publishes."""

import json
from dataclasses import dataclass, field

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from sqlalchemy import func, select

from consentry.connectors import registry
from consentry.connectors.sandbox_kit import ServerThread
from consentry.sdk.store import upgrade
from consentry.webhook_server import create_app
from consentry.webhook_server.api import store

from .. import relay_connector
from ..conftest import relay_config

ALL_SCOPES = ("decide", "record", "calls", "read_proof", "rights")


@dataclass
class ApiClient:
    """requests against the live server; each answer is checked against the published OpenAPI document."""

    url: str
    key: str | None
    openapi: OpenAPI | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def request(self, method: str, path: str, *, key: str | None = "default", validate: bool = True, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        key = self.key if key == "default" else key
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        response = self.session.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        assert response.status_code < 500, response.text
        documented = path.startswith("/v1/") and path != "/v1/openapi.json" and not path.startswith("/v1/docs")
        if validate and documented and self.openapi is not None:
            self.openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
        return response

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def close(self) -> None:
        self.session.close()


@dataclass
class Served:
    app: object
    server: ServerThread
    client: ApiClient

    @property
    def runtime(self):
        return self.app.extensions["consentry"].runtime

    @property
    def engine(self):
        return self.runtime.services.engine

    def key(self, *scopes: str, name: str | None = None) -> str:
        name = name or "-".join(scopes) or "none"
        return store.create_key(self.engine, name, scopes)

    def count(self, table) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def serve(database_url, tmp_path, monkeypatch):
    """serve(**settings): the server on a free port, with a key of every scope; stopped after the test."""
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path))
    registry.register("alpha", "tests.webhook_server.relay_connector:AlphaConnector")
    registry.register("beta", "tests.webhook_server.relay_connector:BetaConnector")
    for state in (relay_connector.UNSUBSCRIBED, relay_connector.PUSHED, relay_connector.FAILURES):
        state.clear()
    upgrade(database_url)
    started: list[Served] = []

    def start(**settings) -> Served:
        app = create_app(relay_config(database_url, **settings))
        server = ServerThread(app).start()
        client = ApiClient(server.url, None)
        served = Served(app, server, client)
        started.append(served)
        client.key = served.key(*ALL_SCOPES, name=f"all-{len(started)}")
        document = client.get("/v1/openapi.json").json()
        # RFC 9457's media type is JSON too: openapi-core reads only application/json unless told
        config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
        client.openapi = OpenAPI.from_dict(document, config=config)
        return served

    yield start
    for served in started:
        served.client.close()
        served.server.stop()
        served.runtime.close()


@pytest.fixture
def api(serve) -> Served:
    return serve()
