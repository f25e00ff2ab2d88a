"""`consentry users create NAME --role viewer|operator`: a console account, its password read from standard input
(never from an argument, which the process list and shell history would show)."""

import getpass
import sys

from .users import MIN_PASSWORD, ROLES


def register(commands) -> None:
    users = commands.add_parser("users", help="the console's sign-in accounts")
    actions = users.add_subparsers(metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", help=f"add an account; its password ({MIN_PASSWORD}+ characters) is read from standard input"
    )
    create.add_argument("name", help="the name to sign in with")
    create.add_argument("--role", required=True, choices=ROLES, help="viewer: reads every page; operator: also acts")
    create.set_defaults(handler=_create)


def _create(arguments) -> int:
    from consentry.sdk.settings import load_settings
    from consentry.sdk.store import make_engine

    from .users import create_user

    password = _read_password()
    engine = make_engine(load_settings().database_url)  # the database alone: no pepper, no connector needed
    try:
        create_user(engine, arguments.name, arguments.role, password)
    finally:
        engine.dispose()
    print(f"console user {arguments.name.strip()} created ({arguments.role})", file=sys.stderr)
    return 0


def _read_password() -> str:
    """Asked for without echo on a terminal; else the first line of standard input (a pipe, a secret file)."""
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")
