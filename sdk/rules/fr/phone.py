"""France: telephone canvassing by a human caller (Code de la consommation L223-1, D223-9).

Two regimes meet on 2026-08-11: before it, consumers could be called unless on Bloctel; from it, only with
prior consent or within a contract in progress. Days, hours and the frequency cap apply to both.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta

from ...dates import add_months
from ...decision import Findings
from ...facts import Facts
from ...models import Request
from ...telephone import CallingCalendar, french_holidays
from ...vocabulary import Audience, Channel, LegalBasis, SenderType
from .._base import latest_day, legal_day
from .._common import POSITIVE_ANSWERS, callee_local_time, consent_defects, consent_on_file, newer_consent
from .messages import data_source, partner_consent_named

OPT_IN_SWITCH = date(2026, 8, 11)
CONSENT_LIFETIME = timedelta(days=365)
SLOT_LENGTH = timedelta(hours=1)
FREQUENCY_CAP = 4
PRESS_OFFERS = frozenset({"newspaper_subscription", "magazine_subscription", "periodical_subscription", "press"})
CALL_CONDUCT = (
    "must_identify_caller_and_principal_and_commercial_purpose_at_start",
    "must_offer_objection_during_call",
)
CONSUMER_CALL = (
    *CALL_CONDUCT,
    "must_not_mask_caller_id",
    "must_log_attempt_for_frequency_cap",
    "must_call_within_allowed_days_and_hours_consumer_tz",
    "max_4_attempts_per_30_days",
)


def is_non_commercial(request: Request) -> bool:
    return request.sender is SenderType.CHARITY and request.facts.message_commercial is not True


def _within_contract(request: Request) -> bool | None:
    facts = request.facts
    if not facts.contract_in_progress:
        return False
    return facts.offer_related_to_contract


def charity_call(request: Request, findings: Findings) -> None:
    """Charities not doing commercial prospecting: opt-out, outside L223-1 [H]."""
    if not is_non_commercial(request):
        return
    facts = request.facts
    if facts.objection_offered_at_collection is False:
        findings.forbid("FR_NONCOMMERCIAL_CHARITY", "must_offer_free_objection_means")
        return
    findings.permit("FR_NONCOMMERCIAL_CHARITY", *CALL_CONDUCT, basis=LegalBasis.LEGITIMATE_INTEREST)


def business_call(request: Request, findings: Findings) -> None:
    """Calls to professionals: GDPR opt-out; L223-1 and D223-9 protect consumers only."""
    conditions = list(CALL_CONDUCT)
    if request.contact.audience is Audience.NAMED_PROFESSIONAL:
        conditions.append("must_relate_to_recipient_profession")
    findings.permit("FR_PHONE_B2B_OPTOUT", *conditions, basis=LegalBasis.LEGITIMATE_INTEREST)
    data_source(request, findings)


def sector_ban(sectors: frozenset[str]) -> Callable[[Request, Findings], None]:
    """Energy saving, renewables, and later housing adaptation: no phone canvassing, consent or not."""

    def check(request: Request, findings: Findings) -> None:
        if request.facts.sector in sectors and _within_contract(request) is not True:
            findings.forbid("FR_SECTOR_BAN_PHONE")

    return check


def bloctel_era(request: Request, findings: Findings) -> None:
    """Until 2026-08-10: opt-out, except consumers registered on Bloctel (old L223-1)."""
    if is_non_commercial(request):
        return
    facts = request.facts
    if _within_contract(request):
        findings.permit("FR_PHONE_CONTRACT_IN_PROGRESS", *CONSUMER_CALL, basis=LegalBasis.CONTRACT)
    elif _bloctel_applies(request) is not False:  # registered, or not known: read as registered
        if facts.offer in PRESS_OFFERS:
            findings.permit("FR_PHONE_PRESS_EXCEPTION", *CONSUMER_CALL, basis=LegalBasis.LEGITIMATE_INTEREST)
        elif facts.bloctel_registered is None:
            check = "must_have_checked_bloctel_within_last_month"
            findings.forbid("FR_PHONE_B2C_BLOCTEL_ERA", check, detail="Bloctel registration unknown")
            findings.need("bloctel_registered")
            return
        else:
            findings.forbid("FR_PHONE_BLOCTEL_REGISTERED")
            return
    elif _screening_stale(request):  # "not registered" is as old as the last check against the list
        check = "must_have_checked_bloctel_within_last_month"
        findings.forbid("FR_PHONE_B2C_BLOCTEL_ERA", check, detail=f"checked {facts.last_screened_days_ago} days ago")
        return
    else:
        findings.permit(
            "FR_PHONE_B2C_BLOCTEL_ERA",
            *CONSUMER_CALL,
            "must_have_checked_bloctel_within_last_month",
            basis=LegalBasis.LEGITIMATE_INTEREST,
        )
    data_source(request, findings)


def _screening_stale(request: Request) -> bool:
    """A file checked against Bloctel more than a month ago: the law asks for a check at least monthly."""
    days = request.facts.last_screened_days_ago
    if days is None:
        return False
    today = legal_day(request)
    return add_months(today - timedelta(days=days), 1) < today


def _bloctel_applies(request: Request) -> bool | None:
    """Whether Bloctel forbids calling this consumer; None when the registration is not known."""
    facts = request.facts
    if facts.bloctel_registered is None:
        return None
    if not facts.bloctel_registered:
        return False
    effective = facts.bloctel_effective_date
    return effective is None or effective <= legal_day(request)


def refusal_pause(request: Request, findings: Findings) -> None:
    """Until 2026-08-10: 60 full days without a call after a refusal; day 1 is the day after [H], on the consumer's
    own calendar, as the calling hours are."""
    refused = request.facts.refused_during_call_date
    if refused is None or is_non_commercial(request):
        return
    resumes = refused + timedelta(days=61)
    if callee_local_time(request)[0].date() < resumes:
        findings.forbid("FR_PHONE_REFUSAL_60D", detail=f"calls may resume on {resumes.isoformat()}")


def opt_in_era(request: Request, findings: Findings) -> None:
    """From 2026-08-11: prior consent to phone canvassing, or a contract in progress (new L223-1)."""
    if is_non_commercial(request):
        return
    facts = request.facts
    within_contract = _within_contract(request)
    if _refused_since_consent(request):
        # the refusal is an objection (GDPR art. 21), for good: the contract in progress does not lift it either
        if not within_contract:
            findings.forbid("FR_CONSENT_WITHDRAWN", "must_add_to_suppression_list", detail="refusal during a call")
        findings.forbid("GDPR_OBJECTION_ABSOLUTE", "must_add_to_suppression_list", detail="refusal during a call")
        if not within_contract and not consent_on_file(request):  # nor was there a consent to call at all
            findings.forbid("FR_PHONE_B2C_OPTIN_2026", "rebuild_or_recollect_consent")
        return
    if within_contract:
        findings.permit("FR_PHONE_CONTRACT_IN_PROGRESS", *CONSUMER_CALL, basis=LegalBasis.CONTRACT)
        data_source(request, findings)
        return
    if within_contract is None:
        findings.need("offer_related_to_contract")
    if facts.offer in PRESS_OFFERS:
        findings.note("FR_PHONE_PRESS_EXCEPTION", detail="not relied on: unconfirmed after 2026-08-11")
    if consent_on_file(request):
        defects = consent_defects(request, required_code="FR_PHONE_B2C_OPTIN_2026")
        for code, remedies in defects:
            findings.forbid(code, *remedies)
        if not defects and _consent_still_current(request, findings):
            findings.permit(
                "FR_PHONE_B2C_OPTIN_2026", *CONSUMER_CALL, "must_keep_consent_proof", basis=LegalBasis.CONSENT
            )
            partner_consent_named(request, findings)
            data_source(request, findings)
            return
    findings.forbid("FR_PHONE_B2C_OPTIN_2026", "rebuild_or_recollect_consent")
    if facts.data_source == "public_web":
        findings.forbid("FR_PUBLIC_WEB_DATA")


def _refused_since_consent(request: Request) -> bool:
    """From 2026-08-11 a refusal withdraws consent for good, unless a newer consent follows it; a refusal made
    before the switch counts too (its 60-day pause would have run past the switch, and an objection lasts)."""
    refused = request.facts.refused_during_call_date
    if refused is None or refused > latest_day(request):
        return False
    return newer_consent(request, [refused]) is None and not (
        request.facts.consent_date and request.facts.consent_date > refused
    )


def _consent_still_current(request: Request, findings: Findings) -> bool:
    """Phone consent lasts 1 year from collection, without tacit renewal (décret 2026-662, unconfirmed)."""
    facts = request.facts
    given = facts.reoptin_date or facts.consent_date
    if given is None:
        findings.note("FR_PHONE_CONSENT_MAX_1Y", detail="consent date unknown: check it is under 1 year old")
        return True
    expires = given + CONSENT_LIFETIME
    if legal_day(request) > expires and not _renewed_expressly(facts):
        findings.forbid("FR_PHONE_CONSENT_MAX_1Y", "rebuild_or_recollect_consent")
        return False
    findings.hold_until(datetime.combine(expires, datetime.max.time(), tzinfo=request.at.tzinfo))
    return True


def _renewed_expressly(facts: Facts) -> bool:
    """A renewal counts as a new positive act, never as silence after a reminder (no tacit renewal)."""
    unanswered = facts.reconfirmation_sent and facts.reconfirmation_answer not in POSITIVE_ANSWERS
    return facts.renewed is True and not unanswered


def frequency_cap(request: Request, findings: Findings) -> None:
    """At most 4 calls or attempts, answered or not, per 30 days (rolling window [H])."""
    if is_non_commercial(request):
        return
    facts = request.facts
    count = facts.calls_in_last_30_days
    if count is None and (facts.attempts_answered is not None or facts.attempts_unanswered is not None):
        count = (facts.attempts_answered or 0) + (facts.attempts_unanswered or 0)
    if count is not None and count >= FREQUENCY_CAP:
        findings.forbid("FR_PHONE_FREQUENCY", "max_4_attempts_per_30_days", detail=f"{count} in 30 days")
        return
    findings.note("FR_PHONE_FREQUENCY")
    findings.require("must_log_attempt_for_frequency_cap", "max_4_attempts_per_30_days")
    findings.note("FR_PHONE_CALLER_ID")


def calendar_for(request: Request) -> CallingCalendar:
    """National holidays, plus Alsace-Moselle's when the contact lives there (département 57, 67 or 68)."""
    return CallingCalendar(holiday_subdivision=request.contact.subdivision)


