"""The console's local accounts: scrypt password hashes, and a lock-out after repeated failures kept per user in
the database, so that every server process sees it."""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from consentry.sdk.errors import InvalidInputError
from consentry.sdk.store import console_users, reading

ROLES = ("viewer", "operator")  # viewers read; operators also act (retry a job)
MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCK = timedelta(minutes=15)


@functools.cache
def _unknown_user_hash() -> str:
    """Checked against when the name is unknown, so that a wrong name costs the time a wrong password does. Made
    on first use, not at import: every `consentry` command imports this module, and a scrypt hash takes 0.2 s."""
    return generate_password_hash("no such console user", method="scrypt")


@dataclass(frozen=True)
class ConsoleUser:
    """A signed-in person, as Flask-Login wants one (`get_id` and the `is_*` flags)."""

    id: int
    name: str
    role: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def get_id(self) -> str:
        return str(self.id)


def create_user(engine: Engine, name: str, role: str, password: str, *, now: datetime | None = None) -> None:
    """Add an account; a bad name, role or password, or a name taken, is refused with nothing written."""
    name = name.strip()
    if not name or len(name) > 60 or any(character.isspace() for character in name):
        raise InvalidInputError("a user name is 1 to 60 characters, without spaces", field="name")
    if role not in ROLES:
        raise InvalidInputError(f"the role is one of: {', '.join(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"the password needs {MIN_PASSWORD} characters or more", field="password")
    values = {
        "name": name,
        "role": role,
        "password_hash": generate_password_hash(password, method="scrypt"),
        "failed_attempts": 0,
        "created_at": now or datetime.now(UTC),
    }
    try:
        with engine.begin() as connection:
            connection.execute(insert(console_users).values(values))
    except IntegrityError:
        raise InvalidInputError(f"a console user named {name} exists already", field="name") from None


def sign_in(engine: Engine, name: str, password: str, *, now: datetime | None = None) -> ConsoleUser | None:
    """The user when the password is right and the account not locked; else None, counting the failure. The
    fifth failure in a row locks the account for 15 minutes, whatever password is given meanwhile. Every answer
    costs one password check, so that its time tells neither whether the name exists nor whether it is locked."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        row = connection.execute(
            select(console_users).where(console_users.c.name == name.strip()).with_for_update()
        ).first()
        if row is None:
            check_password_hash(_unknown_user_hash(), password)
            return None
        right = check_password_hash(row.password_hash, password)  # locked or not: the same time spent
        if row.locked_until is not None and row.locked_until > now:
            return None  # even with the right password, which unlocks nothing
        if right:
            if row.failed_attempts or row.locked_until is not None:
                connection.execute(
                    update(console_users)
                    .where(console_users.c.id == row.id)
                    .values(failed_attempts=0, locked_until=None)
                )
            return ConsoleUser(row.id, row.name, row.role)
        failures = row.failed_attempts + 1
        locked = failures >= MAX_FAILURES
        connection.execute(
            update(console_users)
            .where(console_users.c.id == row.id)
            .values(failed_attempts=0 if locked else failures, locked_until=now + LOCK if locked else None)
        )
        return None


def find_user(engine: Engine, user_id: int) -> ConsoleUser | None:
    """The account a session names, read again on each request: a deleted account signs out at once."""
    with reading(engine) as connection:
        row = connection.execute(select(console_users).where(console_users.c.id == user_id)).first()
    return ConsoleUser(row.id, row.name, row.role) if row is not None else None
