"""France: the complete rule table, with each rule's dates in force."""

from dataclasses import replace
from datetime import date

from ...models import Request
from ...vocabulary import Action, Audience, Channel
from .._base import BUSINESS, CONSUMER, ELECTRONIC, Jurisdiction, Rule
from .._common import called_as_consumer
from .._gdpr import RIGHTS_REQUESTS
from . import lifecycle, messages, phone

PHONE = frozenset({Channel.PHONE_HUMAN})
CALLS = frozenset({Channel.PHONE_HUMAN, Channel.AUTOMATED_CALL})  # a machine's call is telephone canvassing too
SMS = frozenset({Channel.SMS})
POSTAL = frozenset({Channel.POSTAL})
WRITTEN = ELECTRONIC | POSTAL
D223_9_IN_FORCE = date(2023, 3, 1)
BLOCTEL_ENDS = date(2026, 8, 10)
OPT_IN_STARTS = date(2026, 8, 11)


def _as_the_law_sees_it(request: Request) -> Request:
    """A 'generic' address naming a person is personal data; a professional called about a private matter,
    or who is in fact a consumer, is a consumer."""
    contact, facts = request.contact, request.facts
    if contact.audience is Audience.GENERIC_BUSINESS_ADDRESS and (
        facts.address_type == "generic_but_identifies_natural_person"
    ):
        request = replace(request, contact=replace(contact, audience=Audience.NAMED_PROFESSIONAL))
    return called_as_consumer(request, bool(facts.callee_is_consumer or facts.offer_related_to_profession is False))


RULES = (
    # Sends, every channel
    Rule(messages.objections),
    Rule(lifecycle.retention, actions=frozenset({Action.SEND, Action.RETAIN, Action.REUSE})),
    # Email, SMS, automated calls, fax, post
    Rule(
        messages.electronic_sector_ban,
        channels=ELECTRONIC,
        audiences=CONSUMER,
        in_force_from=date(2025, 7, 2),
    ),
    Rule(messages.electronic_basis, channels=ELECTRONIC),
    Rule(messages.data_source, channels=WRITTEN),
    Rule(phone.sms_windows, channels=SMS, audiences=CONSUMER, in_force_from=D223_9_IN_FORCE),
    Rule(messages.postal_basis, channels=POSTAL),
    # Human phone calls
    Rule(phone.business_call, channels=PHONE, audiences=BUSINESS),
    Rule(phone.charity_call, channels=PHONE, audiences=CONSUMER),
    Rule(
        phone.sector_ban(messages.ENERGY_SECTORS),
        channels=CALLS,
        audiences=CONSUMER,
        in_force_from=date(2020, 7, 26),
    ),
    Rule(
        phone.sector_ban(messages.ADAPTATION_SECTORS),
        channels=CALLS,
        audiences=CONSUMER,
        in_force_from=date(2025, 7, 2),
    ),
    Rule(phone.bloctel_era, channels=PHONE, audiences=CONSUMER, in_force_until=BLOCTEL_ENDS),
    Rule(
        phone.refusal_pause,
        channels=PHONE,
        audiences=CONSUMER,
        in_force_from=D223_9_IN_FORCE,
        in_force_until=BLOCTEL_ENDS,
    ),
    Rule(phone.opt_in_era, channels=PHONE, audiences=CONSUMER, in_force_from=OPT_IN_STARTS),
    Rule(phone.call_windows, channels=PHONE, audiences=CONSUMER, in_force_from=D223_9_IN_FORCE),
    Rule(phone.frequency_cap, channels=PHONE, audiences=CONSUMER, in_force_from=D223_9_IN_FORCE),
    # Keeping data
    Rule(lifecycle.suppression_entry, actions=frozenset({Action.RETAIN})),
    Rule(lifecycle.phone_proof_retention, actions=frozenset({Action.RETAIN}), in_force_from=OPT_IN_STARTS),
    Rule(lifecycle.art14_notice, actions=frozenset({Action.SEND, Action.RETAIN, Action.REUSE})),
    Rule(lifecycle.minimisation, actions=frozenset({Action.COLLECT, Action.RETAIN})),
    Rule(lifecycle.retained_data, actions=frozenset({Action.RETAIN})),
    # Collecting, reusing and passing on data
    Rule(lifecycle.collection, actions=frozenset({Action.COLLECT})),
    Rule(lifecycle.suppression_reuse, actions=frozenset({Action.REUSE})),
    Rule(lifecycle.public_data, actions=frozenset({Action.REUSE})),
    Rule(lifecycle.objectors_left_out, actions=frozenset({Action.TRANSFER})),
    Rule(lifecycle.file_sale, actions=frozenset({Action.TRANSFER})),
    Rule(lifecycle.partner_transfer, actions=frozenset({Action.TRANSFER})),
    RIGHTS_REQUESTS,
)

JURISDICTION = Jurisdiction("FR", "France", "Europe/Paris", RULES, normalise=_as_the_law_sees_it)
