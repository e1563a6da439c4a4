"""/api/v1/items: CRUD, search, conditional requests (ETag) and NDJSON export."""

from typing import Any, NoReturn

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView

from ...models import Item
from ...schemas.item import ItemPageSchema, ItemPatchSchema, ItemQuerySchema, ItemSchema
from ...services import items as service
from . import Blueprint
from . import smorest_abort as abort

blp = Blueprint(
    "items", __name__, url_prefix="/api/v1/items", description="Items: CRUD, search, export"
)

STALE_ETAG = "The item has changed: If-Match does not match the current ETag"


def not_found(item_id: int) -> NoReturn:
    abort(404, message=f"Item {item_id} not found")


def item_for_write(item_id: int) -> Item:
    """The item a PUT, PATCH or DELETE targets, if it exists and If-Match allows."""
    item = service.get_item(item_id)
    if item is None:
        not_found(item_id)
    if "If-Match" in request.headers and not request.if_match.contains(item.etag.strip('"')):
        abort(412, message=STALE_ETAG)
    return item


def saved(item: Item, changes: dict[str, Any]) -> tuple[Item, dict[str, str]]:
    try:
        service.update_item(item, changes)
    except service.StaleItemError:
        abort(412, message=STALE_ETAG)
    return item, {"ETag": item.etag}


@blp.route("")
class Items(MethodView):
    @blp.arguments(ItemQuerySchema, location="query")
    @blp.response(200, ItemPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List items in id order; `q` matches names, `tag` has that tag."""
        items, total = service.list_items(**args)
        return {"items": items, "total": total, "limit": args["limit"], "offset": args["offset"]}

    @blp.arguments(ItemSchema)
    @blp.response(201, ItemSchema)
    def post(self, data: dict[str, Any]) -> tuple[Item, dict[str, str]]:
        """Create an item."""
        item = service.create_item(data)
        location = url_for("items.ItemById", item_id=item.id)
        return item, {"Location": location, "ETag": item.etag}


@blp.route("/<int:item_id>")
class ItemById(MethodView):
    @blp.response(200, ItemSchema)
    @blp.alt_response(304, description="Not Modified: If-None-Match has the current ETag")
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

    @blp.arguments(ItemSchema)
    @blp.response(200, ItemSchema)
    def put(self, data: dict[str, Any], item_id: int) -> tuple[Item, dict[str, str]]:
        """Replace an item (If-Match is honoured)."""
        return saved(item_for_write(item_id), data)

    @blp.arguments(ItemPatchSchema(partial=True))
    @blp.response(200, ItemSchema)
    def patch(self, changes: dict[str, Any], item_id: int) -> tuple[Item, dict[str, str]]:
        """Change the given fields of an item (If-Match is honoured)."""
        return saved(item_for_write(item_id), changes)

    @blp.response(204)
    def delete(self, item_id: int) -> None:
        """Delete an item (If-Match is honoured)."""
        try:
            service.delete_item(item_for_write(item_id))
        except service.StaleItemError:
            abort(412, message=STALE_ETAG)


@blp.route("/export")
class ItemExport(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "One JSON item per line, in id order",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self) -> Response:
        """Stream every item as NDJSON."""
        lines = stream_with_context(service.export_lines())
        return Response(lines, mimetype="application/x-ndjson")
