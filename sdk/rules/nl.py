"""Netherlands: Telecommunicatiewet art. 11.7."""

from datetime import date

from ..dates import add_years
from ..decision import Findings
from ..models import Request
from ..vocabulary import Audience, Channel, LegalBasis
from ._base import ELECTRONIC, Jurisdiction, Rule, legal_day
from ._common import NATURAL_PERSON_FORMS, STOP_MECHANISM, honour_objections, is_customer, own_offer, valid_consent
from ._gdpr import GDPR_DUTIES

CALL_CONDUCT = ("must_show_caller_number", "must_offer_objection_each_call")


def objections(request: Request, findings: Findings) -> None:
    honour_objections(request, findings, list_code="GDPR_OBJECTION_ABSOLUTE")


def electronic(request: Request, findings: Findings) -> None:
    """Consent for natural and legal persons; existing customers; addresses published for this purpose."""
    facts = request.facts
    content = ("must_identify_advertiser", STOP_MECHANISM[request.channel])
    if (
        request.contact.audience is Audience.GENERIC_BUSINESS_ADDRESS
        and facts.address_published_by_company_for_this_purpose
    ):
        findings.permit("NL_EMAIL_GENERIC_PUBLISHED", *content, basis=LegalBasis.LEGITIMATE_INTEREST)
        return
    if valid_consent(request, findings, "NL_EMAIL_CONSENT_INCL_LEGAL_PERSONS"):
        findings.permit("NL_EMAIL_CONSENT_INCL_LEGAL_PERSONS", *content, basis=LegalBasis.CONSENT)
        return
    if (
        request.channel in (Channel.EMAIL, Channel.SMS)
        and is_customer(facts)
        and facts.similar_product is True
        and own_offer(facts)
    ):
        findings.permit(
            "NL_EMAIL_CONSENT_INCL_LEGAL_PERSONS",
            *content,
            "must_offer_objection_in_each_message",
            basis=LegalBasis.SOFT_OPT_IN,
        )
        return
    findings.forbid("NL_EMAIL_CONSENT_INCL_LEGAL_PERSONS", "rebuild_or_recollect_consent")


def phone(request: Request, findings: Findings) -> None:
    """Since 2021-07-01: natural persons (sole traders, vof, maatschap included) only with consent or
    within a customer relationship (current, or ended less than 3 years ago)."""
    facts = request.facts
    audience = request.contact.audience
    if audience is not Audience.CONSUMER:
        if facts.recipient_legal_form is None and audience is Audience.NAMED_PROFESSIONAL:
            findings.need("recipient_legal_form")
            return
        if facts.recipient_legal_form not in NATURAL_PERSON_FORMS:
            findings.permit("NL_TELEMARKETING_LEGAL_PERSON", *CALL_CONDUCT, basis=LegalBasis.LEGITIMATE_INTEREST)
            return
    consented = valid_consent(request, findings, "NL_TELEMARKETING_OPTIN_2021")
    periodless = "consent_period_stated" in facts.unknown  # a consent must say how long it lasts
    if consented and not periodless:
        findings.permit("NL_TELEMARKETING_OPTIN_2021", *CALL_CONDUCT, basis=LegalBasis.CONSENT)
    elif _customer_within_3_years(request) or facts.existing_donor:
        findings.permit("NL_TELEMARKETING_CUSTOMER", *CALL_CONDUCT, basis=LegalBasis.LEGITIMATE_INTEREST)
    else:
        detail = "the consent states no period" if consented else ""
        findings.forbid("NL_TELEMARKETING_OPTIN_2021", "rebuild_or_recollect_consent", detail=detail)


def _customer_within_3_years(request: Request) -> bool:
    facts = request.facts
    if facts.similar_product is not True or not (is_customer(facts) or facts.relationship_current):
        return False
    ended = facts.relationship_end_date
    return ended is None or legal_day(request) <= add_years(ended, 3)


def postal(request: Request, findings: Findings) -> None:
    findings.permit(
        "NL_POSTAL_OPTOUT",
        "must_identify_advertiser",
        "must_offer_free_objection_means",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )


JURISDICTION = Jurisdiction(
    "NL",
    "Netherlands",
    "Europe/Amsterdam",
    (
        Rule(objections),
        Rule(electronic, channels=ELECTRONIC),
        Rule(phone, channels=frozenset({Channel.PHONE_HUMAN}), in_force_from=date(2021, 7, 1)),
        Rule(postal, channels=frozenset({Channel.POSTAL})),
        *GDPR_DUTIES,
    ),
)
