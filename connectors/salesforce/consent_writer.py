"""Plans the writes to Individuals and ContactPointTypeConsent rows that an unsubscribe (or a proven consent)
needs, reading what exists in bulk so that a row already in the wanted state costs no write.

The connector executes the plan: consent-row and Individual updates travel in the same sObject Collections calls
as the Contact and Lead opt-out fields, new consent rows in create calls. Only new Individuals are created here,
first, because the records they are linked to and their consent rows need their ids.

A Contact or Lead without an Individual (with `create_individuals`): it is linked to the Individual of another
record with the same address when there is one, else to a new Individual, shared by that address's records and
named after the record's LastName (a placeholder when that holds an address or a number). Without
`create_individuals` such records are reported as failed with `NO_INDIVIDUAL`; their opt-out fields are set all
the same.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from consentry.connectors.base import WriteReport, batched

from .consent_reader import IN_LIMIT, Query
from .consent_records import (
    CONSENT_FIELDS,
    OPT_IN,
    OPT_OUT,
    PLACEHOLDER_NAME,
    individual_name,
    plan,
    types_for,
)
from .soql import quote

Create = Callable[[list[dict]], list[dict]]  # SaveResults in request order (the connector counts the calls)


@dataclass(frozen=True)
class Target:
    """One Contact or Lead found for an unsubscribe; `person` groups one address's records and is never logged."""

    position: int
    object_type: str
    record_id: str
    person: str
    individual_id: str | None
    last_name: str | None
    channels: frozenset[str]


@dataclass
class ConsentWritePlan:
    links: dict[str, str] = field(default_factory=dict)  # record id -> Individual id to set as its IndividualId
    updates: list[dict] = field(default_factory=list)  # ContactPointTypeConsent and Individual updates
    creates: list[dict] = field(default_factory=list)  # new ContactPointTypeConsent rows
    report: WriteReport = field(default_factory=WriteReport)
    created: set[str] = field(default_factory=set)  # the Individuals created for `links`, already in Salesforce


class SalesforceConsentWriter:
    def __init__(self, query: Query, create: Create, *, purpose: str | None, create_individuals: bool):
        self.query, self.create = query, create
        self.purpose, self.create_individuals = purpose, create_individuals

    def opt_out(self, targets: list[Target], now: datetime) -> ConsentWritePlan:
        """OptOut for every channel's contact point type, and Don't Market for an unsubscribe from everything."""
        result = ConsentWritePlan()
        created = result.created = self._link(targets, result)
        wanted: dict[str, set[str]] = {}
        dont_market: set[str] = set()
        for target in targets:
            party = target.individual_id or result.links.get(target.record_id)
            if party is None:
                continue
            wanted.setdefault(party, set()).update(types_for(target.channels))
            if "all" in target.channels and party not in created:
                dont_market.add(party)
        self._plan_rows(result, wanted, OPT_OUT, now, skip_reading=created)
        for row in self._individuals(dont_market, "HasOptedOutSolicit"):
            if row.get("HasOptedOutSolicit") is True:
                result.report.unchanged += 1
            else:
                result.updates.append(
                    {"attributes": {"type": "Individual"}, "id": row["Id"], "HasOptedOutSolicit": True}
                )
        return result

    def opt_in(self, wanted: Mapping[str, Iterable[str]], now: datetime) -> ConsentWritePlan:
        """OptIn for these contact point types, only called when the ledger proves a newer explicit consent.

        An Individual marked Forget this Individual (`ShouldForget`) gets nothing new."""
        result = ConsentWritePlan()
        forgotten = {
            row["Id"][:15] for row in self._individuals(set(wanted), "ShouldForget") if row.get("ShouldForget")
        }
        kept = {party: set(kinds) for party, kinds in wanted.items() if party[:15] not in forgotten}
        self._plan_rows(result, kept, OPT_IN, now, skip_reading=set())
        return result

    # -- steps ---------------------------------------------------------------------------------------------------

    def _link(self, targets: list[Target], result: ConsentWritePlan) -> set[str]:
        """Give every record without an Individual one (see the module doc); returns the ids of new Individuals."""
        by_person: dict[str, list[Target]] = {}
        for target in targets:
            by_person.setdefault(target.person, []).append(target)
        pending: list[tuple[list[Target], dict]] = []
        for members in by_person.values():
            orphans = [m for m in members if not m.individual_id]
            if not orphans:
                continue
            if not self.create_individuals:
                result.report.failed.extend((m.position, "NO_INDIVIDUAL") for m in orphans)
                continue
            existing = sorted({m.individual_id for m in members if m.individual_id})
            if existing:
                result.links.update((m.record_id, existing[0]) for m in orphans)
                continue
            names = [individual_name(m.last_name) for m in orphans]
            name = next((n for n in names if n != PLACEHOLDER_NAME), PLACEHOLDER_NAME)
            record: dict[str, object] = {"attributes": {"type": "Individual"}, "LastName": name}
            if any("all" in m.channels for m in members):
                record["HasOptedOutSolicit"] = True
            pending.append((orphans, record))
        created: set[str] = set()
        if not pending:
            return created
        answers = self.create([record for _, record in pending])
        for (orphans, _), answer in zip(pending, answers, strict=True):
            if answer.get("success") and answer.get("id"):
                result.report.applied += 1
                created.add(answer["id"])
                result.links.update((m.record_id, answer["id"]) for m in orphans)
            else:
                code = str((answer.get("errors") or [{}])[0].get("statusCode", "ERROR"))
                result.report.failed.extend((m.position, code) for m in orphans)
        return created

    def _plan_rows(
        self, result: ConsentWritePlan, wanted: Mapping[str, set[str]], status: str, now: datetime, *, skip_reading
    ) -> None:
        wanted = {party: kinds for party, kinds in wanted.items() if kinds}
        rows = self._consent_rows([p for p in wanted if p not in skip_reading], set().union(*wanted.values()))
        changes = plan(wanted, rows, status, purpose=self.purpose, now=now)
        result.updates.extend(changes.updates)
        result.creates.extend(changes.creates)
        result.report.unchanged += changes.unchanged

    def _consent_rows(self, parties: list[str], kinds: set[str]) -> list[dict]:
        if not parties or not kinds:
            return []
        rows: list[dict] = []
        types = ", ".join(quote(kind) for kind in sorted(kinds))
        for chunk in batched(sorted(parties), IN_LIMIT):
            ids = ", ".join(quote(party) for party in chunk)
            rows.extend(
                self.query(
                    f"SELECT {', '.join(CONSENT_FIELDS)} FROM ContactPointTypeConsent "
                    f"WHERE PartyId IN ({ids}) AND ContactPointType IN ({types})"
                )
            )
        return rows

    def _individuals(self, ids: set[str], flag: str) -> list[dict]:
        rows: list[dict] = []
        for chunk in batched(sorted(ids), IN_LIMIT):
            listed = ", ".join(quote(i) for i in chunk)
            rows.extend(self.query(f"SELECT Id, {flag} FROM Individual WHERE Id IN ({listed})"))
        return rows
