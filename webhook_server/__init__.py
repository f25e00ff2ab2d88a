"""The web service that receives opt-out webhooks and propagates them to every other connected system."""

from .app import create_app

__all__ = ["create_app"]
