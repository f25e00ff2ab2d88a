"""France: electronic messages and addressed post (CPCE L34-5, CNIL guidance)."""

from ...decision import Findings
from ...models import Request
from ...vocabulary import Audience, Channel, LegalBasis, SenderType
from .._common import (
    STOP_MECHANISM,
    collected_by_third_party,
    consent_defects,
    consent_on_file,
    honour_objections,
    is_customer,
    is_indirect,
    obtained_in_sale,
    valid_consent,
)

CONSENT_REQUIRED = {
    Channel.EMAIL: "FR_EMAIL_B2C_CONSENT_REQUIRED",
    Channel.SMS: "FR_SMS_B2C_CONSENT_REQUIRED",
    Channel.AUTOMATED_CALL: "FR_AUTOMATED_CALL_B2C_CONSENT",
    Channel.FAX: "FR_FAX_CONSENT",
    Channel.PHONE_HUMAN: "FR_PHONE_B2C_OPTIN_2026",
}
CONSENT_VALID = {
    Channel.EMAIL: "FR_EMAIL_B2C_OPTIN_VALID",
    Channel.SMS: "FR_EMAIL_B2C_OPTIN_VALID",
    Channel.AUTOMATED_CALL: "FR_AUTOMATED_CALL_B2C_CONSENT",
    Channel.FAX: "FR_FAX_CONSENT",
}
SOFT_OPT_IN_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.AUTOMATED_CALL})
SOFT_OPT_IN_REMEDIES = {"FR_MSG_CONTENT": ("must_offer_objection_in_each_message",)}
ENERGY_SECTORS = frozenset({"energy_renovation", "energy_saving", "renewable_energy"})
ADAPTATION_SECTORS = frozenset({"housing_adaptation", "housing_adaptation_ageing", "housing_adaptation_disability"})
BANNED_SECTORS = ENERGY_SECTORS | ADAPTATION_SECTORS


def message_content(request: Request, findings: Findings) -> None:
    """L34-5 'dans tous les cas': identify the advertiser and give a free, valid way to stop; an email's subject
    relates to the offer and it reads as advertising (LCEN art. 20). A message known to lack one of them is forbidden
    until it has it."""
    stop = STOP_MECHANISM[request.channel]
    findings.require("must_identify_advertiser", stop)
    if not request.channel.is_electronic:
        return
    findings.note("FR_MSG_CONTENT")
    facts = request.facts
    missing = [stop] if facts.opt_out_mechanism is False else []
    if request.channel is Channel.EMAIL and facts.headers_accurate is False:
        missing.append("must_not_use_deceptive_headers_or_subject")
    if request.channel is Channel.EMAIL and facts.identified_as_ad is False:  # LCEN art. 20 (unconfirmed)
        missing.append("must_identify_advertiser")
    if missing:
        findings.forbid("FR_MSG_CONTENT", *missing)


def data_source(request: Request, findings: Findings) -> None:
    """Data not collected from the person: Art. 14 notice with the source at the latest at first contact."""
    facts = request.facts
    if facts.data_source == "public_web" or facts.collection_method:
        findings.note("FR_PUBLIC_WEB_DATA")
        if facts.profile_visibility and facts.profile_visibility != "public":
            findings.forbid("FR_PUBLIC_WEB_DATA", detail="the person restricted who may see these details")
    if is_indirect(facts) and facts.art14_notice_sent is not True:
        findings.note("FR_DATA_SOURCE_ART14")
        findings.require("must_state_data_source", "must_send_art14_information_at_first_contact")


def objections(request: Request, findings: Findings) -> None:
    honour_objections(request, findings, list_code="FR_SUPPRESSION_LIST_HIT")


def electronic_sector_ban(request: Request, findings: Findings) -> None:
    if request.facts.sector in BANNED_SECTORS:
        findings.forbid("FR_SECTOR_BAN_ELECTRONIC_L223_8")


