"""Mailchimp's batch operations: many API calls in one request (`POST /batches`), run asynchronously.

The batch is polled with `GET /batches/{batch_id}` on a growing interval (Mailchimp's advice: start around five
seconds, double, cap at about a minute, and give up at a deadline). `finished` does not mean successful: only
`errored_operations == 0` does. The results of the failed operations are read from `response_body_url`, a gzipped
tar of JSON files (`[{status_code, operation_id, response}]`, `response` being a JSON string); that URL is not the
API, so it is fetched without the API key.
"""

import io
import json
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import requests

from consentry.sdk.errors import ConnectorError
from consentry.sdk.http import Transport

FIRST_WAIT = 5.0
MAX_WAIT = 60.0
DEADLINE = 15 * 60.0
MAX_ARCHIVE = 64 * 1024 * 1024


@dataclass
class BatchOutcome:
    finished: bool
    failures: list[tuple[str, str]] = field(default_factory=list)  # (operation_id, error code)
    unread: int = 0  # errored operations whose result could not be read


def run_batch(
    transport: Transport,
    operations: Sequence[dict],
    *,
    sleep: Callable[[float], None],
    first_wait: float = FIRST_WAIT,
    max_wait: float = MAX_WAIT,
    deadline: float = DEADLINE,
) -> BatchOutcome:
    batch = transport.request("POST", "/batches", json={"operations": list(operations)}, kind="batch").json()
    batch_id = batch.get("id")
    if not isinstance(batch_id, str) or not batch_id:
        raise ConnectorError("mailchimp: the batch was not accepted", code="BATCH_REFUSED")
    waited, wait = 0.0, first_wait
    while batch.get("status") != "finished":
        if waited >= deadline:
            return BatchOutcome(finished=False)
        sleep(wait)
        waited, wait = waited + wait, min(wait * 2, max_wait)
        batch = transport.request("GET", f"/batches/{batch_id}", kind="batch status").json()
    errored = int(batch.get("errored_operations") or 0)
    if not errored:
        return BatchOutcome(finished=True)
    failures = _failures(transport.session, batch.get("response_body_url"))
    if failures is None:
        return BatchOutcome(finished=True, unread=errored)
    return BatchOutcome(finished=True, failures=failures, unread=max(errored - len(failures), 0))


def _failures(session: requests.Session, url) -> list[tuple[str, str]] | None:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    try:
        answer = session.get(url, timeout=(5.0, 60.0))  # no credentials: this is a storage link, not the API
    except requests.RequestException:
        return None
    if answer.status_code != 200 or len(answer.content) > MAX_ARCHIVE:
        return None
    failures = []
    try:
        with tarfile.open(fileobj=io.BytesIO(answer.content), mode="r:gz") as archive:
            for member in archive.getmembers():
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                handle = archive.extractfile(member)
                for result in json.load(handle) if handle else []:
                    status = int(result.get("status_code") or 0)
                    if status >= 400:
                        failures.append((str(result.get("operation_id") or ""), _code(status, result.get("response"))))
    except (tarfile.TarError, OSError, ValueError, TypeError, AttributeError):
        return None
    return failures


def _code(status: int, response) -> str:
    try:
        title = json.loads(response).get("title") if isinstance(response, str) and response else None
    except ValueError:
        title = None
    return str(title).upper().replace(" ", "_") if title else f"HTTP_{status}"
