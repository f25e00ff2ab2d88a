"""HubSpot: the connector, its webhook verifier and its sandbox."""

from .connector import HubSpotConnector
from .webhooks import HubSpotWebhookVerifier

__all__ = ["HubSpotConnector", "HubSpotWebhookVerifier"]
