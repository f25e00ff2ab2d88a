"""A whole Consentry installation on 127.0.0.1: the sandbox of every available connector that ships one, the
webhook server (gunicorn) and a propagation worker, wired together. The demo and the end-to-end tests run on it;
nothing listens elsewhere. The sandboxes come from the connector registry and are driven through their common
interface (`consentry.connectors.sandbox_kit.SandboxPackage`): nothing here names a vendor.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import requests

from consentry.connectors import registry
from consentry.connectors.sandbox_kit import Person, ServerThread

from .inbox_writer import start_writer, writer_settings
from .metrics import shared_counters


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    home: Path
    database_url: str
    gunicorn_workers: int = 2
    gunicorn_threads: int = 16
    writer_process: bool = True  # on SQLite, as `consentry serve`; False: a commit group in each gunicorn process
    settings: dict[str, str] = field(default_factory=dict)  # extra CONSENTRY_* settings for the server and worker
    sandboxes: dict[str, ServerThread] = field(default_factory=dict)  # by connector name, in the registry's order
    packages: dict[str, ModuleType] = field(default_factory=dict)  # each one's sandbox package
    server_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _exit: ExitStack = field(default_factory=ExitStack)

    def start(self) -> "Stack":
        for name in registry.sandboxes():
            self.packages[name] = registry.sandbox(name)
            self.sandboxes[name] = self._exit.enter_context(ServerThread(self.packages[name].create_app()))
        port = free_port()
        self.server_url = f"http://127.0.0.1:{port}"
        self.env = self._environment()
        counters, directory = shared_counters({})  # as `consentry serve`: one count across gunicorn's processes
        self.env.update(counters)
        if directory is not None:  # always, with no directory chosen in the environment given
            self._exit.callback(shutil.rmtree, directory, True)
        self._run("db", "upgrade")
        if self.writer_process and self.database_url.startswith("sqlite"):
            self.env.update(self._exit.enter_context(writer_settings()))
            with (self.home / "inbox.log").open("ab") as log:
                self.processes["inbox"] = start_writer(self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes["server"] = self._spawn(
            "server",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:consentry.webhook_server.gunicorn_settings",  # as `serve`: redacted logs, no control socket
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(self.gunicorn_workers),
                "--threads",
                str(self.gunicorn_threads),
                "--graceful-timeout",
                "5",
                "consentry.webhook_server.wsgi:app",
            ],
        )
        self.start_worker()
        self._wait_until_up()
        self._point_webhooks()
        return self

    def start_worker(self, name: str = "worker") -> None:
        """One more `consentry worker` (a second one shares the jobs, as on another machine)."""
        self.processes[name] = self._spawn(name, [sys.executable, "-m", "consentry.sdk.cli", "worker"])

    def kill_worker(self) -> None:
        worker = self.processes.pop("worker")
        worker.kill()
        worker.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()
        self._exit.close()

    def __enter__(self) -> "Stack":
        try:
            return self.start()
        except BaseException:  # a start that failed half-way stops what it had started
            self.stop()
            raise

    def __exit__(self, *_exc) -> None:
        self.stop()

    def url(self, name: str) -> str:
        return self.sandboxes[name].url

    # -- wiring --------------------------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENTRY_")}
        env.update(
            {
                "CONSENTRY_HOME": str(self.home),
                "CONSENTRY_DATABASE_URL": self.database_url,
                "CONSENTRY_SUPPRESSION_PEPPER": secrets.token_urlsafe(32),
                "CONSENTRY_UNSUBSCRIBE_SECRET": secrets.token_urlsafe(32),
                "CONSENTRY_CONNECTORS": ",".join(self.sandboxes),
                "CONSENTRY_ADVERTISER": "consentry-demo",
                "CONSENTRY_LEASE_SECONDS": "3",
                "CONSENTRY_SWEEP_SECONDS": "1",
            }
        )
        for name, package in self.packages.items():
            env.update(package.connector_settings(self.url(name)))
        env.update(self.settings)
        return env

    def _run(self, *arguments: str) -> None:
        self.cli(*arguments, check=True)

    def cli(self, *arguments: str, check: bool = False) -> subprocess.CompletedProcess:
        """A `consentry` command with this installation's settings, its output captured as text."""
        return subprocess.run(
            [sys.executable, "-m", "consentry.sdk.cli", *arguments],
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        with (self.home / f"{name}.log").open("ab") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def _wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.server_url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.processes["server"].poll() is not None:
                break
            time.sleep(0.1)
        log = (self.home / "server.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the webhook server did not start:\n{log}")

    def _point_webhooks(self) -> None:
        for name, package in self.packages.items():
            package.point_webhooks(self.url(name), f"{self.server_url}/webhooks/{name}", self.env)

    # -- what the vendors hold -----------------------------------------------------------------------------------

    def seed(self, name: str, people: Iterable[Person]) -> None:
        """People as they already are in one system (no webhook announces them)."""
        self.packages[name].seed(self.url(name), list(people))

    def seed_person(self, email: str, *, first: str = "Jeanne", last: str = "Martin") -> None:
        """The same person, subscribed, in every system."""
        for name in self.packages:
            self.seed(name, [Person(email=email, first_name=first, last_name=last)])

    def opted_out_in(self, email: str) -> dict[str, bool]:
        return {name: package.opted_out(self.url(name), email) for name, package in self.packages.items()}

    def unsubscribe_in(self, system: str, email: str) -> None:
        """What a person or a user does in the vendor's own interface."""
        self.packages[system].unsubscribe(self.url(system), email)

    def holds_in(self, email: str) -> dict[str, bool]:
        """Whether each system can still read any record of this person."""
        return {name: package.holds(self.url(name), email) for name, package in self.packages.items()}

    def erase_in_vendor(self, system: str, email: str) -> None:
        """A user's GDPR deletion in the vendor's own interface."""
        self.packages[system].erase_in_vendor(self.url(system), email)
