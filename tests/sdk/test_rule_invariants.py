"""The engine's invariants, over generated requests in every jurisdiction, channel, audience and action:

- a fact that counts against the contact, set to unknown, never makes a decision more permissive;
- adding an objection, a withdrawal, a suppression entry or a do-not-call registration never does either;
- a re-opt-in lifts a suppression only when it is provably later, and only for its own channel and advertiser;
- every reason code a decision cites belongs to its jurisdiction or to the GDPR (or is Consentry's own).

Ordering: forbidden < allowed with conditions < allowed.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.sdk.catalogue import WhenUnknown, reason
from consentry.sdk.catalogue import facts as fact_catalogue
from consentry.sdk.consent_state import ConsentEvent, EventKind
from consentry.sdk.models import Contact, Request
from consentry.sdk.rules import JURISDICTIONS, evaluate
from consentry.sdk.rules._unknown import candidates
from consentry.sdk.scenarios import load_scenarios
from consentry.sdk.standing import standing_decision
from consentry.sdk.suppression import Suppression
from consentry.sdk.vocabulary import Action, Audience, Channel, Verdict

DATA = Path(__file__).resolve().parents[1] / "data"
RANK = {Verdict.FORBIDDEN: 0, Verdict.ALLOWED_WITH_CONDITIONS: 1, Verdict.ALLOWED: 2}
AGAINST = sorted(key for key, info in fact_catalogue().items() if info.when_unknown is WhenUnknown.AGAINST)
ALL_FACTS = sorted(fact_catalogue())
ZONES = ("Europe/Paris", "Europe/Berlin", "Europe/London", "America/New_York", "Indian/Reunion")
EXAMPLES = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LISTS = {
    "FR": {"bloctel_registered": True},
    "IT": {"rpo_registered": True},
    "BE": {"dncm_registered": True},
    "ES": {"robinson_registered": True},
    "UK": {"tps_registered": True},
    "US": {"national_dnc_registered": True},
}


@st.composite
def moments(draw) -> datetime:
    day = draw(st.dates(min_value=date(2025, 6, 1), max_value=date(2027, 6, 30)))
    hour = draw(st.integers(min_value=0, max_value=23))
    zone = draw(st.sampled_from(ZONES))
    return datetime(day.year, day.month, day.day, hour, draw(st.sampled_from((0, 30))), tzinfo=ZoneInfo(zone))


def _bare(jurisdiction: str, channel: Channel, audience: Audience, action: Action, at: datetime) -> Request:
    return Request(contact=Contact(audience=audience, jurisdiction=jurisdiction), channel=channel, at=at, action=action)


def _seeds() -> list[Request]:
    """The permitted cases of the scenario files: a base that generated changes could make less permissive."""
    seeds = []
    for path in sorted(DATA.glob("*scenarios.yaml")):
        for scenario in load_scenarios(path):
            if scenario.request is not None and evaluate(scenario.request).verdict is not Verdict.FORBIDDEN:
                seeds.append(scenario.request)
    return seeds


SEEDS = _seeds()


@st.composite
def requests(draw) -> Request:
    """A permitted case from the scenario files, or a bare request in any jurisdiction, channel, audience and
    action, with a handful of facts added, each drawn from the values the engine tells apart."""
    if draw(st.booleans()):
        base = draw(st.sampled_from(SEEDS))
    else:
        action = draw(st.sampled_from(list(Action)))
        channels = [c for c in Channel if action is not Action.SEND or c is not Channel.ANY]
        base = _bare(
            draw(st.sampled_from(sorted(JURISDICTIONS))),
            draw(st.sampled_from(channels)),
            draw(st.sampled_from(list(Audience))),
            action,
            draw(moments()),
        )
    chosen = draw(st.lists(st.sampled_from(ALL_FACTS), min_size=0, max_size=3, unique=True))
    values = {key: draw(st.sampled_from(_values(key, base))) for key in chosen}
    return _with(base, {**_known(base), **values})


def _values(key: str, request: Request) -> list:
    day = request.at.date()
    options = list(candidates(key, request))
    if any(isinstance(value, date) and not isinstance(value, datetime) for value in options):
        options += [day - timedelta(days=400), day - timedelta(days=30), day + timedelta(days=10)]
    return options


def _with(request: Request, values: dict) -> Request:
    """The request with these facts (the others kept, unknown ones too)."""
    facts = request.facts.replace(**values)
    zone = values.get("callee_timezone")
    contact = replace(request.contact, facts=facts, time_zone=zone if isinstance(zone, str) else None)
    return replace(request, contact=contact)


def _known(request: Request) -> dict:
    return dict(request.facts)


@EXAMPLES
@given(requests(), st.data())
def test_an_unknown_fact_that_counts_against_the_contact_never_makes_the_decision_more_permissive(request, data):
    given_facts = sorted(key for key in _known(request) if key in AGAINST)
    key = data.draw(st.sampled_from(given_facts or AGAINST), label="made unknown")
    before = evaluate(request)
    after = evaluate(_with(request, {key: None}))
    assert RANK[after.verdict] <= RANK[before.verdict], (key, before.to_dict(), after.to_dict())


OBJECTIONS = {
    "objection": lambda day: {"objected": True, "objection_date": day},
    "withdrawal": lambda day: {"consent_state": "withdrawn", "withdrawal_date": day},
    "suppression entry": lambda day: {"on_suppression_list": True, "suppression_date": day},
    "opt-out": lambda day: {"opted_out_on": day},
}


@EXAMPLES
@given(requests(), st.sampled_from(sorted(OBJECTIONS)))
def test_adding_an_objection_a_withdrawal_or_a_suppression_entry_never_makes_the_decision_more_permissive(
    request, kind
):
    before = evaluate(request)
    after = evaluate(_with(request, {**_known(request), **OBJECTIONS[kind](request.at.date())}))
    assert RANK[after.verdict] <= RANK[before.verdict], (kind, before.to_dict(), after.to_dict())


@EXAMPLES
@given(requests())
def test_a_do_not_call_registration_never_makes_the_decision_more_permissive(request):
    registration = LISTS.get(request.contact.jurisdiction)
    before = evaluate(request)
    if registration is None:  # no such list in that jurisdiction
        return
    after = evaluate(_with(request, {**_known(request), **registration}))
    assert RANK[after.verdict] <= RANK[before.verdict], (before.to_dict(), after.to_dict())


def _suppressed_then_reopted(jurisdiction, channel, suppressed_on: date, reoptin_on: date, **extra) -> Request:
    at = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    facts = {
        "on_suppression_list": True,
        "suppression_date": suppressed_on,
        "reoptin_date": reoptin_on,
        "consent_state": "opt_in",
        "consent_collected_by": "advertiser",
        "consent_documented": True,
        "consent_proof_stored": True,
        **extra,
    }
    return _with(_bare(jurisdiction, channel, Audience.CONSUMER, Action.SEND, at), facts)


SENDS = [Channel.EMAIL, Channel.SMS, Channel.PHONE_HUMAN, Channel.POSTAL]


@EXAMPLES
@given(
    st.sampled_from(sorted(JURISDICTIONS)),
    st.sampled_from(SENDS),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 11, 23)),
    st.integers(min_value=-400, max_value=0),
)
def test_a_re_opt_in_not_provably_later_than_the_suppression_never_lifts_it(jurisdiction, channel, suppressed, shift):
    request = _suppressed_then_reopted(jurisdiction, channel, suppressed, suppressed + timedelta(days=shift))
    assert evaluate(request).verdict is Verdict.FORBIDDEN


@EXAMPLES
@given(st.sampled_from(sorted(JURISDICTIONS)), st.sampled_from(SENDS), st.sampled_from(SENDS))
def test_a_re_opt_in_for_another_channel_never_lifts_the_suppression(jurisdiction, channel, other):
    if other is channel:
        other = Channel.FAX
    request = _suppressed_then_reopted(
        jurisdiction, channel, date(2025, 1, 10), date(2026, 1, 10), consent_channel=other.value
    )
    assert evaluate(request).verdict is Verdict.FORBIDDEN


@EXAMPLES
@given(st.sampled_from(sorted(JURISDICTIONS)), st.sampled_from(SENDS), st.sampled_from(["partner", "data_broker"]))
def test_a_re_opt_in_collected_by_someone_else_never_lifts_the_suppression(jurisdiction, channel, collector):
    request = _suppressed_then_reopted(
        jurisdiction, channel, date(2025, 1, 10), date(2026, 1, 10), consent_collected_by=collector
    )
    assert evaluate(request).verdict is Verdict.FORBIDDEN


@EXAMPLES
@given(st.sampled_from(sorted(JURISDICTIONS)), st.sampled_from(SENDS))
def test_a_re_opt_in_given_to_another_advertiser_never_lifts_the_suppression(jurisdiction, channel):
    """From the ledger: the objection is the advertiser's; a later consent recorded for another one does not count."""
    at = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    events = [
        ConsentEvent("o-1", EventKind.WITHDRAWN, channel.value, at - timedelta(days=300), "hubspot", "acme"),
        ConsentEvent("g-1", EventKind.GRANTED, channel.value, at - timedelta(days=10), "hubspot", "other-brand"),
    ]
    suppression = Suppression(frozenset({channel.value}), "FR_CONSENT_WITHDRAWN", (at - timedelta(days=300)).date())
    decision, _state = standing_decision(
        events,
        channel,
        advertiser="acme",
        audience=Audience.CONSUMER,
        jurisdiction=jurisdiction,
        at=at,
        suppression=suppression,
    )
    assert decision.verdict is Verdict.FORBIDDEN


