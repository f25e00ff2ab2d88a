"""The WSGI entry point for gunicorn: `gunicorn webhook_server.wsgi:app`."""

import sys

from .app import create_app

# The inbox writer thread releases the GIL at every database call; with request threads busy parsing, the default
# 5 ms switch interval makes it wait that long each time it wants the GIL back. A short interval keeps commits flowing.
sys.setswitchinterval(0.0005)

app = create_app()
