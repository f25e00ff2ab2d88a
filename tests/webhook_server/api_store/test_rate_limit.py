"""The API's rate limit: every limit of `CONSENTRY_API_RATE_LIMIT` counted per key, a 429 problem with
`Retry-After` past any of them, and requests let through (one warning) when the counters' storage fails."""

import logging

import pytest
from flask import Flask
from limits.errors import StorageError

from consentry.webhook_server.api.problems import ApiProblem
from consentry.webhook_server.api.rate_limit import ApiRateLimit

APP = Flask(__name__)


def hit(limit: ApiRateLimit, key: str = "csk_one") -> None:
    with APP.test_request_context("/v1/decisions", method="POST", headers={"Authorization": f"Bearer {key}"}):
        limit.check()


def test_each_limit_counts_per_key_and_the_tightest_answers_429():
    limit = ApiRateLimit("2/second;100/minute", "memory://")
    hit(limit)
    hit(limit)
    with pytest.raises(ApiProblem) as refused:
        hit(limit)
    assert refused.value.code == 429
    assert int(refused.value.extra_headers["Retry-After"]) >= 1
    assert "2 per 1 second" in refused.value.description
    hit(limit, key="csk_other")  # another key has its own window


def test_a_failing_storage_lets_requests_through_and_says_so_once(caplog):
    limit = ApiRateLimit("1/minute", "memory://")

    def broken(*_args, **_kwargs):
        raise StorageError(ConnectionError("redis away"))

    limit.limiter.hit = broken
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        hit(limit)
    warnings = [record for record in caplog.records if "not counted" in record.getMessage()]
    assert len(warnings) == 1
