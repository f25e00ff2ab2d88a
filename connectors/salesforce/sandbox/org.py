"""One org's records, kept in a StateFile, and the DML rules every API (REST, Collections, Bulk) shares.

Flask-free. Checks (`check_create`, `check_update`) are separate from changes (`create`, `update`, `delete`) so that
an all-or-none request can check every record before changing any. Timestamps have millisecond precision and only
move forward, deleted records stay as tombstones (IsDeleted) for queryAll, and every change made through the API
or by a user is reported to `listener(record, before, origin)`, which decides on outbound messages.
Callers hold `state.lock`.
"""

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from consentry.connectors.sandbox_kit import StateFile

from . import record_ids
from .errors import RecordProblem, SalesforceError
from .schema import AUDIT_FIELDS, Field, SObjectType, format_datetime, from_json, value_problems

SEED_ONLY = ("CreatedDate", "LastModifiedDate", "SystemModstamp")
Listener = Callable[[dict, dict | None, str], None]


def read_only(names: list[str]) -> RecordProblem:
    return RecordProblem(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(names)}. Please check the security settings of this field and "
        "verify that it is read/write for your profile or permission set.",
        names,
    )


def required(names: list[str]) -> RecordProblem:
    return RecordProblem("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", names)


def initial_state() -> dict:
    return {"records": {}, "sequence": 0, "last_stamp": 0, "outbound_url": None}


