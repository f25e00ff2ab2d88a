"""Rights requests in a Mailchimp audience: a person's member deleted for good (erasure) or read whole (access).

A member is named by its subscriber hash, the MD5 of the lower-cased address; the record ids a sync keeps are these
hashes too. `delete-permanent` is Mailchimp's strongest delete: the member and its data go, and the API refuses to
import the address again ("Forgotten Email Not Subscribed"); only the person can come back, through Mailchimp's own
signup form. An archive (`DELETE` on the member) keeps every field readable, so an erasure never uses it.

A member resource shows up to 50 of its tags; an export reads the rest from the member's tags, a page at a time.
"""

from collections.abc import Iterable

from consentry.connectors.base import ErasureReport, ExportedRecord
from consentry.sdk.errors import ConnectorError
from consentry.sdk.http import Transport

TAG_PAGE = 1000  # Mailchimp's maximum `count`


def erase_members(transport: Transport, list_path: str, hashes: Iterable[str]) -> ErasureReport:
    """Permanently delete each member; one the audience does not have (never there, or gone already) is skipped."""
    deleted = []
    for digest in hashes:
        answer = _unless_absent(
            transport, "POST", f"{list_path}/members/{digest}/actions/delete-permanent", "delete member permanently"
        )
        if answer is None:
            continue
        if answer.status_code != 204:  # Mailchimp answers a permanent delete with no content: any other 2xx is not it
            raise ConnectorError(
                "mailchimp: the permanent delete was not confirmed", retryable=True, code="UNEXPECTED_RESPONSE"
            )
        deleted.append(digest)
    return ErasureReport(
        method="permanent_delete" if deleted else "nothing_found",
        deleted=deleted,
    )


def export_members(transport: Transport, list_path: str, hashes: Iterable[str], system: str) -> list[ExportedRecord]:
    """Each member the audience has, with every field as Mailchimp returns it (archived members included)."""
    records = []
    for digest in hashes:
        path = f"{list_path}/members/{digest}"
        answer = _unless_absent(transport, "GET", path, "read member")
        if answer is None:
            continue
        member = answer.json()
        if int(member["tags_count"]) > len(member["tags"]):
            member = {**member, "tags": _every_tag(transport, path)}
        records.append(ExportedRecord(system=system, kind="member", record_id=str(member["id"]), fields=member))
    return records


def _every_tag(transport: Transport, member_path: str) -> list[dict]:
    tags: list[dict] = []
    while True:
        params = {"count": TAG_PAGE, "offset": len(tags)}
        page = transport.request("GET", f"{member_path}/tags", params=params, kind="read member tags").json()
        tags += page["tags"]
        if not page["tags"] or len(tags) >= int(page["total_items"]):
            return tags


def _unless_absent(transport: Transport, method: str, path: str, kind: str):
    """The answer, or None for a 404 (Mailchimp's answer for an address never seen or permanently deleted)."""
    try:
        return transport.request(method, path, kind=kind)
    except ConnectorError as error:
        if error.status == 404:
            return None
        raise
