"""United Kingdom: PECR as amended by the Data (Use and Access) Act 2025, and UK GDPR."""

from datetime import date

from ..decision import Findings
from ..facts import Facts
from ..models import Request
from ..vocabulary import Audience, Channel, LegalBasis, SenderType
from ._base import Jurisdiction, Rule, legal_day
from ._common import honour_objections, is_customer, own_offer, valid_consent
from ._gdpr import GDPR_DUTIES

# Corporate subscribers under PECR: bodies with their own legal personality. Any other form (a sole trader, an
# English or Welsh partnership, limited or not, a form nobody recognises) reads as an individual subscriber, the
# stricter reading.
CORPORATE_FORMS = frozenset(
    {
        "company",
        "limited_company",
        "ltd",
        "plc",
        "public_limited_company",
        "llp",
        "limited_liability_partnership",
        "scottish_partnership",
        "scottish_limited_partnership",
        "public_body",
        "public_authority",
        "community_interest_company",
        "corporation",
    }
)
TPS_RESCREEN_DAYS = 28
CHARITY_SOFT_OPT_IN = date(2026, 2, 5)


def objections(request: Request, findings: Findings) -> None:
    honour_objections(request, findings, list_code="GDPR_OBJECTION_ABSOLUTE")


def subscriber_is_individual(request: Request, findings: Findings) -> bool | None:
    """PECR's split: consumers, sole traders and non-Scottish partnerships are individual subscribers."""
    audience = request.contact.audience
    form = request.facts.recipient_legal_form
    if audience is Audience.CONSUMER:
        return True
    if form is not None:
        return form.strip().lower().replace("-", "_").replace(" ", "_") not in CORPORATE_FORMS
    if audience is Audience.GENERIC_BUSINESS_ADDRESS:
        return False
    findings.need("recipient_legal_form")
    return None


def messages(request: Request, findings: Findings) -> None:
    """Email and SMS: consent or soft opt-in for individuals; identity and opt-out for corporates."""
    facts = request.facts
    if (
        request.sender is SenderType.CHARITY
        and legal_day(request) >= CHARITY_SOFT_OPT_IN
        and _charity_soft_opt_in(facts)
    ):
        findings.permit(
            "UK_CHARITY_SOFT_OPTIN",
            "must_offer_refusal_in_every_message",
            "must_identify_sender",
            basis=LegalBasis.SOFT_OPT_IN,
        )
        return
    individual = subscriber_is_individual(request, findings)
    if individual is None:
        return
    code = "UK_INDIVIDUAL_SUBSCRIBER" if individual else "UK_CORPORATE_SUBSCRIBER"
    if facts.opt_out_mechanism is False:  # reg 23: every marketing email gives a valid address to opt out
        findings.forbid(code, "must_give_valid_address_to_opt_out")
        return
    if not individual:
        findings.permit(
            "UK_CORPORATE_SUBSCRIBER",
            "must_identify_sender",
            "must_give_valid_address_to_opt_out",
            "must_honour_uk_gdpr_objection",
            basis=LegalBasis.LEGITIMATE_INTEREST,
        )
        return
    content = ("must_identify_sender", "must_give_valid_address_to_opt_out")
    if valid_consent(request, findings, "UK_INDIVIDUAL_SUBSCRIBER"):
        findings.permit("UK_INDIVIDUAL_SUBSCRIBER", *content, basis=LegalBasis.CONSENT)
    elif is_customer(facts) and facts.similar_product is True and own_offer(facts) and _refusal_offered(facts):
        findings.permit(
            "UK_INDIVIDUAL_SUBSCRIBER",
            *content,
            "must_offer_refusal_in_every_message",
            basis=LegalBasis.SOFT_OPT_IN,
        )
    else:
        findings.forbid("UK_INDIVIDUAL_SUBSCRIBER", "rebuild_or_recollect_consent")


def _refusal_offered(facts: Facts) -> bool:
    """A simple means of refusing was offered at collection: said so, and not contradicted."""
    offered = (facts.refusal_offered_at_collection, facts.objection_offered_at_collection)
    return True in offered and False not in offered


def _charity_soft_opt_in(facts: Facts) -> bool:
    return bool(
        facts.sole_purpose_charitable
        and facts.supporter_expressed_interest_or_supported
        and facts.refusal_offered_at_collection
    )


def automated(request: Request, findings: Findings) -> None:
    if valid_consent(request, findings, "UK_AUTOMATED_CONSENT"):
        findings.permit("UK_AUTOMATED_CONSENT", "must_identify_sender", basis=LegalBasis.CONSENT)
    else:
        findings.forbid("UK_AUTOMATED_CONSENT", "rebuild_or_recollect_consent")


def fax(request: Request, findings: Findings) -> None:
    individual = subscriber_is_individual(request, findings)
    if individual is False:
        findings.permit("UK_CORPORATE_SUBSCRIBER", "must_identify_sender", basis=LegalBasis.LEGITIMATE_INTEREST)
    elif individual and valid_consent(request, findings, "UK_INDIVIDUAL_SUBSCRIBER"):
        findings.permit("UK_INDIVIDUAL_SUBSCRIBER", "must_identify_sender", basis=LegalBasis.CONSENT)
    elif individual:
        findings.forbid("UK_INDIVIDUAL_SUBSCRIBER", "rebuild_or_recollect_consent")


def live_call(request: Request, findings: Findings) -> None:
    """Live calls unless the number is on TPS/CTPS, screened within 28 days; only a specific consent to
    this caller overrides TPS, being a customer does not."""
    facts = request.facts
    if valid_consent(request, findings, "UK_TPS"):
        findings.permit("UK_TPS", "must_identify_caller", basis=LegalBasis.CONSENT)
        return
    if facts.tps_registered is True:
        findings.forbid("UK_TPS")
        return
    stale = facts.last_screened_days_ago is not None and facts.last_screened_days_ago > TPS_RESCREEN_DAYS
    if facts.tps_registered is not False or stale:
        if facts.tps_registered is not False:  # not known to be off the TPS: it may be on it
            findings.forbid("UK_TPS", "rescreen_against_tps_ctps")
        findings.forbid("UK_TPS_RESCREEN_28D", "rescreen_against_tps_ctps")
        return
    findings.permit("UK_TPS", "rescreen_against_tps_ctps", "must_identify_caller", basis=LegalBasis.LEGITIMATE_INTEREST)
    findings.note("UK_TPS_RESCREEN_28D")


def postal(request: Request, findings: Findings) -> None:
    findings.permit(
        "UK_POSTAL_OPTOUT",
        "must_identify_sender",
        "must_offer_free_objection_means",
        basis=LegalBasis.LEGITIMATE_INTEREST,
    )


JURISDICTION = Jurisdiction(
    "UK",
    "United Kingdom",
    "Europe/London",
    (
        Rule(objections),
        Rule(messages, channels=frozenset({Channel.EMAIL, Channel.SMS})),
        Rule(automated, channels=frozenset({Channel.AUTOMATED_CALL})),
        Rule(fax, channels=frozenset({Channel.FAX})),
        Rule(live_call, channels=frozenset({Channel.PHONE_HUMAN})),
        Rule(postal, channels=frozenset({Channel.POSTAL})),
        *GDPR_DUTIES,
    ),
)
