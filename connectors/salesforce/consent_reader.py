"""Reads the Individuals and ContactPointTypeConsent rows behind a page of Contacts or Leads in bulk: two SOQL
queries per 200 Individuals (`WHERE Id IN (...)` and `WHERE PartyId IN (...)`), never one per record.

200 ids keep a query's URL far below the 16,384 bytes Salesforce accepts for a REST request (URI and headers),
as the connector's `Email IN (...)` lookups do.
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from consentry.connectors.base import batched

from .consent_records import CHANNELS_OF, CONSENT_FIELDS, INDIVIDUAL_FIELDS, PartyConsent, read_party
from .soql import quote

IN_LIMIT = 200
Query = Callable[[str], Iterator[dict]]


class SalesforceConsentReader:
    def __init__(self, query: Query, *, purpose: str | None, now: Callable[[], datetime]):
        self.query, self.purpose, self.now = query, purpose, now

    def read(self, individual_ids: Iterable[str | None]) -> dict[str, PartyConsent]:
        """What each of these Individuals' records say, by Individual id."""
        found: dict[str, PartyConsent] = {}
        now = self.now()
        kinds = ", ".join(quote(kind) for kind in CHANNELS_OF)
        for chunk in batched(sorted({i for i in individual_ids if i}), IN_LIMIT):
            ids = ", ".join(quote(i) for i in chunk)
            individuals = {
                row["Id"][:15]: row
                for row in self.query(f"SELECT {', '.join(INDIVIDUAL_FIELDS)} FROM Individual WHERE Id IN ({ids})")
            }
            rows: dict[str, list[dict]] = {}
            consent_query = (
                f"SELECT {', '.join(CONSENT_FIELDS)} FROM ContactPointTypeConsent "
                f"WHERE PartyId IN ({ids}) AND ContactPointType IN ({kinds})"
            )
            for row in self.query(consent_query):
                rows.setdefault(str(row.get("PartyId"))[:15], []).append(row)
            for individual in chunk:
                key = individual[:15]
                found[individual] = read_party(individuals.get(key), rows.get(key, []), self.purpose, now)
        return found

    def changed_since(self, since: str) -> set[str]:
        """Individuals whose own flags or consent rows changed after `since` (a SOQL datetime literal)."""
        changed = {row["Id"] for row in self.query(f"SELECT Id FROM Individual WHERE SystemModstamp > {since}")}
        consent_query = f"SELECT PartyId FROM ContactPointTypeConsent WHERE SystemModstamp > {since}"
        changed |= {row["PartyId"] for row in self.query(consent_query) if row.get("PartyId")}
        return changed