def call_windows(request: Request, findings: Findings) -> None:
    """Monday-Friday, [10:00,13:00) and [14:00,20:00) in the consumer's zone, no public holidays."""
    if is_non_commercial(request):
        return
    if request.standing:  # no call at hand: the windows bind each call
        findings.note("FR_PHONE_HOURS")
        findings.require("must_call_within_allowed_days_and_hours_consumer_tz")
        return
    local, zone_known = callee_local_time(request)
    if zone_known:
        findings.note("FR_PHONE_HOURS_CONSUMER_TZ")
    if _agreed_slot(request, findings, local):
        return
    calendar = calendar_for(request)
    if calendar.window_at(local) is not None:
        findings.note("FR_PHONE_HOURS")
        findings.require("must_call_within_allowed_days_and_hours_consumer_tz")
        findings.hold_until(calendar.closes_at(local))
        return
    remedy = "must_call_within_allowed_days_and_hours_consumer_tz"
    findings.forbid("FR_PHONE_HOURS", remedy, detail=_closed_detail(calendar, local))
    if zone_known:
        findings.forbid("FR_PHONE_HOURS_CONSUMER_TZ", remedy)
    if local.date() in french_holidays():
        findings.forbid("FR_PHONE_PUBLIC_HOLIDAY", remedy)
    elif calendar.is_holiday(local.date()):
        findings.forbid("FR_PHONE_LOCAL_HOLIDAY_UNCLEAR", remedy)
    if local.time().replace(tzinfo=None) in {end for _start, end in calendar.windows}:
        findings.forbid("FR_PHONE_WINDOW_END_EXCLUSIVE", remedy)
    if legal_day(request) >= OPT_IN_SWITCH:
        if request.facts.out_of_hours_consent:
            findings.forbid("FR_PHONE_OUT_OF_HOURS_SLOT", remedy, detail="a general consent is not a precise slot")
        elif request.facts.specific_slot_consent is not None:
            detail = "the agreed slot does not cover this call, or its proof is missing"
            findings.forbid("FR_PHONE_OUT_OF_HOURS_SLOT", remedy, detail=detail)


