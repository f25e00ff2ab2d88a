"""Italy: Codice privacy art. 130 and the Registro pubblico delle opposizioni."""

from ..decision import Findings
from ..models import Request
from ..vocabulary import Channel, LegalBasis
from ._base import ELECTRONIC, Jurisdiction, Rule
from ._common import STOP_MECHANISM, honour_objections, is_customer, own_offer, valid_consent
from ._gdpr import GDPR_DUTIES

RPO_LIST_VALID_DAYS = 15  # lists drawn from the RPO are stale after 15 days (press); the stricter figure


def objections(request: Request, findings: Findings) -> None:
    honour_objections(request, findings, list_code="GDPR_OBJECTION_ABSOLUTE")


def electronic(request: Request, findings: Findings) -> None:
    """Consent, legal persons included; the customer 'soft spam' exception covers email only."""
    content = ("must_identify_advertiser", STOP_MECHANISM[request.channel])
    if valid_consent(request, findings, "IT_EMAIL_CONSENT_INCL_LEGAL_PERSONS"):
        findings.permit("IT_EMAIL_CONSENT_INCL_LEGAL_PERSONS", *content, basis=LegalBasis.CONSENT)
        return
    facts = request.facts
    if is_customer(facts):
        if request.channel is not Channel.EMAIL:
            findings.forbid("IT_SOFT_SPAM_EMAIL_ONLY")
        elif (
            facts.similar_product is True
            and own_offer(facts)
            and facts.email_obtained_in_sale is not False  # "address given in a sale"
            and facts.objection_offered_at_collection is True
            and facts.objection_notice_each_message is not False  # "at collection and in each message"
        ):
            findings.permit(
                "IT_SOFT_SPAM_EMAIL_ONLY",
                *content,
                "must_offer_objection_in_each_message",
                basis=LegalBasis.SOFT_OPT_IN,
            )
            return
    findings.forbid("IT_EMAIL_CONSENT_INCL_LEGAL_PERSONS", "rebuild_or_recollect_consent")


def registry(request: Request, findings: Findings) -> None:
    """Calls (and post to listed addresses) are opt-out through the RPO; registering revokes older consents."""
    facts = request.facts
    if facts.rpo_registered:
        registered = facts.rpo_registration_date
        consented_after = (
            valid_consent(request, findings, "IT_PHONE_OPTOUT_RPO")
            and facts.consent_date is not None
            and registered is not None
            and facts.consent_date > registered
        )
        if consented_after:
            remedies = ("must_identify_caller", "must_check_rpo_before_campaign")  # the list is checked all the same
            findings.permit("IT_PHONE_OPTOUT_RPO", *remedies, basis=LegalBasis.CONSENT)
            return
        if facts.consent_date is not None:
            findings.forbid("IT_RPO_REVOKES_CONSENT")
        findings.forbid("IT_PHONE_OPTOUT_RPO")
        return
    if facts.rpo_registered is None:  # not known: read as registered, until the list is checked
        findings.forbid("IT_PHONE_OPTOUT_RPO", "must_check_rpo_before_campaign", detail="RPO registration unknown")
        findings.need("rpo_registered")
        return
    checked = facts.rpo_checked_within_days
    if checked is not None and checked > RPO_LIST_VALID_DAYS:
        findings.forbid("IT_PHONE_OPTOUT_RPO", "must_check_rpo_before_campaign", detail=f"checked {checked} days ago")
        return
    conditions = ["must_check_rpo_before_campaign"]
    if request.channel is Channel.PHONE_HUMAN:
        conditions += ["must_identify_caller", "must_offer_objection_during_call"]
    else:
        conditions += ["must_identify_advertiser", "must_offer_free_objection_means"]
    findings.permit("IT_PHONE_OPTOUT_RPO", *conditions, basis=LegalBasis.LEGITIMATE_INTEREST)


JURISDICTION = Jurisdiction(
    "IT",
    "Italy",
    "Europe/Rome",
    (
        Rule(objections),
        Rule(electronic, channels=ELECTRONIC),
        Rule(registry, channels=frozenset({Channel.PHONE_HUMAN, Channel.POSTAL})),
        *GDPR_DUTIES,
    ),
)
