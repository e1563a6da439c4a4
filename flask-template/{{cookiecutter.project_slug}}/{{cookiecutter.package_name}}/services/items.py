"""Item queries and writes, shared by the routes{% if cookiecutter.use_websockets %}, the realtime events{% endif %}{% if cookiecutter.use_celery %} and the cache{% endif %}.
{%- if cookiecutter.use_celery or cookiecutter.use_websockets %}

A write commits, then {% if cookiecutter.use_celery %}drops the cached copy{% endif %}{% if cookiecutter.use_celery and cookiecutter.use_websockets %} and {% endif %}{% if cookiecutter.use_websockets %}tells the "items" room{% endif %}.
"""
{%- else %}"""
{%- endif %}

from collections.abc import Callable, Iterator
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, func, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

{% if cookiecutter.use_celery -%}
from ..core.cache import item_cache
{% endif -%}
from ..core.db import db, utcnow
{% if cookiecutter.use_websockets -%}
from ..core.realtime import current_hub
{% endif -%}
{% if cookiecutter.use_auth -%}
from ..models import Item, User
{% else -%}
from ..models import Item
{% endif -%}
from ..schemas.item import ItemSchema

# Ids beyond the column's range cannot exist; asking the database would be an error.
MAX_ITEM_ID = 2**31 - 1
EXPORT_BATCH_SIZE = 500

item_schema = ItemSchema()


class StaleItemError(Exception):
    """Another request changed the item between our read and our write."""


def serialize_item(item: Item) -> dict[str, Any]:
    data: dict[str, Any] = item_schema.dump(item)
    return data


def get_item(item_id: int) -> Item | None:
    if item_id > MAX_ITEM_ID:
        return None
    return db.session.get(Item, item_id)


def item_json(item: Item) -> bytes:
    return current_app.json.dumps(serialize_item(item)).encode()
{%- if cookiecutter.use_celery %}


def read_item(item_id: int) -> tuple[bytes, str] | None:
    """The item's JSON body and ETag, from the cache when possible (cache-aside).

    The cache holds both in one value, the ETag on the first line and the body after it,
    so a hit goes out as it is, without being parsed and serialised again.
    """
    cached = item_cache.get(item_id)
    if cached is not None:
        etag, _, body = cached.partition(b"\n")
        return body, etag.decode()
    item = get_item(item_id)
    if item is None:
        return None
    body = item_json(item)
    item_cache.set(item_id, item.etag.encode() + b"\n" + body)
    return body, item.etag
{%- else %}


def read_item(item_id: int) -> tuple[bytes, str] | None:
    """The item's JSON body and ETag."""
    item = get_item(item_id)
    if item is None:
        return None
    return item_json(item), item.etag
{%- endif %}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_tag(tag: str) -> ColumnElement[bool]:
    if db.engine.dialect.name == "postgresql":
        return type_coerce(Item.tags, JSONB).contains([tag])
    tags = func.json_each(Item.tags).table_valued("value")
    return select(tags.c.value).where(tags.c.value == tag).exists()


def list_items(
    limit: int, offset: int, q: str | None = None, tag: str | None = None
) -> tuple[list[Item], int]:
    """One page of items in id order, and how many match in all."""
    filters: list[ColumnElement[bool]] = []
    if q:
        filters.append(Item.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
    if tag is not None:
        filters.append(_has_tag(tag))
    total = db.session.scalar(select(func.count()).select_from(Item).where(*filters))
    page = db.session.scalars(
        select(Item).where(*filters).order_by(Item.id).limit(limit).offset(offset)
    )
    return list(page), total or 0


def export_lines() -> Iterator[str]:
    """Every item as one JSON line, read in id order a batch at a time.

    Keyset pagination keeps memory flat however large the table is, and holds no
    transaction open between batches while the client reads. The first batch is read now,
    in the view: a database that cannot be reached is then answered with the 503 problem,
    not with a 500 from the server once the response has begun.
    """
    return _export_stream(_export_batch(after_id=0), current_app.json.dumps)


def _export_batch(after_id: int) -> list[Item]:
    # A session of its own: the request's is closed as soon as the view returns, before the
    # response streams.
    with Session(db.engine) as session:
        query = select(Item).where(Item.id > after_id).order_by(Item.id).limit(EXPORT_BATCH_SIZE)
        return list(session.scalars(query))


def _export_stream(batch: list[Item], dumps: Callable[..., str]) -> Iterator[str]:
    while batch:
        yield "".join(dumps(serialize_item(item), separators=(",", ":")) + "\n" for item in batch)
        batch = _export_batch(after_id=batch[-1].id)

{% if cookiecutter.use_auth %}
def may_change(item: Item, user: User) -> bool:
    """Only its owner, or an admin, may change or delete an item (items without one: admins)."""
    return user.is_admin or item.owner_id == user.id


def create_item(data: dict[str, Any], owner_id: int) -> Item:
    now = utcnow()  # one instant: a new item was created and last updated at the same time
    item = Item(**data, owner_id=owner_id, created_at=now, updated_at=now)
{%- else %}
def create_item(data: dict[str, Any]) -> Item:
    now = utcnow()  # one instant: a new item was created and last updated at the same time
    item = Item(**data, created_at=now, updated_at=now)
{%- endif %}
    db.session.add(item)
    db.session.commit()
    _after_write("item.created", item.id, serialize_item(item))
    return item


def update_item(item: Item, changes: dict[str, Any]) -> Item:
    """Apply the given fields (all of them for PUT, some for PATCH) and commit."""
    for field, value in changes.items():
        setattr(item, field, value)
    try:
        db.session.commit()
    except StaleDataError as error:
        db.session.rollback()
        raise StaleItemError from error
    _after_write("item.updated", item.id, serialize_item(item))
    return item


def start_over(item: Item) -> None:
    """After a failed write, forget the item as read, so that the next get reads it afresh."""
    db.session.rollback()
    if item in db.session:
        db.session.expunge(item)


def delete_item(item: Item) -> None:
    item_id = item.id
    db.session.delete(item)
    try:
        db.session.commit()
    except StaleDataError as error:
        db.session.rollback()
        raise StaleItemError from error
    _after_write("item.deleted", item_id, {"id": item_id})


def _after_write(event: str, item_id: int, data: dict[str, Any]) -> None:
{%- if cookiecutter.use_celery %}
    item_cache.delete(item_id)
{%- endif %}
{%- if cookiecutter.use_websockets %}
    current_hub().publish("items", {"type": event, "room": "items", "data": data})
{%- endif %}
{%- if not cookiecutter.use_celery and not cookiecutter.use_websockets %}
    """Nothing else keeps a copy of items; a cache or change events would hook in here."""
{%- endif %}
