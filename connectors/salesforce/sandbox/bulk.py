"""Bulk API 2.0 ingest jobs (CONTRACTS §3.6): the state machine Open → UploadComplete → InProgress →
JobComplete | Failed (or Aborted), CSV parsing with the job's delimiter and line ending, and per-row results.

Processing runs on a background thread in two short steps (`step` seconds each) so that clients really poll.
Rows go through the same DML rules as the REST API (`SalesforceOrg`), and changes they make can trigger outbound
messages. Flask-free; the routes are in `bulk_api`.

Behaviour taken from captured traffic (community): an unknown CSV column fails the job with
"InvalidBatch : Field name not found : X"; data whose line endings differ from the job's fails it with
"ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"; more than one upload
makes closing the job answer 400 INVALIDJOB. Empty cells leave a field unchanged and `#N/A` clears it.

A `hardDelete` job needs the user's "Bulk API Hard Delete" permission (off by default, even for administrators);
without it creating the job answers 400 FEATURENOTENABLED with the message below. Sources (no page of Salesforce's
developer guide names the code for this case; Salesforce's own clients do):
- Salesforce CLI, `createIngestJob` tests `err.name === 'FEATURENOTENABLED'` for a hardDelete (Bulk API 2.0),
  added by https://github.com/salesforcecli/plugin-data/pull/959 ("massages server error when user isn't
  permitted"):
  https://github.com/salesforcecli/plugin-data/blob/00e44dba7f6b7279a2fa185da7d18832d7ee1f0f/src/bulkIngest.ts
- Data Loader tests AsyncExceptionCode.FeatureNotEnabled and this message (Bulk API 1.0):
  https://github.com/forcedotcom/dataloader/blob/ef213ded939c7345f48bd123c790f2d209882e84/src/main/java/com/salesforce/dataloader/action/visitor/BulkLoadVisitor.java
- the message as an org answers it (Bulk API 1.0), and the 400 of Bulk API 2.0:
  https://help.sql-sales.com/en/articles/8892592-bulkapiv1harddelete and the same site's BulkAPIv2Harddelete page;
- Salesforce's error list documents FeatureNotEnabled for "Bulk API 2.0 isn't enabled for this organization":
  https://developer.salesforce.com/docs/atlas.en-us.240.0.api_asynch.meta/api_asynch/bulk_api_2_0_errors.htm
None of them names INSUFFICIENT_ACCESS or API_DISABLED_FOR_ORG for a missing Bulk API Hard Delete permission.
Hard-deleted records skip the Recycle Bin. A row whose record is gone fails alone: ENTITY_IS_DELETED when it is in
the Recycle Bin, INVALID_CROSS_REFERENCE_KEY when it was purged; one whose row another transaction holds
(`/_sandbox/locks`) fails UNABLE_TO_LOCK_ROW.
"""

import csv
import io
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consentry.connectors.sandbox_kit import StateFile

from . import record_ids
from .errors import RecordProblem, SalesforceError, not_found
from .org import SalesforceOrg
from .schema import SObjectType, format_datetime, from_csv

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = ("LF", "CRLF")
NO_HARD_DELETE = (
    "hardDelete operation requires special user profile permission, please contact your system administrator"
)
DELETABLE = ("UploadComplete", "JobComplete", "Aborted", "Failed")
ABORTABLE = ("Open", "UploadComplete", "InProgress")


def _now() -> str:
    return format_datetime(datetime.now(UTC))


@dataclass
class Job:
    id: str
    object: str
    operation: str
    external_id: str | None
    line_ending: str
    delimiter: str
    version: str
    created_by: str
    state: str = "Open"
    created: str = field(default_factory=_now)
    modified: str = field(default_factory=_now)
    uploads: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    succeeded: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error: str | None = None
    processing_ms: int = 0

    @property
    def key_field(self) -> str:
        """An upsert job's external id field: a job is refused at creation without one."""
        if self.external_id is None:
            raise KeyError("not an upsert job")
        return self.external_id

    def info(self, *, detailed: bool = True) -> dict:
        body: dict[str, object] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.modified,
            "state": self.state,
        }
        if self.external_id:
            body["externalIdFieldName"] = self.external_id
        body.update(
            {
                "concurrencyMode": "Parallel",
                "contentType": "CSV",
                "apiVersion": float(self.version.lstrip("v")),
            }
        )
        if self.state == "Open":
            body["contentUrl"] = f"services/data/{self.version}/jobs/ingest/{self.id}/batches"
        body.update({"lineEnding": self.line_ending, "columnDelimiter": self.delimiter})
        if detailed:
            body.update(
                {
                    "jobType": "V2Ingest",
                    "numberRecordsProcessed": len(self.succeeded) + len(self.failed),
                    "numberRecordsFailed": len(self.failed),
                    "retries": 0,
                    "totalProcessingTime": self.processing_ms,
                    "apiActiveProcessingTime": self.processing_ms,
                    "apexProcessingTime": 0,
                }
            )
            if self.error:
                body["errorMessage"] = self.error
        return body

    def touch(self, state: str | None = None) -> None:
        if state:
            self.state = state
        self.modified = _now()


