"""Judgements shared by every jurisdiction: is there a consent that counts, has the person objected?"""

from dataclasses import replace
from datetime import date, datetime

from ..decision import Findings
from ..facts import CONSENT_GIVEN, CONSENT_WITHDRAWN, INDIRECT_SOURCES, THIRD_PARTY_COLLECTORS, Facts
from ..models import Request
from ..vocabulary import Audience, Channel
from ._base import latest_day, legal_day, zone

INVALID_MECHANISMS = {
    "pre_ticked_checkbox": "FR_CONSENT_INVALID_PRETICKED",
    "preticked_checkbox": "FR_CONSENT_INVALID_PRETICKED",
    "pre_ticked": "FR_CONSENT_INVALID_PRETICKED",
    "bundled_with_terms": "FR_CONSENT_INVALID_BUNDLED",
    "general_terms": "FR_CONSENT_INVALID_BUNDLED",
    "condition_of_contract": "FR_CONSENT_INVALID_BUNDLED",
    "continued_browsing": "FR_CONSENT_INVALID_DARK_PATTERN",
    "contest_form_asymmetric_buttons": "FR_CONSENT_INVALID_DARK_PATTERN",
    "asymmetric_buttons": "FR_CONSENT_INVALID_DARK_PATTERN",
    "dark_pattern": "FR_CONSENT_INVALID_DARK_PATTERN",
}
CHANNEL_WORDS = {
    "phone": Channel.PHONE_HUMAN,
    "telephone": Channel.PHONE_HUMAN,
    "call": Channel.PHONE_HUMAN,
    "mms": Channel.SMS,
    "mail": Channel.POSTAL,
    "post": Channel.POSTAL,
}
_PROOF_WHO = frozenset({"email", "phone", "contact_id", "identifier", "customer_id"})
_PROOF_WHEN = frozenset({"timestamp", "date", "datetime", "consent_date", "time"})
_PROOF_WHAT = frozenset({"wording", "form_version", "wording_version", "text", "screenshot", "form"})


# Legal forms whose holder is a natural person (a sole trader, a partnership): the rules for legal persons do not
# reach them, whatever their mailbox is called.
NATURAL_PERSON_FORMS = frozenset(
    {"eenmanszaak", "vof", "maatschap", "sole_trader", "partnership", "entreprise_individuelle", "micro_entreprise"}
)

# The EU-wide rules that France's codes explain, and their codes everywhere else: a decision is explained in its own
# jurisdiction's codes and the GDPR's, never another country's.
EU_CODES = {
    "FR_CONSENT_INVALID_PRETICKED": "GDPR_CONSENT_INVALID",
    "FR_CONSENT_INVALID_BUNDLED": "GDPR_CONSENT_INVALID",
    "FR_CONSENT_INVALID_DARK_PATTERN": "GDPR_CONSENT_INVALID",
    "FR_CONSENT_WITHDRAWN": "GDPR_CONSENT_WITHDRAWN",
    "FR_RECONSENT_POSITIVE_ACT": "GDPR_RECONSENT_POSITIVE_ACT",
    "FR_CONSENT_PROOF": "GDPR_CONSENT_PROOF",
    "FR_PURCHASED_LIST_NO_PROOF": "GDPR_CONSENT_PROOF",
    "FR_PARTNER_NOT_NAMED": "GDPR_CONSENT_NOT_SPECIFIC",
    "FR_PUBLIC_WEB_DATA": "GDPR_OBJECTION_ABSOLUTE",
    "FR_SUPPRESSION_LIST_HIT": "GDPR_OBJECTION_ABSOLUTE",
}


def local_code(request: Request, code: str) -> str:
    """`code` in a French decision; its GDPR equivalent in any other jurisdiction's."""
    if (request.contact.jurisdiction or "").upper() == "FR":
        return code
    return EU_CODES.get(code, code)


SUPPRESSION_PURPOSES = frozenset({"suppression", "honour_objections", "objection_check", "compliance"})
POSITIVE_ANSWERS = frozenset({"yes", "positive", "opt_in", "confirmed", "keep"})  # to a re-permission message
STOP_MECHANISM = {
    Channel.EMAIL: "must_include_free_unsubscribe",
    Channel.SMS: "must_include_free_stop_mechanism",
    Channel.AUTOMATED_CALL: "must_give_valid_contact_to_stop_free",
    Channel.FAX: "must_give_valid_contact_to_stop_free",
    Channel.POSTAL: "must_offer_free_objection_means",
}


def channel_word(word: str) -> Channel | None:
    word = word.strip().lower()
    if word in CHANNEL_WORDS:
        return CHANNEL_WORDS[word]
    try:
        return Channel(word)
    except ValueError:
        return None


def is_indirect(facts: Facts) -> bool:
    """True when the data was not collected from the person (GDPR Art. 14)."""
    return facts.data_source in INDIRECT_SOURCES


