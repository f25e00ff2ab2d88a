"""The webhooks management API of the sandbox's one app (`/webhooks/v3/{appId}/...`, spec `webhooks-v3.json`):
its settings (target URL and throttling) and its event subscriptions, and how an event fans out to them.

Subscription ids are strings in answers and integers in deliveries, as in HubSpot's. A property-change subscription
names its property. Targets must be loopback URLs: the sandbox never sends anything elsewhere.
"""

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from consentry.connectors.sandbox_kit import is_loopback_url

from .errors import HubSpotError, item_error, json_body
from .portal import iso

MAX_SUBSCRIPTIONS = 1000
EVENT_TYPES = frozenset(
    f"{kind}.{action}"
    for kind in ("contact", "company", "deal", "ticket", "product", "line_item", "object")
    for action in ("creation", "deletion", "merge", "propertyChange", "restore", "associationChange")
) | {
    "contact.privacyDeletion",
    "conversation.creation",
    "conversation.deletion",
    "conversation.newMessage",
    "conversation.privacyDeletion",
    "conversation.propertyChange",
    "event.completed",
}

blueprint = Blueprint("hubspot_webhooks", __name__, url_prefix="/webhooks/v3/<int:app_id>")


def fan_out(data: dict, app_id: int, portal_id: int, event: dict) -> list[tuple[str, dict]]:
    """The deliveries one event causes: one per active subscription it matches, while a target URL is set."""
    hooks = data["webhooks"]
    settings = hooks["settings"]
    if not settings:
        return []
    found = []
    for subscription in hooks["subscriptions"].values():
        if not subscription["active"] or subscription["eventType"] != event["subscriptionType"]:
            continue
        if subscription["eventType"].endswith(".propertyChange") and subscription.get("propertyName") != event.get(
            "propertyName"
        ):
            continue
        event_id = data["next_event_id"]
        data["next_event_id"] += 1
        full = {
            "eventId": event_id,
            "subscriptionId": int(subscription["id"]),
            "portalId": portal_id,
            "appId": app_id,
            "occurredAt": event["occurredAt"],
            "subscriptionType": event["subscriptionType"],
            "attemptNumber": 0,
            **{k: v for k, v in event.items() if k not in ("occurredAt", "subscriptionType")},
        }
        found.append((settings["targetUrl"], full))
    return found


def _hooks(app_id: int) -> tuple[Any, dict]:
    sandbox = current_app.extensions["hubspot_sandbox"]
    if app_id != sandbox.app_id:
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"App {app_id} was not found.")
    return sandbox, sandbox.state.data["webhooks"]


def _subscription_view(record: dict) -> dict:
    body = {
        "id": record["id"],
        "eventType": record["eventType"],
        "active": record["active"],
        "createdAt": iso(record["createdAt"]),
        "updatedAt": iso(record["updatedAt"]),
    }
    if record.get("propertyName"):
        body["propertyName"] = record["propertyName"]
    return body


@blueprint.route("/settings", methods=["GET", "PUT", "DELETE"])
def settings(app_id: int):
    sandbox, hooks = _hooks(app_id)
    with sandbox.state.lock:
        if request.method == "PUT":
            body = json_body()
            target, throttling = body.get("targetUrl"), body.get("throttling")
            if not isinstance(target, str) or not target or not isinstance(throttling, dict):
                raise HubSpotError(400, "VALIDATION_ERROR", "targetUrl and throttling are required")
            if not isinstance(throttling.get("maxConcurrentRequests"), int) or throttling["maxConcurrentRequests"] < 1:
                raise HubSpotError(
                    400, "VALIDATION_ERROR", "throttling.maxConcurrentRequests must be a positive integer"
                )
            if not is_loopback_url(target):
                raise HubSpotError(400, "VALIDATION_ERROR", "the sandbox delivers to loopback target URLs only")
            stamp = sandbox.portal.now()
            previous = hooks["settings"] or {"createdAt": stamp}
            hooks["settings"] = {
                "targetUrl": target,
                "throttling": {"maxConcurrentRequests": throttling["maxConcurrentRequests"], "period": "SECONDLY"},
                "createdAt": previous["createdAt"],
                "updatedAt": stamp,
            }
            sandbox.state.save()
        elif request.method == "DELETE":
            hooks["settings"] = None  # subscriptions stay, paused until a target is set again
            sandbox.state.save()
            return Response(status=204)
        found = hooks["settings"]
        if not found:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"No webhook settings found for app {app_id}")
        return jsonify({**found, "createdAt": iso(found["createdAt"]), "updatedAt": iso(found["updatedAt"])})


