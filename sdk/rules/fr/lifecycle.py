"""France: keeping, collecting, reusing and passing on prospect data."""

import re
from datetime import date, datetime

from ...dates import add_years
from ...decision import Findings
from ...facts import Facts
from ...models import Request
from ...vocabulary import Action, Audience, Channel, LegalBasis
from .._base import legal_day
from .._common import (
    POSITIVE_ANSWERS,
    channel_word,
    consent_form_invalid,
    honour_objections,
    is_indirect,
    suppression_list_purpose,
)
from .._gdpr import art14_deadline, consent_collection, fields_beyond_need
from .phone import OPT_IN_SWITCH

OPEN_EVENTS = frozenset({"open", "email_open", "opened", "pixel_open"})
SUPPRESSION_FIELD_WORDS = ("hash", "sha256", "hmac", "date", "channel", "reason", "scope", "email", "phone")
PERSONAL_DATA_AUDIENCES = frozenset({Audience.CONSUMER, Audience.NAMED_PROFESSIONAL})
PARTNER_CONDITIONS = (
    "partners_must_inform_at_first_contact_with_source",
    "partners_cannot_retransfer_without_new_consent",
    "propagate_objections_to_partners",
)


def retention(request: Request, findings: Findings) -> None:
    """3 years from the collection (a bought file's: the day it came) or the last contact coming from a prospect,
    or from the end of a customer relationship.

    On the expiry day itself only a re-permission message may go out (the scenarios' convention).
    """
    if request.contact.audience not in PERSONAL_DATA_AUDIENCES:
        return
    facts = request.facts
    clock = _retention_clock(request)
    if clock is None:
        return
    code, started = clock
    if facts.last_open and facts.last_open > started:
        findings.note("FR_OPEN_NOT_CONTACT")
    expiry = add_years(started, 3)
    today = legal_day(request)
    if facts.reconfirmation_sent and facts.reconfirmation_answer not in POSITIVE_ANSWERS and today >= expiry:
        findings.forbid(code, "must_delete_or_archive", detail="no positive answer to the re-permission message")
        findings.forbid("FR_RETENTION_RECONFIRM", "must_delete_or_archive")
        return
    if today < expiry:
        findings.note(code, detail=f"data may be kept until {expiry.isoformat()}")
        findings.hold_until(datetime.combine(expiry, datetime.min.time(), tzinfo=request.at.tzinfo))
        return
    if today == expiry:
        findings.note(code, detail="the 3 years end today")
        findings.note("FR_RETENTION_RECONFIRM")
        findings.require("only_reconfirmation_request", "must_delete_or_archive_if_no_positive_answer")
        return
    remedies = ("must_delete_or_anonymize", "must_delete_or_archive")
    findings.forbid(code, *remedies, detail=f"retention ended on {expiry.isoformat()}")
    if facts.last_open and facts.last_open > started:
        findings.forbid("FR_OPEN_NOT_CONTACT", *remedies)


def _retention_clock(request: Request) -> tuple[str, date] | None:
    """The retention period that runs and the day it started from (None: none runs, or nothing dates it)."""
    facts = request.facts
    if facts.existing_customer or facts.relationship_current or facts.relationship_end_date:
        if facts.relationship_current or facts.contract_in_progress:
            return None
        ended = facts.relationship_end_date or _latest(facts.last_purchase, facts.purchase_date, _contact(facts))
        return ("FR_RETENTION_CUSTOMER_3Y", ended) if ended else None
    collected = (_contact(facts), facts.consent_date, facts.reoptin_date, facts.last_purchase, facts.acquired_on)
    started = _latest(*collected, _renewed(facts))
    return ("FR_RETENTION_PROSPECT_3Y", started) if started else None


def _renewed(facts: Facts) -> date | None:
    """A positive, explicit answer to the re-permission message is a contact coming from the prospect."""
    if facts.reconfirmation_sent and facts.reconfirmation_answer in POSITIVE_ANSWERS:
        return facts.answered_on or facts.reconfirmation_sent
    return None


