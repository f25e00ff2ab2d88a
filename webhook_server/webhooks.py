"""`POST /webhooks/<connector>`: verify, parse, commit the events and their jobs, and only then answer 2xx."""

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge

from consentry.connectors.base import Capability
from consentry.sdk.errors import ConnectorError, WebhookPayloadError, WebhookVerificationError
from consentry.sdk.webhooks import WebhookRequest

from .errors import error_body
from .inbox import ingest, synced_records
from .inbox_writer import InboxUnavailable

blueprint = Blueprint("webhooks", __name__)


@blueprint.route("/webhooks/<name>", methods=["GET", "POST"])
def receive(name: str):
    state = current_app.extensions["consentry"]
    connector = state.runtime.connectors.get(name)
    if connector is None or not connector.supports(Capability.RECEIVE_WEBHOOKS):
        raise NotFound(f"no webhook endpoint for {name!r}")
    try:
        body = _read_body()
    except RequestEntityTooLarge:
        state.metrics.rejected.labels(name, "too_large").inc()
        raise
    raw = WebhookRequest(
        method=request.method, url=_public_url(), body=body, headers=dict(request.headers), query=request.args.to_dict()
    )
    if request.method == "GET":
        answer = connector.webhook_validation(raw)
        if answer is None:
            raise MethodNotAllowed(valid_methods=["POST"])
        return Response(answer.body, status=answer.status, content_type=answer.content_type)
    try:
        events = connector.receive_webhook(raw, known=lambda named: synced_records(state.runtime.services, named))
    except WebhookPayloadError as error:  # authentic, so the secret is right: the body is what is wrong
        state.metrics.rejected.labels(name, "malformed").inc()
        return error_body(400, "MalformedWebhook", str(error))
    except WebhookVerificationError as error:
        state.metrics.rejected.labels(name, "verification").inc()
        return error_body(401, "WebhookRejected", str(error))
    except ConnectorError as error:  # a look-up at the vendor failed: nothing stored, so the vendor retries
        state.metrics.deferred.labels(name, "vendor_unavailable").inc()
        return error_body(503, "VendorUnavailable", str(error))
    others = [target for target in state.runtime.connectors if target != name]
    try:
        result = ingest(
            state.runtime.services,
            events,
            targets=others,
            advertiser=state.runtime.advertiser,
            echo_window=state.runtime.echo_window,
            group=state.commit_group,  # which tells the workers once committed
        )
    except InboxUnavailable as error:  # not committed, so not acknowledged: the vendor retries
        state.metrics.deferred.labels(name, "inbox_unavailable").inc()
        return error_body(503, "InboxUnavailable", str(error))
    state.metrics.received.labels(name).inc(result.new_events)
    answer = connector.webhook_answer(events)
    return Response(answer.body, status=answer.status, content_type=answer.content_type)


def _read_body() -> bytes:
    """The whole body, or RequestEntityTooLarge. Werkzeug reads a body without Content-Length (chunked, which
    gunicorn ends itself) up to the limit and hands that part on as if it were all: reading one byte more tells a
    longer body from one that fills the limit exactly."""
    limit = request.max_content_length  # the app always sets it; without one, werkzeug reads the whole body
    if limit is None or request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return request.get_data(cache=False)  # werkzeug refuses a Content-Length over the limit before reading
    stream, body = request.environ["wsgi.input"], bytearray()
    while len(body) <= limit:
        chunk = stream.read(limit + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
    raise RequestEntityTooLarge()


def _public_url() -> str:
    """The URL the vendor called (signatures cover it); CONSENTRY_PUBLIC_URL fixes it behind a proxy."""
    base = current_app.extensions["consentry"].runtime.config.get("PUBLIC_URL")
    if base:
        query = request.query_string.decode()
        return f"{str(base).rstrip('/')}{request.path}" + (f"?{query}" if query else "")
    return request.url
