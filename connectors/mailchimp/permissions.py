"""Mailchimp's marketing permissions (the GDPR fields of an audience) mapped to Consentry's channels.

An audience with GDPR fields gives every member `marketing_permissions: [{marketing_permission_id, text, enabled}]`.
The ids differ from one audience to the next, so the configuration names permissions by their text (or by id):
`{"Email": "email", "Direct Mail": "postal", "Customized Online Advertising": None}`; None (or "ignore") and
permissions the mapping does not name are left alone.

For a mapped permission, the change is a state, never a toggle:
- the verdict for its channel is `forbidden`: `enabled: false` (an opt-out always wins);
- the verdict allows the channel and the tag proves a newer explicit consent (`known["resubscribe"] is True` and
  `legal_basis == "consent"`, as for HubSpot's re-subscription), and the member is neither unsubscribed nor
  cleaned: `enabled: true`;
- anything else: untouched. A permission already in the wanted state costs nothing.
"""

import json
from collections.abc import Mapping, Sequence

import marshmallow

from consentry.connectors.base import ConsentTag
from consentry.sdk import Channel, InvalidInputError, LegalBasis, Verdict

IGNORE = "ignore"
CHANNELS = frozenset(channel.value for channel in Channel if channel is not Channel.ANY)
DEFAULT_MAPPING = {"Email": "email", "Direct Mail": "postal", "Customized Online Advertising": None}
OPTED_OUT = frozenset({"unsubscribed", "cleaned"})
ALLOWING = frozenset({Verdict.ALLOWED.value, Verdict.ALLOWED_WITH_CONDITIONS.value})


class PermissionMapping(marshmallow.fields.Dict):
    """Config field: permission text or id -> channel, None or "ignore"; names compared without case.

    A mapping from the YAML file, or a JSON object in the environment (`CONSENTRY_MAILCHIMP_MARKETING_PERMISSIONS`).
    """

    def __init__(self, **options):
        super().__init__(
            keys=marshmallow.fields.String(validate=marshmallow.validate.Length(min=1, max=200)),
            values=marshmallow.fields.String(
                allow_none=True, validate=marshmallow.validate.OneOf(sorted(CHANNELS | {IGNORE}))
            ),
            **options,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise marshmallow.ValidationError("a JSON object is expected") from None
        mapping = super()._deserialize(value, attr, data, **kwargs)
        folded = [_fold(name) for name in mapping]
        if "" in folded or len(set(folded)) != len(folded):
            raise marshmallow.ValidationError("permission names must be distinct and not blank")
        return mapping


class PermissionMap:
    def __init__(self, mapping: Mapping[str, str | None]):
        self._channels = {_fold(name): (None if channel == IGNORE else channel) for name, channel in mapping.items()}

    def channel_of(self, permission: Mapping) -> str | None:
        """The channel a member's permission stands for: matched by id first, then by its text."""
        for key in (permission.get("marketing_permission_id"), permission.get("text")):
            if isinstance(key, str) and _fold(key) in self._channels:
                return self._channels[_fold(key)]
        return None

    def __bool__(self) -> bool:
        return any(channel is not None for channel in self._channels.values())


def proves_consent(tag: ConsentTag) -> bool:
    """The sync says the ledger holds a newer, explicit, provable consent."""
    flag = tag.known.get("resubscribe", False) if tag.known else False
    if not isinstance(flag, bool):
        raise InvalidInputError("mailchimp: known['resubscribe'] must be true or false", field="resubscribe")
    return flag and tag.legal_basis == LegalBasis.CONSENT.value


def member_permissions(tag: ConsentTag) -> Sequence[Mapping] | None:
    """`known["marketing_permissions"]` as read from the member, checked; None when the sync did not pass them."""
    permissions = tag.known.get("marketing_permissions") if tag.known else None
    if permissions is None:
        return None
    if not isinstance(permissions, list | tuple) or not all(
        isinstance(item, Mapping)
        and isinstance(item.get("marketing_permission_id"), str)
        and item["marketing_permission_id"]
        and isinstance(item.get("enabled"), bool)
        for item in permissions
    ):
        raise InvalidInputError(
            "mailchimp: known['marketing_permissions'] must list {marketing_permission_id, text, enabled} as read",
            field="marketing_permissions",
        )
    return permissions


def permission_changes(tag: ConsentTag, mapping: PermissionMap) -> list[dict]:
    """The `marketing_permissions` to send for this member (empty: nothing to change)."""
    permissions = member_permissions(tag)
    if not permissions or not mapping:
        return []
    proven = proves_consent(tag)
    opted_out = tag.known.get("status") in OPTED_OUT
    changes = []
    for permission in permissions:
        channel = mapping.channel_of(permission)
        verdict = tag.status.get(channel) if channel else None
        if verdict is None:
            continue
        if verdict == Verdict.FORBIDDEN:
            wanted = False
        elif verdict in ALLOWING and proven and not opted_out:
            wanted = True
        else:
            continue
        if permission["enabled"] is not wanted:
            changes.append({"marketing_permission_id": permission["marketing_permission_id"], "enabled": wanted})
    return changes


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()
