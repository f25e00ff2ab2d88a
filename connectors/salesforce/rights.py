"""Rights requests in Salesforce: which records are the person's, and how deleting them went.

Erasure marks each linked Individual "Forget this Individual" (`ShouldForget`), a flag Salesforce defines for
downstream processes: the Individual stays, as the record that this person must be forgotten. The Contacts and
Leads are then deleted: through a Bulk API 2.0 `hardDelete` job when the integration user holds the "Bulk API Hard
Delete" permission, which bypasses the Recycle Bin; otherwise through sObject Collections, which leaves them 15 days
in the Recycle Bin (readable by `queryAll` and restorable), after which Salesforce purges them.
"""

import re
from collections.abc import Iterable

from consentry.connectors.base import DataSubject
from consentry.sdk.errors import ConnectorError

from .soql import quote

NO_HARD_DELETE = "FEATURENOTENABLED"  # creating a hardDelete job without the permission
ALREADY_GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})
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
    if failed:
        raise ConnectorError(
            f"salesforce: {len(failed)} records could not be deleted ({', '.join(sorted(set(failed)))})",
            code=failed[0],
            retryable=failed[0] in RETRYABLE,
        )
    return deleted