def consent_on_file(request: Request) -> bool:
    """Whether a consent stood on the request's day: given (or renewed by a re-opt-in) by then, and not yet
    withdrawn then. A consent dated after the day stood on nothing; one withdrawn after it still stood."""
    facts, day = request.facts, legal_day(request)
    if facts.reoptin_date is not None and facts.reoptin_date <= day and facts.consent_state not in ("none",):
        return True
    if facts.consent_date is not None and facts.consent_date > day:
        return False
    if facts.consent_state in CONSENT_WITHDRAWN:
        later = facts.withdrawal_date is not None and facts.withdrawal_date > day
        return later and facts.consent_date is not None
    return facts.consent_state in CONSENT_GIVEN


def collected_by_third_party(facts: Facts) -> bool:
    return facts.consent_collected_by in THIRD_PARTY_COLLECTORS or facts.data_source in (
        "purchased_list",
        "partner_transfer",
    )


def consent_defects(request: Request, *, required_code: str) -> list[tuple[str, tuple[str, ...]]]:
    """Why the consent on file does not count for this channel and advertiser ([] when it does), in the
    request's jurisdiction's codes. `required_code` is the reason to give when the consent covers another channel.
    """
    return [(local_code(request, code), remedies) for code, remedies in _consent_defects(request, required_code)]


def _consent_defects(request: Request, required_code: str) -> list[tuple[str, tuple[str, ...]]]:
    facts = request.facts
    defects: list[tuple[str, tuple[str, ...]]] = []
    recollect = ("rebuild_or_recollect_consent",)
    for mechanism in (facts.consent_mechanism, facts.reoptin_mechanism):
        if mechanism in INVALID_MECHANISMS:
            defects.append((INVALID_MECHANISMS[mechanism], recollect))
    if facts.consent_channel:
        covered = channel_word(facts.consent_channel)
        if covered is not None and covered is not request.channel:
            defects.append((required_code, recollect))
    if collected_by_third_party(facts):
        if facts.data_source == "purchased_list" and facts.individual_consent_proof is not True:
            defects.append(("FR_PURCHASED_LIST_NO_PROOF", recollect))
        if _advertiser_not_named(facts):
            defects.append(("FR_PARTNER_NOT_NAMED", recollect))
        if facts.individual_consent_proof is False and facts.data_source != "purchased_list":
            defects.append(("FR_CONSENT_PROOF", recollect))
    if _proof_incomplete(facts):
        defects.append(("FR_CONSENT_PROOF", ("rebuild_or_recollect_consent", "must_keep_consent_proof")))
    return defects


def _advertiser_not_named(facts: Facts) -> bool:
    """A consent collected by another counts for the advertiser only if it was named, itself or in a partner list
    shown at collection: a list missing, or a mere mention in a privacy policy, names nobody."""
    if facts.advertiser_named_at_collection is not None:
        return not facts.advertiser_named_at_collection
    listed = (facts.partners_named_at_collection, facts.partner_list_available)
    return False in listed or bool(facts.privacy_policy_mentions_partners and not any(listed))


def _proof_incomplete(facts: Facts) -> bool:
    if facts.consent_proof_stored is False or facts.consent_documented is False or facts.missing:
        return True
    fields = facts.consent_proof_fields
    if fields is None:
        return False
    present = {field.lower() for field in fields}
    return not (present & _PROOF_WHO and present & _PROOF_WHEN and present & _PROOF_WHAT)


def objection_dates(facts: Facts, channel: Channel) -> list[date | None]:
    """Every objection or withdrawal on file that concerns this channel (None where undated)."""
    found: list[date | None] = []
    if facts.on_suppression_list:
        found.append(facts.suppression_date)
    if facts.objected or facts.ad_says_no_canvassing:
        found.append(facts.objection_date)
    if facts.objected_to_all_calls and channel in (Channel.PHONE_HUMAN, Channel.AUTOMATED_CALL):
        found.append(facts.objection_date)
    if requests_objection(facts):
        found.append(facts.request_date)
    if withdrawn(facts, channel):
        found.append(facts.withdrawal_date)
    if facts.opted_out_on:
        found.append(facts.opted_out_on)
    return found


def withdrawn(facts: Facts, channel: Channel) -> bool:
    if facts.consent_state not in CONSENT_WITHDRAWN and facts.withdrawal_date is None:
        return False
    covered = channel_word(facts.consent_channel) if facts.consent_channel else None
    return covered is None or covered is channel


def requests_objection(facts: Facts) -> bool:
    return any(word in ("objection", "opt_out", "unsubscribe") for word in facts.request or ())


def newer_consent(request: Request, since: list[date | None]) -> date | None:
    """The date of an explicit consent to this advertiser later than every objection, if there is one.

    Only a re-opt-in, or a consent the advertiser itself collected, counts; never one given to a third party.
    """
    facts = request.facts
    candidates = [facts.reoptin_date]
    if facts.consent_collected_by == "advertiser" and facts.consent_state in CONSENT_GIVEN:
        candidates.append(facts.consent_date)
    dated = [d for d in candidates if d is not None and d <= legal_day(request)]
    if not dated or collected_by_third_party(facts):
        return None
    latest = max(dated)
    if any(d is None or d >= latest for d in since):
        return None
    return latest


