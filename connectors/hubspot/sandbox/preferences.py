"""Communication preferences v3 and v4 (specs `communication-preferences-v3.json`, `-v4.json`).

v3 subscribes and unsubscribes one address from one subscription type; it never re-subscribes an address that
opted out (of all email or of that type) and refuses to unsubscribe one that already is. v4 sets any status, also
in batches and for all email at once; subscribing needs a legal basis and its explanation when the portal has GDPR
features on (the sandbox's default), and through v4 an opted-out address can be subscribed again.
"""

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from .consent import LEGAL_BASES, STATES, SUBSCRIBED, UNSUBSCRIBED
from .errors import HubSpotError, item_error, json_body
from .portal import EMAIL, Source, iso

API: Source = ("API", None)

v3 = Blueprint("hubspot_preferences_v3", __name__, url_prefix="/communication-preferences/v3")
v4 = Blueprint("hubspot_preferences_v4", __name__, url_prefix="/communication-preferences/v4")


def _sandbox() -> Any:
    return current_app.extensions["hubspot_sandbox"]


def _address(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL.match(value.strip()):
        raise HubSpotError(400, "VALIDATION_ERROR", "A valid email address is required")
    return value.strip().lower()


def _legal_basis(sandbox: Any, basis: Any, explanation: Any, *, subscribing: bool) -> None:
    if basis is not None and basis not in LEGAL_BASES:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Invalid legalBasis: {basis}. Allowed: {list(LEGAL_BASES)}")
    if subscribing and sandbox.gdpr and (not basis or not explanation):
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            "legalBasis and legalBasisExplanation are required to subscribe a contact in a portal with GDPR enabled",
        )


# -- v3 ----------------------------------------------------------------------------------------------------------


@v3.get("/definitions")
def definitions_v3():
    book = _sandbox().consent
    return jsonify({"subscriptionDefinitions": [book.definition_view(d) for d in book.definitions]})


@v3.get("/status/email/<email_address>")
def status_v3(email_address: str):
    sandbox = _sandbox()
    email = _address(email_address)
    with sandbox.state.lock:
        book = sandbox.consent
        statuses = [book.v3_status(email, d) for d in book.definitions]
    return jsonify({"recipient": email, "subscriptionStatuses": statuses})


def _v3_request() -> tuple[str, dict, dict]:
    body = json_body()
    if not body.get("emailAddress") or body.get("subscriptionId") in (None, ""):
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            "Invalid input JSON: Cannot build PublicUpdateSubscriptionStatusRequest, some of required attributes are "
            "not set [emailAddress, subscriptionId]",
        )
    found = _sandbox().consent.definition(body["subscriptionId"])
    if found is None:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Subscription {body['subscriptionId']} does not exist")
    return _address(body["emailAddress"]), found, body


@v3.post("/subscribe")
def subscribe_v3():
    sandbox = _sandbox()
    email, definition, body = _v3_request()
    with sandbox.state.lock:
        book = sandbox.consent
        if book.status(email, definition["id"]) == UNSUBSCRIBED:
            raise HubSpotError(
                400,
                "VALIDATION_ERROR",
                f"{email} has opted out and cannot be resubscribed to subscription {definition['id']} with this API",
            )
        _legal_basis(sandbox, body.get("legalBasis"), body.get("legalBasisExplanation"), subscribing=True)
        book.set_status(
            email,
            definition["id"],
            SUBSCRIBED,
            source=API,
            legal_basis=body.get("legalBasis"),
            explanation=body.get("legalBasisExplanation"),
        )
        sandbox.state.save()
        return jsonify(book.v3_status(email, definition))


@v3.post("/unsubscribe")
def unsubscribe_v3():
    sandbox = _sandbox()
    email, definition, body = _v3_request()
    _legal_basis(sandbox, body.get("legalBasis"), body.get("legalBasisExplanation"), subscribing=False)
    with sandbox.state.lock:
        book = sandbox.consent
        if book.status(email, definition["id"]) == UNSUBSCRIBED:
            raise HubSpotError(
                400, "VALIDATION_ERROR", f"{email} is already unsubscribed from subscription {definition['id']}"
            )
        book.set_status(
            email,
            definition["id"],
            UNSUBSCRIBED,
            source=API,
            legal_basis=body.get("legalBasis"),
            explanation=body.get("legalBasisExplanation"),
        )
        sandbox.state.save()
        return jsonify(book.v3_status(email, definition))


# -- v4 ----------------------------------------------------------------------------------------------------------


def _action(results: list, errors: list | None = None):
    stamp = iso(_sandbox().portal.now())
    body: dict = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
    if errors:
        body.update(errors=errors, numErrors=len(errors))
    return jsonify(body)


def _channel() -> None:
    if request.args.get("channel") != "EMAIL":
        raise HubSpotError(400, "VALIDATION_ERROR", "The query parameter channel is required and must be EMAIL")


def _emails(body: dict) -> list:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotError(400, "VALIDATION_ERROR", "inputs is required and must be a list")
    limit = _sandbox().v4_batch_limit
    if limit is not None and len(inputs) > limit:
        raise HubSpotError(400, "VALIDATION_ERROR", f"A batch accepts at most {limit} inputs")
    return inputs


def _verbose() -> bool:
    return request.args.get("verbose", "false").lower() == "true"