class SalesforceOrg:
    def __init__(
        self,
        state: StateFile,
        schema: dict[str, SObjectType],
        *,
        user_id: str,
        listener: Listener | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.state, self.schema, self.user_id = state, schema, user_id
        self.listener = listener or (lambda record, before, origin: None)
        self.clock = clock
        self._by_lower = {name.lower(): sobject for name, sobject in schema.items()}
        self.locked: set[str] = set()  # ids whose rows another transaction holds (`/_sandbox/locks`)

    @property
    def records(self) -> dict[str, dict]:
        return self.state.data["records"]

    def sobject(self, name: str) -> SObjectType | None:
        return self._by_lower.get(str(name).lower())

    # -- reading ---------------------------------------------------------------------------------------------------

    def get(self, record_id: str, sobject: SObjectType | None = None) -> dict | None:
        """The record (deleted or not) with this 15- or 18-character id, of `sobject` when given."""
        normal = record_ids.normalize(record_id)
        record = self.records.get(normal) if normal else None
        if record is None or (sobject is not None and record["_type"] != sobject.name):
            return None
        return record

    def rows(self, sobject: SObjectType, *, deleted: bool = False) -> Iterator[dict]:
        for record in self.records.values():
            if record["_type"] == sobject.name and (deleted or not record["IsDeleted"]):
                yield record

    def find(self, sobject: SObjectType, fld: Field, value: object) -> list[dict]:
        """Live records whose external id (case-insensitive, as Salesforce's default) or Id equals `value`."""
        if fld.type == "id":
            record = self.get(str(value), sobject)
            return [record] if record is not None and not record["IsDeleted"] else []
        wanted = str(value).lower()
        return [r for r in self.rows(sobject) if r.get(fld.name) is not None and str(r[fld.name]).lower() == wanted]

    def index(self, sobject: SObjectType, fld: Field) -> dict[str, list[dict]]:
        """Live records by lower-cased value of `fld`, for jobs that look many values up."""
        found: dict[str, list[dict]] = {}
        for record in self.rows(sobject):
            if record.get(fld.name) is not None:
                found.setdefault(str(record[fld.name]).lower(), []).append(record)
        return found

    def view(self, record: dict, version: str, fields: list[str] | None = None) -> dict:
        sobject = self.schema[record["_type"]]
        shown: dict[str, object] = {
            "attributes": {
                "type": sobject.name,
                "url": f"/services/data/{version}/sobjects/{sobject.name}/{record['Id']}",
            }
        }
        for name in fields or list(sobject.fields):
            shown[name] = record.get(name)
        return shown

    # -- checking --------------------------------------------------------------------------------------------------

    def parse_json(self, sobject: SObjectType, body: dict) -> dict[str, object]:
        """A JSON sObject as typed values by field name; unknown fields and wrong JSON types refuse the request."""
        values = {}
        for key, raw in body.items():
            if key == "attributes":
                continue
            fld = sobject.field(key)
            if fld is None:
                raise SalesforceError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject.name}")
            values[fld.name] = from_json(sobject, fld, raw)
        return values

    def check_create(self, sobject: SObjectType, values: dict, *, seeding: bool = False) -> list[RecordProblem]:
        if "Id" in values:
            return [RecordProblem("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])]
        locked = [n for n in values if not sobject.fields[n].createable and not (seeding and n in SEED_ONLY)]
        if locked:
            return [read_only(locked)]
        missing = [f.name for f in sobject.fields.values() if f.required and values.get(f.name) in (None, "")]
        if missing:
            return [required(missing)]
        return value_problems(sobject, values) + self._dangling(sobject, values)

    def check_update(self, record: dict, values: dict) -> list[RecordProblem]:
        sobject = self.schema[record["_type"]]
        locked = [n for n in values if not sobject.fields[n].updateable]
        if locked:
            return [read_only(locked)]
        emptied = [n for n, v in values.items() if sobject.fields[n].required and v in (None, "")]
        if emptied:
            return [required(emptied)]
        return value_problems(sobject, values) + self._dangling(sobject, values)

    def _dangling(self, sobject: SObjectType, values: dict) -> list[RecordProblem]:
        problems = []
        for name, value in values.items():
            fld = sobject.fields[name]
            if fld.type != "reference" or value is None:
                continue
            target = record_ids.normalize(value)
            if target is None:
                continue
            if "User" in fld.reference_to:
                exists = target == self.user_id
            else:  # a record in the Recycle Bin is no valid reference either
                exists = target in self.records and not self.records[target]["IsDeleted"]
            if not exists:
                problems.append(RecordProblem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]))
        return problems

    # -- changing --------------------------------------------------------------------------------------------------

    def create(self, sobject: SObjectType, values: dict, *, origin: str = "api") -> dict:
        stamp = self._stamp()
        self.state.data["sequence"] += 1
        record: dict = {"_type": sobject.name}
        for fld in sobject.fields.values():
            record[fld.name] = False if fld.type == "boolean" else fld.default
        record.update(
            {
                "Id": record_ids.make(sobject.key_prefix, self.state.data["sequence"]),
                "IsDeleted": False,
                "OwnerId": self.user_id,
                **dict.fromkeys(("CreatedById", "LastModifiedById"), self.user_id),
                **dict.fromkeys(("CreatedDate", "LastModifiedDate", "SystemModstamp"), stamp),
            }
        )
        record.update({k: record_ids.normalize(v) if _is_reference(sobject, k, v) else v for k, v in values.items()})
        self._name(sobject, record)
        self.records[record["Id"]] = record
        if origin != "seed":
            self.listener(record, None, origin)
        return record

    def update(self, record: dict, values: dict, *, origin: str = "api") -> None:
        sobject = self.schema[record["_type"]]
        before = dict(record)
        record.update({k: record_ids.normalize(v) if _is_reference(sobject, k, v) else v for k, v in values.items()})
        self._name(sobject, record)
        stamp = self._stamp()
        record["LastModifiedDate"] = record["SystemModstamp"] = stamp
        record["LastModifiedById"] = self.user_id
        if origin != "seed":
            self.listener(record, before, origin)

    def lock_problem(self, record: dict) -> RecordProblem | None:
        """Why an edit or a delete of `record` fails now: another transaction (a user's save, a long Apex job)
        holds its row, and Salesforce gives up waiting with UNABLE_TO_LOCK_ROW."""
        if record["Id"] not in self.locked:
            return None
        return RecordProblem("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")

    def delete(self, record: dict, *, hard: bool = False) -> None:
        """A hard delete (Bulk API `hardDelete`) leaves nothing; any other delete moves the record to the Recycle
        Bin: IsDeleted, seen by queryAll only, restorable until purged (`recycle_bin`)."""
        if hard:
            self.records.pop(record["Id"], None)
            return
        record["IsDeleted"] = True
        record["SystemModstamp"] = self._stamp()
        record["_deleted_at"] = int(self.clock() * 1000)

    def restore(self, record: dict) -> None:
        """Undelete from the Recycle Bin (no workflow rule runs: they are evaluated on create and edit only)."""
        record["IsDeleted"] = False
        record.pop("_deleted_at", None)
        record["SystemModstamp"] = self._stamp()

    def purge(self, *, older_than_ms: int) -> int:
        """Remove for good the Recycle Bin's records deleted before `older_than_ms` (epoch milliseconds)."""
        gone = [
            key
            for key, record in self.records.items()
            if record["IsDeleted"] and record.get("_deleted_at", 0) < older_than_ms
        ]
        for key in gone:
            del self.records[key]
        return len(gone)

    def _stamp(self) -> str:
        """Now, in milliseconds, and always later than the previous stamp of this org."""
        now = max(int(self.clock() * 1000), self.state.data["last_stamp"] + 1)
        self.state.data["last_stamp"] = now
        return format_datetime(datetime.fromtimestamp(now / 1000, UTC))

    @staticmethod
    def _name(sobject: SObjectType, record: dict) -> None:
        if "FirstName" in sobject.fields and "Name" in sobject.fields:
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(str(p) for p in parts if p) or None


def _is_reference(sobject: SObjectType, name: str, value: object) -> bool:
    return sobject.fields[name].type == "reference" and value is not None and name not in AUDIT_FIELDS