class BulkJobs:
    def __init__(
        self,
        *,
        state: StateFile,
        org: SalesforceOrg,
        step: float = 0.1,
        sleep: Callable = time.sleep,
        may_hard_delete: Callable[[], bool] = lambda: False,
    ):
        self.state, self.org, self.step, self.sleep = state, org, step, sleep
        self.may_hard_delete = may_hard_delete
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    # -- requests --------------------------------------------------------------------------------------------------

    def create(self, body: dict, *, version: str, user_id: str) -> Job:
        def invalid(message: str) -> SalesforceError:
            return SalesforceError(400, "INVALIDJOB", message)

        sobject = self.org.sobject(str(body.get("object") or ""))
        if not body.get("object"):
            raise invalid("Object is required")
        if sobject is None:
            raise invalid(f"sObject type '{body['object']}' is not supported.")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise invalid(f"Invalid operation: {operation}")
        if operation == "hardDelete" and not self.may_hard_delete():
            raise SalesforceError(400, "FEATURENOTENABLED", NO_HARD_DELETE)
        if body.get("contentType", "CSV") != "CSV":
            raise invalid(f"Invalid contentType: {body.get('contentType')}")
        line_ending = body.get("lineEnding", "LF")
        delimiter = body.get("columnDelimiter", "COMMA")
        if line_ending not in LINE_ENDINGS:
            raise invalid(f"Invalid lineEnding: {line_ending}")
        if delimiter not in DELIMITERS:
            raise invalid(f"Invalid columnDelimiter: {delimiter}")
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            fld = sobject.field(str(external or ""))
            if not external:
                raise invalid("External ID field is required for upsert operations")
            if fld is None or not (fld.external_id or fld.type == "id"):
                raise invalid(f"Invalid external ID field: {external}")
            external = fld.name
        job = Job(
            id=record_ids.random("750"),
            object=sobject.name,
            operation=operation,
            external_id=external if operation == "upsert" else None,
            line_ending=line_ending,
            delimiter=delimiter,
            version=version,
            created_by=user_id,
        )
        with self._lock:
            self.jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def all(self) -> list[Job]:
        with self._lock:
            return list(self.jobs.values())

    def upload(self, job: Job, data: bytes) -> None:
        if job.state != "Open":
            raise SalesforceError(409, "INVALIDJOBSTATE", f"Job {job.id} is not in Open state; data can't be uploaded")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SalesforceError(400, "INVALIDBATCH", "The CSV data is not UTF-8") from None
        job.uploads.append(text.removeprefix("\ufeff"))
        job.touch()

    def change_state(self, job: Job, wanted: object) -> None:
        if wanted == "UploadComplete" and job.state == "Open":
            if len(job.uploads) > 1:
                raise SalesforceError(
                    400,
                    "INVALIDJOB",
                    f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / 'Delete' the current "
                    "Job then create a new Job and make sure you only do 'PUT' once on a given Job.",
                )
            job.touch("UploadComplete")
            threading.Thread(target=self._run, args=(job,), name=f"bulk-{job.id}", daemon=True).start()
        elif wanted == "Aborted" and job.state in ABORTABLE:
            job.touch("Aborted")
        else:
            raise SalesforceError(
                400, "INVALIDJOBSTATE", f"Can't change the state of job {job.id} from {job.state} to {wanted}"
            )

    def delete(self, job: Job) -> None:
        if job.state not in DELETABLE:
            raise SalesforceError(
                400, "INVALIDJOBSTATE", f"Job {job.id} must be UploadComplete, JobComplete, Aborted or Failed"
            )
        with self._lock:
            self.jobs.pop(job.id, None)

    def results(self, job: Job, kind: str) -> str:
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        if kind == "successfulResults":
            writer.writerow(["sf__Id", "sf__Created", *job.header])
            writer.writerows(job.succeeded)
        elif kind == "failedResults":
            writer.writerow(["sf__Id", "sf__Error", *job.header])
            writer.writerows(job.failed)
        else:
            if job.header:
                writer.writerow(job.header)
            writer.writerows(job.unprocessed)
        return out.getvalue() if job.header or kind != "unprocessedrecords" else ""

    # -- processing ------------------------------------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        self.sleep(self.step)
        if job.state != "UploadComplete":
            return
        job.touch("InProgress")
        started = time.monotonic()
        self.sleep(self.step)
        if job.state != "InProgress":
            return
        with self.state.lock:
            failure = self._process(job)
            self.state.save()
        job.processing_ms = int((time.monotonic() - started) * 1000)
        job.error = failure
        job.touch("Failed" if failure else "JobComplete")

    def _process(self, job: Job) -> str | None:
        """Apply every row; the reason the whole job failed, or None."""
        if not job.uploads:
            return "InvalidBatch : No data was uploaded for this job"
        text = job.uploads[0]
        mixed = "\r\n" in text if job.line_ending == "LF" else re.search(r"(?<!\r)\n", text) is not None
        if mixed:
            setting = job.line_ending
            return f"ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is {setting}"
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter]) if row]
        if not rows:
            return "InvalidBatch : No header row in the CSV data"
        job.header, rows = rows[0], rows[1:]
        sobject = self.org.schema[job.object]
        fields = []
        for name in job.header:
            fld = sobject.field(name.strip())
            if fld is None:
                job.unprocessed = rows
                return f"InvalidBatch : Field name not found : {name}"
            fields.append(fld)
        lookup = None
        if job.operation == "upsert":
            ext = sobject.fields[job.key_field]
            lookup = None if ext.type == "id" else self.org.index(sobject, ext)
        for row in rows:
            if job.state == "Aborted":
                job.unprocessed.append(row)
                continue
            cells = (row + [""] * len(fields))[: len(fields)]
            try:
                record_id, created = self._apply(job, sobject, fields, cells, lookup)
            except RecordProblem as problem:
                job.failed.append([self._row_id(fields, cells), problem.bulk_error(), *cells])
                continue
            job.succeeded.append([record_id, "true" if created else "false", *cells])
        return None

    @staticmethod
    def _row_id(fields, cells) -> str:
        for fld, cell in zip(fields, cells, strict=True):
            if fld.type == "id":
                return record_ids.normalize(cell) or ""
        return ""

    def _apply(self, job: Job, sobject: SObjectType, fields, cells, lookup) -> tuple[str, bool]:
        values, given_id = {}, ""
        for fld, cell in zip(fields, cells, strict=True):
            if fld.type == "id":
                given_id = cell.strip()
                continue
            if cell != "":
                values[fld.name] = from_csv(fld, cell)
        org = self.org
        if job.operation in ("delete", "hardDelete"):
            record = self._existing(sobject, given_id, "delete")
            org.delete(record, hard=job.operation == "hardDelete")
            return record["Id"], False
        if job.operation == "update":
            return self._update(sobject, self._existing(sobject, given_id, "update"), values)
        if job.operation == "upsert":
            ext = sobject.fields[job.key_field]
            if ext.type == "id":
                if given_id:
                    return self._update(sobject, self._existing(sobject, given_id, "upsert"), values)
                return self._create(sobject, values, lookup=None, ext=None)
            key = values.get(ext.name)
            if key in (None, ""):
                raise RecordProblem("MISSING_ARGUMENT", f"{ext.name} not specified", [ext.name])
            matches = lookup.get(str(key).lower(), [])
            if len(matches) > 1:
                ids = ", ".join(r["Id"] for r in matches)
                raise RecordProblem(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{ext.label}: more than one record found for external id field: [{ids}]",
                    [ext.name],
                )
            if matches:
                return self._update(sobject, matches[0], values)
            return self._create(sobject, values, lookup=lookup, ext=ext)
        if given_id:
            raise RecordProblem("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
        return self._create(sobject, values, lookup=None, ext=None)

    def _existing(self, sobject: SObjectType, given_id: str, call: str) -> dict:
        if not given_id:
            raise RecordProblem("MISSING_ARGUMENT", f"Id not specified in an {call} call")
        normal = record_ids.normalize(given_id)
        if normal is None or record_ids.prefix_of(normal) != sobject.key_prefix:
            raise RecordProblem("MALFORMED_ID", f"{sobject.label} ID: id value of incorrect type: {given_id}", ["Id"])
        record = self.org.get(normal, sobject)
        if record is None:
            raise RecordProblem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if record["IsDeleted"]:
            raise RecordProblem("ENTITY_IS_DELETED", "entity is deleted")
        locked = self.org.lock_problem(record)
        if locked is not None:
            raise locked
        return record

    def _update(self, sobject: SObjectType, record: dict, values: dict) -> tuple[str, bool]:
        problems = self.org.check_update(record, values)
        if problems:
            raise problems[0]
        self.org.update(record, values)
        return record["Id"], False

    def _create(self, sobject: SObjectType, values: dict, *, lookup, ext) -> tuple[str, bool]:
        problems = self.org.check_create(sobject, values)
        if problems:
            raise problems[0]
        record = self.org.create(sobject, values)
        if lookup is not None and ext is not None:
            lookup.setdefault(str(values[ext.name]).lower(), []).append(record)
        return record["Id"], True
