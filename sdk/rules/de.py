"""Germany: UWG §7, §7a and §20."""

from ..decision import Findings
from ..models import Request
from ..vocabulary import Action, Audience, Channel, LegalBasis
from ._base import ELECTRONIC, Jurisdiction, Rule
from ._common import (
    STOP_MECHANISM,
    called_as_consumer,
    honour_objections,
    is_customer,
    obtained_in_sale,
    own_offer,
    valid_consent,
)
from ._gdpr import GDPR_DUTIES


def objections(request: Request, findings: Findings) -> None:
    honour_objections(request, findings, list_code="GDPR_OBJECTION_ABSOLUTE")


def electronic(request: Request, findings: Findings) -> None:
    """Email, SMS, automated calls and fax: prior express consent for everyone, B2B and info@ included."""
    content = ("must_identify_advertiser", STOP_MECHANISM[request.channel])
    if valid_consent(request, findings, "DE_EMAIL_CONSENT_ALL"):
        findings.permit("DE_EMAIL_CONSENT_ALL", *content, basis=LegalBasis.CONSENT)
        return
    if request.channel in (Channel.EMAIL, Channel.SMS) and is_customer(request.facts):
        if _soft_opt_in(request, findings):
            findings.permit(
                "DE_SOFT_OPTIN",
                *content,
                "must_offer_objection_in_each_message",
                basis=LegalBasis.SOFT_OPT_IN,
            )
            return
        findings.forbid("DE_SOFT_OPTIN")
    findings.forbid("DE_EMAIL_CONSENT_ALL", "rebuild_or_recollect_consent")


def _soft_opt_in(request: Request, findings: Findings) -> bool:
    """§7(3): address from a sale, own similar goods, no objection, notice at collection and in each use."""
    facts = request.facts
    from_sale = obtained_in_sale(facts)
    notified = facts.informed_at_collection is True or facts.objection_offered_at_collection is True
    return (
        from_sale
        and facts.similar_product is True
        and own_offer(facts)
        and notified
        and facts.objection_notice_each_message is not False
        and facts.objected is not True
    )


def phone(request: Request, findings: Findings) -> None:
    """Consumers: prior express consent, documented 5 years. Businesses: at least presumed consent."""
    facts = request.facts
    if request.contact.audience is Audience.CONSUMER:
        if facts.consent_documented is False:  # §7a: a consent not documented when given does not count
            findings.forbid("DE_CONSENT_DOC_5Y", "must_keep_consent_record_5y_after_grant_and_each_use")
            findings.forbid("DE_PHONE_B2C_CONSENT", "rebuild_or_recollect_consent")
        elif valid_consent(request, findings, "DE_PHONE_B2C_CONSENT"):
            findings.permit(
                "DE_PHONE_B2C_CONSENT",
                "must_identify_caller",
                "must_keep_consent_record_5y_after_grant_and_each_use",
                basis=LegalBasis.CONSENT,
            )
            findings.note("DE_CONSENT_DOC_5Y")
        else:
            findings.forbid("DE_PHONE_B2C_CONSENT", "rebuild_or_recollect_consent")
        return
    if valid_consent(request, findings, "DE_PHONE_B2B_PRESUMED"):
        findings.permit("DE_PHONE_B2B_PRESUMED", "must_identify_caller", basis=LegalBasis.CONSENT)
        return
    circumstances = facts.existing_business_relationship or facts.presumed_interest_documented
    if facts.offer_related_to_profession is True and circumstances:
        findings.permit(
            "DE_PHONE_B2B_PRESUMED",
            "must_identify_caller",
            "document_presumed_consent_reasoning",
            basis=LegalBasis.LEGITIMATE_INTEREST,
        )
    else:
        findings.forbid("DE_PHONE_B2B_PRESUMED", "document_presumed_consent_reasoning")


def postal(request: Request, findings: Findings) -> None:
    findings.permit(
        "DE_POSTAL_OPTOUT",
        "must_identify_advertiser",
        "must_offer_free_objection_means",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )


def proof_retention(request: Request, findings: Findings) -> None:
    """§7a: consumer phone consent documented and kept 5 years from grant and after each use."""
    remedy = "must_keep_consent_record_5y_after_grant_and_each_use"
    if request.channel is Channel.PHONE_HUMAN and request.facts.consent_documented is False:
        findings.forbid("DE_CONSENT_DOC_5Y", remedy, detail="the consent was not documented when given")
        return
    years = request.facts.proof_retention_policy_years
    if years is None:
        return
    if years < 5:
        findings.forbid("DE_CONSENT_DOC_5Y", remedy)
    else:
        findings.permit("DE_CONSENT_DOC_5Y", remedy, basis=LegalBasis.LEGAL_OBLIGATION)


def _as_the_law_sees_it(request: Request) -> Request:
    """A professional reached as a private person is called as a consumer; an offer unrelated to the business is
    instead what a business call's presumed consent is judged on."""
    return called_as_consumer(request, bool(request.facts.callee_is_consumer))


JURISDICTION = Jurisdiction(
    "DE",
    "Germany",
    "Europe/Berlin",
    (
        Rule(objections),
        Rule(electronic, channels=ELECTRONIC),
        Rule(phone, channels=frozenset({Channel.PHONE_HUMAN})),
        Rule(postal, channels=frozenset({Channel.POSTAL})),
        Rule(proof_retention, actions=frozenset({Action.RETAIN, Action.COLLECT})),
        *GDPR_DUTIES,
    ),
    normalise=_as_the_law_sees_it,
)
