"""The closed vocabularies of the domain: channels, audiences, actions, senders, verdicts.

Values are the lower-case words of the scenario format (docs/rules/facts.md), so a scenario file, a CSV
column and the API all speak the same words.
"""

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    AUTOMATED_CALL = "automated_call"
    PHONE_HUMAN = "phone_human"
    FAX = "fax"
    POSTAL = "postal"
    ANY = "any"

    @property
    def is_electronic(self) -> bool:
        """Channels of CPCE L34-5 and the ePrivacy directive: email, SMS/MMS, automated calls, fax."""
        return self in _ELECTRONIC

    @property
    def uses_phone_number(self) -> bool:
        return self in (Channel.SMS, Channel.AUTOMATED_CALL, Channel.PHONE_HUMAN)


_ELECTRONIC = frozenset({Channel.EMAIL, Channel.SMS, Channel.AUTOMATED_CALL, Channel.FAX})


class Audience(StrEnum):
    CONSUMER = "b2c"
    NAMED_PROFESSIONAL = "b2b_nominative"
    GENERIC_BUSINESS_ADDRESS = "b2b_generic"

    @property
    def is_business(self) -> bool:
        return self is not Audience.CONSUMER


class Action(StrEnum):
    SEND = "send"
    COLLECT = "collect_data"
    RETAIN = "retain_data"
    TRANSFER = "transfer_data"
    REUSE = "reuse_data"
    ANSWER_RIGHTS_REQUEST = "respond_dsar"


class SenderType(StrEnum):
    COMPANY = "company"
    CHARITY = "charity"
    POLITICAL = "political"

    @classmethod
    def parse(cls, value: str | None) -> "SenderType":
        """Accept the scenario spellings (`political_party`, `charity`) and default to a company."""
        if not value:
            return cls.COMPANY
        value = value.strip().lower()
        if value.startswith("politic"):
            return cls.POLITICAL
        if value in ("charity", "non_profit", "nonprofit", "association"):
            return cls.CHARITY
        return cls.COMPANY


class Verdict(StrEnum):
    ALLOWED = "allowed"
    ALLOWED_WITH_CONDITIONS = "allowed_with_conditions"
    FORBIDDEN = "forbidden"


class Confidence(StrEnum):
    CONFIRMED = "confirmed"
    SECONDARY = "secondary"
    UNCONFIRMED = "unconfirmed"
    INTERPRETATION = "interpretation"


class LegalBasis(StrEnum):
    """The ground a lawful contact rests on (GDPR Art. 6 and the ePrivacy exceptions)."""

    CONSENT = "consent"
    SOFT_OPT_IN = "soft_opt_in"
    LEGITIMATE_INTEREST = "legitimate_interest"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    NOT_PERSONAL_DATA = "not_personal_data"


JURISDICTIONS = ("FR", "DE", "IT", "ES", "BE", "NL", "UK", "US")
