"""The shared replay-window helpers refuse timestamps that are not finite numbers, whatever the vendor's scheme."""

import math

import pytest

from consentry.sdk.errors import WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest, WebhookVerifier, parse_number

NOW = 1_800_000_000.0
NOT_FINITE = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400"]


class ClockedVerifier(WebhookVerifier):
    def verify(self, request: WebhookRequest) -> None:
        self.check_timestamp(parse_number(request.header("T"), "timestamp"))


def verifier(**options) -> ClockedVerifier:
    return ClockedVerifier(["secret"], clock=lambda: NOW, **options)


@pytest.mark.parametrize("text", NOT_FINITE)
def test_a_number_that_is_not_finite_is_malformed(text):
    with pytest.raises(WebhookVerificationError, match="malformed timestamp"):
        parse_number(text, "timestamp")


def test_a_finite_number_is_read():
    assert parse_number(" 1800000000 ", "timestamp") == NOW
    assert parse_number("1.8e9", "timestamp") == NOW


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf])
def test_the_window_refuses_a_timestamp_that_is_not_finite(seconds):
    with pytest.raises(WebhookVerificationError, match="not a finite number"):
        verifier().check_timestamp(seconds)


def test_even_an_infinite_tolerance_refuses_an_infinite_timestamp():
    with pytest.raises(WebhookVerificationError):
        verifier(tolerance=math.inf).check_timestamp(math.inf)  # -inf < -inf is false


@pytest.mark.parametrize("text", NOT_FINITE)
def test_a_verifier_built_on_the_helpers_refuses_them(text):
    with pytest.raises(WebhookVerificationError):
        verifier().verify(WebhookRequest("POST", "https://x", b"", {"T": text}))


def test_the_window_still_admits_the_present_and_refuses_both_edges():
    verifier().check_timestamp(NOW + 299)
    for seconds in (NOW - 301, NOW + 301):
        with pytest.raises(WebhookVerificationError):
            verifier().check_timestamp(seconds)
