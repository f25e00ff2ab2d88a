"""The web service that receives opt-out webhooks (later issues fill this package)."""

__all__: list[str] = []
