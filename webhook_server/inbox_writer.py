"""One inbox writer process for every gunicorn worker, on SQLite (`consentry serve` starts it).

SQLite has one writer at a time. When each gunicorn process commits its own deliveries, the writer thread shares
its process's interpreter lock with the request threads, and measured, that contention cost more CPU than the
writes themselves; the two processes' writers also took turns on the file. Here the gunicorn workers hand their
deliveries over a Unix socket (authenticated with a key from the environment) to this process. Its one loop
takes every delivery that arrived while it last committed, records them in one transaction and replies once they
are committed: in the same thread, since handing them to a writer thread cost more CPU than recording them. If
this process is unreachable or dies before replying, the request fails with a 503 and the vendor retries: nothing
is acknowledged uncommitted.
"""

import contextlib
import gc
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener, wait
from pathlib import Path

from .commit_group import CommitGroup, InboxUnavailable

log = logging.getLogger("consentry.inbox")

SOCKET_SETTING, KEY_SETTING = "INBOX_SOCKET", "INBOX_KEY"


class RemoteInbox:
    """The gunicorn side: `submit(delivery)` returns once the writer process has committed it."""

    def __init__(self, address: str, key: bytes):
        self.address, self.key = address, key
        self._local = threading.local()

    def submit(self, delivery) -> None:
        connection = getattr(self._local, "connection", None)
        try:
            if connection is None:
                connection = self._local.connection = Client(self.address, family="AF_UNIX", authkey=self.key)
            connection.send(delivery)
            outcome, value = connection.recv()
        except (OSError, EOFError, AuthenticationError) as error:
            self._local.connection = None
            if connection is not None:
                connection.close()
            raise InboxUnavailable("the inbox writer is unreachable; the delivery was not recorded") from error
        if outcome == "error":
            raise InboxUnavailable(f"the inbox writer could not record the delivery ({value})")
        delivery.result = value


def serve(
    group: CommitGroup,
    address: str,
    key: bytes,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Accept the gunicorn workers' connections and feed their deliveries to the commit group until `stop` is set:
    never in the writer process, which SIGTERM ends; a test's thread ends, its socket closed with it."""
    stop = stop or threading.Event()
    listener = Listener(address, family="AF_UNIX", authkey=key)
    os.chmod(address, 0o600)
    connections, lock = [], threading.Lock()
    joined, announce = os.pipe()  # wakes the loop below when a connection joins

    def accept_forever():
        while not stop.is_set():
            try:
                connection = listener.accept()
            except (OSError, EOFError, AuthenticationError):  # a client without the key, or gone during the exchange
                if not stop.is_set():
                    log.warning("refused an inbox connection")
                continue
            with lock:
                connections.append(connection)
            os.write(announce, b"+")

    acceptor = threading.Thread(target=accept_forever, name="consentry-inbox-accept", daemon=True)
    acceptor.start()
    if ready is not None:
        ready.set()
    try:
        while not stop.is_set():
            with lock:
                current = list(connections)
            arrived = []
            for connection in wait([joined, *current], timeout=1):
                if connection == joined:
                    os.read(joined, 4096)
                    continue
                assert isinstance(connection, Connection)  # the others are the listener's connections
                try:
                    arrived.append((connection.recv(), _replier(connection)))
                except (OSError, EOFError):
                    with lock:
                        connections.remove(connection)
                    connection.close()
            if arrived:  # what arrived while the previous group committed makes the next group
                group.write_now(arrived)
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # a blocked accept() outlives close(): a connection wakes it
            Client(address, family="AF_UNIX").close()
        acceptor.join(timeout=5)
        listener.close()  # removes the socket file
        for connection in connections:
            connection.close()
        os.close(joined)
        os.close(announce)


def _replier(connection):
    def reply(delivery, error: BaseException | None) -> None:
        # A client that went away answered 503, and the vendor will retry (a duplicate then): nothing to do.
        with contextlib.suppress(OSError):
            connection.send(("error", type(error).__name__) if error else ("ok", delivery.result))

    return reply


@contextlib.contextmanager
def writer_settings() -> Iterator[dict[str, str]]:
    """The environment that makes the web processes hand their deliveries to one writer process: a socket in a
    private directory (Unix socket paths must stay short) and a fresh key. The directory goes at the end of the
    block, with whatever a writer killed outright left in it."""
    directory = tempfile.mkdtemp(prefix="consentry-inbox-")
    try:
        address = str(Path(directory) / "inbox.sock")
        yield {f"CONSENTRY_{SOCKET_SETTING}": address, f"CONSENTRY_{KEY_SETTING}": secrets.token_hex(32)}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def start_writer(env: dict[str, str], **popen) -> subprocess.Popen:
    """Start the writer process with these settings; return once it listens (raise if it stopped instead)."""
    process = subprocess.Popen([sys.executable, "-m", "consentry.webhook_server.inbox_writer"], env=env, **popen)
    address = Path(env[f"CONSENTRY_{SOCKET_SETTING}"])
    deadline = time.monotonic() + 30
    while not address.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the inbox writer did not start; see its log")
        time.sleep(0.05)
    return process


def main() -> None:
    from .inbox import commit_group
    from .runtime import build_runtime

    logging.basicConfig(level=logging.INFO)
    runtime = build_runtime()
    gc.freeze()  # what the process imported and built stays put: collections then scan only the deliveries' objects
    address, key = runtime.config.get(SOCKET_SETTING), runtime.config.get(KEY_SETTING)
    if not address or not key:
        raise SystemExit(f"CONSENTRY_{SOCKET_SETTING} and CONSENTRY_{KEY_SETTING} are required")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the socket file goes away
    serve(commit_group(runtime), str(address), str(key).encode())


if __name__ == "__main__":
    main()
