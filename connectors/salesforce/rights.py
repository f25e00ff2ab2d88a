"""Rights requests in Salesforce: which records are the person's, and how deleting them went.

Erasure marks each linked Individual "Forget this Individual" (`ShouldForget`), a flag Salesforce defines for
downstream processes: the Individual stays, as the record that this person must be forgotten. The Contacts and
Leads are then deleted: through a Bulk API 2.0 `hardDelete` job when the integration user holds the "Bulk API Hard
Delete" permission, which bypasses the Recycle Bin; otherwise through sObject Collections, which leaves them 15 days
in the Recycle Bin (readable by `queryAll` and restorable), after which Salesforce purges them.

Either way a record already gone when the delete reaches it (deleted by someone else since the look-up: in the
Recycle Bin, ENTITY_IS_DELETED, or purged, INVALID_CROSS_REFERENCE_KEY) is no failure: the person's record is not
there to erase. Any other row that fails stops the erasure, so that it is retried or reported, never taken as done.

Which answer means "no hard delete here": creating a `hardDelete` job without the permission is refused with the
error code FEATURENOTENABLED (HTTP 400, message "hardDelete operation requires special user profile permission,
please contact your system administrator"). Salesforce's own clients test for exactly that code: the Salesforce
CLI (salesforcecli/plugin-data `src/bulkIngest.ts`, Bulk API 2.0) and Data Loader (forcedotcom/dataloader
`BulkLoadVisitor.java`, Bulk API 1.0's FeatureNotEnabled); Salesforce's Bulk API 2.0 error list gives the same code
for an org without Bulk API 2.0, where falling back is right too. No source names another code for the missing
permission (no INSUFFICIENT_ACCESS, no API_DISABLED_FOR_ORG), so no other code falls back: an error that means the
records cannot be deleted at all fails the erasure. The sources are listed in the sandbox's `bulk` module.
"""

import re
from collections.abc import Iterable, Sequence

from consentry.connectors.base import DataSubject
from consentry.sdk.errors import ConnectorError

from .soql import quote

NO_HARD_DELETE = "FEATURENOTENABLED"  # creating a hardDelete job without the permission (see above)
IN_RECYCLE_BIN = "ENTITY_IS_DELETED"
ALREADY_GONE = frozenset({IN_RECYCLE_BIN, "INVALID_CROSS_REFERENCE_KEY"})
RETRYABLE = frozenset({"UNABLE_TO_LOCK_ROW"})
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def subject_filter(subject: DataSubject, object_type: str, key_prefixes: dict[str, str]) -> str | None:
    """The SOQL condition that finds the subject's records of `object_type` (None when nothing names them): the
    address, the number in either phone field, and the record ids of this object."""
    conditions = []
    if subject.email:
        conditions.append(f"Email = {quote(subject.email)}")
    if subject.phone:
        conditions += [f"{field} = {quote(subject.phone)}" for field in ("Phone", "MobilePhone")]
    ids = [i for i in subject.record_ids if _RECORD_ID.match(i) and key_prefixes.get(i[:3]) == object_type]
    if ids:
        conditions.append(f"Id IN ({', '.join(quote(i) for i in ids)})")
    return " OR ".join(conditions) or None


def hard_deleted(ids: Sequence[str], failed: Iterable[tuple[int, str]]) -> tuple[list[str], int]:
    """The ids a Bulk API `hardDelete` removed, from the ids sent and its failed rows (position in `ids`, error
    code), and how many of the others wait in the Recycle Bin: a row whose record was already gone counts as
    nothing (ENTITY_IS_DELETED: someone deleted it into the Recycle Bin meanwhile, where Salesforce purges it
    within 15 days, and the REST API cannot empty it), any other failure stops the erasure (retried when
    Salesforce says the row was busy). A failed row that names no record sent is a failure."""
    gone, refused, binned = set(), [], 0
    for position, code in failed:
        if code in ALREADY_GONE and 0 <= position < len(ids):
            gone.add(position)
            binned += code == IN_RECYCLE_BIN
        else:
            refused.append(code)
    _refuse(refused, "hard-deleted")
    return [record_id for position, record_id in enumerate(ids) if position not in gone], binned


def deleted_ids(results: Iterable[dict]) -> list[str]:
    """The ids an sObject Collections delete removed; a record already gone counts as nothing, any other failure
    stops the erasure (retried when Salesforce says the row was busy)."""
    deleted, failed = [], []
    for result in results:
        if result["success"]:
            deleted.append(str(result["id"]))
            continue
        code = str((result.get("errors") or [{}])[0].get("statusCode", "ERROR"))
        if code not in ALREADY_GONE:
            failed.append(code)
    _refuse(failed, "deleted")
    return deleted


def _refuse(codes: list[str], what: str) -> None:
    """Stop the erasure when rows failed, with their codes (retried when Salesforce says the first was busy)."""
    if codes:
        raise ConnectorError(
            f"salesforce: {len(codes)} records not {what} ({', '.join(sorted(set(codes)))})",
            code=codes[0],
            retryable=codes[0] in RETRYABLE,
        )
