"""The sandbox's tags, which are Mailchimp's static segments ("Static segments are now known as tags").

One registry per audience (`segments`: id -> {id, name, type, created_at, updated_at}); a member carries a tag when
its `tags` list holds `{id, name}` with the registry's id. Every way of tagging goes through here, so the member's
`tags` and the segment endpoints always agree:
- `GET /lists/{list_id}/segments` (`type`, `count` up to 1000, `offset`) and `GET .../segments/{segment_id}`;
- `POST /lists/{list_id}/segments` with `name` and `static_segment` creates a tag (saved segments with `options`
  are not emulated: 400);
- `POST /lists/{list_id}/segments/{segment_id}` with `members_to_add` / `members_to_remove`, at most 500 addresses
  each (400 beyond); addresses not on the audience are reported in `errors` and otherwise ignored; an unknown
  segment is a 404;
- `DELETE /lists/{list_id}/segments/{segment_id}` deletes the tag from every member;
- `GET|POST /lists/{list_id}/segments/{segment_id}/members` and `DELETE .../members/{subscriber_hash}` list, tag
  and untag members one at a time;
- `GET /lists/{list_id}/tag-search?name=` lists the tags whose name starts with `name`.
Ids are assigned in sequence, so a tag deleted and created again gets a new id, as in Mailchimp.
"""

from flask import Flask, Response, jsonify, request

from .common import invalid, not_found, now_text, page_arguments, problem, subscriber_hash, valid_email

MAX_SEGMENT_BATCH = 500
SEGMENT_TYPES = ("saved", "static", "fuzzy")


def ensure_segments(item: dict) -> dict:
    """The audience's tag registry, built from its members' tags for a state saved before the registry existed."""
    if "segments" not in item:
        registry: dict[str, dict] = {}
        for member in item["members"].values():
            for tag in member.get("tags", []):
                registry.setdefault(
                    str(tag["id"]),
                    {"id": tag["id"], "name": tag["name"], "created_at": now_text(), "updated_at": now_text()},
                )
        item["segments"] = registry
        item["next_segment_id"] = max((int(key) for key in registry), default=0) + 1
    return item["segments"]


def register_tag(item: dict, name: str) -> dict:
    """The tag of that name, created when it does not exist yet."""
    registry = ensure_segments(item)
    for segment in registry.values():
        if segment["name"] == name:
            return segment
    segment_id = item.get("next_segment_id", 1)
    item["next_segment_id"] = segment_id + 1
    stamp = now_text()
    segment = registry[str(segment_id)] = {"id": segment_id, "name": name, "created_at": stamp, "updated_at": stamp}
    return segment


def add_tag(item: dict, member: dict, name: str) -> bool:
    """Tag the member (True when it was not tagged yet)."""
    segment = register_tag(item, name)
    if any(tag["id"] == segment["id"] for tag in member["tags"]):
        return False
    member["tags"].append({"id": segment["id"], "name": segment["name"]})
    member["last_changed"] = segment["updated_at"] = now_text()
    return True


def remove_tag(item: dict, member: dict, segment_id: int) -> bool:
    """Untag the member (True when it was tagged)."""
    kept = [tag for tag in member["tags"] if tag["id"] != segment_id]
    if len(kept) == len(member["tags"]):
        return False
    member["tags"] = kept
    member["last_changed"] = now_text()
    segment = ensure_segments(item).get(str(segment_id))
    if segment is not None:
        segment["updated_at"] = member["last_changed"]
    return True


def segment_view(list_id: str, item: dict, segment: dict) -> dict:
    count = sum(
        1
        for member in item["members"].values()
        if member["status"] == "subscribed" and any(tag["id"] == segment["id"] for tag in member["tags"])
    )
    return {
        "id": segment["id"],
        "name": segment["name"],
        "member_count": count,  # "active subscribers currently included in the segment"
        "type": "static",
        "created_at": segment["created_at"],
        "updated_at": segment["updated_at"],
        "list_id": list_id,
        "_links": [{"rel": "self", "href": f"/3.0/lists/{list_id}/segments/{segment['id']}", "method": "GET"}],
    }


