"""FastAPI's floor: each scenario's work done the most direct way, and nothing else.

The same libraries as the template (FastAPI, pydantic, async SQLAlchemy with the same
driver, redis.asyncio) under the same server (gunicorn with uvicorn workers), but no
request id, access log, metrics, body limit, ETag or problem+json: what is left is the
least FastAPI can do for the same work. Run it with `gunicorn -k uvicorn_worker.UvicornWorker
loadtest.floors.fastapi_app:app`; FLOOR_DATABASE_URL (an async SQLAlchemy URL) names the
database, and FLOOR_REDIS_URL, when set, puts a cache in front of the item read.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from loadtest.floors.schema import CACHE_TTL_SECONDS, Item, cache_key, format_timestamp

JSON = "application/json"
Tag = Annotated[str, Field(min_length=1, max_length=30)]


class Dimensions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    height: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    depth: Annotated[float, Field(gt=0, allow_inf_nan=False)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str | None, Field(max_length=1000)] = None
    price: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
    tags: Annotated[list[Tag], Field(max_length=10)] = []
    dimensions: Dimensions | None = None


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


to_json = TypeAdapter(dict).dump_json


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(os.environ["FLOOR_DATABASE_URL"])
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    app.state.redis = None
    if os.environ.get("FLOOR_REDIS_URL"):
        from redis.asyncio import Redis

        app.state.redis = Redis.from_url(os.environ["FLOOR_REDIS_URL"])
    yield
    if app.state.redis is not None:
        await app.state.redis.aclose()
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.get("/api/v1/items/{item_id:int}")
async def read_item(item_id: int, request: Request) -> Response:
    redis = request.app.state.redis
    if redis is not None:
        cached = await redis.get(cache_key(item_id))
        if cached is not None:
            return Response(cached, media_type=JSON)
    async with request.app.state.sessions() as session:
        item = await session.get(Item, item_id)
    if item is None:
        raise HTTPException(404)
    body = to_json(item_dict(item))
    if redis is not None:
        await redis.set(cache_key(item_id), body, ex=CACHE_TTL_SECONDS)
    return Response(body, media_type=JSON)


@app.get("/api/v1/items")
async def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    async with request.app.state.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Item))
        page = await session.scalars(select(Item).order_by(Item.id).limit(limit).offset(offset))
        items = [item_dict(item) for item in page]
    body = {"items": items, "total": total, "limit": limit, "offset": offset}
    return Response(to_json(body), media_type=JSON)


@app.post("/api/v1/items", status_code=201)
async def create_item(body: ItemCreate, request: Request) -> Response:
    async with request.app.state.sessions() as session:
        item = Item(**body.model_dump())
        session.add(item)
        await session.commit()
    headers = {"Location": f"/api/v1/items/{item.id}"}
    return Response(to_json(item_dict(item)), status_code=201, media_type=JSON, headers=headers)
