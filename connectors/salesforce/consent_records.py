"""What Salesforce's consent records say, and what has to change in them: the `Individual` linked to a Contact or
Lead (`IndividualId`) and its `ContactPointTypeConsent` rows (one consent status per contact point type).

Pure rules, no HTTP. Facts from Salesforce's object reference (CONTRACTS §3.3): `ContactPointType` is one of
Email, MailingAddress, Phone, Social, Web (there is no fax type, so fax stays on `HasOptedOutOfFax`);
`PrivacyConsentStatus` holds OptIn or OptOut (Seen and NotSeen say nothing about a choice); `EffectiveFrom` and
`EffectiveTo` bound when a row is in force; `HasOptedOutSolicit` ("Don't Market"), `HasOptedOutProcessing` and
`ShouldForget` on the Individual cover every channel.

Rows are grouped by data use purpose. In each group the row in force with the latest capture speaks for the
person; an opt-out in any group that counts wins over an opt-in in another. With a configured purpose only that
purpose and rows without one count; without one, every purpose counts, which errs on the side of the opt-out.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

OPT_IN, OPT_OUT = "OptIn", "OptOut"
CAPTURE_SOURCE = "Consentry"
CAPTURE_CONTACT_POINT_TYPE = "Web"  # how Consentry captures a choice: its unsubscribe pages and API
CONTACT_POINT_TYPE = {  # Consentry channel -> ContactPointType
    "email": "Email",
    "sms": "Phone",
    "automated_call": "Phone",
    "phone_human": "Phone",
    "postal": "MailingAddress",
}
CHANNELS_OF: dict[str, frozenset[str]] = {
    kind: frozenset(channel for channel, value in CONTACT_POINT_TYPE.items() if value == kind)
    for kind in sorted(set(CONTACT_POINT_TYPE.values()))
}
EVERY_CHANNEL = frozenset({"email", "sms", "automated_call", "phone_human", "fax", "postal"})
GLOBAL_OPT_OUTS = ("HasOptedOutSolicit", "HasOptedOutProcessing", "ShouldForget")
INDIVIDUAL_FIELDS = ("Id", *GLOBAL_OPT_OUTS, "SystemModstamp")
CONSENT_FIELDS = (
    "Id",
    "PartyId",
    "ContactPointType",
    "PrivacyConsentStatus",
    "DataUsePurposeId",
    "EffectiveFrom",
    "EffectiveTo",
    "CaptureDate",
    "SystemModstamp",
)
PLACEHOLDER_NAME = "Consentry"  # an Individual's LastName when the record's own would reveal contact details


@dataclass(frozen=True)
class PartyConsent:
    """What one Individual's records say, in Consentry channels."""

    opted_out: frozenset[str] = frozenset()
    subscribed: frozenset[str] = frozenset()
    changed_at: datetime | None = None


def types_for(channels: Iterable[str]) -> frozenset[str]:
    """The contact point types an opt-out of these channels covers ("all" covers every type)."""
    channels = set(channels)
    if "all" in channels:
        return frozenset(CHANNELS_OF)
    return frozenset(CONTACT_POINT_TYPE[c] for c in channels if c in CONTACT_POINT_TYPE)


def parse_time(text: str | None) -> datetime | None:
    """A Salesforce datetime (`2024-05-01T10:00:00.000+0000`, or with `Z`), None when absent or unreadable."""
    if not text:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text.replace("Z", "+0000"), pattern)
        except ValueError:
            continue
    return None


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_force(row: Mapping, now: datetime) -> bool:
    start, end = parse_time(row.get("EffectiveFrom")), parse_time(row.get("EffectiveTo"))
    return (start is None or start <= now) and (end is None or end > now)


def _not_ended(row: Mapping, now: datetime) -> bool:
    end = parse_time(row.get("EffectiveTo"))
    return end is None or end > now


def _latest_first(row: Mapping) -> tuple:
    """Key for `max`: the latest capture, then the latest change; at the same moment the opt-out wins; then the Id."""
    captured = parse_time(row.get("CaptureDate")) or parse_time(row.get("EffectiveFrom"))
    stamp = parse_time(row.get("SystemModstamp"))
    floor = datetime.min.replace(tzinfo=UTC)
    return (captured or floor, stamp or floor, row.get("PrivacyConsentStatus") == OPT_OUT, str(row.get("Id")))


def counts(row: Mapping, purpose: str | None) -> bool:
    """Whether a row's data use purpose matters here: every purpose without a configured one."""
    given = str(row.get("DataUsePurposeId") or "")
    return purpose is None or not given or given[:15] == purpose[:15]


def speaking(rows: Iterable[Mapping], kind: str, purpose: str | None, now: datetime) -> list[Mapping]:
    """Per purpose group, the row in force with the latest capture, for one contact point type."""
    groups: dict[str, list[Mapping]] = {}
    for row in rows:
        if row.get("ContactPointType") == kind and counts(row, purpose) and in_force(row, now):
            groups.setdefault(str(row.get("DataUsePurposeId") or "")[:15], []).append(row)
    return [max(group, key=_latest_first) for group in groups.values()]


