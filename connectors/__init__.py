"""Connectors to the CRMs and mailing tools (later issues fill this package)."""

__all__: list[str] = []
