"""Spain: LSSI art. 21, LGTel art. 66.1.b, LOPDGDD art. 23."""

from datetime import date

from ..decision import Findings
from ..models import Request
from ..vocabulary import Audience, Channel, LegalBasis
from ._base import ELECTRONIC, Jurisdiction, Rule
from ._common import STOP_MECHANISM, channel_word, honour_objections, is_customer, own_offer, valid_consent
from ._gdpr import GDPR_DUTIES

CALL_CONDUCT = ("must_identify_caller", "must_offer_objection_during_call")


def objections(request: Request, findings: Findings) -> None:
    honour_objections(request, findings, list_code="GDPR_OBJECTION_ABSOLUTE")


def electronic(request: Request, findings: Findings) -> None:
    """Consent whatever the recipient; prior contractual relationship for own similar products."""
    content = ("must_identify_advertiser", STOP_MECHANISM[request.channel])
    if valid_consent(request, findings, "ES_EMAIL_CONSENT_ALL"):
        findings.permit("ES_EMAIL_CONSENT_ALL", *content, basis=LegalBasis.CONSENT)
        return
    facts = request.facts
    customer_exception = (
        request.channel in (Channel.EMAIL, Channel.SMS)
        and is_customer(facts)
        and facts.similar_product is True
        and own_offer(facts)
        and facts.objection_offered_at_collection is True
        and facts.objection_notice_each_message is not False  # "at collection and in each message"
    )
    if customer_exception:
        findings.permit(
            "ES_EMAIL_CONSENT_ALL",
            *content,
            "must_offer_objection_in_each_message",
            basis=LegalBasis.SOFT_OPT_IN,
        )
    else:
        findings.forbid("ES_EMAIL_CONSENT_ALL", "rebuild_or_recollect_consent")


def phone(request: Request, findings: Findings) -> None:
    """Since 2023-06-29: consent or another legal basis; legitimate interest is presumed for customers."""
    if valid_consent(request, findings, "ES_PHONE_OPTIN_2023"):
        findings.permit("ES_PHONE_OPTIN_2023", *CALL_CONDUCT, basis=LegalBasis.CONSENT)
    elif is_customer(request.facts) and request.facts.similar_product is not False and own_offer(request.facts):
        # the LSSI 21.2 relationship the presumption rests on: own similar products
        findings.permit("ES_PHONE_LEGIT_INTEREST_CUSTOMER", *CALL_CONDUCT, basis=LegalBasis.LEGITIMATE_INTEREST)
    else:
        findings.forbid("ES_PHONE_OPTIN_2023", "rebuild_or_recollect_consent")


def phone_before_2023(request: Request, findings: Findings) -> None:
    findings.permit("ES_ROBINSON", *CALL_CONDUCT, basis=LegalBasis.LEGITIMATE_INTEREST)


def robinson(request: Request, findings: Findings) -> None:
    """Lista Robinson: no marketing to registered non-customers who did not consent, per channel; a registration
    not known reads as one, until the list is checked."""
    facts = request.facts
    if request.contact.audience is Audience.GENERIC_BUSINESS_ADDRESS:  # a list of people, not of companies
        return
    if facts.robinson_registered is False or is_customer(facts):
        return
    channels = [channel_word(word) for word in facts.robinson_channels or ()]
    if channels and request.channel not in channels:
        findings.note("ES_ROBINSON", detail="registered for other channels only")
        return
    if valid_consent(request, findings, "ES_ROBINSON"):
        return
    if facts.robinson_registered is None:
        findings.forbid("ES_ROBINSON", "provide_missing_facts", detail="Lista Robinson registration unknown")
        findings.need("robinson_registered")
        return
    findings.forbid("ES_ROBINSON")


def postal(request: Request, findings: Findings) -> None:
    findings.permit(
        "ES_POSTAL_OPTOUT",
        "must_identify_advertiser",
        "must_offer_free_objection_means",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )


PHONE = frozenset({Channel.PHONE_HUMAN})
JURISDICTION = Jurisdiction(
    "ES",
    "Spain",
    "Europe/Madrid",
    (
        Rule(objections),
        Rule(robinson),
        Rule(electronic, channels=ELECTRONIC),
        Rule(phone, channels=PHONE, in_force_from=date(2023, 6, 29)),
        Rule(phone_before_2023, channels=PHONE, in_force_until=date(2023, 6, 28)),
        Rule(postal, channels=frozenset({Channel.POSTAL})),
        *GDPR_DUTIES,
    ),
)
