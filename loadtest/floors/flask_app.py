"""Flask's floor: each scenario's work done the most direct way, and nothing else.

The same libraries as the template (Flask, Flask-SQLAlchemy with the same driver,
marshmallow, redis) under the same server (gunicorn's gthread workers), but no request id,
access log, metrics, body limit, ETag, problem+json or flask-smorest: what is left is the
least Flask can do for the same work. Run it with `gunicorn -k gthread
"loadtest.floors.flask_app:create_app()"`; FLOOR_DATABASE_URL (a SQLAlchemy URL) names the
database, and FLOOR_REDIS_URL, when set, puts a cache in front of the item read.
"""

import os

from flask import Flask, abort, json, request
from flask_sqlalchemy import SQLAlchemy
from marshmallow import RAISE, Schema, ValidationError, fields
from marshmallow.validate import Length, Range
from sqlalchemy import func, select

from loadtest.floors.schema import CACHE_TTL_SECONDS, Item, cache_key, format_timestamp

JSON = "application/json"
db = SQLAlchemy()


class DimensionsSchema(Schema):
    class Meta:
        unknown = RAISE

    width = fields.Float(required=True, validate=Range(min=0, min_inclusive=False))
    height = fields.Float(required=True, validate=Range(min=0, min_inclusive=False))
    depth = fields.Float(required=True, validate=Range(min=0, min_inclusive=False))


class ItemCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=Length(min=1, max=100))
    description = fields.String(allow_none=True, load_default=None, validate=Length(max=1000))
    price = fields.Float(required=True, validate=Range(min=0, max=1_000_000))
    tags = fields.List(
        fields.String(validate=Length(min=1, max=30)), load_default=list, validate=Length(max=10)
    )
    dimensions = fields.Nested(DimensionsSchema, allow_none=True, load_default=None)


create_schema = ItemCreateSchema()


def item_dict(item: Item) -> dict:
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "price": item.price,
        "tags": item.tags,
        "dimensions": item.dimensions,
        "created_at": format_timestamp(item.created_at),
        "updated_at": format_timestamp(item.updated_at),
    }


def create_app() -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # as the template: keys in the order they are built
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["FLOOR_DATABASE_URL"]
    db.init_app(app)
    redis_url = os.environ.get("FLOOR_REDIS_URL")
    cache = None
    if redis_url:
        import redis

        cache = redis.Redis.from_url(redis_url)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/api/v1/items/<int:item_id>")
    def read_item(item_id: int):
        if cache is not None:
            cached = cache.get(cache_key(item_id))
            if cached is not None:
                return app.response_class(cached, mimetype=JSON)
        item = db.session.get(Item, item_id)
        if item is None:
            abort(404)
        body = json.dumps(item_dict(item))
        if cache is not None:
            cache.set(cache_key(item_id), body, ex=CACHE_TTL_SECONDS)
        return app.response_class(body, mimetype=JSON)

    @app.get("/api/v1/items")
    def list_items():
        limit = request.args.get("limit", 20, type=int)
        offset = request.args.get("offset", 0, type=int)
        total = db.session.scalar(select(func.count()).select_from(Item))
        page = db.session.scalars(select(Item).order_by(Item.id).limit(limit).offset(offset))
        return {
            "items": [item_dict(item) for item in page],
            "total": total,
            "limit": limit,
            "offset": offset,
        }

    @app.post("/api/v1/items")
    def create_item():
        try:
            item = Item(**create_schema.load(request.get_json()))
        except ValidationError as error:
            return {"errors": error.messages}, 422
        db.session.add(item)
        db.session.commit()
        return item_dict(item), 201, {"Location": f"/api/v1/items/{item.id}"}

    return app
