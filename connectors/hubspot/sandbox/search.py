"""CRM search (`POST /crm/v3/objects/contacts/search`): filter groups (OR of ANDs) with HubSpot's operators,
a free-text `query`, sorts, `limit` up to 200 and an offset cursor that stops at 10,000 results.

Values compare by property type: datetimes as epoch milliseconds (a filter may give milliseconds or ISO 8601),
numbers as numbers, everything else case-insensitively. The search limit per second is enforced by the guard.
"""

import re
from typing import Any

from flask import Blueprint, current_app, jsonify

from .errors import HubSpotError, json_body
from .portal import HubSpotPortal, to_ms

SEARCH_LIMIT = 200
MAX_GROUPS = 6
MAX_RESULTS = 10_000
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
QUERY_PROPERTIES = ("email", "firstname", "lastname", "phone", "mobilephone", "company")

blueprint = Blueprint("hubspot_search", __name__)


def _typed(kind: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if kind in ("datetime", "date"):
        return to_ms(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return None
    return str(value).casefold()


def _holds(portal: HubSpotPortal, contact: dict, rule: dict) -> bool:
    name, operator = rule["propertyName"], rule["operator"]
    kind = portal.properties[name]["type"]
    actual = _typed(kind, portal.value(contact, name))
    if operator == "HAS_PROPERTY":
        return actual is not None
    if operator == "NOT_HAS_PROPERTY":
        return actual is None
    if operator in ("IN", "NOT_IN"):
        inside = actual in {_typed(kind, v) for v in rule.get("values") or []}
        return inside if operator == "IN" else not inside
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = re.escape(str(rule.get("value", "")).casefold()).replace(r"\*", ".*")
        tokens = [*re.split(r"[\s@.,;]+", str(actual or "")), str(actual or "")]
        found = any(re.fullmatch(pattern, token) for token in tokens)
        return found if operator == "CONTAINS_TOKEN" else not found
    wanted = _typed(kind, rule.get("value"))
    if operator == "NEQ":
        return actual != wanted
    if actual is None or wanted is None:
        return False
    if operator == "BETWEEN":
        high = _typed(kind, rule.get("highValue"))
        return high is not None and wanted <= actual <= high
    return {
        "EQ": actual == wanted,
        "GT": actual > wanted,
        "GTE": actual >= wanted,
        "LT": actual < wanted,
        "LTE": actual <= wanted,
    }[operator]


def _check(portal: HubSpotPortal, groups: Any) -> list[dict]:
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise HubSpotError(400, "VALIDATION_ERROR", f"filterGroups must be a list of at most {MAX_GROUPS} groups")
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise HubSpotError(400, "VALIDATION_ERROR", "Each filter group needs a list of filters")
        for rule in filters:
            if not isinstance(rule, dict) or rule.get("operator") not in OPERATORS:
                raise HubSpotError(400, "VALIDATION_ERROR", f"Unknown filter operator in {rule!r}")
            if rule.get("propertyName") not in portal.properties:
                raise HubSpotError(
                    400,
                    "VALIDATION_ERROR",
                    "There was a problem with the request.",
                    context={"propertyName": [str(rule.get("propertyName"))]},
                )
    return groups


def _matches_query(portal: HubSpotPortal, contact: dict, query: str) -> bool:
    wanted = query.casefold().strip()
    for name in QUERY_PROPERTIES:
        text = str(portal.value(contact, name) or "").casefold()
        if wanted in text or any(token.startswith(wanted) for token in re.split(r"[\s@.]+", text)):
            return True
    return False


def _sorts(raw: Any) -> list[tuple[str, bool]]:
    """Sorts as objects (`{propertyName, direction}`) or strings (`"name"`, `"-name"` for descending)."""
    sorts = []
    for sort in raw or []:
        if isinstance(sort, str):
            sorts.append((sort.lstrip("-"), sort.startswith("-")))
        elif isinstance(sort, dict) and sort.get("propertyName"):
            sorts.append((sort["propertyName"], str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"))
        else:
            raise HubSpotError(400, "VALIDATION_ERROR", f"Invalid sort: {sort!r}")
    return sorts or [("hs_object_id", False)]


@blueprint.post("/crm/v3/objects/contacts/search")
def search():
    sandbox = current_app.extensions["hubspot_sandbox"]
    body = json_body()
    try:
        limit, after = int(body.get("limit") or 10), int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise HubSpotError(400, "VALIDATION_ERROR", "limit and after must be integers") from None
    if not 1 <= limit <= SEARCH_LIMIT:
        raise HubSpotError(400, "VALIDATION_ERROR", f"limit must be between 1 and {SEARCH_LIMIT}")
    if after < 0 or after + limit > MAX_RESULTS:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Search can page through at most {MAX_RESULTS} results.")
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > 3000):
        raise HubSpotError(400, "VALIDATION_ERROR", "query must be a string of at most 3000 characters")
    with sandbox.state.lock:
        portal = sandbox.portal
        groups = _check(portal, body.get("filterGroups") or [])
        rows = [
            c
            for c in portal.live()
            if (not groups or any(all(_holds(portal, c, r) for r in g["filters"]) for g in groups))
            and (not query or _matches_query(portal, c, query))
        ]
        for name, descending in reversed(_sorts(body.get("sorts"))):
            kind = portal.properties.get(name, {}).get("type", "string")
            rows.sort(key=lambda c, n=name, k=kind: _sort_key(k, portal.value(c, n)), reverse=descending)
        page = rows[after : after + limit]
        answer: dict = {
            "total": len(rows),
            "results": [portal.view(c, body.get("properties") or None) for c in page],
        }
    if after + limit < len(rows) and after + limit < MAX_RESULTS:
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return jsonify(answer)


def _sort_key(kind: str, value: Any) -> tuple:
    typed = _typed(kind, value)
    if typed is None:
        return (1, 0, "")
    return (0, typed, "") if isinstance(typed, int | float) else (0, 0, typed)
