"""What is known about a contact and the planned action: the fact keys of the scenario format.

Every key of shared/rules/VOCABULARY.md is declared here with its type. A key that is absent (or null) is
unknown, and reads as None. Unknown keys and badly typed values are rejected with an error naming the key,
never the value (a value may be an email address).

Conversion is table-driven rather than a marshmallow schema: `consentry check` converts a million rows and a
schema per row would cost more than deciding.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
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


_B, _BU, _I, _D, _DT, _T, _S, _L = (
    _to_bool,
    _to_bool_or_unknown,
    _to_int,
    _to_date,
    _to_datetime,
    _to_time,
    _to_str,
    _to_words,
)

FACT_TYPES: dict[str, Callable[[Any], Any]] = {
    "account_created": _B,
    "acquired_on": _D,
    "action_detail": _S,
    "ad_says_no_canvassing": _B,
    "address": _S,
    "address_published_by_company_for_this_purpose": _B,
    "address_type": _S,
    "addressee": _S,
    "advertiser_named_at_collection": _B,
    "answered_on": _D,
    "art14_notice_sent": _B,
    "attempts_answered": _I,
    "attempts_unanswered": _I,
    "bloctel_effective_date": _D,
    "bloctel_registered": _B,
    "business_day_note": _S,
    "business_days_since_optout": _I,
    "callee_is_consumer": _B,
    "callee_local_time": _T,
    "callee_timezone": _to_zone,
    "calls_in_last_30_days": _I,
    "campaign_channels": _L,
    "collection_method": _S,
    "consent_channel": _S,
    "consent_collected_by": _S,
    "consent_date": _D,
    "consent_documented": _B,
    "consent_mechanism": _S,
    "consent_period_stated": _S,
    "consent_proof_fields": _L,
    "consent_proof_stored": _B,
    "consent_state": _S,
    "contract_in_progress": _B,
    "contract_object": _S,
    "customer_relationship": _B,
    "data_source": _S,
    "dncm_registered": _B,
    "email_obtained_in_sale": _B,
    "existing_business_relationship": _B,
    "existing_customer": _B,
    "existing_donor": _B,
    "extension_notified": _B,
    "fields_collected": _L,
    "first_contact_date": _D,
    "headers_accurate": _B,
    "identified_as_ad": _B,
    "individual_consent_proof": _B,
    "informed_at_collection": _B,
    "is_charity": _B,
    "is_political": _B,
    "last_interaction": _D,
    "last_interaction_type": _S,
    "last_open": _D,
    "last_purchase": _D,
    "last_screened_days_ago": _I,
    "message_commercial": _B,
    "missing": _L,
    "national_dnc_registered": _B,
    "number_type": _S,
    "objected": _B,
    "objected_to_all_calls": _B,
    "objected_to_transfer": _B,
    "objection_date": _D,
    "objection_notice_each_message": _B,
    "objection_offered_at_collection": _B,
    "offer": _S,
    "offer_related_to_contract": _B,
    "offer_related_to_profession": _B,
    "on_suppression_list": _B,
    "opt_out_mechanism": _B,
    "opted_out_on": _D,
    "out_of_hours_consent": _S,
    "partner_changes_notified": _B,
    "partner_list_available": _B,
    "partner_list_link_in_form": _B,
    "partners_named_at_collection": _B,
    "physical_postal_address": _B,
    "platform": _S,
    "political_use_announced_at_collection": _B,
    "presumed_interest_documented": _B,
    "prior_contractual_relationship": _B,
    "privacy_policy_mentions_partners": _B,
    "profile_visibility": _S,
    "promoted_category": _S,
    "proof_retention_policy_years": _I,
    "prospecting_continued": _B,
    "purchase_category": _S,
    "purchase_date": _D,
    "purchase_made": _B,
    "purpose": _S,
    "recipient_legal_form": _S,
    "recipient_role": _S,
    "reconfirmation_answer": _S,
    "reconfirmation_sent": _D,
    "refusal_offered_at_collection": _B,
    "refused_during_call_date": _D,
    "relationship_current": _B,
    "relationship_end_date": _D,
    "renewed": _B,
    "reoptin_date": _D,
    "reoptin_mechanism": _S,
    "request": _L,
    "request_channel": _S,
    "request_date": _D,
    "robinson_channels": _L,
    "robinson_registered": _B,
    "rpo_checked_within_days": _I,
    "rpo_registered": _B,
    "rpo_registration_date": _D,
    "same_legal_entity_as_seller": _B,
    "sector": _S,
    "segment": _S,
    "sender_type": _S,
    "similar_product": _B,
    "sole_purpose_charitable": _B,
    "specific_slot_consent": _DT,
    "specific_slot_consent_proof": _B,
    "supporter_expressed_interest_or_supported": _B,
    "suppression_date": _D,
    "suppression_entry_fields": _L,
    "tps_registered": _BU,
    "transfer_consent": _BU,
    "transfer_objection_offered_by_source": _B,
    "withdrawal_channel": _S,
    "withdrawal_date": _D,
}


class Facts(Mapping[str, Any]):
    """An immutable, hashable set of typed facts; `facts.existing_customer` is None when unknown."""

    # Known facts live in the instance dict and every other key reads the class default None: plain attribute
    # access, which the engine does some thirty times per decision.
    __slots__ = ("__dict__", "_hash")

    def __init__(self, values: Mapping[str, Any] | None = None):
        typed: dict[str, Any] = {}
        for key, raw in (values or {}).items():
            convert = FACT_TYPES.get(key)
            if convert is None:
                raise InvalidInputError(f"unknown fact key {key!r}", field=key)
            if raw is None or raw == "":
                continue
            try:
                typed[key] = convert(raw)
            except OutOfRangeError:
                message = f"fact {key!r} is out of range ({EARLIEST.year} to {LATEST.year})"
                raise InvalidInputError(message, field=key) from None
            except (ValueError, TypeError):
                raise InvalidInputError(f"fact {key!r} has a value of the wrong kind", field=key) from None
        self.__dict__.update(typed)
        object.__setattr__(self, "_hash", hash(frozenset(typed.items())))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Facts are immutable")

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def __iter__(self):
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Facts) and self.__dict__ == other.__dict__

    def __repr__(self) -> str:
        return f"Facts({sorted(self.__dict__)})"

    def replace(self, **changes: Any) -> "Facts":
        return Facts({**self.__dict__, **changes})

    def has_any(self, keys: Iterable[str]) -> bool:
        return any(key in self.__dict__ for key in keys)


for _key in FACT_TYPES:
    setattr(Facts, _key, None)