def install_tag_routes(app: Flask, sandbox) -> None:
    def the_segment(item: dict, segment_id: str) -> dict | None:
        return ensure_segments(item).get(segment_id) if segment_id.isdigit() else None

    @app.route("/3.0/lists/<list_id>/segments", methods=["GET", "POST"])
    def segments(list_id):
        item = sandbox.lists.get(list_id)
        if item is None:
            return not_found()
        if request.method == "POST":
            return _create(list_id, item)
        paging = page_arguments(request.args)
        if isinstance(paging, Response):
            return paging
        count, offset = paging
        kind = request.args.get("type")
        if kind is not None and kind not in SEGMENT_TYPES:
            return invalid(f"type must be one of {', '.join(SEGMENT_TYPES)}.")
        with sandbox.state.lock:
            found = [] if kind in ("saved", "fuzzy") else sorted(ensure_segments(item).values(), key=lambda s: s["id"])
            views = [segment_view(list_id, item, segment) for segment in found[offset : offset + count]]
        return jsonify({"segments": views, "list_id": list_id, "total_items": len(found), "_links": []})

    def _create(list_id: str, item: dict) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            return invalid(errors=[{"field": "name", "message": "This value should not be blank."}])
        if "options" in body:
            return invalid("The sandbox emulates static segments (tags) only, not saved segments.")
        emails = body.get("static_segment", [])
        if not _addresses(emails):
            return invalid(errors=[{"field": "static_segment", "message": "This value should be a list of emails."}])
        with sandbox.state.lock:
            if any(segment["name"] == body["name"] for segment in ensure_segments(item).values()):
                return invalid("A tag with this name already exists.")
            segment = register_tag(item, body["name"])
            for email in emails:
                member = _on_list(item, email)
                if member is not None:
                    add_tag(item, member, segment["name"])
            sandbox.state.save()
            return jsonify(segment_view(list_id, item, segment))

    @app.route("/3.0/lists/<list_id>/segments/<segment_id>", methods=["GET", "POST", "DELETE"])
    def segment(list_id, segment_id):
        item = sandbox.lists.get(list_id)
        if item is None:
            return not_found()
        with sandbox.state.lock:
            found = the_segment(item, segment_id)
            if found is None:
                return not_found()
            if request.method == "GET":
                return jsonify(segment_view(list_id, item, found))
            if request.method == "DELETE":
                for member in item["members"].values():
                    remove_tag(item, member, found["id"])
                del item["segments"][segment_id]
                sandbox.state.save()
                return Response(status=204)
            return _add_or_remove(list_id, item, found)

    def _add_or_remove(list_id: str, item: dict, segment: dict) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return problem(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.")
        adding, removing = body.get("members_to_add", []), body.get("members_to_remove", [])
        for field, emails in (("members_to_add", adding), ("members_to_remove", removing)):
            if not _addresses(emails):
                return invalid(errors=[{"field": field, "message": "This value should be a list of emails."}])
            if len(emails) > MAX_SEGMENT_BATCH:
                return invalid(
                    f"A maximum of {MAX_SEGMENT_BATCH} members can be sent in {field}.",
                    errors=[
                        {
                            "field": field,
                            "message": f"This collection should contain {MAX_SEGMENT_BATCH} elements or less.",
                        }
                    ],
                )
        added: list[dict] = []
        removed: list[dict] = []
        errors = []
        for emails, change, done in ((adding, _add, added), (removing, _remove, removed)):
            absent = []
            for email in emails:
                member = _on_list(item, email)
                if member is None:
                    absent.append(email)
                    continue
                change(item, member, segment)
                done.append(sandbox.member_view(list_id, member))
            if absent:
                errors.append({"email_addresses": absent, "error": "Email addresses are not members of this list."})
        sandbox.state.save()
        return jsonify(
            {
                "members_added": added,
                "members_removed": removed,
                "errors": errors,
                "total_added": len(added),
                "total_removed": len(removed),
                "error_count": sum(len(entry["email_addresses"]) for entry in errors),
                "_links": [],
            }
        )

    @app.route("/3.0/lists/<list_id>/segments/<segment_id>/members", methods=["GET", "POST"])
    def segment_members(list_id, segment_id):
        item = sandbox.lists.get(list_id)
        found = the_segment(item, segment_id) if item else None
        if found is None:
            return not_found()
        with sandbox.state.lock:
            if request.method == "POST":
                body = request.get_json(silent=True) or {}
                member = _on_list(item, body.get("email_address"))
                if member is None:
                    return invalid("The email address is not a member of this list.")
                add_tag(item, member, found["name"])
                sandbox.state.save()
                return jsonify(sandbox.member_view(list_id, member))
            paging = page_arguments(request.args)
            if isinstance(paging, Response):
                return paging
            count, offset = paging
            tagged = [
                member
                for member in item["members"].values()
                if member["status"] != "archived" and any(tag["id"] == found["id"] for tag in member["tags"])
            ]
            views = [sandbox.member_view(list_id, member) for member in tagged[offset : offset + count]]
        return jsonify({"members": views, "total_items": len(tagged), "_links": []})

    @app.delete("/3.0/lists/<list_id>/segments/<segment_id>/members/<reference>")
    def segment_member(list_id, segment_id, reference):
        item = sandbox.lists.get(list_id)
        found = the_segment(item, segment_id) if item else None
        with sandbox.state.lock:
            member = (item["members"].get(reference) or _on_list(item, reference)) if found else None
            if member is None or not remove_tag(item, member, found["id"]):
                return not_found()
            sandbox.state.save()
        return Response(status=204)

    @app.get("/3.0/lists/<list_id>/tag-search")
    def tag_search(list_id):
        item = sandbox.lists.get(list_id)
        if item is None:
            return not_found()
        prefix = request.args.get("name", "").casefold()
        with sandbox.state.lock:
            tags = [
                {"id": segment["id"], "name": segment["name"]}
                for segment in sorted(ensure_segments(item).values(), key=lambda s: s["id"])
                if segment["name"].casefold().startswith(prefix)
            ]
        return jsonify({"tags": tags, "total_items": len(tags)})


def _add(item: dict, member: dict, segment: dict) -> None:
    add_tag(item, member, segment["name"])


def _remove(item: dict, member: dict, segment: dict) -> None:
    remove_tag(item, member, segment["id"])


def _addresses(emails) -> bool:
    return isinstance(emails, list) and all(isinstance(email, str) for email in emails)


def _on_list(item: dict, email: str) -> dict | None:
    member = item["members"].get(subscriber_hash(email)) if valid_email(email) else None
    return member if member is not None and member["status"] != "archived" else None
