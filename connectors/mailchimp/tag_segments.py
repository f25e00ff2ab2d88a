"""Removing a tag from many members at once: Mailchimp's tags are its static segments.

`GET /lists/{list_id}/segments?type=static` gives each tag's id ("Static segments are now known as tags"), and
`POST /lists/{list_id}/segments/{segment_id}` with `members_to_remove` (at most 500 addresses) takes the tag off
those members in one call. Ids are looked up once and kept; a tag deleted since answers 404, which means there is
nothing left to remove.
"""

from collections.abc import Iterable, Sequence

from consentry.sdk.errors import ConnectorError
from consentry.sdk.http import Transport

from .consent_tags import TAG_PREFIX

SEGMENT_PAGE = 1000  # Mailchimp's maximum `count`
SEGMENT_BATCH = 500  # addresses per members_to_add / members_to_remove


class TagSegments:
    def __init__(self, transport: Transport, list_path: str):
        self.transport, self.list_path = transport, list_path
        self._ids: dict[str, int] = {}
        self._looked_up = False

    def start(self) -> None:
        """A new write: tags created since the last look-up may be looked up once more."""
        self._looked_up = False

    def ids(self, names: Iterable[str]) -> dict[str, int]:
        """The segment id of each of these (Consentry) tags that exists in the audience."""
        names = set(names)
        if not self._looked_up and not names <= set(self._ids):
            self._load()
        return {name: self._ids[name] for name in names if name in self._ids}

    def _load(self) -> None:
        found, offset = {}, 0
        while True:
            page = self.transport.request(
                "GET",
                f"{self.list_path}/segments",
                params={"type": "static", "count": SEGMENT_PAGE, "offset": offset},
                kind="list tags",
            ).json()
            segments = page.get("segments") or []
            for segment in segments:
                name = segment.get("name")
                if isinstance(name, str) and name.startswith(f"{TAG_PREFIX}:") and segment.get("id") is not None:
                    found[name] = int(segment["id"])
            offset += len(segments)
            if not segments or offset >= int(page.get("total_items") or 0):
                break
        self._ids, self._looked_up = found, True

    def remove(self, name: str, emails: Sequence[str]) -> set[str]:
        """Take the tag off these members, 500 a call; returns the (lower-cased) addresses Mailchimp refused."""
        segment_id = self.ids([name]).get(name)
        if segment_id is None:
            return set()  # the tag does not exist: no member carries it
        refused: set[str] = set()
        for start in range(0, len(emails), SEGMENT_BATCH):
            chunk = list(emails[start : start + SEGMENT_BATCH])
            try:
                answer = self.transport.request(
                    "POST",
                    f"{self.list_path}/segments/{segment_id}",
                    json={"members_to_remove": chunk},
                    kind="remove tag",
                ).json()
            except ConnectorError as error:
                if error.status == 404:  # deleted since the look-up
                    self._ids.pop(name, None)
                    return refused
                raise
            for entry in answer.get("errors") or []:
                refused.update(str(email).lower() for email in entry.get("email_addresses") or [])
        return refused
