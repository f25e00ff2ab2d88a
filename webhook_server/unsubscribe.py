"""`/unsubscribe/<token>`: one-click (RFC 8058, POST, no page) and a small confirmation page in French and English.

Either path records an objection in the ledger and the suppression list and propagates it like a webhook opt-out.
"""

import hashlib
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, render_template, request
from sqlalchemy import select

from consentry.connectors.base import InboundEvent
from consentry.sdk.consent_state import ConsentStatus, EventKind
from consentry.sdk.errors import InvalidInputError
from consentry.sdk.store import persons, reading
from consentry.sdk.unsubscribe import UnsubscribeRequest

from .errors import error_body
from .inbox import ingest

blueprint = Blueprint("unsubscribe", __name__)
LANGUAGES = ("fr", "en")
CHANNEL_NAMES = {
    "fr": {
        "email": "E-mail",
        "sms": "SMS",
        "phone_human": "Appels téléphoniques",
        "automated_call": "Appels automatisés",
        "fax": "Fax",
        "postal": "Courrier postal",
        "all": "Tous les canaux",
    },
    "en": {
        "email": "Email",
        "sms": "Text messages",
        "phone_human": "Phone calls",
        "automated_call": "Automated calls",
        "fax": "Fax",
        "postal": "Post",
        "all": "Every channel",
    },
}


def _state():
    return current_app.extensions["consentry"]


def _read(token: str) -> UnsubscribeRequest:
    return _state().tokens.read(token)


def _language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or "fr"


@blueprint.get("/unsubscribe/<token>")
def page(token: str):
    language = _language()
    try:
        wanted = _read(token)
    except InvalidInputError:
        return render_template("unsubscribe.html", lang=language, state="invalid", names=CHANNEL_NAMES[language]), 400
    return render_template(
        "unsubscribe.html",
        lang=language,
        state="confirm",
        channels=sorted(wanted.channels),
        token=token,
        names=CHANNEL_NAMES[language],
    )


@blueprint.post("/unsubscribe/<token>")
def unsubscribe(token: str):
    try:
        wanted = _read(token)
    except InvalidInputError:
        return error_body(400, "InvalidToken", "this unsubscribe link is not valid")
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    chosen = wanted.channels if one_click else frozenset(request.form.getlist("channels")) & wanted.channels
    if not chosen and not one_click:
        language = _language()
        return render_template(
            "unsubscribe.html",
            lang=language,
            state="confirm",
            channels=sorted(wanted.channels),
            token=token,
            names=CHANNEL_NAMES[language],
            nothing_chosen=True,
        ), 400
    _record(token, wanted, chosen)
    if one_click:
        return Response("", status=200)
    language = _language()
    return render_template(
        "unsubscribe.html", lang=language, state="done", channels=sorted(chosen), names=CHANNEL_NAMES[language]
    )


def _record(token: str, wanted: UnsubscribeRequest, channels: frozenset[str]) -> None:
    runtime = _state().runtime
    with reading(runtime.services.engine) as connection:
        person = connection.execute(
            select(persons.c.email, persons.c.phone).where(persons.c.id == wanted.person_id)
        ).first()
    if person is None:  # erased since the link was sent: the suppression list already covers them
        return
    ledger = runtime.services.ledger
    # The link stays the same in every mail. A click on a channel already opted out is the same act again (a
    # double click, a retried POST) and changes nothing. Otherwise the objection's key names the state it ends, so
    # clicks that race each other (read the same state) are one event to the ledger's unique key, while a click
    # after a newer consent ends another state: a new objection.
    states = {
        channel: ledger.state(channel=channel, advertiser=wanted.advertiser, email=person.email, phone=person.phone)
        for channel in channels
    }
    reference = hashlib.sha256(token.encode()).hexdigest()[:32]
    now = datetime.now(UTC)
    events = [
        InboundEvent(
            event_key=f"consentry-link:{reference}:{channel}:{_ended(state.event_key)}",
            kind=EventKind.OBJECTED,
            channel=channel,
            occurred_at=now,
            system="consentry",
            email=person.email,
            phone=person.phone,
            origin="recipient",
            vendor_type="unsubscribe_link",
        )
        for channel, state in sorted(states.items())
        if state.status is not ConsentStatus.OPTED_OUT
    ]
    if not events:
        return
    ingest(  # its transaction tells the workers
        runtime.services,
        events,
        targets=list(runtime.connectors),
        advertiser=wanted.advertiser,
        echo_window=runtime.echo_window,
    )


def _ended(event_key: str | None) -> str:
    """A short name for the state a click ends: the key of the event that decided it, or none at all."""
    return hashlib.sha256(event_key.encode()).hexdigest()[:16] if event_key else "first"


@blueprint.after_request
def _not_framed_cached_or_referred(response: Response) -> Response:
    """The page carries a bearer token: no other site may frame it (clickjacking an unsubscription), no cache may
    keep it, and no link out of it may carry its address in a Referer."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
