"""The API's bodies as marshmallow schemas: they validate what comes in and describe it in the OpenAPI document.

Inputs reject unknown fields; a value is checked by the same code the rest of Consentry uses (identifiers'
normalisation, `Facts` for the fact vocabulary), whose errors name the field, never the value."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import marshmallow
from marshmallow import Schema, fields, post_load, validates_schema
from marshmallow.validate import Length, OneOf
from phonenumbers import PhoneNumber

from consentry.sdk.consent_state import LEDGER_CHANNELS, EventKind
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.facts import Facts, is_time_zone
from consentry.sdk.identity import e164, normalise_email, parse_phone
from consentry.sdk.rights import RightsKind, RightsStatus
from consentry.sdk.vocabulary import JURISDICTIONS, Audience, Channel, LegalBasis, Verdict

from . import records

MAX_BATCH = 1000
# An event key is `api:<Idempotency-Key>`, 200 characters at most.
MAX_IDEMPOTENCY_KEY = 196
_RECORDED_KINDS = (EventKind.GRANTED.value, EventKind.WITHDRAWN.value, EventKind.OBJECTED.value)


class ApiSchema(Schema):
    class Meta:
        unknown = marshmallow.RAISE


def _identifiers(data: dict[str, Any], region: str | None) -> tuple[str | None, PhoneNumber | None]:
    """The normalised email and the parsed number; a malformed one is an error naming its field."""
    errors: dict[str, list[str]] = {}
    email = number = None
    if data.get("email"):
        try:
            email = normalise_email(data["email"])
        except InvalidInputError as error:
            errors["email"] = [str(error)]
    if data.get("phone"):
        try:
            number = parse_phone(data["phone"], region or "FR")
        except InvalidInputError as error:
            errors["phone"] = [str(error)]
    if errors:
        raise marshmallow.ValidationError(errors)
    return email, number


def _time_zone(value: str) -> None:
    if not is_time_zone(value):
        raise marshmallow.ValidationError("expected an IANA time zone name, e.g. Europe/Paris")


# -- decisions ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionQuery:
    channel: Channel
    audience: Audience | None
    jurisdiction: str | None
    at: datetime | None
    advertiser: str | None
    facts: Facts
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    time_zone: str | None = None
    # `phone` as loaded, parsed once: the decision reads its country and time zone from it
    number: PhoneNumber | None = field(default=None, repr=False, compare=False)


class DecisionRequestSchema(ApiSchema):
    email = fields.String(allow_none=True, validate=Length(max=254), metadata={"description": "the person's address"})
    phone = fields.String(
        allow_none=True,
        validate=Length(max=40),
        metadata={"description": "E.164 (+33612345678), or national form read in the jurisdiction's numbering"},
    )
    channel = fields.Enum(Channel, by_value=True, required=True)
    audience = fields.Enum(
        Audience,
        by_value=True,
        allow_none=True,
        metadata={"description": "b2c, b2b_nominative or b2b_generic; left out, the decision asks for it"},
    )
    jurisdiction = fields.String(
        allow_none=True,
        validate=OneOf(JURISDICTIONS),
        metadata={"description": "whose rules apply; left out, the phone number's country when Consentry has rules"},
    )
    time_zone = fields.String(
        allow_none=True,
        validate=_time_zone,
        metadata={"description": "the callee's IANA time zone; left out, the phone number's when it has one"},
    )
    at = fields.AwareDateTime(allow_none=True, metadata={"description": "when the contact would happen; default now"})
    advertiser = fields.String(
        allow_none=True, validate=Length(min=1, max=200), metadata={"description": "default the server's"}
    )
    facts = fields.Dict(  # keys and values are checked by `Facts`: per-item fields here cost 5 ms a batch
        load_default=dict,
        metadata={
            "description": "any fact of the vocabulary (docs/rules/facts.md); null means not known",
            "additionalProperties": {"nullable": True},
        },
    )

    @post_load
    def _query(self, data: dict[str, Any], **_kwargs: Any) -> DecisionQuery:
        email, number = _identifiers(data, data.get("jurisdiction"))
        try:
            facts = Facts(data.get("facts") or {})
        except InvalidInputError as error:
            raise marshmallow.ValidationError({"facts": {error.field or "facts": [str(error)]}}) from None
        return DecisionQuery(
            channel=data["channel"],
            audience=data.get("audience"),
            jurisdiction=data.get("jurisdiction"),
            at=data.get("at"),
            advertiser=data.get("advertiser"),
            facts=facts,
            email=email,
            phone=e164(number) if number is not None else None,
            time_zone=data.get("time_zone"),
            number=number,
        )


class DecisionBatchRequestSchema(ApiSchema):
    contacts = fields.List(
        fields.Nested(DecisionRequestSchema),
        required=True,
        validate=Length(min=1, max=MAX_BATCH),
        metadata={"description": f"1 to {MAX_BATCH} contacts, answered in this order"},
    )


class Memoized(fields.Nested):
    """A nested value dumped once per distinct value. A decision's reasons come from a small catalogue and recur
    in every answer (`Reason` is frozen and hashable): profiled on a batch of 1,000, dumping them field by field was
    most of marshmallow's time. The same dumped dict serves every answer that names that reason."""

    _LIMIT = 10_000  # distinct reasons are a few hundred (codes x details); past this, dump without keeping

    def __init__(self, nested: Any, **kwargs: Any):
        super().__init__(nested, **kwargs)
        self._dumped: dict[Any, Any] = {}

    def _serialize(self, nested_obj, attr, obj, **kwargs):  # typed as the base, which leaves it untyped
        if nested_obj is None:
            return None
        found = self._dumped.get(nested_obj)
        if found is None:
            found = super()._serialize(nested_obj, attr, obj, **kwargs)
            if len(self._dumped) < self._LIMIT:
                self._dumped[nested_obj] = found
        return found


class SourceSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(required=True)
    url = fields.String(allow_none=True)


class ReasonSchema(Schema):
    code = fields.String(required=True)
    title = fields.String(required=True)
    effect = fields.String(required=True, validate=OneOf(("blocks", "permits", "informs")))
    summary = fields.String(required=True)
    detail = fields.String(required=True)
    confidence = fields.String(required=True)
    sources = fields.List(fields.Nested(SourceSchema), required=True)


class DecisionSchema(Schema):
    decision = fields.Enum(Verdict, by_value=True, required=True)
    reasons = fields.List(Memoized(ReasonSchema), required=True)
    conditions = fields.List(fields.String(), required=True)
    legal_basis = fields.Enum(LegalBasis, by_value=True, allow_none=True, required=True)
    valid_until = fields.AwareDateTime(allow_none=True, required=True)
    missing_facts = fields.List(fields.String(), required=True)
    jurisdiction = fields.String(allow_none=True, required=True, metadata={"description": "the rules applied"})
    next_lawful_call = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "phone calls only: the first lawful moment from `at`; null when waiting won't help"},
    )


class DecisionBatchSchema(Schema):
    decisions = fields.List(fields.Nested(DecisionSchema), required=True)


# -- recording ------------------------------------------------------------------------------------------------------


class IdempotencySchema(Schema):
    class Meta:
        unknown = marshmallow.EXCLUDE  # the request's other headers

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        required=True,
        validate=Length(min=1, max=MAX_IDEMPOTENCY_KEY),
        metadata={"description": "replaying a key replays the first answer; the same key with another body is a 409"},
    )


class ProofOfConsentSchema(ApiSchema):
    collection_point = fields.String(allow_none=True, validate=Length(max=500))
    wording = fields.String(allow_none=True, validate=Length(max=5000))
    wording_version = fields.String(allow_none=True, validate=Length(max=100))
    method = fields.String(allow_none=True, validate=Length(max=100))