def read_party(individual: Mapping | None, rows: Iterable[Mapping], purpose: str | None, now: datetime) -> PartyConsent:
    """What an Individual and its consent rows say: global opt-outs first, then each contact point type."""
    rows = list(rows)
    stamps = [parse_time(r.get("SystemModstamp")) for r in [*rows, *([individual] if individual else [])]]
    changed = max((s for s in stamps if s is not None), default=None)
    if individual and any(individual.get(flag) is True for flag in GLOBAL_OPT_OUTS):
        return PartyConsent(opted_out=EVERY_CHANNEL, changed_at=changed)
    opted_out: set[str] = set()
    subscribed: set[str] = set()
    for kind, channels in CHANNELS_OF.items():
        statuses = {row.get("PrivacyConsentStatus") for row in speaking(rows, kind, purpose, now)}
        if OPT_OUT in statuses:
            opted_out |= channels
        elif statuses == {OPT_IN}:
            subscribed |= channels
    return PartyConsent(frozenset(opted_out), frozenset(subscribed), changed)


# -- writing ----------------------------------------------------------------------------------------------------


@dataclass
class ConsentChanges:
    """The writes that bring consent rows to a wanted status: updates (with `id`), creates, and rows already so."""

    updates: list[dict] = field(default_factory=list)
    creates: list[dict] = field(default_factory=list)
    unchanged: int = 0


def plan(
    wanted: Mapping[str, Iterable[str]],
    rows: Iterable[Mapping],
    status: str,
    *,
    purpose: str | None,
    now: datetime,
) -> ConsentChanges:
    """Set `status` for each (Individual, contact point type) in `wanted`, in the configured purpose's group.

    The row to change is the latest that has not ended, in force or scheduled; one already holding `status`, in
    force and open-ended, is left alone (no write). Without such a row a new one is created; ended rows stay as
    history."""
    by_key: dict[tuple[str, str], list[Mapping]] = {}
    group = (purpose or "")[:15]
    for row in rows:
        if str(row.get("DataUsePurposeId") or "")[:15] == group and _not_ended(row, now):
            by_key.setdefault((str(row.get("PartyId"))[:15], str(row.get("ContactPointType"))), []).append(row)
    changes = ConsentChanges()
    stamp = format_time(now)
    for party in sorted(wanted):
        for kind in sorted(set(wanted[party])):
            candidates = by_key.get((party[:15], kind), [])
            current = max(candidates, key=_latest_first) if candidates else None
            if current is not None and _holds(current, status, now):
                changes.unchanged += 1
                continue
            values = {
                "PrivacyConsentStatus": status,
                "CaptureDate": stamp,
                "CaptureSource": CAPTURE_SOURCE,
                "CaptureContactPointType": CAPTURE_CONTACT_POINT_TYPE,
                "EffectiveFrom": stamp,
                "EffectiveTo": None,
            }
            if current is not None:
                changes.updates.append(
                    {"attributes": {"type": "ContactPointTypeConsent"}, "id": current["Id"], **values}
                )
            else:
                changes.creates.append(
                    {
                        "attributes": {"type": "ContactPointTypeConsent"},
                        "Name": f"{kind} consent",
                        "PartyId": party,
                        "ContactPointType": kind,
                        **({"DataUsePurposeId": purpose} if purpose else {}),
                        **{k: v for k, v in values.items() if v is not None},
                    }
                )
    return changes


def _holds(row: Mapping, status: str, now: datetime) -> bool:
    return row.get("PrivacyConsentStatus") == status and in_force(row, now) and not row.get("EffectiveTo")


def individual_name(last_name: str | None) -> str:
    """The Individual's required LastName: the record's own, unless it looks like an address or a number."""
    name = (last_name or "").strip()
    digits = sum(character.isdigit() for character in name)
    if not name or "@" in name or digits >= 5:
        return PLACEHOLDER_NAME
    return name[:80]


ALLOWED = frozenset({"allowed", "allowed_with_conditions"})


def opt_in_types(status: Mapping[str, str], only: Iterable[str] | None = None) -> frozenset[str]:
    """The contact point types a proven consent may set to OptIn: every verdict on the type's channels allows
    (Phone needs SMS and calls allowed alike), restricted to the channels the proof covers when it names them."""
    kinds = set()
    covered = None if only is None else set(only)
    for kind, channels in CHANNELS_OF.items():
        verdicts = [status[channel] for channel in channels if channel in status]
        proven = covered is None or bool(channels & covered)
        if verdicts and proven and all(verdict in ALLOWED for verdict in verdicts):
            kinds.add(kind)
    return frozenset(kinds)
