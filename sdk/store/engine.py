"""One database URL picks the backend: a SQLite file (WAL) by default, PostgreSQL when a team outgrows it."""

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, make_url, text
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError

SQLITE_BUSY_MS = 30_000
PRIVATE = 0o600  # owner only: the file holds addresses and numbers in clear


def make_engine(url: str) -> Engine:
    """`hide_parameters`: a database error's text would otherwise quote the statement's values, addresses among
    them, into whatever logs or reports it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, hide_parameters=True)
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            event.listen(engine, "do_connect", lambda *_: keep_private(database))
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def keep_private(path: str) -> None:
    """Create a SQLite file owner-only whatever the umask, before SQLite opens it: SQLite gives its -wal and -shm
    files the database file's mode, so they are private too. A file of ours that others may read (made before this,
    or by hand) is made private, with the -wal and -shm beside it; another user's file is left as its owner chose
    (we could not change it, and a shared deployment may mean it).

    An existing file is never opened here: closing any descriptor of a file drops every POSIX lock this process
    holds on it, the locks of SQLite's other connections included (seen as a bus error in the WAL index)."""
    with contextlib.suppress(OSError):  # there already, or not ours to create: SQLite reports whatever stops it
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, PRIVATE))  # new: nobody holds a lock on it
    if os.name != "posix":  # Windows keeps no such mode bits: the folder's access list decides
        return
    for name in (path, path + "-wal", path + "-shm"):
        try:
            status = os.stat(name)
            if status.st_mode & 0o077 and status.st_uid == os.geteuid():
                os.chmod(name, PRIVATE)
        except OSError:
            continue  # absent, or not ours


def _sqlite_pragmas(connection: DBAPIConnection, _record: object) -> None:
    """WAL for concurrent readers; secure_delete so erased identifiers leave no bytes behind in free pages."""
    connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE itself
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Take the write lock at the start of a transaction, so two writers queue instead of failing mid-way; a
    connection from `reading` only reads, and in WAL mode readers need no lock at all."""
    reads_only = connection.get_execution_options().get(READS_ONLY, False)
    statement = "BEGIN" if reads_only else "BEGIN IMMEDIATE"
    try:  # on sqlite3's own connection: through `exec_driver_sql` this one statement cost 30 us, six look-ups
        driver: Any = connection.connection.driver_connection
        driver.execute(statement)
    except sqlite3.Error as error:  # as SQLAlchemy would raise it ("database is locked": an OperationalError)
        raise DBAPIError.instance(statement, (), error, sqlite3.Error) from error


READS_ONLY = "consentry_reads_only"


@contextlib.contextmanager
def reading(engine: Engine, within: Connection | None = None) -> Iterator[Connection]:
    """A connection that only reads: on SQLite it never waits for a writer (nor makes one wait). Writing through it
    may fail with "database is locked"; use `engine.begin()` for anything that writes.

    `within`, a connection the caller already reads through, is used instead of opening another: several reads
    then share one checkout (a decision's four reads spent a quarter of their time opening connections) and, on
    SQLite, one snapshot. PostgreSQL reads at "read committed": each statement sees what was committed when it
    began, so a later read is never older than an earlier one; a decision's merge, where the stricter wins, needs
    no more than that."""
    if within is not None:
        yield within
        return
    with engine.connect() as connection:
        connection.execution_options(**{READS_ONLY: True})
        yield connection


@contextlib.contextmanager
def consistent_reading(engine: Engine, within: Connection | None = None) -> Iterator[Connection]:
    """`reading` whose statements all see one snapshot on PostgreSQL too ("repeatable read"), for a document made
    of several reads that must agree with each other: an access export, the console's page on a person. `within`,
    a connection the caller opened so already, is used as it is."""
    with reading(engine, within) as connection:
        if within is None and connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        yield connection


_brief_read_locks: dict[str, threading.Lock] = {}


@contextlib.contextmanager
def brief_reads(engine: Engine) -> Iterator[Connection]:
    """`reading` for a hot path's few indexed look-ups (a decision's), one thread of the process at a time on SQLite.

    sqlite3 lets go of the interpreter lock around every call, a few microseconds of work each; under a server's 16
    threads per process, each call became a hand-over between threads that cost more than the look-up. Queued on a
    lock instead, a decision spent 11 % less CPU and its p99 fell from about 40 to 30 ms (benchmarks/RESULTS.md).
    PostgreSQL's calls wait on the network, where letting other threads run is the point: no lock there."""
    if engine.dialect.name != "sqlite":
        with reading(engine) as connection:
            yield connection
        return
    with _brief_read_locks.setdefault(str(engine.url), threading.Lock()), reading(engine) as connection:
        yield connection


def insert_ignoring_duplicates(
    engine_or_connection: Engine | Connection, table: Table
) -> SqliteInsert | PostgresqlInsert:
    """INSERT ... ON CONFLICT DO NOTHING in the backend's dialect: the base of idempotent writes."""
    dialect = engine_or_connection.dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert(table).on_conflict_do_nothing()


_thread_locks: dict[str, threading.Lock] = {}


@contextlib.contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Queue the writers of one SQLite file, across threads and processes, in the kernel.

    SQLite's own busy handler waits by sleeping 1, 2, 5 ... 100 ms between tries, so two busy writers lose most of
    their time asleep; a writer blocked on this lock wakes the moment the other one releases it. Hot write paths
    (the webhook inbox) take it around their transactions; on PostgreSQL it does nothing."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    lock_file = _file_lock()
    path = os.path.abspath(database) + ".writelock"
    with _thread_locks.setdefault(path, threading.Lock()):
        if lock_file is None:
            yield
            return
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            lock_file(descriptor)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock


@contextlib.contextmanager
def held_alone(engine: Engine, name: str) -> Iterator[bool]:
    """Whether this holder alone, of all the processes sharing the database, holds the lock `name` for the block
    (True) or another one does (False, without waiting). The lock dies with its holder's connection or process, so
    a killed holder frees it at once. PostgreSQL: a session advisory lock; SQLite, whose users share its machine:
    a file lock beside the database."""
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
            try:
                yield held
            finally:
                if held:
                    with contextlib.suppress(Exception):  # a broken connection took the lock with it
                        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True  # one process's private database
        return
    with engine.connect():  # a database that cannot be opened fails here, with the driver's own error
        pass
    descriptor = os.open(os.path.abspath(database) + f".{name}.lock", os.O_RDWR | os.O_CREAT, PRIVATE)
    try:
        yield _try_file_lock(descriptor)
    finally:
        os.close(descriptor)  # closing releases the lock


def _try_file_lock(descriptor: int) -> bool:
    """An exclusive lock on an open file if nobody holds one, without waiting. Where there is no fcntl (Windows)
    every caller gets it: there, two holders at once are possible, which costs vendor calls, never correctness."""
    try:
        import fcntl  # POSIX only
    except ImportError:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _file_lock() -> Callable[[int], None] | None:
    """An exclusive lock on an open file, held until it is closed; None where there is no fcntl (Windows): there is
    no lock across processes there, and SQLite's busy handler still queues the writers."""
    try:
        import fcntl  # POSIX only: imported here, so that the rest of Consentry runs on Windows too
    except ImportError:
        return None
    return lambda descriptor: fcntl.flock(descriptor, fcntl.LOCK_EX)
