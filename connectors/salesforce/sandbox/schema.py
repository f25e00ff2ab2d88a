"""The sObjects the sandbox knows (Contact, Lead, Individual, ContactPointTypeConsent, DataUsePurpose) and their
fields, with the rules Salesforce applies to values: types, lengths, required and read-only fields, restricted
picklists, lookups.

Field names are case-insensitive as in Salesforce; answers use each field's own spelling. One `Field` carries what
`describe` reports and what validation needs, so the two cannot disagree. Facts: CONTRACTS §3.2-3.3; DataUsePurpose
(`Name` and `CanDataSubjectOptOut` required, the latter defaulted) from Salesforce's object reference; key prefixes
003 (Contact), 00Q (Lead), 0PK (Individual); 0ZY for ContactPointTypeConsent is unconfirmed, 0ZW for DataUsePurpose
comes from community code only.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypedDict

from . import record_ids
from .errors import RecordProblem, SalesforceError

OPT_OUT_FIELDS = ("HasOptedOutOfEmail", "DoNotCall", "HasOptedOutOfFax")
AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")
CONTACT_POINT_TYPES = ("Email", "MailingAddress", "Phone", "Social", "Web")
CONSENT_STATUSES = ("OptIn", "OptOut", "Seen", "NotSeen")  # values unconfirmed (CONTRACTS §5.10)
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$")
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # id, string, email, phone, textarea, picklist, boolean, datetime, date, reference
    label: str
    length: int = 0
    required: bool = False  # not nillable and not defaulted: must be given on create
    createable: bool = True
    updateable: bool = True
    default: object = None
    external_id: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    custom: bool = False

    @property
    def writable(self) -> bool:
        return self.createable or self.updateable

    def describe(self) -> dict:
        text = self.type in ("string", "email", "phone", "textarea", "picklist")
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length if text else 0,
            "byteLength": self.length * 3 if text else (18 if self.type in ("id", "reference") else 0),
            "nillable": not self.required and self.type not in ("id", "boolean"),
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.default is not None or self.type == "boolean" or not self.createable,
            "defaultValue": self.default if self.type in ("boolean", "picklist") else None,
            "externalId": self.external_id,
            "idLookup": self.type == "id" or self.external_id or self.type == "email",
            "unique": False,
            "caseSensitive": False,
            "custom": self.custom,
            "filterable": self.type != "textarea",
            "sortable": self.type != "textarea",
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {"active": True, "defaultValue": v == self.default, "label": v, "value": v, "validFor": None}
                for v in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2] if self.type == "reference" and self.name.endswith("Id") else None,
        }


@dataclass
class SObjectType:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, Field] = field(default_factory=dict)

    def __post_init__(self):
        self._lower = {name.lower(): f for name, f in self.fields.items()}

    def field(self, name: str) -> Field | None:
        return self._lower.get(str(name).lower())

    def describe(self, version: str) -> dict:
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {
            **self.summary(version),
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": [],
            "recordTypeInfos": [],
            "urls": {**self.summary(version)["urls"], "describe": f"{base}/describe"},
        }

    def summary(self, version: str) -> dict:
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "searchable": True,
            "retrieveable": True,
            "undeletable": True,
            "urls": {"sobject": base, "rowTemplate": f"{base}/{{ID}}", "describe": f"{base}/describe"},
        }


def _system(prefix_type: str) -> list[Field]:
    return [
        Field("Id", "id", f"{prefix_type} ID", 18, createable=False, updateable=False),
        Field("IsDeleted", "boolean", "Deleted", createable=False, updateable=False, default=False),
    ]


class _Access(TypedDict):
    createable: bool
    updateable: bool


class _Picklist(TypedDict):
    picklist: tuple[str, ...]
    restricted: bool


def _audit() -> list[Field]:
    ro: _Access = {"createable": False, "updateable": False}
    return [
        Field("CreatedDate", "datetime", "Created Date", **ro),
        Field("CreatedById", "reference", "Created By ID", 18, reference_to=("User",), **ro),
        Field("LastModifiedDate", "datetime", "Last Modified Date", **ro),
        Field("LastModifiedById", "reference", "Last Modified By ID", 18, reference_to=("User",), **ro),
        Field("SystemModstamp", "datetime", "System Modstamp", **ro),
        Field("OwnerId", "reference", "Owner ID", 18, reference_to=("User",), updateable=True, createable=True),
    ]


def _person(*, last_required: bool = True) -> list[Field]:
    return [
        Field("FirstName", "string", "First Name", 40),
        Field("LastName", "string", "Last Name", 80, required=last_required),
        Field("Name", "string", "Full Name", 121, createable=False, updateable=False),
    ]


def _contactable() -> list[Field]:
    return [
        Field("Email", "email", "Email", 80),
        Field("Phone", "phone", "Phone", 40),
        Field("MobilePhone", "phone", "Mobile Phone", 40),
        Field("HasOptedOutOfEmail", "boolean", "Email Opt Out", default=False),
        Field("DoNotCall", "boolean", "Do Not Call", default=False),
        Field("HasOptedOutOfFax", "boolean", "Fax Opt Out", default=False),
        Field("IndividualId", "reference", "Individual ID", 18, reference_to=("Individual",)),
        Field("EmailBouncedReason", "string", "Email Bounced Reason", 255),
        Field("EmailBouncedDate", "datetime", "Email Bounced Date"),
    ]


def _custom(external_id_field: str, status_field: str) -> list[Field]:
    return [
        Field(external_id_field, "string", "Consentry Key", 255, external_id=True, custom=True),
        Field(status_field, "string", "Consentry Status", 255, custom=True),
    ]


def build(external_id_field: str = "Consentry_Key__c", status_field: str = "Consentry_Status__c") -> dict:
    """The org's objects by name; the two custom fields exist on Contact and Lead."""

    def make(name, label, plural, prefix, fields):
        return SObjectType(name, label, plural, prefix, {f.name: f for f in fields})

    contact = make(
        "Contact",
        "Contact",
        "Contacts",
        "003",
        [
            *_system("Contact"),
            *_person(),
            *_contactable(),
            Field("MailingCountry", "string", "Mailing Country", 80),
            *_custom(external_id_field, status_field),
            *_audit(),
        ],
    )
    lead = make(
        "Lead",
        "Lead",
        "Leads",
        "00Q",
        [
            *_system("Lead"),
            *_person(),
            Field("Company", "string", "Company", 255, required=True),
            *_contactable(),
            Field("Country", "string", "Country", 80),
            Field("Status", "picklist", "Lead Status", 255, default=LEAD_STATUSES[0], picklist=LEAD_STATUSES),
            Field("IsConverted", "boolean", "Converted", createable=False, updateable=False, default=False),
            *_custom(external_id_field, status_field),
            *_audit(),
        ],
    )
    flags = (
        ("HasOptedOutTracking", "Don't Track"),
        ("HasOptedOutProcessing", "Don't Process"),
        ("HasOptedOutProfiling", "Don't Profile"),
        ("HasOptedOutSolicit", "Don't Market"),
        ("HasOptedOutGeoTracking", "Don't Track Location"),
        ("ShouldForget", "Forget this Individual"),
        ("SendIndividualData", "Export Individual's Data"),
        ("CanStorePiiElsewhere", "OK to Store PII Data Elsewhere"),
    )
    individual = make(
        "Individual",
        "Individual",
        "Individuals",
        "0PK",
        [
            *_system("Individual"),
            *_person(),
            *(Field(name, "boolean", label, default=False) for name, label in flags),
            Field("BirthDate", "date", "Birth Date"),
            *_audit(),
        ],
    )
    points: _Picklist = {"picklist": CONTACT_POINT_TYPES, "restricted": True}
    consent = make(
        "ContactPointTypeConsent",
        "Contact Point Type Consent",
        "Contact Point Type Consents",
        "0ZY",
        [
            *_system("Contact Point Type Consent"),
            Field("Name", "string", "Name", 255, required=True),
            Field("PartyId", "reference", "Party ID", 18, reference_to=("Individual",)),
            Field("ContactPointType", "picklist", "Contact Point Type", 255, required=True, **points),
            Field("CaptureContactPointType", "picklist", "Capture Contact Point Type", 255, default="Web", **points),
            Field("CaptureDate", "datetime", "Capture Date", required=True),
            Field("CaptureSource", "string", "Capture Source", 255, required=True),
            Field("DataUsePurposeId", "reference", "Data Use Purpose ID", 18, reference_to=("DataUsePurpose",)),
            Field("PrivacyConsentStatus", "picklist", "Privacy Consent Status", 255, picklist=CONSENT_STATUSES),
            Field("EffectiveFrom", "datetime", "Effective From"),
            Field("EffectiveTo", "datetime", "Effective To"),
            Field("DoubleConsentCaptureDate", "datetime", "Double Consent Capture Date"),
            *_audit(),
        ],
    )
    purpose = make(
        "DataUsePurpose",
        "Data Use Purpose",
        "Data Use Purposes",
        "0ZW",
        [
            *_system("Data Use Purpose"),
            Field("Name", "string", "Name", 255, required=True),
            Field("CanDataSubjectOptOut", "boolean", "Can Data Subject Opt Out", default=False),
            Field("Description", "string", "Description", 255),
            *_audit(),
        ],
    )
    return {o.name: o for o in (contact, lead, individual, consent, purpose)}