@EXAMPLES
@given(requests())
def test_every_reason_code_belongs_to_the_decisions_jurisdiction_or_to_the_gdpr(request):
    decision = evaluate(request)
    own = request.contact.jurisdiction
    for code in decision.reason_codes:
        assert reason(code).jurisdiction in (own, "EU", "any"), (own, code)
        assert own == "FR" or not code.startswith("FR_"), (own, code)


def _belongs(decision, own: str) -> list[str]:
    """The codes a decision cites that belong neither to its jurisdiction nor to the GDPR nor to Consentry."""
    return [
        code
        for code in decision.reason_codes
        if reason(code).jurisdiction not in (own, "EU", "any") or (own != "FR" and code.startswith("FR_"))
    ]


def test_every_scenario_is_explained_in_its_own_jurisdictions_codes_or_the_gdprs():
    """Before, a German consent-documentation case was explained with a French code."""
    foreign = {}
    for path in sorted(DATA.glob("*scenarios.yaml")):
        for scenario in load_scenarios(path):
            if scenario.request is not None:
                found = _belongs(evaluate(scenario.request), scenario.request.contact.jurisdiction)
                if found:
                    foreign[scenario.id] = found
    assert foreign == {}


DEFECTS = {
    "pre-ticked box": {"consent_state": "opt_in", "consent_mechanism": "pre_ticked_checkbox"},
    "bundled consent": {"consent_state": "opt_in", "consent_mechanism": "bundled_with_terms"},
    "no proof": {"consent_state": "opt_in", "consent_proof_stored": False},
    "withdrawn": {"consent_state": "withdrawn", "withdrawal_date": date(2026, 3, 1)},
    "partner not named": {
        "consent_state": "opt_in",
        "data_source": "partner_transfer",
        "partners_named_at_collection": False,
    },
    "bought list": {"consent_state": "opt_in", "data_source": "purchased_list"},
    "re-opt-in after an objection": {
        "objected": True,
        "objection_date": date(2025, 3, 1),
        "reoptin_date": date(2026, 3, 1),
        "consent_state": "opt_in",
        "consent_collected_by": "advertiser",
    },
}


@EXAMPLES
@given(
    st.sampled_from(sorted(set(JURISDICTIONS) - {"FR"})),
    st.sampled_from(SENDS),
    st.sampled_from(list(Audience)),
    st.sampled_from(sorted(DEFECTS)),
)
def test_consent_defects_outside_france_are_explained_with_the_gdprs_codes(jurisdiction, channel, audience, defect):
    at = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    request = _with(_bare(jurisdiction, channel, audience, Action.SEND, at), DEFECTS[defect])
    assert _belongs(evaluate(request), jurisdiction) == []