def _write(sandbox: Any, entry: dict) -> dict:
    """One status write (shared by the single and the batch endpoint); HubSpotError when refused."""
    email = _address(entry.get("subscriberIdString"))
    state = entry.get("statusState")
    if entry.get("channel") != "EMAIL" or state not in STATES:
        raise HubSpotError(400, "VALIDATION_ERROR", "channel must be EMAIL and statusState one of " + "/".join(STATES))
    definition = sandbox.consent.definition(entry.get("subscriptionId"))
    if definition is None or isinstance(entry.get("subscriptionId"), bool):
        raise HubSpotError(400, "VALIDATION_ERROR", f"Subscription {entry.get('subscriptionId')} does not exist")
    basis, explanation = entry.get("legalBasis"), entry.get("legalBasisExplanation")
    _legal_basis(sandbox, basis, explanation, subscribing=state == SUBSCRIBED)
    reason = sandbox.consent.set_status(
        email, definition["id"], state, source=API, legal_basis=basis, explanation=explanation
    )
    return sandbox.consent.public_status(email, definition, reason=reason)


@v4.get("/definitions")
def definitions_v4():
    book = _sandbox().consent
    return _action([book.definition_view(d) for d in book.definitions])


@v4.route("/statuses/<subscriber>", methods=["GET", "POST"])
def status_v4(subscriber: str):
    sandbox = _sandbox()
    if request.method == "GET":
        _channel()
        email = _address(subscriber)
        with sandbox.state.lock:
            book = sandbox.consent
            return _action([book.public_status(email, d) for d in book.definitions])
    body = json_body()
    with sandbox.state.lock:
        result = _write(sandbox, {**body, "subscriberIdString": subscriber})
        sandbox.state.save()
        return _action([result])


@v4.route("/statuses/<subscriber>/unsubscribe-all", methods=["GET", "POST"])
def unsubscribe_all(subscriber: str):
    sandbox = _sandbox()
    _channel()
    email = _address(subscriber)
    with sandbox.state.lock:
        book = sandbox.consent
        if request.method == "GET":
            wide = book.wide_status(email)
            return _action([wide] if wide else [])
        changed = book.unsubscribe_all(email, source=API)
        sandbox.state.save()
        reason = "UNSUBSCRIBE_FROM_ALL_OCCURRED" if changed else "NO_STATUS_CHANGE"
        return _action([book.public_status(email, d, reason=reason) for d in book.definitions] if _verbose() else [])


def _addresses(inputs: list, errors: list[dict]) -> Iterator[str]:
    """Each input's address, normalised; one that is not an address becomes an item error, as HubSpot answers it."""
    for value in inputs:
        try:
            email = _address(value)
        except HubSpotError as refusal:
            errors.append(
                item_error(
                    refusal.category or "VALIDATION_ERROR", refusal.message, {"subscriberIdString": [str(value)]}
                )
            )
            continue
        yield email


@v4.post("/statuses/batch/read")
def batch_read():
    sandbox = _sandbox()
    _channel()
    inputs = _emails(json_body())
    results, errors = [], []
    with sandbox.state.lock:
        book = sandbox.consent
        for email in _addresses(inputs, errors):
            results.append(
                {"subscriberIdString": email, "statuses": [book.public_status(email, d) for d in book.definitions]}
            )
        response = _action(results, errors)
    response.status_code = 207 if errors else 200
    return response


@v4.post("/statuses/batch/write")
def batch_write():
    sandbox = _sandbox()
    inputs = _emails(json_body())
    results, errors = [], []
    with sandbox.state.lock:
        for entry in inputs:
            try:
                if not isinstance(entry, dict):
                    raise HubSpotError(400, "VALIDATION_ERROR", "Each input must be an object")
                results.append(_write(sandbox, entry))
            except HubSpotError as refusal:
                subscriber = entry.get("subscriberIdString") if isinstance(entry, dict) else None
                errors.append(item_error(refusal.category, refusal.message, {"subscriberIdString": [str(subscriber)]}))
        sandbox.state.save()
        return _action(results, errors)


@v4.post("/statuses/batch/unsubscribe-all")
def batch_unsubscribe_all():
    sandbox = _sandbox()
    _channel()
    inputs = _emails(json_body())
    verbose = _verbose()
    results, errors = [], []
    with sandbox.state.lock:
        book = sandbox.consent
        for email in _addresses(inputs, errors):
            changed = book.unsubscribe_all(email, source=API)
            result: dict = {"subscriberIdString": email}
            if verbose:
                reason = "UNSUBSCRIBE_FROM_ALL_OCCURRED" if changed else "NO_STATUS_CHANGE"
                result["statuses"] = [book.public_status(email, d, reason=reason) for d in book.definitions]
            results.append(result)
        sandbox.state.save()
        return _action(results, errors)


@v4.post("/statuses/batch/unsubscribe-all/read")
def batch_unsubscribe_all_read():
    sandbox = _sandbox()
    _channel()
    inputs = _emails(json_body())
    results, errors = [], []
    with sandbox.state.lock:
        book = sandbox.consent
        for email in _addresses(inputs, errors):
            wide = book.wide_status(email)
            results.append({"subscriberIdString": email, "wideStatuses": [wide] if wide else []})
        response = _action(results, errors)
    response.status_code = 207 if errors else 200
    return response
