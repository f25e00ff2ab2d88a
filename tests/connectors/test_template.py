"""The connector template's write, as a new connector starts from it: the report's calls are the transport's."""

import threading

import responses

from consentry.connectors._template.connector import TemplateConnector
from consentry.connectors.base import Unsubscribe, WriteReport

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


@responses.activate
def test_a_writes_count_leaves_out_what_other_threads_send_through_the_same_connector_meanwhile():
    """The worker's drain threads and its reconciler share one connector per system: a sync's or a push's count
    was once the transport's total before and after, other threads' requests included."""
    responses.add(responses.POST, f"{BASE}/contacts/batch/update", json={})
    connector = TemplateConnector({"api_token": "t0ken", "base_url": BASE}, sleep=lambda _: None)

    def send(times: int) -> None:
        for _ in range(times):
            connector.transport.request("POST", "/contacts/batch/update", json={}, kind="unsubscribe batch")

    def write() -> WriteReport:
        send(1)
        other = threading.Thread(target=send, args=(5,))  # another thread's requests, in the middle of this write
        other.start()
        other.join()
        send(1)
        return WriteReport(applied=2)

    report = connector._counted(write)
    assert connector.transport.calls.total == 7
    assert report.calls == 2