def _contact(facts: Facts) -> date | None:
    """The last contact coming from the person; an email open is not one (CNIL, TPE 2021)."""
    if facts.last_interaction_type in OPEN_EVENTS:
        return None
    return facts.last_interaction


def _latest(*days: date | None) -> date | None:
    known = [day for day in days if day is not None]
    return max(known) if known else None


def suppression_entry(request: Request, findings: Findings) -> None:
    """A suppression entry keeps only what recognises the person, for no other purpose, 3 years at least."""
    facts = request.facts
    if facts.suppression_entry_fields is None and not (facts.request and "objection" in facts.request):
        return
    extra = [f for f in facts.suppression_entry_fields or () if not _minimal_field(f)]
    if extra:
        findings.forbid("FR_SUPPRESSION_MINIMAL", "suppression_entry_minimal_fields_only", detail=", ".join(extra))
        return
    findings.permit(
        "FR_SUPPRESSION_MINIMAL",
        "suppression_entry_minimal_fields_only",
        "suppression_list_no_other_purpose",
        "keep_suppression_entry_min_3_years",
        basis=LegalBasis.LEGAL_OBLIGATION,
    )
    findings.permit("FR_SUPPRESSION_RETENTION")


def _minimal_field(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SUPPRESSION_FIELD_WORDS) and "address" not in lowered


def phone_proof_retention(request: Request, findings: Findings) -> None:
    """Phone consent proof: 3 years from collection (décret 2026-662, unconfirmed)."""
    years = request.facts.proof_retention_policy_years
    if years is None or request.channel is not Channel.PHONE_HUMAN:
        return
    if years < 3:
        findings.forbid("FR_PHONE_CONSENT_PROOF_3Y", "set_phone_consent_proof_retention_3_years")
    else:
        findings.permit("FR_PHONE_CONSENT_PROOF_3Y", "must_keep_consent_proof", basis=LegalBasis.LEGAL_OBLIGATION)


def art14_notice(request: Request, findings: Findings) -> None:
    """Indirectly collected data: notice with the source within 1 month, or at first contact if earlier. A send
    a month after the data came, with no notice yet, is already late: the notice goes first."""
    deadline = art14_deadline(request)
    if deadline is None:
        return
    if legal_day(request) > deadline:
        findings.forbid("FR_DATA_SOURCE_ART14", "send_art14_notice_now", detail=f"due by {deadline.isoformat()}")
    elif request.action is not Action.SEND:  # a send within the month carries the notice (messages.data_source)
        findings.permit("FR_DATA_SOURCE_ART14", "send_art14_notice_now", detail=f"due by {deadline.isoformat()}")


def retained_data(request: Request, findings: Findings) -> None:
    """Keeping prospect data is lawful while its retention period runs: one that is known to run (an email open
    dates nothing), or a customer relationship still going on."""
    if findings.blocked or findings.permitted:
        return
    retention(request, findings)
    facts = request.facts
    known = facts.relationship_current or facts.contract_in_progress or _retention_clock(request) is not None
    if not findings.blocked and known:
        findings.permit("FR_RETENTION_PROSPECT_3Y", basis=LegalBasis.LEGITIMATE_INTEREST)


def minimisation(request: Request, findings: Findings) -> None:
    """Collect only what the planned channels need (GDPR Art. 5(1)(c))."""
    extra = fields_beyond_need(request)
    if extra is None:
        return
    if extra:
        findings.forbid("FR_MINIMIZATION", "collect_only_fields_needed_for_the_channel", detail=", ".join(extra))
    else:
        findings.permit("FR_MINIMIZATION", basis=LegalBasis.CONSENT)


def collection(request: Request, findings: Findings) -> None:
    """How data and consent are collected: as everywhere in the EU (objections, the consent's form and proof), and
    not from restricted or public sources, with the notices French law asks for post and, from 2026-08-11, calls."""
    public_data(request, findings)
    consent_collection(request, findings)
    if _postal_opt_out_missed(request):
        findings.forbid("FR_POSTAL_OPTOUT", "must_offer_free_objection_means")
    if _phone_notice_missed(request):
        findings.forbid("FR_PHONE_B2C_OPTIN_2026", detail="not told that commercial calls need prior consent (L223-2)")