def _closed_detail(calendar: CallingCalendar, local: datetime) -> str:
    opens = calendar.next_opening(local)
    return f"callee local time {local.strftime('%a %H:%M')}; next window opens {opens.isoformat()}"


def _agreed_slot(request: Request, findings: Findings, local: datetime) -> bool:
    """Out-of-window calls: a precise agreed slot from 2026-08-11, express consent before it (a proven slot is
    one)."""
    facts = request.facts
    slot = _slot_covering(facts, local)
    if legal_day(request) >= OPT_IN_SWITCH:
        if slot is None:
            return False
        findings.permit("FR_PHONE_OUT_OF_HOURS_SLOT", "must_keep_slot_consent_proof")
        findings.hold_until(slot + SLOT_LENGTH)
        return True
    if slot is not None:
        findings.permit("FR_PHONE_OUT_OF_HOURS_OLD", "must_keep_consent_proof")
        findings.hold_until(slot + SLOT_LENGTH)
        return True
    if facts.out_of_hours_consent and facts.out_of_hours_consent != "none" and facts.consent_documented is not False:
        findings.permit("FR_PHONE_OUT_OF_HOURS_OLD", "must_keep_consent_proof")
        return True
    return False


def _slot_covering(facts: Facts, local: datetime) -> datetime | None:
    """The start of the slot the consumer agreed to be called in, when it covers `local` and is not known to lack
    its proof; an agreed time with no end is read as the hour from it."""
    slot = facts.specific_slot_consent
    if slot is None or facts.specific_slot_consent_proof is False:
        return None
    if slot.tzinfo is None:
        slot = slot.replace(tzinfo=local.tzinfo)
    return slot if slot <= local < slot + SLOT_LENGTH else None


def sms_windows(request: Request, findings: Findings) -> None:
    """Whether D223-9 covers SMS is unsettled: consumer SMS keep to the call windows."""
    if is_non_commercial(request) or request.channel is not Channel.SMS:
        return
    findings.note("FR_SMS_HOURS_UNCLEAR")
    if request.standing:
        findings.require("must_call_within_allowed_days_and_hours_consumer_tz")
        return
    local, _zone_known = callee_local_time(request)
    calendar = calendar_for(request)
    if calendar.window_at(local) is None:
        findings.forbid(
            "FR_SMS_HOURS_UNCLEAR",
            "review_whether_D223_9_hours_apply_to_sms",
            "must_call_within_allowed_days_and_hours_consumer_tz",
        )
        findings.forbid("FR_PHONE_HOURS", detail=_closed_detail(calendar, local))
    else:
        findings.require("must_call_within_allowed_days_and_hours_consumer_tz")
        findings.hold_until(calendar.closes_at(local))
