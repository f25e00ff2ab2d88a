"""HubSpot webhook signatures: v3 (HMAC-SHA256, base64, timestamped) and the legacy v1 and v2 (SHA-256, hex).

v3 signs method + URI + body + timestamp (milliseconds) with the app's client secret; the URI is taken with a few
characters URL-decoded, as HubSpot's validation guide lists. Unlike HubSpot's own SDK we refuse a timestamp from
the future as firmly as a stale one. v1 and v2 carry no timestamp: a replay is caught by the event keys instead.
"""

import base64
import hashlib
import hmac

from consentry.sdk.errors import WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest, WebhookVerifier, parse_number

_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def decoded_uri(uri: str) -> str:
    for encoded, character in _DECODED.items():
        uri = uri.replace(encoded, character).replace(encoded.lower(), character)
    return uri


def signature_v3(secret: bytes, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + decoded_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret, message, hashlib.sha256).digest()).decode()


def signature_v2(secret: bytes, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret + method.encode() + uri.encode() + body).hexdigest()


def signature_v1(secret: bytes, body: bytes) -> str:
    return hashlib.sha256(secret + body).hexdigest()


class HubSpotWebhookVerifier(WebhookVerifier):
    def verify(self, request: WebhookRequest) -> None:
        given_v3 = request.header("X-HubSpot-Signature-v3")
        if given_v3:
            stamp = self.required_header(request, "X-HubSpot-Request-Timestamp")
            self.check_timestamp(parse_number(stamp, "request timestamp") / 1000)
            compute = lambda key: signature_v3(key, request.method, request.url, request.body, stamp)  # noqa: E731
            if not self.matches_any(compute, given_v3):
                raise WebhookVerificationError("hubspot: v3 signature mismatch")
            return
        given = self.required_header(request, "X-HubSpot-Signature")
        version = (request.header("X-HubSpot-Signature-Version") or "v1").lower()
        if version == "v2":
            compute = lambda key: signature_v2(key, request.method, request.url, request.body)  # noqa: E731
        elif version == "v1":
            compute = lambda key: signature_v1(key, request.body)  # noqa: E731
        else:
            raise WebhookVerificationError("hubspot: unknown signature version")
        if not self.matches_any(compute, given.lower()):
            raise WebhookVerificationError(f"hubspot: {version} signature mismatch")