@blueprint.route("/subscriptions", methods=["GET", "POST"])
def subscriptions(app_id: int):
    sandbox, hooks = _hooks(app_id)
    with sandbox.state.lock:
        if request.method == "GET":
            return jsonify({"results": [_subscription_view(r) for r in hooks["subscriptions"].values()]})
        body = json_body()
        event_type, property_name = body.get("eventType"), body.get("propertyName")
        if event_type not in EVENT_TYPES:
            raise HubSpotError(400, "VALIDATION_ERROR", f"Unsupported eventType: {event_type}")
        if event_type.endswith(".propertyChange") and not property_name:
            raise HubSpotError(400, "VALIDATION_ERROR", "propertyName is required for propertyChange subscriptions")
        if len(hooks["subscriptions"]) >= MAX_SUBSCRIPTIONS:
            raise HubSpotError(
                400,
                None,
                "Couldn't create another subscription. You've reached the maximum number allowed per application "
                f"({MAX_SUBSCRIPTIONS}).",
            )
        stamp = sandbox.portal.now()
        record = {
            "id": str(hooks["next_subscription_id"]),
            "eventType": event_type,
            "propertyName": property_name if event_type.endswith(".propertyChange") else None,
            "active": bool(body.get("active", False)),
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        hooks["next_subscription_id"] += 1
        hooks["subscriptions"][record["id"]] = record
        sandbox.state.save()
        return jsonify(_subscription_view(record)), 201


@blueprint.post("/subscriptions/batch/update")
def batch_update(app_id: int):
    sandbox, hooks = _hooks(app_id)
    inputs = json_body().get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotError(400, "VALIDATION_ERROR", "inputs is required")
    results, errors = [], []
    with sandbox.state.lock:
        stamp = sandbox.portal.now()
        for entry in inputs:
            record = hooks["subscriptions"].get(str(entry.get("id")))
            if record is None or not isinstance(entry.get("active"), bool):
                message = f"Failed to find subscriptions by id `{entry.get('id')}`."
                errors.append(
                    item_error("SUBSCRIPTION_ID_NOT_FOUND", message, {"subscriptionIds": [str(entry.get("id"))]})
                )
                continue
            record["active"], record["updatedAt"] = entry["active"], stamp
            results.append(_subscription_view(record))
        sandbox.state.save()
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(stamp),
        "completedAt": iso(stamp),
    }
    if errors:
        body.update(errors=errors, numErrors=len(errors))
    return jsonify(body), 207 if errors else 200


@blueprint.route("/subscriptions/<subscription_id>", methods=["GET", "PATCH", "DELETE"])
def subscription(app_id: int, subscription_id: str):
    sandbox, hooks = _hooks(app_id)
    with sandbox.state.lock:
        record = hooks["subscriptions"].get(subscription_id)
        if record is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Subscription {subscription_id} was not found.")
        if request.method == "DELETE":
            del hooks["subscriptions"][subscription_id]
            sandbox.state.save()
            return Response(status=204)
        if request.method == "PATCH":
            body = json_body()
            if "active" in body:
                if not isinstance(body["active"], bool):
                    raise HubSpotError(400, "VALIDATION_ERROR", "active must be a boolean")
                record["active"], record["updatedAt"] = body["active"], sandbox.portal.now()
                sandbox.state.save()
        return jsonify(_subscription_view(record))