def electronic_basis(request: Request, findings: Findings) -> None:
    """Who may be sent email, SMS, automated calls or fax, and on which ground."""
    facts = request.facts
    if request.sender is SenderType.CHARITY and facts.message_commercial is not True:
        _charity(request, findings)
        return
    if request.sender is SenderType.POLITICAL and facts.message_commercial is not True:  # selling is prospecting
        _political(request, findings)
        return
    audience = request.contact.audience
    if audience is Audience.GENERIC_BUSINESS_ADDRESS:
        _generic_business(request, findings)
        return
    if audience is not Audience.CONSUMER and _named_professional(request, findings):
        return
    _consumer(request, findings)


def _charity(request: Request, findings: Findings) -> None:
    """A charity's non-commercial messages are opt-out; without the notice and the free objection at collection the
    exception fails, and the channel's own rule (a consent, for a consumer) decides."""
    facts = request.facts
    if facts.objection_offered_at_collection is False or facts.informed_at_collection is False:
        if request.contact.audience is Audience.CONSUMER:
            _consumer(request, findings)
            if not findings.blocked:
                return
        findings.forbid("FR_NONCOMMERCIAL_CHARITY", "must_offer_free_objection_means")
        return
    findings.permit(
        "FR_NONCOMMERCIAL_CHARITY",
        "must_offer_objection_in_each_message",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )
    message_content(request, findings)


def _political(request: Request, findings: Findings) -> None:
    """Political messages built on a commercial file: a consent that covers them, or notice of the political use
    at collection (CNIL). A consent given where that use was not announced is a consent to commercial offers."""
    facts = request.facts
    consented = consent_on_file(request) and not consent_defects(request, required_code="FR_POLITICAL_CONSENT")
    consented = consented and facts.political_use_announced_at_collection is not False
    if consented or facts.political_use_announced_at_collection:
        basis = LegalBasis.CONSENT if consented else LegalBasis.LEGITIMATE_INTEREST
        findings.permit("FR_POLITICAL_CONSENT", "must_offer_objection_in_each_message", basis=basis)
        message_content(request, findings)
    else:
        findings.forbid("FR_POLITICAL_CONSENT", "rebuild_or_recollect_consent")


def _generic_business(request: Request, findings: Findings) -> None:
    """A company's contact@ or switchboard: legal-person details, outside consent and objection."""
    channel = request.channel
    if channel is Channel.FAX:
        findings.permit("FR_FAX_B2B_UNCLEAR", basis=LegalBasis.LEGITIMATE_INTEREST)
    elif channel is Channel.EMAIL:
        findings.permit("FR_B2B_GENERIC_ADDRESS", basis=LegalBasis.NOT_PERSONAL_DATA)
    elif channel is Channel.AUTOMATED_CALL:
        findings.permit("FR_AUTOMATED_CALL_B2B_OPTOUT", basis=LegalBasis.LEGITIMATE_INTEREST)
    else:
        findings.permit("FR_B2B_NOMINATIVE_OPTOUT", basis=LegalBasis.LEGITIMATE_INTEREST)
    message_content(request, findings)


def _named_professional(request: Request, findings: Findings) -> bool:
    """Opt-out for a named professional when the offer relates to their job; returns False to judge as B2C."""
    facts = request.facts
    if facts.offer_related_to_profession is False:
        findings.note("FR_B2B_UNRELATED_OFFER")
        _consumer(request, findings, unrelated_b2b=True)
        return True
    if request.channel is Channel.FAX:
        findings.note("FR_FAX_B2B_UNCLEAR")
        return False
    code = "FR_AUTOMATED_CALL_B2B_OPTOUT" if request.channel is Channel.AUTOMATED_CALL else "FR_B2B_NOMINATIVE_OPTOUT"
    if facts.objection_offered_at_collection is False and not is_indirect(facts):
        findings.forbid(code, "must_offer_objection")
        return True
    if _objection_reminder_missing(request, findings, code):
        findings.forbid("FR_MSG_CONTENT", "must_offer_objection_in_each_message")
        return True
    findings.permit(code, "must_relate_to_recipient_profession", basis=LegalBasis.LEGITIMATE_INTEREST)
    message_content(request, findings)
    return True


