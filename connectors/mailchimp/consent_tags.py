"""Consentry's verdicts as Mailchimp tags (`consentry:<channel>:<verdict>`), and the tags a new verdict makes stale.

What Consentry last wrote comes from the sync, in `ConsentTag.known["previous"]` (channel -> verdict; missing or
empty when nothing was written yet). The member's tags as read (`known["tags"]`, a list of names) are a second,
optional source: they catch a tag written before `previous` was recorded. A tag is stale when its channel has a
verdict now and that verdict is a different one; a channel without a verdict now keeps its tag.
"""

from collections.abc import Mapping

from consentry.connectors.base import ConsentTag
from consentry.sdk import InvalidInputError, Verdict

TAG_PREFIX = "consentry"
VERDICTS = frozenset(verdict.value for verdict in Verdict)


def tag_name(channel: str, verdict: str) -> str:
    return f"{TAG_PREFIX}:{channel}:{verdict}"


def tag_names(tag: ConsentTag) -> list[str]:
    """The tags that carry this tag's verdicts."""
    return [tag_name(channel, verdict) for channel, verdict in sorted(tag.status.items())]


def parse_tag_name(name: str) -> tuple[str, str] | None:
    """(channel, verdict) for one of Consentry's tag names, None for any other tag."""
    prefix, _, rest = name.partition(":")
    channel, _, verdict = rest.partition(":")
    if prefix != TAG_PREFIX or not channel or verdict not in VERDICTS:
        return None
    return channel, verdict


def previous_verdicts(tag: ConsentTag) -> Mapping[str, str]:
    """`known["previous"]`, checked: a mapping of channel names to verdicts (empty when never written)."""
    previous = tag.known.get("previous") if tag.known else None
    if not previous:
        return {}
    if not isinstance(previous, Mapping) or not all(
        isinstance(channel, str) and channel and verdict in VERDICTS for channel, verdict in previous.items()
    ):
        raise InvalidInputError(
            "mailchimp: known['previous'] must map channel names to verdicts (allowed, allowed_with_conditions, "
            "forbidden)",
            field="previous",
        )
    return previous


def _known_tag_names(tag: ConsentTag) -> list[str]:
    names = tag.known.get("tags") if tag.known else None
    if names is None:
        return []
    if not isinstance(names, list | tuple):
        raise InvalidInputError("mailchimp: known['tags'] must be a list of tag names", field="tags")
    return [name for name in names if isinstance(name, str)]


def stale_tag_names(tag: ConsentTag) -> set[str]:
    """Consentry's tags on this member that carry a verdict which has since changed."""
    written = dict(previous_verdicts(tag))
    stale = {tag_name(channel, verdict) for channel, verdict in written.items() if _changed(tag, channel, verdict)}
    for name in _known_tag_names(tag):
        parsed = parse_tag_name(name)
        if parsed is not None and _changed(tag, *parsed):
            stale.add(name)
    return stale


def _changed(tag: ConsentTag, channel: str, verdict: str) -> bool:
    now = tag.status.get(channel)
    return now is not None and now != verdict
