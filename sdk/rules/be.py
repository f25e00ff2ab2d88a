"""Belgium: CDE art. XII.13, arrêté royal of 4 April 2003, 'Ne m'appelez plus'."""

from ..decision import Findings
from ..models import Request
from ..vocabulary import Audience, Channel, LegalBasis
from ._base import ELECTRONIC, Jurisdiction, Rule
from ._common import (
    NATURAL_PERSON_FORMS,
    STOP_MECHANISM,
    honour_objections,
    is_customer,
    obtained_in_sale,
    own_offer,
    valid_consent,
)
from ._gdpr import GDPR_DUTIES

IMPERSONAL = frozenset({"impersonal", "generic_role_address"})


def objections(request: Request, findings: Findings) -> None:
    honour_objections(request, findings, list_code="GDPR_OBJECTION_ABSOLUTE")


def electronic(request: Request, findings: Findings) -> None:
    """Consent, except customers for analogous products and legal persons at impersonal addresses."""
    facts = request.facts
    content = ("must_identify_advertiser", STOP_MECHANISM[request.channel])
    impersonal = (
        request.contact.audience is Audience.GENERIC_BUSINESS_ADDRESS
        and (facts.address_type is None or facts.address_type in IMPERSONAL)
        and facts.recipient_legal_form not in NATURAL_PERSON_FORMS  # the exception is for legal persons
    )
    if impersonal and request.channel in (Channel.EMAIL, Channel.SMS):
        findings.permit(
            "BE_EMAIL_IMPERSONAL_LEGAL_PERSON",
            *content,
            "must_keep_optout_list",
            basis=LegalBasis.LEGITIMATE_INTEREST,
        )
        return
    if valid_consent(request, findings, "BE_EMAIL_CONSENT"):
        findings.permit("BE_EMAIL_CONSENT", *content, "must_keep_optout_list", basis=LegalBasis.CONSENT)
        return
    customer_exception = (
        request.channel in (Channel.EMAIL, Channel.SMS)
        and is_customer(facts)
        and facts.similar_product is True
        and own_offer(facts)
        and facts.objection_offered_at_collection is True
        and obtained_in_sale(facts)
    )
    if customer_exception:
        findings.permit(
            "BE_EMAIL_CONSENT",
            *content,
            "must_keep_optout_list",
            "must_offer_objection_in_each_message",
            basis=LegalBasis.SOFT_OPT_IN,
        )
    else:
        findings.forbid("BE_EMAIL_CONSENT", "rebuild_or_recollect_consent")


def phone(request: Request, findings: Findings) -> None:
    """Opt-out through 'Ne m'appelez plus', which callers must consult; a registration not known reads as one."""
    registered = request.facts.dncm_registered
    if registered is not False:
        if valid_consent(request, findings, "BE_DNCM"):
            findings.permit("BE_DNCM", "must_identify_caller", basis=LegalBasis.CONSENT)
        elif registered is None:
            findings.forbid("BE_DNCM", "must_check_dncm_list", detail="registration unknown")
            findings.need("dncm_registered")
        else:
            findings.forbid("BE_DNCM")
        return
    findings.permit(
        "BE_DNCM",
        "must_check_dncm_list",
        "must_identify_caller",
        "must_offer_objection_during_call",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )


def postal(request: Request, findings: Findings) -> None:
    findings.permit(
        "BE_POSTAL_OPTOUT",
        "must_identify_advertiser",
        "must_offer_free_objection_means",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )


JURISDICTION = Jurisdiction(
    "BE",
    "Belgium",
    "Europe/Brussels",
    (
        Rule(objections),
        Rule(electronic, channels=ELECTRONIC),
        Rule(phone, channels=frozenset({Channel.PHONE_HUMAN})),
        Rule(postal, channels=frozenset({Channel.POSTAL})),
        *GDPR_DUTIES,
    ),
)
