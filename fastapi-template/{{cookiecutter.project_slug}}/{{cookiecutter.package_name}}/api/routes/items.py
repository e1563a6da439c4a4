"""/api/v1/items: CRUD, search, conditional requests (ETag) and NDJSON export."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm.exc import StaleDataError

{% if cookiecutter.use_auth -%}
from {{ cookiecutter.package_name }}.api.deps import (
    AUTH_ERRORS,
    JSON_BODY_ERRORS,
    CurrentUser,
    ItemReaderDep,
    ItemServiceDep,
    JsonBody,
    SessionFactoryDep,
)
{% else -%}
from {{ cookiecutter.package_name }}.api.deps import (
    JSON_BODY_ERRORS,
    ItemReaderDep,
    ItemServiceDep,
    JsonBody,
    SessionFactoryDep,
)
{% endif -%}
from {{ cookiecutter.package_name }}.core.errors import ProblemError, problem_responses
from {{ cookiecutter.package_name }}.models.item import Item
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.models.user import User
{%- endif %}
from {{ cookiecutter.package_name }}.schemas.item import (
    ItemCreate,
    ItemList,
    ItemPatch,
    ItemRead,
    Text,
    without_null,
)
from {{ cookiecutter.package_name }}.services.items import ItemService, export_lines

router = APIRouter(prefix="/api/v1/items", tags=["items"])

# Item ids are matched by the path converter, so /api/v1/items/abc is a 404 like any
# unknown URL rather than a validation error.
ITEM_PATH = "/{item_id:int}"
STALE_DETAIL = "The item has changed: If-Match does not match the current ETag"
MAX_OFFSET = 2**63 - 1  # the largest OFFSET a database accepts
{%- if cookiecutter.use_auth %}
# What every write may answer besides its own statuses: the caller, then the database.
WRITE_ERRORS = (*AUTH_ERRORS, 503)
{%- else %}
# What every write may answer besides its own statuses.
WRITE_ERRORS = (503,)
{%- endif %}

# A change to one item (replace, patch or delete), and how often to try it (see write_item).
Write = Callable[[Item], Awaitable[object]]
WRITE_ATTEMPTS = 5

ETAG_HEADER = {
    "ETag": {
        "description": "The item's version, for If-Match and If-None-Match",
        "schema": {"type": "string"},
        "required": True,
    }
}
LOCATION_HEADER = {
    "Location": {
        "description": "The new item's URL",
        "schema": {"type": "string"},
        "required": True,
    }
}
WITH_ETAG: dict[str, Any] = {"headers": ETAG_HEADER}


class NDJSONResponse(StreamingResponse):
    """Streamed newline-delimited JSON; as a response_class, it also puts the media type
    into the OpenAPI document."""

    media_type = "application/x-ndjson"


def parse_etags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    if header is None:
        return False
    tags = parse_etags(header)
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


def if_match_fails(header: str | None, etag: str) -> bool:
    """Strong comparison: a weak tag never matches; `*` matches any existing item."""
    if header is None:
        return False
    tags = parse_etags(header)
    return "*" not in tags and etag not in tags


def not_found(item_id: int) -> ProblemError:
    return ProblemError(404, f"Item {item_id} not found")
{%- if cookiecutter.use_auth %}


async def item_for_write(
    items: ItemService, item_id: int, if_match: str | None, user: User
) -> Item:
    """The item, if `user` may change it: 404, then 403, then 412."""
    item = await items.get(item_id)
    if item is None:
        raise not_found(item_id)
    if not (user.is_admin or item.owner_id == user.id):
        raise ProblemError(403, f"Item {item_id} belongs to another user")
{%- else %}


async def item_for_write(items: ItemService, item_id: int, if_match: str | None) -> Item:
    item = await items.get(item_id)
    if item is None:
        raise not_found(item_id)
{%- endif %}
    if if_match_fails(if_match, item.etag):
        raise ProblemError(412, STALE_DETAIL)
    return item


{%- if cookiecutter.use_auth %}


async def write_item(
    items: ItemService, item_id: int, if_match: str | None, user: User, write: Write
) -> Item:
{%- else %}


async def write_item(items: ItemService, item_id: int, if_match: str | None, write: Write) -> Item:
{%- endif %}
    """Run `write` on the item, checked by `item_for_write` first; the item written.

    Another write that lands between our read and our save is caught by the version column.
    With If-Match, that is a failed precondition (412); without, the last write wins: read
    the item again and write once more.
    """
    for _ in range(WRITE_ATTEMPTS):
        item = await item_for_write(items, item_id, if_match{% if cookiecutter.use_auth %}, user{% endif %})
        try:
            await write(item)
        except StaleDataError:
            if if_match is not None:
                raise ProblemError(412, STALE_DETAIL) from None
            await items.start_over(item)
        else:
            return item
    raise ProblemError(503, f"Item {item_id} is changing too often to write it now")


IfMatch = Annotated[
    str | None,
    Header(
        description="Change the item only if its ETag is one of these (or *); else 412",
        json_schema_extra=without_null,
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        description="304 instead of the item if its ETag is one of these (or *)",
        json_schema_extra=without_null,
    ),
]


# The item read goes first: FastAPI tries the routes of each included router in the order
# they were declared, at some 25 Python calls each, so every route ahead of the busiest one
# costs it time on every request.
@router.get(
    ITEM_PATH,
    response_model=ItemRead,
    responses={
        200: WITH_ETAG,
        304: {"description": "Not modified: If-None-Match holds the current ETag", **WITH_ETAG},
        **problem_responses(404, 503),
    },
)
async def get_item(
    item_id: int, items: ItemReaderDep, if_none_match: IfNoneMatch = None
) -> Response:
    found = await items.read(item_id)
    if found is None:
        raise not_found(item_id)
    headers = {"ETag": found.etag}
    if if_none_match_hits(if_none_match, found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type="application/json", headers=headers)
{%- if cookiecutter.use_auth %}


@router.post(
    "",
    status_code=201,
    response_model=ItemRead,
    dependencies=[JsonBody],
    responses={
        201: {"headers": {**LOCATION_HEADER, **ETAG_HEADER}},
        **problem_responses(*JSON_BODY_ERRORS, *WRITE_ERRORS),
    },
)
async def create_item(
    body: ItemCreate, items: ItemServiceDep, user: CurrentUser, response: Response
) -> Item:
    item = await items.create(body, owner_id=user.id)
{%- else %}


@router.post(
    "",
    status_code=201,
    response_model=ItemRead,
    dependencies=[JsonBody],
    responses={
        201: {"headers": {**LOCATION_HEADER, **ETAG_HEADER}},
        **problem_responses(*JSON_BODY_ERRORS, *WRITE_ERRORS),
    },
)
async def create_item(body: ItemCreate, items: ItemServiceDep, response: Response) -> Item:
    item = await items.create(body)
{%- endif %}
    response.headers["Location"] = f"{router.prefix}/{item.id}"
    response.headers["ETag"] = item.etag
    return item


@router.get("", response_model=ItemList, responses=problem_responses(503))
async def list_items(
    items: ItemServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    q: Annotated[Text | None, Query(description="Case-insensitive substring of the name")] = None,
    tag: Annotated[Text | None, Query(description="Only items with this tag")] = None,
) -> dict[str, Any]:
    found, total = await items.list(limit=limit, offset=offset, q=q, tag=tag)
    return {"items": found, "total": total, "limit": limit, "offset": offset}


@router.get("/export", response_class=NDJSONResponse, responses=problem_responses(503))
async def export_items(session_factory: SessionFactoryDep) -> NDJSONResponse:
    """Every item as newline-delimited JSON, streamed in id order."""
    return NDJSONResponse(await export_lines(session_factory))


@router.put(
    ITEM_PATH,
    response_model=ItemRead,
    dependencies=[JsonBody],
    responses={200: WITH_ETAG, **problem_responses(*JSON_BODY_ERRORS, *WRITE_ERRORS, 404, 412)},
)
async def replace_item(
    item_id: int,
    body: ItemCreate,
    items: ItemServiceDep,
{%- if cookiecutter.use_auth %}
    user: CurrentUser,
{%- endif %}
    response: Response,
    if_match: IfMatch = None,
) -> Item:
    item = await write_item(items, item_id, if_match{% if cookiecutter.use_auth %}, user{% endif %}, lambda item: items.replace(item, body))
    response.headers["ETag"] = item.etag
    return item


@router.patch(
    ITEM_PATH,
    response_model=ItemRead,
    dependencies=[JsonBody],
    responses={200: WITH_ETAG, **problem_responses(*JSON_BODY_ERRORS, *WRITE_ERRORS, 404, 412)},
)
async def patch_item(
    item_id: int,
    body: ItemPatch,
    items: ItemServiceDep,
{%- if cookiecutter.use_auth %}
    user: CurrentUser,
{%- endif %}
    response: Response,
    if_match: IfMatch = None,
) -> Item:
    item = await write_item(items, item_id, if_match{% if cookiecutter.use_auth %}, user{% endif %}, lambda item: items.patch(item, body))
    response.headers["ETag"] = item.etag
    return item
{%- if cookiecutter.use_auth %}


@router.delete(ITEM_PATH, status_code=204, responses=problem_responses(*WRITE_ERRORS, 404, 412))
async def delete_item(
    item_id: int, items: ItemServiceDep, user: CurrentUser, if_match: IfMatch = None
) -> Response:
    await write_item(items, item_id, if_match, user, items.delete)
{%- else %}


@router.delete(ITEM_PATH, status_code=204, responses=problem_responses(*WRITE_ERRORS, 404, 412))
async def delete_item(item_id: int, items: ItemServiceDep, if_match: IfMatch = None) -> Response:
    await write_item(items, item_id, if_match, items.delete)
{%- endif %}
    return Response(status_code=204)