def public_data(request: Request, findings: Findings) -> None:
    """Details found online are not free to use: a restricted profile never; for a consumer's email, SMS,
    automated calls or fax, and for calls from 2026-08-11, consent first; else a notice with the source. The
    channels planned are the campaign's, or the request's; none known, none is cleared."""
    facts = request.facts
    if facts.profile_visibility and facts.profile_visibility != "public":
        findings.forbid("FR_PUBLIC_WEB_DATA", detail="the person restricted who may see these details")
    elif facts.data_source == "public_web" or facts.collection_method:
        planned = [channel_word(word) for word in facts.campaign_channels or ()] or [request.channel]
        consumer = request.contact.audience is Audience.CONSUMER
        if any(channel in (None, Channel.ANY) or (consumer and _needs_opt_in(request, channel)) for channel in planned):
            findings.forbid("FR_PUBLIC_WEB_DATA", "rebuild_or_recollect_consent")
        else:
            findings.permit(
                "FR_PUBLIC_WEB_DATA",
                "must_state_data_source",
                "must_send_art14_information_at_first_contact",
                basis=LegalBasis.LEGITIMATE_INTEREST,
            )


def _needs_opt_in(request: Request, channel: Channel) -> bool:
    return channel.is_electronic or (channel is Channel.PHONE_HUMAN and legal_day(request) >= OPT_IN_SWITCH)


def _phone_notice_missed(request: Request) -> bool:
    """From 2026-08-11, whoever collects a consumer's number must say that commercial calls need prior consent."""
    if request.channel is not Channel.PHONE_HUMAN or request.contact.audience is not Audience.CONSUMER:
        return False
    return legal_day(request) >= OPT_IN_SWITCH and request.facts.informed_at_collection is False


def _postal_opt_out_missed(request: Request) -> bool:
    """Addressed post is opt-out: a person's details collected for it without notice or a free way to object."""
    facts = request.facts
    if request.channel is not Channel.POSTAL or request.contact.audience not in PERSONAL_DATA_AUDIENCES:
        return False
    if is_indirect(facts):
        return False
    return facts.informed_at_collection is False or facts.objection_offered_at_collection is False


def suppression_reuse(request: Request, findings: Findings) -> None:
    """The suppression list serves only to honour objections (CNIL, liste repoussoir)."""
    suppression_list_purpose(request, findings, "FR_SUPPRESSION_PURPOSE")


def file_sale(request: Request, findings: Findings) -> None:
    """Selling a customer file: active customers only, minus objectors and non-consenting (CNIL 2022)."""
    facts = request.facts
    if facts.action_detail not in ("sell_customer_file", "rent_customer_file"):
        return
    problems = []
    if _inactive_years(request) > 3:
        problems.append("exclude_inactive_over_3y")
        findings.forbid("FR_RETENTION_CUSTOMER_3Y", "exclude_inactive_over_3y")
    if facts.transfer_consent is not True or facts.objected_to_transfer:
        problems.append("exclude_objectors_and_non_consenting")
    if problems:
        findings.forbid("FR_FILE_SALE_RULES", *problems)
        return
    findings.permit(
        "FR_FILE_SALE_RULES",
        "exclude_inactive_over_3y",
        "exclude_objectors_and_non_consenting",
        "partners_must_inform_at_first_contact_with_source",
        basis=LegalBasis.CONSENT,
    )


def _inactive_years(request: Request) -> float:
    facts = request.facts
    match = re.search(r"(\d{4})", facts.segment or "")
    ended = facts.relationship_end_date or facts.last_purchase
    if ended is not None:
        return (legal_day(request) - ended).days / 365.25
    return request.at.year - int(match.group(1)) if match else 0


