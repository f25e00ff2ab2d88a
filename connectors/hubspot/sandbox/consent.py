"""Subscription statuses per email address, kept as HubSpot keeps them: a portal-wide opt-out ("unsubscribed from
all email") and one status per subscription type, mirrored onto the contact's read-only `hs_email_optout` and
`hs_email_optout_<subscriptionId>` properties (CONTRACTS §1.3-1.5).

Statuses live by address, with or without a contact. Unsubscribing from all marks every subscription UNSUBSCRIBED
too; re-subscribing one subscription (v4, with a legal basis) lifts the portal-wide opt-out and leaves the others
as they were. `hs_email_optout` stays empty until the address first opts out of all email. Callers hold
`state.lock`.
"""

from typing import Literal, overload

from .portal import HubSpotPortal, Source, iso

SUBSCRIBED, UNSUBSCRIBED, NOT_SPECIFIED = "SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED"
STATES = (SUBSCRIBED, UNSUBSCRIBED, NOT_SPECIFIED)
LEGAL_BASES = (
    "CONSENT_WITH_NOTICE",
    "LEGITIMATE_INTEREST_CLIENT",
    "LEGITIMATE_INTEREST_OTHER",
    "LEGITIMATE_INTEREST_PQL",
    "NON_GDPR",
    "PERFORMANCE_OF_CONTRACT",
    "PROCESS_AND_STORE",
)


