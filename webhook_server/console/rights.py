"""`/console/rights`: the rights requests not yet done, overdue first, with each system's status."""

from flask import render_template
from flask_login import login_required

from consentry.sdk.rights import RightsStatus

from ..rights import list_requests
from .blueprint import blueprint, services


@blueprint.get("/rights")
@login_required
def rights():
    requests = [r for r in list_requests(services().engine) if r["status"] != RightsStatus.DONE.value]
    return render_template("console/rights.html", requests=requests)
