"""/api/v1/items: CRUD, search, conditional requests (ETag) and NDJSON export."""

from collections.abc import Callable
from typing import Any, NoReturn

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView

{% if cookiecutter.use_auth -%}
from ...core.auth import current_user, login_required
{% endif -%}
from ...models import Item
from ...schemas.item import ItemPageSchema, ItemPatchSchema, ItemQuerySchema, ItemSchema
from ...services import items as service
from . import Blueprint
from . import smorest_abort as abort
from .docs import {% if cookiecutter.use_auth %}BEARER, {% endif %}JSON_BODY, problems

blp = Blueprint(
    "items", __name__, url_prefix="/api/v1/items", description="Items: CRUD, search, export"
)

STALE_ETAG = "The item has changed: If-Match does not match the current ETag"

ETAG = {
    "ETag": {
        "description": "The item's version, for If-Match and If-None-Match",
        "schema": {"type": "string"},
        "required": True,
    }
}
LOCATION = {
    "Location": {
        "description": "The new item's URL",
        "schema": {"type": "string"},
        "required": True,
    }
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "description": "Change the item only if its ETag is one of these (or *); else 412",
    "schema": {"type": "string"},
}
EXPORT = {
    "description": "One JSON item per line, in id order",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "description": "304 instead of the item if its ETag is one of these (or *)",
    "schema": {"type": "string"},
}
{%- if cookiecutter.use_auth %}
# Every write needs a token (401); changing or deleting an item, its owner's or an admin's (403).
CREATE_ERRORS = (*JSON_BODY, 401, 503)
CHANGE_ERRORS = (401, 403, 404, 412, 503)
{%- else %}
CREATE_ERRORS = (*JSON_BODY, 503)
CHANGE_ERRORS = (404, 412, 503)
{%- endif %}


# How often a write without If-Match is tried against concurrent writes (see write_item).
WRITE_ATTEMPTS = 5


def not_found(item_id: int) -> NoReturn:
    abort(404, message=f"Item {item_id} not found")


def item_for_write(item_id: int) -> Item:
    """The item a PUT, PATCH or DELETE targets, if it exists and If-Match allows."""
    item = service.get_item(item_id)
    if item is None:
        not_found(item_id)
{%- if cookiecutter.use_auth %}
    # After the 401 (login_required) and the 404, before the 412.
    if not service.may_change(item, current_user()):
        abort(403, message=f"Only its owner or an admin may change item {item_id}")
{%- endif %}
    if "If-Match" in request.headers and not request.if_match.contains(item.etag.strip('"')):
        abort(412, message=STALE_ETAG)
    return item


def write_item(item_id: int, write: Callable[[Item], object]) -> Item:
    """Run `write` on the item `item_for_write` finds; the item written.

    Another write that lands between our read and our save is caught by the version column.
    With If-Match, that is a failed precondition (412); without, the last write wins: read
    the item again and write once more.
    """
    for _ in range(WRITE_ATTEMPTS):
        item = item_for_write(item_id)
        try:
            write(item)
        except service.StaleItemError:
            if "If-Match" in request.headers:
                abort(412, message=STALE_ETAG)
            service.start_over(item)
        else:
            return item
    abort(503, message=f"Item {item_id} is changing too often to write it now")


def saved(item_id: int, changes: dict[str, Any]) -> tuple[Item, dict[str, str]]:
    item = write_item(item_id, lambda item: service.update_item(item, changes))
    return item, {"ETag": item.etag}


@blp.route("")
class Items(MethodView):
    @blp.arguments(ItemQuerySchema, location="query")
    @blp.response(200, ItemPageSchema)
    @blp.doc(responses=problems(503))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List items in id order; `q` matches names, `tag` has that tag."""
        items, total = service.list_items(**args)
        return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}
{% if cookiecutter.use_auth %}
    @blp.doc(security=BEARER)
    @login_required
{%- endif %}
    @blp.arguments(ItemSchema)
    @blp.response(201, ItemSchema, headers={**LOCATION, **ETAG})
    @blp.doc(responses=problems(*CREATE_ERRORS))
    def post(self, data: dict[str, Any]) -> tuple[Item, dict[str, str]]:
        """Create an item{% if cookiecutter.use_auth %}, owned by the signed-in user{% endif %}."""
{%- if cookiecutter.use_auth %}
        item = service.create_item(data, owner_id=current_user().id)
{%- else %}
        item = service.create_item(data)
{%- endif %}
        location = url_for("items.ItemById", item_id=item.id)
        return item, {"Location": location, "ETag": item.etag}


@blp.route("/<int:item_id>")
class ItemById(MethodView):
    @blp.response(200, ItemSchema, headers=ETAG)
    @blp.alt_response(304, description="If-None-Match has the item's ETag", headers=ETAG)
    @blp.doc(parameters=[IF_NONE_MATCH], responses=problems(404, 503))
    def get(self, item_id: int) -> Response:
        """Get an item, with its ETag; If-None-Match with that ETag gives 304."""
        found = service.read_item(item_id)
        if found is None:
            not_found(item_id)
        body, etag = found
        if "If-None-Match" in request.headers and request.if_none_match.contains_weak(
            etag.strip('"')
        ):
            return Response(status=304, headers={"ETag": etag})
        # A ready response: the body is JSON already, perhaps straight from the cache.
        return Response(body, mimetype="application/json", headers={"ETag": etag})
{% if cookiecutter.use_auth %}
    @blp.doc(security=BEARER)
    @login_required
{%- endif %}
    @blp.arguments(ItemSchema)
    @blp.response(200, ItemSchema, headers=ETAG)
    @blp.doc(parameters=[IF_MATCH], responses=problems(*JSON_BODY, *CHANGE_ERRORS))
    def put(self, data: dict[str, Any], item_id: int) -> tuple[Item, dict[str, str]]:
        """Replace an item (If-Match is honoured)."""
        return saved(item_id, data)
{% if cookiecutter.use_auth %}
    @blp.doc(security=BEARER)
    @login_required
{%- endif %}
    @blp.arguments(ItemPatchSchema)
    @blp.response(200, ItemSchema, headers=ETAG)
    @blp.doc(parameters=[IF_MATCH], responses=problems(*JSON_BODY, *CHANGE_ERRORS))
    def patch(self, changes: dict[str, Any], item_id: int) -> tuple[Item, dict[str, str]]:
        """Change the given fields of an item (If-Match is honoured)."""
        return saved(item_id, changes)
{% if cookiecutter.use_auth %}
    @blp.doc(security=BEARER)
    @login_required
{%- endif %}
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH], responses=problems(*CHANGE_ERRORS))
    def delete(self, item_id: int) -> None:
        """Delete an item (If-Match is honoured)."""
        write_item(item_id, service.delete_item)


@blp.route("/export")
class ItemExport(MethodView):
    @blp.doc(responses={200: EXPORT, **problems(503)})
    def get(self) -> Response:
        """Stream every item as NDJSON."""
        lines = stream_with_context(service.export_lines())
        return Response(lines, mimetype="application/x-ndjson")