def _consumer(request: Request, findings: Findings, *, unrelated_b2b: bool = False) -> None:
    """Prior consent, or the existing-customer soft opt-in (L34-5 al. 4)."""
    channel = request.channel
    required = "FR_B2B_UNRELATED_OFFER" if unrelated_b2b else CONSENT_REQUIRED[channel]
    if valid_consent(request, findings, required):
        findings.permit(CONSENT_VALID[channel], basis=LegalBasis.CONSENT)
        partner_consent_named(request, findings)
        message_content(request, findings)
        return
    if channel in SOFT_OPT_IN_CHANNELS and _is_customer(request):
        failures = soft_opt_in_failures(request)
        if not failures:
            findings.permit("FR_SOFT_OPTIN", "must_offer_objection_in_each_message", basis=LegalBasis.SOFT_OPT_IN)
            message_content(request, findings)
            return
        for code in failures:
            findings.forbid(code, *SOFT_OPT_IN_REMEDIES.get(code, ()))
    findings.forbid(required)
    if channel is Channel.SMS and request.facts.data_source == "public_web":
        findings.forbid("FR_PUBLIC_WEB_DATA")


def partner_consent_named(request: Request, findings: Findings) -> None:
    """A valid consent a partner or broker collected: say that it rests on the advertiser being named among the
    partners at collection, with its proof (CNIL partner guidance), when the facts show both."""
    facts = request.facts
    named = True in (
        facts.advertiser_named_at_collection,
        facts.partners_named_at_collection,
        facts.partner_list_available,
    )
    proved = True in (facts.individual_consent_proof, facts.consent_proof_stored, facts.consent_documented)
    if collected_by_third_party(facts) and named and proved:
        findings.permit(
            "FR_PARTNER_CONSENT_NAMED", "must_keep_consent_proof", "must_not_retransfer_without_new_consent"
        )


def _objection_reminder_missing(request: Request, findings: Findings, code: str) -> bool:
    """Opt-out means a free objection at collection *and* in every message: messages that carry no reminder fail."""
    if request.facts.objection_notice_each_message is not False:
        return False
    findings.forbid(code, "must_offer_objection_in_each_message", detail="the messages carry no objection reminder")
    return True


def _is_customer(request: Request) -> bool:
    return is_customer(request.facts) or request.facts.account_created is True


def soft_opt_in_failures(request: Request) -> list[str]:
    """The L34-5 al. 4 conditions that fail; every one is required, so one not known fails too."""
    facts = request.facts
    failures = []
    if not obtained_in_sale(facts):  # "à l'occasion d'une vente ou d'une prestation de services"
        failures.append("FR_SOFT_OPTIN_NO_PURCHASE")
    if facts.similar_product is not True:
        failures.append("FR_SOFT_OPTIN_NOT_SIMILAR")
    if facts.same_legal_entity_as_seller is not True:
        failures.append("FR_SOFT_OPTIN_OTHER_ENTITY")
    if facts.objection_offered_at_collection is not True:
        failures.append("FR_SOFT_OPTIN_NO_OBJECTION_AT_COLLECTION")
    if facts.objection_notice_each_message is False:  # "at collection *and* in every message"
        failures.append("FR_MSG_CONTENT")
    if is_indirect(facts):
        failures.append(CONSENT_REQUIRED[request.channel])
    return failures


def postal_basis(request: Request, findings: Findings) -> None:
    """Addressed post is opt-out: information at collection and a free objection."""
    facts = request.facts
    if facts.data_source in ("purchased_list", "partner_transfer"):
        if facts.objected_to_transfer or facts.transfer_objection_offered_by_source is False:
            findings.forbid("FR_PARTNER_TRANSFER_POSTAL_PHONE", "exclude_objectors_and_non_consenting")
            return
        findings.note("FR_PARTNER_TRANSFER_POSTAL_PHONE")
    if facts.objection_offered_at_collection is False and not is_indirect(facts):
        findings.forbid("FR_POSTAL_OPTOUT", "must_offer_free_objection_means")
        return
    if _objection_reminder_missing(request, findings, "FR_POSTAL_OPTOUT"):
        return
    findings.permit("FR_POSTAL_OPTOUT", basis=LegalBasis.LEGITIMATE_INTEREST)
    message_content(request, findings)