def honour_objections(
    request: Request,
    findings: Findings,
    *,
    list_code: str,
    objection_code: str = "GDPR_OBJECTION_ABSOLUTE",
    remedies: tuple[str, ...] = (),
) -> bool:
    """Block on any objection, withdrawal or suppression entry unless a newer explicit consent lifts it; `remedies`
    are added to a block's own.

    Returns True when a newer consent lifted an earlier objection, so the caller treats it as the consent.
    """
    facts = request.facts
    today = latest_day(request)
    on_file = [d for d in objection_dates(facts, request.channel) if d is None or d <= today]
    if not on_file:
        return False
    lifted_on = newer_consent(request, on_file)
    if lifted_on is not None and not consent_defects(request, required_code="FR_CONSENT_PROOF"):
        findings.permit(
            local_code(request, "FR_RECONSENT_POSITIVE_ACT"),
            "must_keep_new_consent_proof",
            "must_lift_suppression_only_for_this_channel_and_advertiser",
            detail=f"new consent on {lifted_on.isoformat()}",
        )
        return True
    suppress = () if facts.on_suppression_list else ("must_add_to_suppression_list",)
    if facts.on_suppression_list:
        findings.forbid(list_code)
    if withdrawn(facts, request.channel):
        findings.forbid(local_code(request, "FR_CONSENT_WITHDRAWN"), *suppress)
    if facts.ad_says_no_canvassing:
        refused = local_code(request, "FR_PUBLIC_WEB_DATA")
        findings.forbid(refused, *suppress, detail="the person's own ad refuses canvassing")
    findings.forbid(objection_code, *suppress, *remedies)
    return False


def consent_form_invalid(request: Request, findings: Findings) -> bool:
    """A consent given through a pre-ticked box, general terms or a lopsided form is none: recorded as a block."""
    mechanism = request.facts.consent_mechanism
    if mechanism not in INVALID_MECHANISMS:
        return False
    findings.forbid(local_code(request, INVALID_MECHANISMS[mechanism]), "rebuild_or_recollect_consent")
    return True


def valid_consent(request: Request, findings: Findings, required_code: str) -> bool:
    """True when a consent is on file and counts; its defects are recorded as blocks."""
    if not consent_on_file(request):
        return False
    defects = consent_defects(request, required_code=required_code)
    for code, remedies in defects:
        findings.forbid(code, *remedies)
    return not defects


def is_customer(facts: Facts) -> bool:
    return bool(
        facts.existing_customer
        or facts.purchase_made
        or facts.email_obtained_in_sale
        or facts.prior_contractual_relationship
        or facts.customer_relationship
    )


def own_offer(facts: Facts) -> bool:
    """A customer soft opt-in covers the seller's own similar products only (ePrivacy art. 13(2)), so a sister
    company is another person; nothing said otherwise, the sender is the seller."""
    return facts.same_legal_entity_as_seller is not False


def obtained_in_sale(facts: Facts) -> bool:
    """The soft opt-in's first condition: the details came from a sale or a service. Said so, or a purchase with
    nothing saying otherwise; an account alone, or nothing known, is not a sale."""
    if facts.email_obtained_in_sale is not None:
        return facts.email_obtained_in_sale
    return facts.purchase_made is True


def callee_local_time(request: Request) -> tuple[datetime, bool]:
    """The callee's wall clock at the moment of the request, and whether their time zone was known.

    Without a time zone, a given local time or else the offset of the request's own timestamp stands for it.
    """
    name = request.contact.time_zone or request.facts.callee_timezone
    if name:
        return request.at.astimezone(zone(name)), True
    given = request.facts.callee_local_time
    if given is not None:
        return datetime.combine(request.at.date(), given, tzinfo=request.at.tzinfo), False
    return request.at, False


def called_as_consumer(request: Request, private: bool) -> Request:
    """The request with a business audience read as a consumer when a `private` call is made to a professional."""
    contact = request.contact
    business = contact.audience is not None and contact.audience.is_business
    if request.channel is not Channel.PHONE_HUMAN or not business or not private:
        return request
    return replace(request, contact=replace(contact, audience=Audience.CONSUMER))


def suppression_list_purpose(request: Request, findings: Findings, code: str) -> None:
    """A suppression list serves only to honour objections. A reuse on a channel with no purpose stated is judged
    by that channel's rules, where the entry blocks unless a newer consent lifts it."""
    facts = request.facts
    if not facts.on_suppression_list:
        return
    if facts.purpose in SUPPRESSION_PURPOSES:
        findings.permit(code, "suppression_list_no_other_purpose")
    elif facts.purpose is not None or request.channel is Channel.ANY:
        findings.forbid(code, "suppression_list_no_other_purpose")
