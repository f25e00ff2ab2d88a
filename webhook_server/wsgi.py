"""The WSGI entry point for gunicorn: `gunicorn consentry.webhook_server.wsgi:app`."""

import gc
import sys

from consentry.sdk import catalogue

from .app import create_app
from .commit_group import CommitGroup
from .log_redaction import REDACTING_FILTER

app = create_app()
app.logger.addFilter(REDACTING_FILTER)  # Flask names the path of a request that failed: an unsubscribe token

# A commit group in this process has a writer thread that releases the GIL at every database call; with request
# threads busy parsing, the default 5 ms switch interval makes it wait that long each time it wants the GIL back,
# and a short interval keeps commits flowing. When the writer is another process (SQLite under `consentry serve`)
# there is no such thread here, and the short interval only made the request threads trade the GIL more often:
# measured in twelve alternating runs, 9-10 context switches per request with the default against 26-30, and
# 525-754 requests/s against 514-564 (benchmarks/RESULTS.md).
if isinstance(app.extensions["consentry"].commit_group, CommitGroup):
    sys.setswitchinterval(0.0005)

# The rule catalogue is read on first use: read now, so that no request of this process pays for it (the first
# decision used to take 60 ms) and the freeze below covers it.
catalogue.reasons()
catalogue.conditions()
catalogue.facts()

# What the process built before its first request (imports, the app, its connectors) lives as long as the process.
# Frozen, the collector's full passes no longer walk it: measured under load, each web process otherwise paused 70
# to 103 ms every few seconds for a full collection, holding the interpreter lock from all its request threads.
gc.freeze()
