"""What is known about a contact and the planned action: the fact keys of the scenario format.

Every fact key (docs/rules/facts.md) is a declared, typed field of `Facts`, and reads as None when not known. A key
that is absent is irrelevant to the case; a key given as null (or an empty CSV cell) is a fact nobody knows, which
the engine must not read in the contact's favour (`Facts.unknown`; the catalogue says, per fact, whether unknown
counts against the contact). Unknown keys, badly typed values and values outside a fact's vocabulary are rejected
with an error naming the key and the accepted values, never the value given (it may be an email address).

Conversion is table-driven rather than a marshmallow schema: `consentry check` converts a million rows and a
schema per row would cost more than deciding.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, time
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInputError

_TRUE = frozenset({"true", "yes", "y", "1", "t", "oui"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "non"})
UNKNOWN = "unknown"


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise ValueError("expected true or false")


def _to_bool_or_unknown(value: Any) -> bool | str:
    if isinstance(value, str) and value.strip().lower() == UNKNOWN:
        return UNKNOWN
    return _to_bool(value)


class ChoiceError(ValueError):
    """A value outside a fact's vocabulary; carries the accepted values for the message."""

    def __init__(self, accepted: frozenset[str]):
        super().__init__("not in the vocabulary")
        self.accepted = accepted


def one_of(accepted: frozenset[str]) -> Callable[[Any], str]:
    """A converter to one word of a closed vocabulary, compared without case or surrounding spaces."""

    def convert(value: Any) -> str:
        word = _to_str(value).lower()
        if word not in accepted:
            raise ChoiceError(accepted)
        return word

    convert.accepted = accepted  # type: ignore[attr-defined]  # the fail-closed reading tries each word
    return convert


def words_of(accepted: frozenset[str]) -> Callable[[Any], tuple[str, ...]]:
    """A list of words, each from a closed vocabulary."""
    word = one_of(accepted)

    def convert(value: Any) -> tuple[str, ...]:
        return tuple(word(item) for item in _to_words(value))

    convert.accepted = accepted  # type: ignore[attr-defined]
    convert.many = True  # type: ignore[attr-defined]
    return convert


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        return value
    return int(str(value).strip())


# A fact's date is something a company recorded: the rules add months and years to it (retention, notices),
# which a sentinel such as 9999-12-31 would carry past the last date Python can hold.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


class OutOfRangeError(ValueError):
    pass


def _in_range(day: date) -> None:
    if not EARLIEST <= day <= LATEST:
        raise OutOfRangeError("date out of range")


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        day = date.fromisoformat(str(value).strip()[:10])
    _in_range(day)
    return day


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value).strip())
    _in_range(moment.date())
    return moment


