"""The versioned JSON API under `/v1`: decisions, consents, calls, proof and rights requests, described by the
OpenAPI document at `/v1/openapi.json` (browsable at `/v1/docs`), generated from the marshmallow schemas that validate
each request.

Every answer under `/v1` that is not a success is `application/problem+json`; each key is rate limited
(`CONSENTRY_API_RATE_LIMIT`, counted in `CONSENTRY_API_RATE_STORAGE`); `/metrics` counts requests by endpoint and
status."""

from dataclasses import dataclass
from typing import Any

from flask import Flask, request

from ..runtime import Runtime

__all__ = ["register_api"]

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"


@dataclass
class ApiState:
    api: Any  # flask_smorest.Api
    limiter: Any  # rate_limit.ApiRateLimit
    requests: Any  # prometheus_client.Counter
    keys: Any  # auth.KeyCache


def register_api(app: Flask, runtime: Runtime) -> None:
    """Mount `/v1` on the server's app; call after the server's own error handlers are registered.

    The web layer is imported here, so that the storage modules (`api.store`, `api.records`) load without it."""
    from flask_smorest import Api
    from prometheus_client import Counter

    from . import calls, consents, decisions, proof, rights
    from .auth import SECURITY_SCHEME, KeyCache
    from .problems import MEDIA_TYPE, PREFIX, register_problem_handlers
    from .rate_limit import ApiRateLimit
    from .schemas import ProblemSchema

    class ConsentryApi(Api):
        """flask-smorest, less its app-wide error handler (the server's own answers every path but `/v1`), its
        errors documented as problems."""

        ERROR_SCHEMA = ProblemSchema

        def _register_error_handlers(self):
            pass

        def _register_responses(self):
            saved = self.DEFAULT_RESPONSE_CONTENT_TYPE
            self.DEFAULT_RESPONSE_CONTENT_TYPE = MEDIA_TYPE
            try:
                super()._register_responses()
            finally:
                self.DEFAULT_RESPONSE_CONTENT_TYPE = saved

    app.config.update(
        API_TITLE="Consentry",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI,
        API_SPEC_OPTIONS={
            "info": {
                "description": "May we contact this person, by this channel, now? Answers with the law's reasons; "
                "records consents and calls. Errors are RFC 9457 problems.",
            },
            "components": {"securitySchemes": {SECURITY_SCHEME: {"type": "http", "scheme": "bearer"}}},
            "security": [{SECURITY_SCHEME: []}],
        },
    )
    api = ConsentryApi(app)
    limiter = ApiRateLimit(
        str(runtime.config.get("API_RATE_LIMIT", "600/minute")),
        str(runtime.config.get("API_RATE_STORAGE", "memory://")),
    )
    blueprints = (decisions.blueprint, consents.blueprint, calls.blueprint, proof.blueprint, rights.blueprint)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    limited = {blueprint.name for blueprint in blueprints}  # the documented endpoints, not /v1/openapi.json

    @app.before_request
    def _rate_limit():
        if request.blueprint in limited:
            limiter.check()

    counter = Counter(
        "consentry_api_requests",
        "Requests to the /v1 API by endpoint and status",
        ["endpoint", "status"],
        registry=app.extensions["consentry"].metrics.registry,
    )
    keys = KeyCache(float(runtime.config.get("API_KEY_CACHE_SECONDS", 5)))
    app.extensions["consentry_api"] = ApiState(api, limiter, counter, keys)
    register_problem_handlers(app)

    @app.after_request
    def _count(response):
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
            counter.labels(endpoint=rule, status=str(response.status_code)).inc()
        return response
