"""Salesforce: the connector, its outbound-message verifier and its sandbox."""

from .connector import SalesforceConnector, SalesforceOutboundVerifier

__all__ = ["SalesforceConnector", "SalesforceOutboundVerifier"]
