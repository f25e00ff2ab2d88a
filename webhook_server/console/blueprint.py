"""The console's one blueprint, which each page's module adds its routes to, and what every console answer
carries: a CSRF check on each form post, headers that keep personal data out of caches and frames, and errors
as pages."""

from datetime import UTC, datetime

from flask import Blueprint, current_app, render_template
from werkzeug.exceptions import HTTPException

from consentry.sdk.services import Services

from ..runtime import Runtime
from .forms import ActionForm, LookUpForm

blueprint = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")

_HEADERS = {
    # pages are self-contained: inline styles and SVG, forms posting to the console itself
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",  # a person's page holds personal data
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def runtime() -> Runtime:
    return current_app.extensions["consentry"].runtime


def services() -> Services:
    return runtime().services


@blueprint.before_request
def _check_csrf() -> None:
    """Every console form carries its token: a post without one is a 400 before any view runs."""
    current_app.extensions["csrf"].protect()


@blueprint.after_request
def _headers(response):
    response.headers.update(_HEADERS)
    return response


@blueprint.context_processor
def _forms() -> dict:
    """The layout's look-up box and sign-out button, on every page: empty, whatever the request posted."""
    return {"lookup_form": LookUpForm(formdata=None), "action_form": ActionForm(formdata=None)}


@blueprint.app_template_filter("when")
def _when(value: datetime | str | None) -> str:
    """A moment as people read it, to the minute in UTC; the stored value keeps its microseconds."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # a string written without its offset
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@blueprint.errorhandler(HTTPException)
def _error(error: HTTPException):
    return render_template("console/error.html", error=error), error.code or 500