def objectors_left_out(request: Request, findings: Findings) -> None:
    """Whoever objected, withdrew or is on the suppression list stays out of a file given to partners: the
    objection is absolute and holds whatever the source (§5.2), and a file leaves out its objectors (§5.4)."""
    remedy = ("exclude_objectors_and_non_consenting",)
    honour_objections(request, findings, list_code="FR_SUPPRESSION_LIST_HIT", remedies=remedy)


def partner_transfer(request: Request, findings: Findings) -> None:
    """Giving prospect data to partners (CNIL 2018): consent to the transfer for electronic use."""
    facts = request.facts
    if facts.action_detail in ("sell_customer_file", "rent_customer_file"):
        return
    if request.contact.audience is not Audience.CONSUMER:
        if facts.objected_to_transfer:
            findings.forbid("FR_B2B_TRANSFER", "exclude_objectors_and_non_consenting")
        else:
            findings.permit("FR_B2B_TRANSFER", "must_offer_objection", *PARTNER_CONDITIONS[::2])
        return
    channels = [channel_word(c) for c in facts.campaign_channels or ()] or [request.channel]
    if Channel.PHONE_HUMAN in channels and legal_day(request) >= OPT_IN_SWITCH:  # partners need their own consent
        _phone_transfer(request, findings)
    elif any(c is not None and c.is_electronic for c in channels):
        _electronic_transfer(request, findings)
    elif request.channel is Channel.ANY and not facts.campaign_channels:
        if facts.transfer_consent is True:
            _electronic_transfer(request, findings)
        else:
            _postal_phone_transfer(request, findings)
    else:
        _postal_phone_transfer(request, findings)


def _electronic_transfer(request: Request, findings: Findings) -> None:
    facts = request.facts
    if facts.objected_to_transfer:  # a consent to the transfer, withdrawn since
        findings.forbid("FR_PARTNER_TRANSFER_CONSENT", "exclude_objectors_and_non_consenting")
        return
    if facts.partners_named_at_collection is False or facts.partner_list_available is False:
        findings.forbid("FR_PARTNER_NOT_NAMED", "exclude_objectors_and_non_consenting")
    if facts.transfer_consent is not True or consent_form_invalid(request, findings):
        findings.forbid("FR_PARTNER_TRANSFER_CONSENT", "exclude_objectors_and_non_consenting")
        return
    findings.permit("FR_PARTNER_TRANSFER_CONSENT", *PARTNER_CONDITIONS, basis=LegalBasis.CONSENT)


def _phone_transfer(request: Request, findings: Findings) -> None:
    """From 2026-08-11 a partner may call a consumer only on a consent to its calls (new L223-1): numbers passed
    for partners' phone canvassing need the consumer's consent to those partners, as for electronic use."""
    facts = request.facts
    if facts.objected_to_transfer:
        findings.forbid("FR_PARTNER_TRANSFER_CONSENT", "exclude_objectors_and_non_consenting")
        return
    if facts.partners_named_at_collection is False or facts.partner_list_available is False:
        findings.forbid("FR_PARTNER_NOT_NAMED", "exclude_objectors_and_non_consenting")
    if facts.transfer_consent is not True or consent_form_invalid(request, findings):
        findings.forbid("FR_PHONE_B2C_OPTIN_2026", "exclude_objectors_and_non_consenting")
        findings.forbid("FR_PARTNER_TRANSFER_CONSENT", "exclude_objectors_and_non_consenting")
        return
    findings.permit("FR_PHONE_B2C_OPTIN_2026", *PARTNER_CONDITIONS, basis=LegalBasis.CONSENT)
    findings.note("FR_PARTNER_TRANSFER_CONSENT")


def _postal_phone_transfer(request: Request, findings: Findings) -> None:
    facts = request.facts
    refused = facts.objected_to_transfer or facts.transfer_objection_offered_by_source is False
    if refused or facts.objection_offered_at_collection is False:
        findings.forbid("FR_PARTNER_TRANSFER_POSTAL_PHONE", "exclude_objectors_and_non_consenting")
        return
    findings.permit(
        "FR_PARTNER_TRANSFER_POSTAL_PHONE",
        "propagate_objections_to_partners",
        "partners_must_inform_at_first_contact_with_source",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )
