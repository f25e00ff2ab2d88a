"""Mailchimp webhook authenticity: the `X-Mailchimp-Signature` scheme when signing is on, a URL token otherwise.

Signature: `t={unix seconds},v1={hex HMAC-SHA256(signing secret, "{t}.{raw body}")}`, five-minute window.
Webhooks created before signing existed are unsigned: then a hard-to-guess token in the URL (`?token=...`).
"""

import hashlib
import hmac

from consentry.sdk.errors import WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest, WebhookVerifier, parse_number

SIGNATURE_HEADER = "X-Mailchimp-Signature"


class MailchimpWebhookVerifier(WebhookVerifier):
    def __init__(self, *, signing_secret: str | None = None, url_token: str | None = None, **options):
        secret = signing_secret or url_token
        if not secret:
            raise WebhookVerificationError("mailchimp: set a webhook signing secret or a URL token")
        super().__init__([secret], **options)
        self.signed = bool(signing_secret)

    def verify(self, request: WebhookRequest) -> None:
        if not self.signed:
            token = request.query.get("token", "")
            if not hmac.compare_digest(token.encode(), self.secrets[0].encode()):
                raise WebhookVerificationError("mailchimp: wrong or missing URL token")
            return
        parts = dict(
            part.split("=", 1) for part in self.required_header(request, SIGNATURE_HEADER).split(",") if "=" in part
        )
        if "t" not in parts or "v1" not in parts:
            raise WebhookVerificationError("mailchimp: malformed signature header")
        timestamp = parts["t"]
        self.check_timestamp(parse_number(timestamp, "signature timestamp"))

        def compute(secret: bytes) -> str:
            return hmac.new(secret, timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()

        if not self.matches_any(compute, parts["v1"].strip().lower()):
            raise WebhookVerificationError("mailchimp: signature mismatch")