# -- values -----------------------------------------------------------------------------------------------------


def format_datetime(moment: datetime) -> str:
    """Salesforce's JSON form: `2024-05-01T10:00:00.000+0000`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    match = _DATETIME.match(text.strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    zone = zone or "Z"
    if zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    fraction = (fraction or ".0")[:7]
    try:
        return datetime.fromisoformat(f"{day}T{clock}{fraction}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def from_json(sobject: SObjectType, fld: Field, value: object) -> object:
    """A JSON value for `fld`, typed as the sandbox stores it; SalesforceError when it cannot be deserialised."""
    if value is None:
        return False if fld.type == "boolean" else None
    if fld.type == "boolean":
        if not isinstance(value, bool):
            raise _undeserializable("boolean", value)
        return value
    if isinstance(value, (dict, list)):
        raise _undeserializable(fld.type, value)
    if fld.type == "datetime":
        parsed = parse_datetime(str(value)) if isinstance(value, str) else None
        if parsed is None:
            raise _undeserializable("datetime", value)
        return format_datetime(parsed)
    if fld.type == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise _undeserializable("date", value) from None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_csv(fld: Field, text: str) -> object:
    """A Bulk API 2.0 cell for `fld`: `#N/A` clears the field; RecordProblem when the text is not a value."""
    if text == "#N/A":
        return False if fld.type == "boolean" else None
    if fld.type == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise RecordProblem("INVALID_FIELD", f"'{text}' is not a valid value for the type xsd:boolean", [fld.name])
    if fld.type == "datetime":
        parsed = parse_datetime(text)
        if parsed is None:
            raise RecordProblem("INVALID_FIELD", f"'{text}' is not a valid value for the type xsd:dateTime", [fld.name])
        return format_datetime(parsed)
    if fld.type == "date":
        try:
            return date.fromisoformat(text.strip()).isoformat()
        except ValueError:
            raise RecordProblem(
                "INVALID_FIELD", f"'{text}' is not a valid value for the type xsd:date", [fld.name]
            ) from None
    return text


def _undeserializable(kind: str, value: object) -> SalesforceError:
    shown = str(value)[:40]
    return SalesforceError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from VALUE_STRING value {shown} or request may be missing a "
        "required field",
    )


def value_problems(sobject: SObjectType, values: dict[str, object]) -> list[RecordProblem]:
    """Rules a typed value can break on its own: length, address syntax, restricted picklists, id syntax."""
    problems = []
    for name, value in values.items():
        fld = sobject.fields[name]
        if value is None or fld.type == "boolean":
            continue
        if fld.type in ("string", "email", "phone", "textarea", "picklist") and len(str(value)) > fld.length:
            problems.append(
                RecordProblem(
                    "STRING_TOO_LONG", f"{fld.label}: data value too large: {value} (max length={fld.length})", [name]
                )
            )
        elif fld.type == "email" and not _EMAIL.match(str(value)):
            problems.append(
                RecordProblem("INVALID_EMAIL_ADDRESS", f"{fld.label}: invalid email address: {value}", [name])
            )
        elif fld.type == "picklist" and fld.restricted and value not in fld.picklist:
            problems.append(
                RecordProblem(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{fld.label}: bad value for restricted picklist field: {value}",
                    [name],
                )
            )
        elif fld.type == "reference":
            normal = record_ids.normalize(value)
            allowed = {objects_prefix(t) for t in fld.reference_to}
            if normal is None or (allowed - {None} and record_ids.prefix_of(normal) not in allowed):
                problems.append(
                    RecordProblem("MALFORMED_ID", f"{fld.label}: id value of incorrect type: {value}", [name])
                )
    return problems


_PREFIXES = {"Individual": "0PK", "User": "005", "Contact": "003", "Lead": "00Q", "DataUsePurpose": "0ZW"}


def objects_prefix(name: str) -> str | None:
    return _PREFIXES.get(name)
