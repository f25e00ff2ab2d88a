"""GDPR duties shared by every EU/EEA jurisdiction and the UK: answering rights requests (Art. 12(3)), collecting
a consent that counts and only what the planned channels need (Art. 5(1)(c)), telling people where their data came
from (Art. 14).

Collecting a consent (Art. 4(11), 7) is judged everywhere alike. Outside France the engine has no full rule set for
collecting and keeping data otherwise, so minimisation and the Art. 14 notice only ever block there: they name what
is wrong and clear nothing (fail closed)."""

from datetime import date, datetime

from ..dates import add_months
from ..decision import Findings
from ..models import Request
from ..vocabulary import Action, Channel, LegalBasis
from ._base import Rule, legal_day
from ._common import (
    channel_word,
    collected_by_third_party,
    consent_form_invalid,
    honour_objections,
    is_indirect,
    local_code,
    requests_objection,
    valid_consent,
)

FIELDS_BY_CHANNEL = {
    Channel.EMAIL: {"email"},
    Channel.SMS: {"phone", "mobile"},
    Channel.PHONE_HUMAN: {"phone", "mobile"},
    Channel.AUTOMATED_CALL: {"phone", "mobile"},
    Channel.FAX: {"fax"},
    Channel.POSTAL: {"postal_address", "address"},
}
IDENTITY_FIELDS = frozenset({"name", "first_name", "last_name", "full_name", "civility", "company", "job_title"})


def rights_request(request: Request, findings: Findings) -> None:
    """Answer within 1 month of receipt; 3 only if the person was told of the extension in the first month. An
    objection to prospecting takes effect at once and for good (Art. 21(3)), whenever the answer goes."""
    facts = request.facts
    asked, objecting = facts.request or (), requests_objection(facts)
    if objecting:
        if facts.prospecting_continued:
            detail = "prospecting went on after the objection"
            findings.forbid("GDPR_OBJECTION_ABSOLUTE", "must_add_to_suppression_list", detail=detail)
        else:
            findings.note("GDPR_OBJECTION_ABSOLUTE")
    if facts.request_date is None:
        findings.forbid("GDPR_RIGHTS_1_MONTH", "answer_immediately", detail="the date of receipt is not known")
        findings.need("request_date")
        return
    deadline = add_months(facts.request_date, 3 if facts.extension_notified else 1)
    remedies = ["answer_immediately"]
    if objecting:
        remedies.append("must_add_to_suppression_list")
    if "access" in asked and (is_indirect(facts) or "data_source" in facts.unknown):  # Art. 15(1)(g): the source
        remedies.append("must_state_data_source")
    detail = f"deadline {deadline.isoformat()}"
    if facts.answered_on is not None:
        if facts.answered_on <= deadline:
            findings.permit("GDPR_RIGHTS_1_MONTH", basis=LegalBasis.LEGAL_OBLIGATION, detail=detail)
        else:
            findings.forbid("GDPR_RIGHTS_1_MONTH", detail=f"answered late; {detail}")
        return
    if legal_day(request) > deadline:
        findings.forbid("GDPR_RIGHTS_1_MONTH", *remedies, detail=detail)
        return
    findings.permit("GDPR_RIGHTS_1_MONTH", *remedies, basis=LegalBasis.LEGAL_OBLIGATION, detail=detail)
    findings.hold_until(datetime.combine(deadline, datetime.max.time(), tzinfo=request.at.tzinfo))


def fields_beyond_need(request: Request) -> list[str] | None:
    """The collected fields that no planned channel needs (None when the fields are not given)."""
    facts = request.facts
    if facts.fields_collected is None:
        return None
    planned = [channel_word(word) for word in facts.campaign_channels or (request.channel.value,)]
    needed = set().union(*(FIELDS_BY_CHANNEL.get(channel, set()) for channel in planned if channel))
    return [field for field in facts.fields_collected if field not in needed and field not in IDENTITY_FIELDS]


def art14_deadline(request: Request) -> date | None:
    """When the notice to a person whose data came from elsewhere is due: a month after it came, or at the first
    contact if that is sooner (None when no notice is pending, or nothing says when the data came or was used)."""
    facts = request.facts
    if facts.art14_notice_sent or (facts.acquired_on is None and not is_indirect(facts)):
        return None
    due = [add_months(facts.acquired_on, 1)] if facts.acquired_on is not None else []
    if facts.first_contact_date is not None:
        due.append(facts.first_contact_date)
    return min(due) if due else None


def consent_collection(request: Request, findings: Findings) -> None:
    """Collecting details or a consent for prospecting (GDPR Art. 4(11), 7, 21): never a person who objected or
    is suppressed (a re-import from another source lifts nothing) unless the person is asked anew; a consent given
    through a valid mechanism, or bought or received with its proof. What it allows needs the proof kept."""
    facts = request.facts
    asks_anew = (facts.consent_mechanism or facts.reoptin_mechanism) and not collected_by_third_party(facts)
    if not asks_anew:  # asking the person for a new consent is how an objection may be lifted
        honour_objections(request, findings, list_code=local_code(request, "FR_SUPPRESSION_LIST_HIT"))
    consent_form_invalid(request, findings)
    if collected_by_third_party(facts):  # a bought or received consent counts only with its proof and naming
        valid_consent(request, findings, "FR_CONSENT_PROOF")
    if facts.consent_mechanism and not findings.blocked:
        findings.permit(local_code(request, "FR_CONSENT_PROOF"), "must_keep_consent_proof", basis=LegalBasis.CONSENT)


def too_much_collected(request: Request, findings: Findings) -> None:
    extra = fields_beyond_need(request)
    if extra:
        findings.forbid("GDPR_MINIMISATION", "collect_only_fields_needed_for_the_channel", detail=", ".join(extra))


def art14_notice_late(request: Request, findings: Findings) -> None:
    deadline = art14_deadline(request)
    if deadline is not None and legal_day(request) > deadline:
        findings.forbid("GDPR_ART14_NOTICE", "send_art14_notice_now", detail=f"due by {deadline.isoformat()}")


RIGHTS_REQUESTS = Rule(rights_request, actions=frozenset({Action.ANSWER_RIGHTS_REQUEST}))
GDPR_DUTIES = (
    RIGHTS_REQUESTS,
    Rule(consent_collection, actions=frozenset({Action.COLLECT})),
    Rule(too_much_collected, actions=frozenset({Action.COLLECT, Action.RETAIN})),
    Rule(art14_notice_late, actions=frozenset({Action.SEND, Action.RETAIN, Action.REUSE})),
)