class _Identified(ApiSchema):
    @validates_schema
    def _someone(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data.get("email") and not data.get("phone"):
            raise marshmallow.ValidationError("an email address or a phone number is required", "email")
        _identifiers(data, None)


class ConsentRequestSchema(_Identified):
    email = fields.String(allow_none=True, validate=Length(max=254))
    phone = fields.String(allow_none=True, validate=Length(max=40))
    channel = fields.String(required=True, validate=OneOf(sorted(LEDGER_CHANNELS)))
    kind = fields.String(required=True, validate=OneOf(_RECORDED_KINDS))
    advertiser = fields.String(allow_none=True, validate=Length(min=1, max=200))
    occurred_at = fields.AwareDateTime(required=True)
    proof = fields.Nested(ProofOfConsentSchema, allow_none=True)


class CallRequestSchema(_Identified):
    phone = fields.String(required=True, validate=Length(min=1, max=40))
    email = fields.String(allow_none=True, validate=Length(max=254))
    advertiser = fields.String(allow_none=True, validate=Length(min=1, max=200))
    called_at = fields.AwareDateTime(required=True)
    outcome = fields.String(required=True, validate=OneOf(sorted(records.OUTCOMES)))


class RecordedSchema(Schema):
    event_key = fields.String(required=True)
    new = fields.Boolean(required=True, metadata={"description": "false when this event was already recorded"})


class ProofQuerySchema(_Identified):
    email = fields.String(validate=Length(max=254))
    phone = fields.String(validate=Length(max=40))


class ProofEventSchema(Schema):
    event_key = fields.String(required=True)
    kind = fields.String(required=True)
    channel = fields.String(required=True)
    advertiser = fields.String(required=True)
    occurred_at = fields.String(required=True, metadata={"format": "date-time"})
    recorded_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    source_system = fields.String(required=True)
    collection_point = fields.String(allow_none=True)
    wording = fields.String(allow_none=True)
    wording_version = fields.String(allow_none=True)
    method = fields.String(allow_none=True)


class ProofSchema(Schema):
    """The person's ledger events with their proof, oldest first; none for a person unknown or erased."""

    events = fields.List(fields.Nested(ProofEventSchema), required=True)


# -- rights requests ------------------------------------------------------------------------------------------------

GDPR_APPLIES = date(2018, 5, 25)  # no request received before it runs on the GDPR's clock
_RIGHTS_KINDS = tuple(kind.value for kind in RightsKind)
_RIGHTS_STATUSES = tuple(status.value for status in RightsStatus)


def _since_the_gdpr(value: datetime) -> None:
    if value.date() < GDPR_APPLIES:
        raise marshmallow.ValidationError(f"a request cannot be received before the GDPR applied ({GDPR_APPLIES})")


class NewRightsRequestSchema(_Identified):
    kind = fields.Enum(
        RightsKind,
        by_value=True,
        required=True,
        metadata={"description": "erasure (Art. 17), access (Art. 15) or objection to direct marketing (Art. 21)"},
    )
    email = fields.String(
        allow_none=True, validate=Length(max=254), metadata={"format": "email", "description": "the person's address"}
    )
    phone = fields.String(
        allow_none=True,
        validate=Length(max=40),
        metadata={"description": "E.164 (+33612345678) or French national form; an email, a phone or both"},
    )
    received_at = fields.DateTime(
        allow_none=True,
        validate=_since_the_gdpr,
        metadata={
            "description": "when the request arrived, ISO 8601; its day is read in its own offset (Europe/Paris "
            "without one) and starts the one-month clock; never in the future; default now"
        },
    )
    verified_by = fields.String(
        allow_none=True,
        validate=Length(min=1, max=200),
        metadata={
            "description": "how the person's identity was checked (never a copy of a document); left out, the "
            "request is carried out and its answer says it was not checked"
        },
    )


class RightsRequestSchema(Schema):
    """A rights request and where it stands in each system; never the person's identifiers."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=OneOf(_RIGHTS_KINDS))
    status = fields.String(
        required=True,
        validate=OneOf(_RIGHTS_STATUSES),
        metadata={"description": "failed when one system failed, done when every one is, open otherwise"},
    )
    due = fields.String(
        required=True,
        metadata={"format": "date", "description": "the last day to answer: a month from receipt, or three"},
    )
    overdue = fields.Boolean(required=True, metadata={"description": "not done and past its due date"})
    systems = fields.Dict(
        keys=fields.String(),
        values=fields.String(validate=OneOf(_RIGHTS_STATUSES)),
        required=True,
        metadata={"description": "each system's status: the connected ones and `consentry`, Consentry's own"},
    )
    details = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "what a system's job did (hard_delete, recycle_bin ...) or its last error"},
    )
    received_at = fields.String(required=True, metadata={"format": "date-time"})
    extended = fields.Boolean(required=True, metadata={"description": "the due date was moved two months, once"})
    verified_by = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "how identity was checked; null: it was not checked"},
    )
    source = fields.String(
        required=True, metadata={"description": "api, cli, or the system where the person was erased"}
    )


class FieldErrorSchema(Schema):
    field = fields.String(required=True, metadata={"description": "where: `email`, `contacts.3.facts.objected`"})
    message = fields.String(required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details, as `application/problem+json`."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(FieldErrorSchema), required=True)
