"""The WSGI entry point for gunicorn: `gunicorn webhook_server.wsgi:app`."""

from .app import create_app

app = create_app()