def _to_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 12:30 as sexagesimal minutes
        return time(value // 60, value % 60)
    return time.fromisoformat(str(value).strip())


def _to_str(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    raise ValueError("expected text")


def _to_zone(value: Any) -> str:
    """An IANA time zone name this machine knows (e.g. Europe/Paris): a call window is judged on its clock."""
    name = _to_str(value)
    if not is_time_zone(name):
        raise ValueError("expected an IANA time zone name")
    return name


@lru_cache(maxsize=1024)
def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _to_words(value: Any) -> tuple[str, ...]:
    """A list of words: a YAML list, or one string with ';' or ',' between words (CSV cells)."""
    if isinstance(value, list | tuple):
        return tuple(_to_str(item) for item in value)
    text = _to_str(value)
    separator = ";" if ";" in text else ","
    return tuple(part.strip() for part in text.split(separator) if part.strip())


# The closed vocabularies: facts whose words the rules act on. A word outside them would be read as "none of these"
# (a consent state "Granted" as no consent), so it is an error instead.
CONSENT_GIVEN = frozenset({"opt_in", "granted", "given", "consent", "subscribed", "re_opt_in", "reoptin"})
CONSENT_WITHDRAWN = frozenset({"withdrawn", "revoked", "objected", "opt_out", "unsubscribed"})
CONSENT_STATES = CONSENT_GIVEN | CONSENT_WITHDRAWN | {"none"}
DIRECT_SOURCES = frozenset({"collected_directly", "direct", "form", "customer", "own_collection"})
INDIRECT_SOURCES = frozenset(
    {"purchased_list", "partner_transfer", "public_web", "data_broker", "rented_list", "enrichment", "scraping"}
)
THIRD_PARTY_COLLECTORS = frozenset({"data_broker", "partner", "primary_collector", "broker", "third_party"})
COLLECTORS = THIRD_PARTY_COLLECTORS | {"advertiser"}
CHANNEL_WORDS = frozenset(
    {"any", "automated_call", "email", "fax", "phone_human", "postal", "sms"}
    | {"phone", "telephone", "call", "mms", "mail", "post"}
)
RIGHTS_WORDS = frozenset(
    {"access", "erasure", "objection", "opt_out", "unsubscribe", "rectification", "portability", "restriction"}
)
SENDER_TYPES = frozenset(
    {"company", "charity", "non_profit", "nonprofit", "association", "political", "political_party"}
)
ADDRESS_TYPES = frozenset({"generic_but_identifies_natural_person", "generic_role_address", "impersonal", "nominative"})
PROFILE_VISIBILITIES = frozenset({"public", "restricted_to_connections", "restricted", "private"})

# Each fact is a declared field of Facts; its type says what it holds and, as the `Annotated` metadata, which
# function turns a raw value (YAML, a CSV cell, a CRM property) into it. An absent fact reads as None.
YesNo = Annotated[bool | None, _to_bool]
YesNoUnknown = Annotated[bool | Literal["unknown"] | None, _to_bool_or_unknown]
Count = Annotated[int | None, _to_int]
Day = Annotated[date | None, _to_date]
Moment = Annotated[datetime | None, _to_datetime]
TimeOfDay = Annotated[time | None, _to_time]
Text = Annotated[str | None, _to_str]
Words = Annotated[tuple[str, ...] | None, _to_words]
TimeZoneName = Annotated[str | None, _to_zone]
ConsentState = Annotated[str | None, one_of(CONSENT_STATES)]
DataSource = Annotated[str | None, one_of(DIRECT_SOURCES | INDIRECT_SOURCES)]
Collector = Annotated[str | None, one_of(COLLECTORS)]
ChannelWord = Annotated[str | None, one_of(CHANNEL_WORDS)]
ChannelWords = Annotated[tuple[str, ...] | None, words_of(CHANNEL_WORDS)]
RightsWords = Annotated[tuple[str, ...] | None, words_of(RIGHTS_WORDS)]
SenderKind = Annotated[str | None, one_of(SENDER_TYPES)]
AddressType = Annotated[str | None, one_of(ADDRESS_TYPES)]
Visibility = Annotated[str | None, one_of(PROFILE_VISIBILITIES)]


class Facts(Mapping[str, Any]):
    """An immutable, hashable set of typed facts; `facts.existing_customer` is None when unknown."""

    # Known facts live in the instance dict and every other key reads the class default None: plain attribute
    # access, which the engine does some thirty times per decision.
    __slots__ = ("__dict__", "_hash", "_unknown")
    _hash: int
    _unknown: frozenset[str]

    account_created: YesNo = None
    acquired_on: Day = None
    action_detail: Text = None
    ad_says_no_canvassing: YesNo = None
    address: Text = None
    address_published_by_company_for_this_purpose: YesNo = None
    address_type: AddressType = None
    addressee: Text = None
    advertiser_named_at_collection: YesNo = None
    answered_on: Day = None
    art14_notice_sent: YesNo = None
    attempts_answered: Count = None
    attempts_unanswered: Count = None
    bloctel_effective_date: Day = None
    bloctel_registered: YesNo = None
    business_day_note: Text = None
    business_days_since_optout: Count = None
    callee_is_consumer: YesNo = None
    callee_local_time: TimeOfDay = None
    callee_timezone: TimeZoneName = None
    calls_in_last_30_days: Count = None
    campaign_channels: ChannelWords = None
    collection_method: Text = None
    consent_channel: ChannelWord = None
    consent_collected_by: Collector = None
    consent_date: Day = None
    consent_documented: YesNo = None
    consent_mechanism: Text = None
    consent_period_stated: Text = None
    consent_proof_fields: Words = None
    consent_proof_stored: YesNo = None
    consent_state: ConsentState = None
    contract_in_progress: YesNo = None
    contract_object: Text = None
    customer_relationship: YesNo = None
    data_source: DataSource = None
    dncm_registered: YesNo = None
    email_obtained_in_sale: YesNo = None
    existing_business_relationship: YesNo = None
    existing_customer: YesNo = None
    existing_donor: YesNo = None
    extension_notified: YesNo = None
    fields_collected: Words = None
    first_contact_date: Day = None
    headers_accurate: YesNo = None
    identified_as_ad: YesNo = None
    individual_consent_proof: YesNo = None
    informed_at_collection: YesNo = None
    is_charity: YesNo = None
    is_political: YesNo = None
    last_interaction: Day = None
    last_interaction_type: Text = None
    last_open: Day = None
    last_purchase: Day = None
    last_screened_days_ago: Count = None
    message_commercial: YesNo = None
    missing: Words = None
    national_dnc_registered: YesNo = None
    number_type: Text = None
    objected: YesNo = None
    objected_to_all_calls: YesNo = None
    objected_to_transfer: YesNo = None
    objection_date: Day = None
    objection_notice_each_message: YesNo = None
    objection_offered_at_collection: YesNo = None
    offer: Text = None
    offer_related_to_contract: YesNo = None
    offer_related_to_profession: YesNo = None
    on_suppression_list: YesNo = None
    opt_out_mechanism: YesNo = None
    opted_out_on: Day = None
    out_of_hours_consent: Text = None
    partner_changes_notified: YesNo = None
    partner_list_available: YesNo = None
    partner_list_link_in_form: YesNo = None
    partners_named_at_collection: YesNo = None
    physical_postal_address: YesNo = None
    platform: Text = None
    political_use_announced_at_collection: YesNo = None
    presumed_interest_documented: YesNo = None
    prior_contractual_relationship: YesNo = None
    privacy_policy_mentions_partners: YesNo = None
    profile_visibility: Visibility = None
    promoted_category: Text = None
    proof_retention_policy_years: Count = None
    prospecting_continued: YesNo = None
    purchase_category: Text = None
    purchase_date: Day = None
    purchase_made: YesNo = None
    purpose: Text = None
    recipient_legal_form: Text = None
    recipient_role: Text = None
    reconfirmation_answer: Text = None
    reconfirmation_sent: Day = None
    refusal_offered_at_collection: YesNo = None
    refused_during_call_date: Day = None
    relationship_current: YesNo = None
    relationship_end_date: Day = None
    renewed: YesNo = None
    reoptin_date: Day = None
    reoptin_mechanism: Text = None
    request: RightsWords = None
    request_channel: Text = None
    request_date: Day = None
    robinson_channels: ChannelWords = None
    robinson_registered: YesNo = None
    rpo_checked_within_days: Count = None
    rpo_registered: YesNo = None
    rpo_registration_date: Day = None
    same_legal_entity_as_seller: YesNo = None
    sector: Text = None
    segment: Text = None
    sender_type: SenderKind = None
    similar_product: YesNo = None
    sole_purpose_charitable: YesNo = None
    specific_slot_consent: Moment = None
    specific_slot_consent_proof: YesNo = None
    supporter_expressed_interest_or_supported: YesNo = None
    suppression_date: Day = None
    suppression_entry_fields: Words = None
    tps_registered: YesNoUnknown = None
    transfer_consent: YesNoUnknown = None
    transfer_objection_offered_by_source: YesNo = None
    withdrawal_channel: Text = None
    withdrawal_date: Day = None

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        typed: dict[str, Any] = {}
        unknown: set[str] = set()
        for key, raw in (values or {}).items():
            convert = FACT_TYPES.get(key)
            if convert is None:
                raise InvalidInputError(f"unknown fact key {key!r}", field=key)
            if raw is None or raw == "":
                unknown.add(key)
                continue
            try:
                typed[key] = convert(raw)
            except ChoiceError as error:
                accepted = ", ".join(sorted(error.accepted))
                raise InvalidInputError(f"fact {key!r} must be one of: {accepted}", field=key) from None
            except OutOfRangeError:
                message = f"fact {key!r} is out of range ({EARLIEST.year} to {LATEST.year})"
                raise InvalidInputError(message, field=key) from None
            except (ValueError, TypeError):
                raise InvalidInputError(f"fact {key!r} has a value of the wrong kind", field=key) from None
        self.__dict__.update(typed)
        object.__setattr__(self, "_unknown", frozenset(unknown))
        object.__setattr__(self, "_hash", hash((frozenset(typed.items()), self._unknown)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Facts are immutable")

    @property
    def unknown(self) -> frozenset[str]:
        """The keys given as null: facts nobody knows, as opposed to keys left out as irrelevant."""
        return self._unknown

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Facts) and self.__dict__ == other.__dict__ and self.unknown == other.unknown

    def __repr__(self) -> str:
        return f"Facts({sorted(self.__dict__)}, unknown={sorted(self.unknown)})"

    def replace(self, **changes: Any) -> "Facts":
        """A copy with these facts changed; None makes a fact unknown."""
        return Facts({**dict.fromkeys(self.unknown), **self.__dict__, **changes})

    def has_any(self, keys: Iterable[str]) -> bool:
        return any(key in self.__dict__ for key in keys)


# The fact keys and their converters, read once from the declared fields.
FACT_TYPES: dict[str, Callable[[Any], Any]] = {
    name: hint.__metadata__[0] for name, hint in Facts.__annotations__.items() if hasattr(hint, "__metadata__")
}
