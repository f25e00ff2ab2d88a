"""`/console`: the overview. A visitor who has not signed in is sent to the sign-in page.

Its figures judge everyone on every channel: each process keeps them `FIGURES_TTL` (the page says when they were
computed), and an operator's retry of a job drops them."""

from flask import current_app, render_template
from flask_login import login_required

from ..report import CHANNELS
from ..runtime import Runtime
from .blueprint import blueprint
from .figures import FiguresCache, gather

EXTENSION = "consentry_console_figures"  # the app's FiguresCache, in app.extensions


def figures_cache(runtime: Runtime) -> FiguresCache:
    """The overview's figures of this runtime's database, for one app."""
    services = runtime.services
    return FiguresCache(lambda at: gather(services.engine, services.ledger, advertiser=runtime.advertiser, at=at))


def cached_figures() -> FiguresCache:
    return current_app.extensions[EXTENSION]


@blueprint.get("", strict_slashes=False)  # /console and /console/
@login_required
def overview():
    cache = cached_figures()
    figures = cache.figures()
    reasons = figures.blocking_reasons()
    return render_template(
        "console/overview.html",
        figures=figures,
        ttl=int(cache.ttl.total_seconds()),
        channels=[channel.value for channel in CHANNELS],
        blocked=reasons,
        blocked_bars=[(reason.title or reason.code, reason.total) for reason in reasons[:12]],
    )
