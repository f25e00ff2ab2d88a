"""A sandbox no longer served stops delivering webhooks: a retry left in its queue cannot reach whatever listens on
that port next (a later test's receiver, in one CI run)."""

import threading
import time

import pytest
import requests
from flask import Flask, request

from consentry.connectors import registry
from consentry.connectors.mailchimp.sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID, create_app
from consentry.connectors.sandbox_kit import SANDBOX_CLOSE, ServerThread
from tests.waiting import wait_for


@pytest.mark.parametrize("name", registry.sandboxes())
def test_every_sandbox_registers_what_closes_it(name):
    app = registry.sandbox(name).create_app()
    try:
        assert callable(app.extensions[SANDBOX_CLOSE])
    finally:
        app.extensions[SANDBOX_CLOSE]()


def _refusing_receiver(attempts: list) -> Flask:
    app = Flask("refusing")
    lock = threading.Lock()

    @app.route("/hook", methods=["GET", "POST"])
    def hook():
        if request.method == "POST":
            with lock:
                attempts.append(time.monotonic())
            return "busy", 500
        return ""

    return app


def test_stopping_the_server_stops_the_retries_of_its_webhooks():
    attempts: list[float] = []
    with ServerThread(_refusing_receiver(attempts)) as receiver:
        sandbox = ServerThread(create_app()).start()
        try:
            members = f"{sandbox.url}/3.0/lists/{DEFAULT_LIST_ID}"
            auth = ("any", DEFAULT_API_KEY)
            requests.post(f"{members}/webhooks", json={"url": f"{receiver.url}/hook"}, auth=auth, timeout=5)
            seed = f"{sandbox.url}/_sandbox/lists/{DEFAULT_LIST_ID}"
            requests.post(f"{seed}/seed", json={"members": [{"email_address": "a@example.com"}]}, timeout=5)
            requests.post(
                f"{seed}/members/a@example.com/status", json={"status": "unsubscribed", "source": "user"}, timeout=5
            )
            assert wait_for(lambda: len(attempts) >= 1)  # refused: the sandbox retries after 0.2 s, 0.4 s, ...
        finally:
            sandbox.stop()
        seen = len(attempts)
        time.sleep(1.0)  # three more retries would have come by now
        assert len(attempts) == seen
