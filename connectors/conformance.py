"""The conformance suite every connector passes: subclass `ConnectorConformance` in a few lines.

It runs offline against the connector's own sandbox on 127.0.0.1 and checks retries, pagination, idempotent
writes, unsubscribing an unknown contact, webhook verification failures and replays, and that no error message
carries an email address. Tests of capabilities a connector does not declare are skipped with a reason.

A subclass provides:
- `connector_name` and the fixtures `sandbox` (a running sandbox with `.url`) and `make_connector`
  (a function of keyword overrides returning a connector pointed at the sandbox, with `sleep=recorded_sleep`);
- `seed(sandbox, emails)`, `is_unsubscribed(sandbox, email)`, `holds(sandbox, email)` and
  `set_faults(sandbox, **faults)`: by default through the connector's sandbox package and its common interface
  (`sandbox_kit.SandboxPackage`), found by the registry from the connector
  class's `sandbox` attribute; a connector without one overrides them;
- `webhook_request(connector, *, email, secret=None, timestamp=None, body=None)`: a signed opt-out delivery,
  and `signature_header`, the header a forged request may drop or garble.
"""

import time

import pytest

from consentry.sdk.errors import ConnectorError, WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest

from .base import Capability, ConsentTag, DataSubject, ErasureReport, Unsubscribe
from .sandbox_kit import Person, set_faults


