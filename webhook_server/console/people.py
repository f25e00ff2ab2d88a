"""`POST /console/people`: look a person up by email or phone (sent in the form, never in the URL); each look-up
is recorded in the audit log by the identifier's keyed hash."""

from flask import render_template
from flask_login import current_user, login_required

from consentry.sdk.catalogue import condition_text
from consentry.sdk.errors import InvalidInputError

from .audit import record
from .blueprint import blueprint, runtime
from .forms import LookUpForm
from .person import identify, look_up


@blueprint.post("/people")
@login_required
def people():
    form = LookUpForm()
    if not form.validate_on_submit():
        return render_template(
            "console/person.html", person=None, error="Give an email address or a phone number."
        ), 400
    try:
        kind, normalised = identify(form.identifier.data or "")
    except InvalidInputError as error:
        return render_template("console/person.html", person=None, error=f"Not looked up: {error}."), 400
    state = runtime()
    services = state.services
    record(services.engine, current_user.name, "lookup", normalised=normalised, keyring=services.suppression.keyring)
    person = look_up(state, kind, normalised)
    return render_template("console/person.html", person=person, error=None, condition_text=condition_text)