class SubscriptionBook:
    def __init__(self, portal: HubSpotPortal):
        self.portal = portal
        portal.derived = self.contact_properties

    @property
    def definitions(self) -> list[dict]:
        return self.portal.data["definitions"]

    def definition(self, subscription_id) -> dict | None:
        return next((d for d in self.definitions if d["id"] == str(subscription_id).strip()), None)

    @overload
    def _record(self, email: str, *, create: Literal[True]) -> dict: ...

    @overload
    def _record(self, email: str, *, create: bool = False) -> dict | None: ...

    def _record(self, email: str, *, create: bool = False) -> dict | None:
        key = str(email).strip().lower()
        book = self.portal.data["preferences"]
        if key not in book and create:
            book[key] = {"wide": None, "subscriptions": {}}
        return book.get(key)

    # -- reading ---------------------------------------------------------------------------------------------

    def opted_out(self, email: str) -> bool:
        record = self._record(email)
        return bool(record and record["wide"] and record["wide"]["status"] == UNSUBSCRIBED)

    def own(self, email: str, subscription_id: str) -> dict | None:
        record = self._record(email)
        return record["subscriptions"].get(str(subscription_id)) if record else None

    def status(self, email: str, subscription_id: str) -> str:
        """The v4 status: UNSUBSCRIBED when opted out of all, else the subscription's own (NOT_SPECIFIED if none)."""
        if self.opted_out(email):
            return UNSUBSCRIBED
        own = self.own(email, subscription_id)
        return own["status"] if own else NOT_SPECIFIED

    def contact_properties(self, email: str) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        record = self._record(email)
        if record is None:
            return values
        if record["wide"]:  # never opted out: HubSpot leaves the property empty
            values["hs_email_optout"] = "true" if record["wide"]["status"] == UNSUBSCRIBED else "false"
        for definition in self.definitions:
            state = self.status(email, definition["id"])
            values[f"hs_email_optout_{definition['id']}"] = {SUBSCRIBED: "false", UNSUBSCRIBED: "true"}.get(state)
        return values

    # -- writing ---------------------------------------------------------------------------------------------

    def set_status(
        self,
        email: str,
        subscription_id: str,
        state: str,
        *,
        source: Source,
        legal_basis: str | None = None,
        explanation: str | None = None,
    ) -> str:
        """Set one subscription's status; the answer is v4's `setStatusSuccessReason`."""
        before = self.status(email, subscription_id)
        record = self._record(email, create=True)
        resubscribed = state == SUBSCRIBED and before == UNSUBSCRIBED
        if state == SUBSCRIBED and self.opted_out(email):
            record["wide"] = {"status": SUBSCRIBED, "timestamp": self.portal.now(), "source": source[0]}
        record["subscriptions"][str(subscription_id)] = {
            "status": state,
            "timestamp": self.portal.now(),
            "source": source[0],
            "legalBasis": legal_basis,
            "legalBasisExplanation": explanation,
        }
        self._mirror(email, source)
        if before == state:
            return "NO_STATUS_CHANGE"
        return "RESUBSCRIBE_OCCURRED" if resubscribed else "REQUESTED_CHANGE_OCCURRED"

    def unsubscribe_all(self, email: str, *, source: Source) -> bool:
        """Opt the address out of all email; False when it already was (nothing changes)."""
        record = self._record(email, create=True)
        if self.opted_out(email):
            return False
        stamp = self.portal.now()
        record["wide"] = {"status": UNSUBSCRIBED, "timestamp": stamp, "source": source[0]}
        for definition in self.definitions:
            own = record["subscriptions"].get(definition["id"])
            if own is None or own["status"] != UNSUBSCRIBED:
                record["subscriptions"][definition["id"]] = {
                    "status": UNSUBSCRIBED,
                    "timestamp": stamp,
                    "source": source[0],
                    "legalBasis": None,
                    "legalBasisExplanation": None,
                }
        self._mirror(email, source)
        return True

    def _mirror(self, email: str, source: Source) -> None:
        contact = self.portal.by_email(email)
        if contact is not None:
            self.portal.set_system(contact, self.contact_properties(email), source=source)

    # -- HubSpot's shapes ------------------------------------------------------------------------------------

    def public_status(self, email: str, definition: dict, *, reason: str | None = None) -> dict:
        """v4 `PublicStatus`."""
        own = self.own(email, definition["id"]) or {}
        record = self._record(email) or {}
        wide = record.get("wide") or {}
        stamp = max(own.get("timestamp", 0), wide.get("timestamp", 0)) or self.portal.now()
        body = {
            "subscriberIdString": email,
            "subscriptionId": int(definition["id"]),
            "subscriptionName": definition["name"],
            "channel": "EMAIL",
            "status": self.status(email, definition["id"]),
            "source": own.get("source") or wide.get("source") or "NONE",
            "timestamp": iso(stamp),
            "businessUnitId": 0,
        }
        if own.get("legalBasis"):
            body["legalBasis"] = own["legalBasis"]
            body["legalBasisExplanation"] = own.get("legalBasisExplanation")
        if reason:
            body["setStatusSuccessReason"] = reason
        return body

    def wide_status(self, email: str) -> dict | None:
        """v4 `PublicWideStatus`, or None when the address has not opted out of all email."""
        record = self._record(email)
        if record is None or not self.opted_out(email):  # no record: never opted out
            return None
        return {
            "subscriberIdString": email,
            "channel": "EMAIL",
            "status": UNSUBSCRIBED,
            "timestamp": iso(record["wide"]["timestamp"]),
            "wideStatusType": "PORTAL_WIDE",
            "businessUnitId": 0,
        }

    def v3_status(self, email: str, definition: dict) -> dict:
        """v3 `PublicSubscriptionStatus`: SUBSCRIBED or NOT_SUBSCRIBED, and where that status comes from."""
        own = self.own(email, definition["id"]) or {}
        body = {
            "id": definition["id"],
            "name": definition["name"],
            "description": definition["description"],
            "status": "SUBSCRIBED" if self.status(email, definition["id"]) == SUBSCRIBED else "NOT_SUBSCRIBED",
            "sourceOfStatus": "PORTAL_WIDE_STATUS" if self.opted_out(email) else "SUBSCRIPTION_STATUS",
        }
        if own.get("legalBasis"):
            body["legalBasis"] = own["legalBasis"]
            body["legalBasisExplanation"] = own.get("legalBasisExplanation")
        return body

    def definition_view(self, definition: dict) -> dict:
        """`SubscriptionDefinition` (v3 and v4)."""
        stamp = iso(1_577_836_800_000)
        return {
            "id": definition["id"],
            "name": definition["name"],
            "description": definition["description"],
            "purpose": "Marketing",
            "communicationMethod": "Email",
            "isActive": True,
            "isDefault": bool(definition.get("default")),
            "isInternal": False,
            "businessUnitId": 0,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
