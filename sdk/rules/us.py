"""United States: CAN-SPAM and the TCPA, a reference profile for messages sent into the US."""

from datetime import time

from ..decision import Findings
from ..models import Request
from ..telephone import CallingCalendar
from ..vocabulary import Action, Audience, Channel, LegalBasis
from ._base import BUSINESS, CONSUMER, Jurisdiction, Rule
from ._common import callee_local_time, honour_objections, suppression_list_purpose, valid_consent

# "before 8 a.m. or after 9 p.m.": 9 p.m. itself is inside, any moment after it is not (the window's end is exclusive)
NINE_PM_ITSELF = time(21, 0, 1)
TCPA_CALENDAR = CallingCalendar(
    windows=((time(8), NINE_PM_ITSELF),), weekdays=frozenset(range(7)), observe_holidays=False
)
CANSPAM_REQUIREMENTS = (
    ("physical_postal_address", "must_include_valid_postal_address"),
    ("opt_out_mechanism", "must_include_opt_out"),
    ("headers_accurate", "must_not_use_deceptive_headers_or_subject"),
    ("identified_as_ad", "must_not_use_deceptive_headers_or_subject"),
)


def email(request: Request, findings: Findings) -> None:
    """Opt-out regime; an opt-out is honoured at once here, though the law allows 10 business days."""
    if honour_objections(request, findings, list_code="US_CANSPAM_10BD", objection_code="US_CANSPAM_10BD"):
        return
    facts = request.facts
    missing = [condition for fact, condition in CANSPAM_REQUIREMENTS if getattr(facts, fact) is False]
    if missing:
        findings.forbid("US_CANSPAM_OPTOUT", *missing)
        return
    findings.permit(
        "US_CANSPAM_OPTOUT",
        *dict.fromkeys(condition for _fact, condition in CANSPAM_REQUIREMENTS),
        "must_honor_optout_within_10_business_days",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )


def live_call(request: Request, findings: Findings) -> None:
    """No solicitation before 08:00 or after 21:00 local time, nor to Do-Not-Call numbers."""
    honour_objections(request, findings, list_code="US_TCPA_DNC", objection_code="US_TCPA_DNC")
    facts = request.facts
    consented = valid_consent(request, findings, "US_TCPA_DNC")
    if facts.national_dnc_registered is not False and not consented:  # not known: read as registered
        findings.forbid("US_TCPA_DNC")
        if facts.national_dnc_registered is None:
            findings.need("national_dnc_registered")
    if not _within_calling_hours(request, findings):
        return
    basis = LegalBasis.CONSENT if consented else LegalBasis.LEGITIMATE_INTEREST
    findings.permit("US_TCPA_HOURS", "must_identify_caller", basis=basis)  # standing: the hours bind each call


def _within_calling_hours(request: Request, findings: Findings) -> bool:
    """08:00 to 21:00 (both included) on the callee's clock; a standing verdict leaves the hours to each call."""
    if request.standing:
        return True
    local, _zone_known = callee_local_time(request)
    if TCPA_CALENDAR.window_at(local) is None:
        findings.forbid("US_TCPA_HOURS", detail=f"callee local time {local.strftime('%H:%M')}")
        return False
    findings.hold_until(TCPA_CALENDAR.closes_at(local))
    return True


def business_call(request: Request, findings: Findings) -> None:
    """The calling hours and the national Do-Not-Call registry protect residences; a business line keeps the
    company-specific do-not-call list (an objection) and the caller's identification."""
    honour_objections(request, findings, list_code="US_TCPA_DNC", objection_code="US_TCPA_DNC")
    findings.permit("US_TCPA_HOURS", "must_identify_caller", basis=LegalBasis.LEGITIMATE_INTEREST)


def autodialled(request: Request, findings: Findings) -> None:
    """Prerecorded or autodialled calls and texts need prior express consent."""
    honour_objections(request, findings, list_code="US_TCPA_DNC", objection_code="US_TCPA_DNC")
    if request.channel is Channel.AUTOMATED_CALL and request.contact.audience is Audience.CONSUMER:
        # a machine's call to a residence is a telephone solicitation too: the same hours
        if not _within_calling_hours(request, findings):
            return
        findings.note("US_TCPA_HOURS")
    if valid_consent(request, findings, "US_TCPA_AUTODIALER"):
        findings.permit("US_TCPA_AUTODIALER", "must_identify_sender", "must_include_opt_out", basis=LegalBasis.CONSENT)
    else:
        findings.forbid("US_TCPA_AUTODIALER", "rebuild_or_recollect_consent")


def suppression_reuse(request: Request, findings: Findings) -> None:
    """CAN-SPAM: the list of opt-outs serves compliance only (no selling it, no win-back campaign from it)."""
    suppression_list_purpose(request, findings, "US_CANSPAM_OPTOUT")


JURISDICTION = Jurisdiction(
    "US",
    "United States",
    "America/New_York",
    (
        Rule(email, channels=frozenset({Channel.EMAIL})),
        Rule(live_call, channels=frozenset({Channel.PHONE_HUMAN}), audiences=CONSUMER),
        Rule(business_call, channels=frozenset({Channel.PHONE_HUMAN}), audiences=BUSINESS),
        Rule(autodialled, channels=frozenset({Channel.AUTOMATED_CALL, Channel.SMS})),
        Rule(suppression_reuse, actions=frozenset({Action.REUSE})),
    ),
)
