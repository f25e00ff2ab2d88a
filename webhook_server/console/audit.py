"""The console's audit log: who did what and when; a look-up names its person by the suppression list's keyed
hash, so the log can answer "who looked at this person?" without holding anyone's identifier."""

from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from consentry.sdk.store import console_audit
from consentry.sdk.suppression import Keyring


def record(
    engine: Engine, actor: str, action: str, *, normalised: str | None = None, keyring: Keyring | None = None
) -> None:
    """One row; `normalised` (an identifier as the suppression list normalises it) is stored as its keyed hash."""
    values = {"actor": actor, "action": action, "at": datetime.now(UTC)}
    if normalised is not None and keyring is not None:
        values |= {"identifier_hash": keyring.digest(normalised).hex(), "pepper_id": keyring.current_id}
    with engine.begin() as connection:
        connection.execute(insert(console_audit).values(values))
