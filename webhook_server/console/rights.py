"""`/console/rights`: the rights requests not yet done, overdue first, with each system's status."""

from flask import render_template
from flask_login import login_required

from ..rights import list_requests
from .blueprint import blueprint, services


@blueprint.get("/rights")
@login_required
def rights():
    requests = list_requests(services().engine, not_done=True)
    return render_template("console/rights.html", requests=requests)
