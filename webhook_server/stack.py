"""A whole Consentry installation on 127.0.0.1: the three vendor sandboxes, the webhook server (gunicorn) and a
propagation worker, wired together. The demo and the end-to-end tests run on it; nothing listens elsewhere.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import requests

from consentry.connectors.cli import SANDBOXES
from consentry.connectors.salesforce.sandbox import DEFAULT_ORG_ID
from consentry.connectors.sandbox_kit import ServerThread

from .inbox_writer import start_writer, writer_settings
from .metrics import shared_counters

MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us1"
MAILCHIMP_LIST = "a1b2c3d4e5"
HUBSPOT_TOKEN = "pat-eu1-sandbox-0000-0000-000000000000"
HUBSPOT_SECRET = "hubspot-sandbox-client-secret"
SALESFORCE_ORG = DEFAULT_ORG_ID  # the sandbox's organisation, which its outbound messages carry
SALESFORCE_CLIENT = ("3MVG9sandbox-consumer-key", "salesforce-sandbox-client-secret")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    home: Path
    database_url: str
    redis_url: str | None = None
    gunicorn_workers: int = 2
    gunicorn_threads: int = 16
    writer_process: bool = True  # on SQLite, as `consentry serve`; False: a commit group in each gunicorn process
    settings: dict[str, str] = field(default_factory=dict)  # extra CONSENTRY_* settings for the server and worker
    sandboxes: dict[str, ServerThread] = field(default_factory=dict)
    server_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _exit: ExitStack = field(default_factory=ExitStack)

    def start(self) -> "Stack":
        for name, module in SANDBOXES.items():
            self.sandboxes[name] = self._exit.enter_context(ServerThread(import_module(module).create_app()))
        port = free_port()
        self.server_url = f"http://127.0.0.1:{port}"
        self.env = self._environment()
        counters, directory = shared_counters({})  # as `consentry serve`: one count across gunicorn's processes
        self.env.update(counters)
        self._exit.callback(shutil.rmtree, directory, True)
        self._run("db", "upgrade")
        if self.writer_process and self.database_url.startswith("sqlite"):
            self.env.update(writer_settings())
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

    def start_worker(self) -> None:
        self.processes["worker"] = self._spawn("worker", [sys.executable, "-m", "consentry.sdk.cli", "worker"])

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
                "CONSENTRY_CONNECTORS": "mailchimp,hubspot,salesforce",
                "CONSENTRY_ADVERTISER": "consentry-demo",
                "CONSENTRY_LEASE_SECONDS": "3",
                "CONSENTRY_SWEEP_SECONDS": "1",
                "CONSENTRY_MAILCHIMP_API_KEY": MAILCHIMP_KEY,
                "CONSENTRY_MAILCHIMP_LIST_ID": MAILCHIMP_LIST,
                "CONSENTRY_MAILCHIMP_BASE_URL": self.url("mailchimp"),
                "CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN": secrets.token_urlsafe(24),
                "CONSENTRY_HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN,
                "CONSENTRY_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
                "CONSENTRY_HUBSPOT_BASE_URL": self.url("hubspot"),
                "CONSENTRY_SALESFORCE_LOGIN_URL": self.url("salesforce"),
                "CONSENTRY_SALESFORCE_CLIENT_ID": SALESFORCE_CLIENT[0],
                "CONSENTRY_SALESFORCE_CLIENT_SECRET": SALESFORCE_CLIENT[1],
                "CONSENTRY_SALESFORCE_ORGANIZATION_ID": SALESFORCE_ORG,
                "CONSENTRY_SALESFORCE_WEBHOOK_TOKEN": secrets.token_urlsafe(24),
            }
        )
        if self.redis_url:
            env["CONSENTRY_REDIS_URL"] = self.redis_url
        env.update(self.settings)
        return env

    def _run(self, *arguments: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "consentry.sdk.cli", *arguments],
            env=self.env,
            check=True,
            capture_output=True,
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
        mailchimp_url = (
            f"{self.server_url}/webhooks/mailchimp?token={self.env['CONSENTRY_MAILCHIMP_WEBHOOK_URL_TOKEN']}"
        )
        requests.post(
            f"{self.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/webhooks",
            auth=("consentry", MAILCHIMP_KEY),
            json={
                "url": mailchimp_url,
                "events": {"unsubscribe": True, "cleaned": True, "subscribe": False},
                "sources": {"user": True, "admin": True, "api": True},
            },
            timeout=10,
        ).raise_for_status()
        hubspot = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
        requests.put(
            f"{self.url('hubspot')}/webhooks/v3/54321/settings",
            headers=hubspot,
            timeout=10,
            json={"targetUrl": f"{self.server_url}/webhooks/hubspot", "throttling": {"maxConcurrentRequests": 10}},
        ).raise_for_status()
        for event in (
            {"eventType": "contact.propertyChange", "propertyName": "hs_email_optout"},
            {"eventType": "contact.privacyDeletion"},
        ):
            requests.post(
                f"{self.url('hubspot')}/webhooks/v3/54321/subscriptions",
                headers=hubspot,
                timeout=10,
                json={**event, "active": True},
            ).raise_for_status()
        salesforce_url = f"{self.server_url}/webhooks/salesforce?token={self.env['CONSENTRY_SALESFORCE_WEBHOOK_TOKEN']}"
        requests.post(
            f"{self.url('salesforce')}/_sandbox/outbound", json={"url": salesforce_url}, timeout=10
        ).raise_for_status()

    # -- what the vendors hold -----------------------------------------------------------------------------------

    def seed_person(self, email: str, *, first: str = "Jeanne", last: str = "Martin") -> None:
        requests.post(
            f"{self.url('mailchimp')}/_sandbox/lists/{MAILCHIMP_LIST}/seed",
            timeout=10,
            json={"members": [{"email_address": email, "status": "subscribed"}]},
        ).raise_for_status()
        requests.post(
            f"{self.url('hubspot')}/_sandbox/contacts/seed",
            timeout=10,
            json={"contacts": [{"email": email, "firstname": first}]},
        ).raise_for_status()
        requests.post(
            f"{self.url('salesforce')}/_sandbox/seed",
            timeout=10,
            json={"Contact": [{"Email": email, "LastName": last}]},
        ).raise_for_status()

    def opted_out_in(self, email: str) -> dict[str, bool]:
        member = requests.get(
            f"{self.url('mailchimp')}/3.0/lists/{MAILCHIMP_LIST}/members/{email}",
            auth=("consentry", MAILCHIMP_KEY),
            timeout=10,
        ).json()
        hubspot = requests.get(f"{self.url('hubspot')}/_sandbox/opted-out/{email}", timeout=10).json()["opted_out"]
        records = requests.get(f"{self.url('salesforce')}/_sandbox/records", timeout=10).json()["records"]
        salesforce = [r for r in records if str(r.get("Email", "")).lower() == email.lower()]
        return {
            "mailchimp": member.get("status") in ("unsubscribed", "cleaned"),
            "hubspot": bool(hubspot),
            "salesforce": bool(salesforce) and all(r["HasOptedOutOfEmail"] for r in salesforce),
        }

    def unsubscribe_in(self, system: str, email: str) -> None:
        """What a person or a user does in the vendor's own interface."""
        if system == "mailchimp":
            requests.post(
                f"{self.url('mailchimp')}/_sandbox/lists/{MAILCHIMP_LIST}/members/{email}/status",
                json={"status": "unsubscribed", "source": "user"},
                timeout=10,
            ).raise_for_status()
        elif system == "hubspot":
            requests.post(
                f"{self.url('hubspot')}/_sandbox/contacts/unsubscribe", json={"email": email}, timeout=10
            ).raise_for_status()
        else:
            requests.post(
                f"{self.url('salesforce')}/_sandbox/ui-change",
                timeout=10,
                json={"email": email, "fields": {"HasOptedOutOfEmail": True}},
            ).raise_for_status()
