"""Salesforce record ids: 15 case-sensitive characters (key prefix, pod, record number) plus a 3-character suffix
that encodes the case of the first 15, so that the 18-character form survives case-insensitive systems.

The sandbox issues 18-character ids, accepts either form (and an 18-character id whose case was lost), and refuses
anything else: clients that build ids by hand fail here as they would against Salesforce.
"""

import secrets
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
POD = "5g"  # the two characters after the key prefix: which instance created the record


def suffix(id15: str) -> str:
    """The 3 characters that encode which of the 15 are upper-case letters, 5 characters per suffix character."""
    out = ""
    for start in (0, 5, 10):
        bits = sum(1 << offset for offset, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        out += _SUFFIX[bits]
    return out


def make(prefix: str, number: int) -> str:
    """The 18-character id of record `number` of an object with key prefix `prefix`."""
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if not number:
            break
    id15 = f"{prefix}{POD}0{digits.rjust(9, '0')}"
    return id15 + suffix(id15)


def random(prefix: str) -> str:
    """An 18-character id with a random record part: query locators, jobs, notifications, sessions."""
    id15 = prefix + "".join(secrets.choice(BASE62) for _ in range(12))
    return id15 + suffix(id15)


def normalize(value: object) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None when `value` is not an id."""
    if not isinstance(value, str) or len(value) not in (15, 18) or any(c not in BASE62 for c in value):
        return None
    if len(value) == 15:
        return value + suffix(value)
    head, tail = value[:15], value[15:].upper()
    if suffix(head) == tail:
        return head + tail
    if any(c not in _SUFFIX for c in tail):
        return None
    restored = ""
    for block, code in zip((head[0:5], head[5:10], head[10:15]), tail, strict=True):
        bits = _SUFFIX.index(code)
        for offset, char in enumerate(block):
            upper = bool(bits >> offset & 1)
            if upper and not char.isalpha():
                return None
            restored += char.upper() if upper else char.lower()
    return restored + tail


def prefix_of(value: str) -> str:
    return value[:3]
