"""The tests' child processes: start a tree in its own process group, stop the whole group, and (a pytest plugin,
loaded by tests/conftest.py) fail the run when a test leaves a process or a listening socket behind.

A server stopped by killing its parent only (gunicorn's master, its workers and the inbox writer under `consentry
serve`) went on listening after every run. On Linux pytest becomes a child subreaper, so that what a test's
process leaves orphaned is re-parented to pytest and seen here, not to init. After each test the live descendants
and the sockets pytest holds are noted with the test's name (cheap /proc reads); what is still there once every
fixture is torn down, session-scoped ones included, is reported with the test after which it first appeared, then
killed, and the run fails.
"""

import contextlib
import ctypes
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PR_SET_CHILD_SUBREAPER = 36
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp
UNIX_ACCEPTING = 0x10000  # __SO_ACCEPTCON in the flags column of /proc/net/unix
ON_LINUX = sys.platform == "linux" and Path("/proc/self/fd").is_dir()

_first_seen: dict[tuple, str] = {}  # ("process", pid, start) or ("socket", inode) -> the test it appeared during
_leftovers = pytest.StashKey[list[str]]()


def stop_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process started with `start_new_session=True` and everything it started: SIGTERM to the group, a
    wait, then SIGKILL to whatever of the group is left (a parent's exit does not stop its children)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)


def run_group(command: list[str], *, timeout: float, **options) -> subprocess.CompletedProcess:
    """`subprocess.run(capture_output=True, text=True)`, except that a timeout stops the whole tree (run kills the
    direct child only, and its children went on running)."""
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:
        stop_group(process, timeout=10)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


# -- the plugin ---------------------------------------------------------------------------------------------------


def pytest_sessionstart(session):
    if ON_LINUX:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    try:
        return (yield)
    finally:
        if ON_LINUX:
            for key in [*descendants(), *(("socket", inode) for inode in socket_inodes())]:
                _first_seen.setdefault(key, item.nodeid)


def pytest_sessionfinish(session):
    """Runs once every fixture is torn down."""
    if not ON_LINUX:
        return
    _wait_for_descendants(5)  # a group just sent SIGTERM may still be on its way out
    gc.collect()  # a server object nobody holds any more closes its socket now
    leftovers = {}
    for key, command in descendants().items():
        leftovers[key] = f"process {key[1]} `{command}`"
        with contextlib.suppress(ProcessLookupError):
            os.kill(key[1], signal.SIGKILL)
    for inode, socket in listening(socket_inodes()).items():
        leftovers["socket", inode] = f"{socket} listening in pytest"
    _wait_for_descendants(5)
    _reap()
    if leftovers:
        lines = [f"{what}, first seen after {_first_seen.get(key, 'no test')}" for key, what in leftovers.items()]
        session.config.stash[_leftovers] = lines
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    leftovers = terminalreporter.config.stash.get(_leftovers, [])
    if leftovers:
        terminalreporter.write_sep("=", "left behind by the tests (stop what a test starts)", red=True, bold=True)
        for line in leftovers:
            terminalreporter.write_line(line, red=True)


def _wait_for_descendants(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while descendants() and time.monotonic() < deadline:
        time.sleep(0.1)


def descendants(root: int | None = None) -> dict[tuple, str]:
    """Live descendants of a process, this one by default (zombies left out): ("process", pid, start time) ->
    command line."""
    found, parents = {}, [root or os.getpid()]
    while parents:
        parent = parents.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                parents.append(child)
                try:
                    stat = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                    command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").strip()
                except OSError:
                    continue
                if stat[0] not in "ZX":  # state; field 22 of stat, the start time, tells a reused pid apart
                    found["process", child, stat[19]] = command.decode(errors="replace")[:160]
    return found


def socket_inodes(pid: int | str = "self") -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def listening(inodes: set[str]) -> dict[str, str]:
    """Which of these sockets listen: inode -> "TCP port N" or "Unix socket PATH"."""
    found = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == TCP_LISTEN and fields[9] in inodes:
                found[fields[9]] = f"TCP port {int(fields[1].rsplit(':', 1)[1], 16)}"
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[3], 16) & UNIX_ACCEPTING and fields[6] in inodes:
            found[fields[6]] = f"Unix socket {fields[7] if len(fields) > 7 else '(unnamed)'}"
    return found


def _reap() -> None:
    """Collect the exit status of orphans adopted as their subreaper, so that none stays a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
