"""`/console`: the overview. A visitor who has not signed in is sent to the sign-in page."""

from collections import Counter

from flask import render_template
from flask_login import login_required

from consentry.sdk.catalogue import reasons

from ..report import CHANNELS
from .blueprint import blueprint, runtime
from .figures import gather


@blueprint.get("", strict_slashes=False)  # /console and /console/
@login_required
def overview():
    state = runtime()
    figures = gather(state.services.engine, state.services.ledger, advertiser=state.advertiser)
    by_code: dict[str, Counter] = {}
    for (code, channel), count in figures.blockers.items():
        by_code.setdefault(code, Counter())[channel] = count
    catalogue = reasons()
    blocked = sorted(
        ((code, catalogue.get(code), counts) for code, counts in by_code.items()),
        key=lambda item: (-sum(item[2].values()), item[0]),
    )
    return render_template(
        "console/overview.html",
        figures=figures,
        channels=[channel.value for channel in CHANNELS],
        blocked=blocked,
        blocked_bars=[
            (info.title if info and info.title else code, sum(counts.values())) for code, info, counts in blocked[:12]
        ],
    )
