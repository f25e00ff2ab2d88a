"""`/console/rules`: the reason codes, facts and conditions the verdicts are made of, from the catalogue."""

from flask import render_template
from flask_login import login_required

from consentry.sdk.catalogue import conditions, facts, reasons

from .blueprint import blueprint


@blueprint.get("/rules")
@login_required
def rules():
    return render_template(
        "console/rules.html",
        reasons=sorted(reasons().values(), key=lambda info: (info.jurisdiction, info.code)),
        facts=list(facts().values()),
        conditions=sorted(conditions().items()),
    )
