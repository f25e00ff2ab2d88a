"""The connector template's write, as a new connector starts from it: the report's calls are the transport's."""

import responses

from consentry.connectors._template.connector import TemplateConnector
from consentry.connectors.base import Unsubscribe

BASE = "http://127.0.0.1:9"


@responses.activate
def test_the_templates_push_reports_every_request_sent_retries_included():
    update = f"{BASE}/contacts/batch/update"
    responses.add(responses.POST, update, status=503)
    responses.add(responses.POST, update, json={})
    slept: list[float] = []
    connector = TemplateConnector({"api_token": "t0ken", "base_url": BASE}, sleep=slept.append)
    report = connector.push_unsubscribes([Unsubscribe(email=f"p{n}@example.com") for n in range(3)])
    assert (report.applied, report.calls, report.failed) == (3, 2, [])
    assert len(slept) == 1  # one backoff before the retry