class ConnectorConformance:
    connector_name: str = ""
    signature_header: str = ""
    page_size: int = 5

    # -- helpers for subclasses ----------------------------------------------------------------------------------

    @pytest.fixture
    def recorded_sleep(self):
        waits: list[float] = []
        return waits

    @pytest.fixture
    def connector(self, make_connector):
        return make_connector()

    def require(self, connector, capability: Capability) -> None:
        if not connector.supports(capability):
            pytest.skip(f"{connector.name} does not declare {capability.value}")

    # -- contacts ------------------------------------------------------------------------------------------------

    def test_reads_every_contact_across_pages(self, sandbox, make_connector):
        connector = make_connector(page_size=self.page_size)
        self.require(connector, Capability.SYNC_CONTACTS)
        emails = [f"page{number}@example.com" for number in range(self.page_size * 2 + 3)]
        self.seed(sandbox, emails)
        fetched = [contact.email.lower() for contact in connector.fetch_contacts()]
        assert sorted(fetched) == sorted(emails)
        assert connector.transport.calls.total >= 3

    def test_retries_rate_limits_and_server_errors(self, sandbox, make_connector, recorded_sleep):
        connector = make_connector()
        self.require(connector, Capability.SYNC_CONTACTS)
        self.seed(sandbox, ["retry@example.com"])
        self.set_faults(sandbox, fail_next=2, fail_status=429)
        assert [c.email for c in connector.fetch_contacts()] == ["retry@example.com"]
        self.set_faults(sandbox, fail_next=1, fail_status=503)
        assert len(list(connector.fetch_contacts())) == 1
        assert len(recorded_sleep) == 3

    # -- writes --------------------------------------------------------------------------------------------------

    def test_unsubscribe_is_an_idempotent_state_assignment(self, sandbox, connector):
        self.require(connector, Capability.PUSH_UNSUBSCRIBE)
        self.seed(sandbox, ["twice@example.com"])
        first = connector.push_unsubscribes([Unsubscribe(email="twice@example.com")])
        second = connector.push_unsubscribes([Unsubscribe(email="twice@example.com")])
        assert self.is_unsubscribed(sandbox, "twice@example.com")
        assert first.failed == []
        assert second.failed == []

    def test_unsubscribing_an_unknown_contact_is_not_an_error(self, sandbox, connector):
        self.require(connector, Capability.PUSH_UNSUBSCRIBE)
        report = connector.push_unsubscribes([Unsubscribe(email="stranger@example.com")])
        assert report.failed == []

    def test_error_messages_carry_no_email_address(self, sandbox, make_connector):
        connector = make_connector()
        self.require(connector, Capability.PUSH_UNSUBSCRIBE)
        self.set_faults(sandbox, fail_next=50, fail_status=500)
        with pytest.raises(ConnectorError) as error:
            connector.push_unsubscribes([Unsubscribe(email="leak.check@example.com")])
        assert "@" not in str(error.value)
        assert "leak.check" not in repr(error.value.args)

    # -- rights requests -----------------------------------------------------------------------------------------

    def test_erasure_removes_every_record_of_the_person_and_only_theirs(self, sandbox, connector):
        self.require(connector, Capability.ERASE_PEOPLE)
        self.seed(sandbox, ["erased@example.com", "kept@example.com"])
        report = connector.erase_person(DataSubject(email="erased@example.com"))
        assert isinstance(report, ErasureReport)
        assert report.method != "nothing_found"
        assert report.deleted
        assert not any("@" in record_id for record_id in report.deleted)
        assert not self.holds(sandbox, "erased@example.com")
        assert self.holds(sandbox, "kept@example.com")

    def test_erasing_twice_or_a_stranger_is_not_an_error(self, sandbox, connector):
        self.require(connector, Capability.ERASE_PEOPLE)
        self.seed(sandbox, ["twice.erased@example.com"])
        connector.erase_person(DataSubject(email="twice.erased@example.com"))
        again = connector.erase_person(DataSubject(email="twice.erased@example.com"))
        assert (again.method, again.deleted) == ("nothing_found", [])
        stranger = connector.erase_person(DataSubject(email="nobody.here@example.com"))
        assert (stranger.method, stranger.deleted) == ("nothing_found", [])

    def test_an_erased_person_cannot_come_back_through_an_unsubscribe(self, sandbox, connector):
        """Unsubscribing an unknown address may create it as unsubscribed (Mailchimp does): after an erasure the
        vendor must not hold the person again, whatever a late push does."""
        self.require(connector, Capability.ERASE_PEOPLE)
        self.require(connector, Capability.PUSH_UNSUBSCRIBE)
        self.seed(sandbox, ["gone.for.good@example.com"])
        connector.erase_person(DataSubject(email="gone.for.good@example.com"))
        report = connector.push_unsubscribes([Unsubscribe(email="gone.for.good@example.com")])
        assert report.failed == []  # a refusal for an erased address is final, never retried
        assert not self.holds(sandbox, "gone.for.good@example.com")

    def test_erasure_failures_carry_no_email_address(self, sandbox, make_connector):
        connector = make_connector()
        self.require(connector, Capability.ERASE_PEOPLE)
        self.seed(sandbox, ["erase.leak@example.com"])
        self.set_faults(sandbox, fail_next=50, fail_status=500)
        with pytest.raises(ConnectorError) as error:
            connector.erase_person(DataSubject(email="erase.leak@example.com"))
        assert "@" not in str(error.value)
        self.set_faults(sandbox, fail_next=0)
        assert self.holds(sandbox, "erase.leak@example.com")

    def test_export_gives_each_record_with_its_fields(self, sandbox, connector):
        self.require(connector, Capability.EXPORT_PEOPLE)
        self.seed(sandbox, ["exported@example.com", "other@example.com"])
        records = connector.export_person(DataSubject(email="exported@example.com"))
        assert records
        for record in records:
            assert record.system == connector.name
            assert record.record_id
            assert record.kind
            assert record.fields
        assert "exported@example.com" in str([dict(record.fields) for record in records]).lower()
        assert "other@example.com" not in str([dict(record.fields) for record in records]).lower()
        assert connector.export_person(DataSubject(email="nobody.here@example.com")) == []

    # -- answers that are not the vendor's -----------------------------------------------------------------------

    def test_an_unsubscribe_answered_by_a_proxy_page_is_not_applied(self, sandbox, make_connector):
        """A 200 carrying a proxy's HTML page: the unsubscribe never reached the vendor, so it is not reported as
        applied; it fails as a ConnectorError that the worker records and retries."""
        connector = make_connector()
        self.require(connector, Capability.PUSH_UNSUBSCRIBE)
        self.seed(sandbox, ["proxied@example.com"])
        self.set_faults(sandbox, garbage_next=1000)
        with pytest.raises(ConnectorError) as error:
            connector.push_unsubscribes([Unsubscribe(email="proxied@example.com")])
        assert (error.value.code, error.value.retryable) == ("UNEXPECTED_RESPONSE", True)
        assert "@" not in str(error.value)
        self.set_faults(sandbox, garbage_next=0)
        assert not self.is_unsubscribed(sandbox, "proxied@example.com")

    def test_tags_answered_by_a_proxy_page_fail_as_a_connector_error(self, sandbox, make_connector):
        connector = make_connector()
        self.require(connector, Capability.TAG_CONSENT)
        self.seed(sandbox, ["proxied@example.com"])
        [contact] = connector.fetch_contacts()  # what a sync read, and hands back when it tags (see sync.py)
        state = contact.attributes.get("object") or contact.attributes.get("status")
        kept = {name: contact.attributes.get(name) for name in connector.kept_attributes}
        tag = ConsentTag(
            email=contact.email,
            record_id=contact.record_id,
            status={"email": "forbidden"},
            known={**kept, "status": state, "object": state},
        )
        self.set_faults(sandbox, garbage_next=1000)
        with pytest.raises(ConnectorError) as error:
            connector.apply_consent([tag])
        assert (error.value.code, error.value.retryable) == ("UNEXPECTED_RESPONSE", True)

    def test_contacts_answered_by_a_proxy_page_fail_as_a_connector_error(self, sandbox, make_connector):
        connector = make_connector()
        self.require(connector, Capability.SYNC_CONTACTS)
        self.seed(sandbox, ["proxied@example.com"])
        self.set_faults(sandbox, garbage_next=1000)
        with pytest.raises(ConnectorError) as error:
            list(connector.fetch_contacts())
        assert (error.value.code, error.value.retryable) == ("UNEXPECTED_RESPONSE", True)

    # -- webhooks ------------------------------------------------------------------------------------------------

    def test_an_authentic_webhook_gives_opt_out_events(self, connector):
        self.require(connector, Capability.RECEIVE_WEBHOOKS)
        events = connector.receive_webhook(self.webhook_request(connector, email="hook@example.com"))
        assert events
        assert all(event.kind.opts_out for event in events)
        assert {event.email.lower() for event in events if event.email} == {"hook@example.com"}

    def test_a_replayed_webhook_gives_the_same_event_keys(self, connector):
        self.require(connector, Capability.RECEIVE_WEBHOOKS)
        request = self.webhook_request(connector, email="hook@example.com")
        first = [event.event_key for event in connector.receive_webhook(request)]
        again = [event.event_key for event in connector.receive_webhook(request)]
        assert first == again

    def test_a_tampered_body_is_rejected(self, connector):
        self.require(connector, Capability.RECEIVE_WEBHOOKS)
        request = self.webhook_request(connector, email="hook@example.com")
        forged = WebhookRequest(
            request.method,
            request.url,
            request.body[:-1] + bytes([request.body[-1] ^ 1]),
            request.headers,
            request.query,
        )
        self._rejected(connector, forged)

    def test_a_wrong_secret_is_rejected(self, connector):
        self.require(connector, Capability.RECEIVE_WEBHOOKS)
        self._rejected(connector, self.webhook_request(connector, email="hook@example.com", secret="not-the-secret"))

    def test_a_missing_or_malformed_signature_is_rejected(self, connector):
        self.require(connector, Capability.RECEIVE_WEBHOOKS)
        if not self.signature_header:
            pytest.skip(f"{connector.name} webhooks carry no signature header")
        request = self.webhook_request(connector, email="hook@example.com")
        stripped = {k: v for k, v in request.headers.items() if k.lower() != self.signature_header.lower()}
        self._rejected(connector, WebhookRequest(request.method, request.url, request.body, stripped, request.query))
        garbled = {**stripped, self.signature_header: "garbage=,,=="}
        self._rejected(connector, WebhookRequest(request.method, request.url, request.body, garbled, request.query))

    @pytest.mark.parametrize("offset", [-3600, 3600], ids=["stale", "future"])
    def test_stale_and_future_timestamps_are_rejected(self, connector, offset):
        self.require(connector, Capability.RECEIVE_WEBHOOKS)
        if not self.signature_header:
            pytest.skip(f"{connector.name} webhooks carry no timestamp")
        request = self.webhook_request(connector, email="hook@example.com", timestamp=time.time() + offset)
        self._rejected(connector, request)

    @staticmethod
    def _rejected(connector, request: WebhookRequest) -> None:
        with pytest.raises(WebhookVerificationError) as error:
            connector.receive_webhook(request)
        assert "@" not in str(error.value)

    # -- to provide ----------------------------------------------------------------------------------------------

    def seed(self, sandbox, emails: list[str]) -> None:
        self.sandbox_package().seed(sandbox.url, [Person(email=email) for email in emails])

    def is_unsubscribed(self, sandbox, email: str) -> bool:
        return self.sandbox_package().opted_out(sandbox.url, email)

    def holds(self, sandbox, email: str) -> bool:
        return self.sandbox_package().holds(sandbox.url, email)

    def set_faults(self, sandbox, **faults) -> None:
        set_faults(sandbox.url, **faults)

    def sandbox_package(self):
        from .registry import sandbox

        return sandbox(self.connector_name)

    def webhook_request(self, connector, *, email: str, secret=None, timestamp=None) -> WebhookRequest:
        raise NotImplementedError
