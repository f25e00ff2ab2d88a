"""Mailchimp: the connector, its webhook verifier and its sandbox."""

from .connector import MailchimpConnector, subscriber_hash
from .webhooks import MailchimpWebhookVerifier

__all__ = ["MailchimpConnector", "MailchimpWebhookVerifier", "subscriber_hash"]
