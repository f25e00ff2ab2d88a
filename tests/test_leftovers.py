"""The suite fails, naming the test, when a test leaves a child process or a listening socket behind."""

import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.processes import run_group

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
ROOT = Path(__file__).parents[1]


def run_pytest(tmp_path: Path, source: str):
    """pytest with this suite's plugin on one small test file, in its own process."""
    (tmp_path / "test_small.py").write_text(textwrap.dedent(source))
    command = [sys.executable, "-m", "pytest", "-p", "tests.processes", "-p", "no:cacheprovider", "test_small.py"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return run_group(command, cwd=tmp_path, env=env, timeout=60)


def test_a_test_that_leaves_a_grandchild_running_fails_the_run_and_is_named(tmp_path):
    result = run_pytest(
        tmp_path,
        """
        import subprocess

        def test_clean():
            subprocess.run(["true"], check=True)

        def test_leaky():  # the shell exits at once; its `sleep` is orphaned, as a server's workers were
            subprocess.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 &"], check=True)
        """,
    )
    assert result.returncode == 1, result.stdout
    assert "2 passed" in result.stdout
    [line] = [line for line in result.stdout.splitlines() if "sleep 300" in line]
    assert "first seen after test_small.py::test_leaky" in line
    pid = int(line.split()[1])
    assert not Path(f"/proc/{pid}").exists()  # and it was stopped


def test_a_listening_socket_left_open_fails_the_run(tmp_path):
    result = run_pytest(
        tmp_path,
        """
        import socket

        KEPT = []

        def test_listens():
            server = socket.socket()
            server.bind(("127.0.0.1", 0))
            server.listen()
            KEPT.append(server)
        """,
    )
    assert result.returncode == 1, result.stdout
    assert "listening in pytest, first seen after test_small.py::test_listens" in result.stdout
    assert "TCP port " in result.stdout


def test_a_run_that_cleans_up_passes(tmp_path):
    result = run_pytest(
        tmp_path,
        """
        import subprocess
        import sys

        def test_stops_what_it_starts():
            process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
            process.terminate()
            process.wait()
        """,
    )
    assert result.returncode == 0, result.stdout
    assert "left behind" not in result.stdout
