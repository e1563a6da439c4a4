"""Users: the caller, accounts an admin creates, item ownership, the start-up admin, the
create-user command, and the migration that brought users in."""

import asyncio

import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, inspect, select, text
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.commands import cli
from {{ cookiecutter.package_name }}.core.db import (
    MIGRATIONS_DIR,
    create_sync_engine,
    get_sync_session_factory,
    standalone_session,
)
from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.services.users import bootstrap_admin, ensure_admin

NEW_USER = {"username": "carol.c@example", "password": "twelve chars!", "is_admin": False}


def log_in(client: TestClient, username: str, password: str) -> int:
    form = {"username": username, "password": password}
    return client.post("/api/v1/auth/token", data=form).status_code


def test_me_is_the_caller_without_any_password(client: TestClient, user: User):
    response = client.get("/api/v1/users/me")

    assert response.status_code == 200
    me = response.json()
    assert me.keys() == {"id", "username", "is_admin", "created_at"}
    assert (me["id"], me["username"], me["is_admin"]) == (user.id, "alice", False)
    assert me["created_at"].endswith("Z")


def test_an_admin_creates_users(admin_client: TestClient):
    response = admin_client.post("/api/v1/users", json=NEW_USER)

    assert response.status_code == 201
    assert "location" not in response.headers
    created = response.json()
    assert created.keys() == {"id", "username", "is_admin", "created_at"}
    assert (created["username"], created["is_admin"]) == ("carol.c@example", False)
    assert log_in(admin_client, "carol.c@example", "twelve chars!") == 200


def test_only_an_admin_creates_users(client: TestClient, anonymous_client: TestClient):
    assert client.post("/api/v1/users", json=NEW_USER).status_code == 403
    assert anonymous_client.post("/api/v1/users", json=NEW_USER).status_code == 401
    assert log_in(client, "carol.c@example", "twelve chars!") == 401


def test_a_taken_username_is_409(admin_client: TestClient, user: User):
    response = admin_client.post("/api/v1/users", json={**NEW_USER, "username": "alice"})

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"username": "ab"}, ["body", "username"]),
        ({"username": "x" * 51}, ["body", "username"]),
        ({"username": "white space"}, ["body", "username"]),
        ({"password": "eleven char"}, ["body", "password"]),
        ({"password": "x" * 129}, ["body", "password"]),
        ({"is_admin": "true"}, ["body", "is_admin"]),
        ({"id": 7}, ["body", "id"]),
    ],
)
def test_invalid_users_are_422(admin_client: TestClient, change: dict, loc: list):
    response = admin_client.post("/api/v1/users", json={**NEW_USER, **change})

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [loc]


def test_a_new_item_belongs_to_its_creator(client: TestClient, user: User, item_payload):
    created = client.post("/api/v1/items", json=item_payload).json()

    assert created["owner_id"] == user.id
    assert client.get(f"/api/v1/items/{created['id']}").json()["owner_id"] == user.id
    listed = client.get("/api/v1/items").json()["items"]
    assert [item["owner_id"] for item in listed] == [user.id]


def test_owner_id_is_read_only(client: TestClient, create_item, admin: User):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"

    for response in (
        client.post("/api/v1/items", json={"name": "a", "price": 1, "owner_id": admin.id}),
        client.put(url, json={"name": "a", "price": 1, "owner_id": admin.id}),
        client.patch(url, json={"owner_id": admin.id}),
    ):
        assert response.status_code == 422
        assert [error["loc"] for error in response.json()["errors"]] == [["body", "owner_id"]]


def test_only_the_owner_or_an_admin_changes_an_item(
    make_client, make_user, admin_client: TestClient, create_item
):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"
    someone_else = make_client(as_user=make_user("bob"))

    for response in (
        someone_else.put(url, json={"name": "mine now", "price": 1}),
        someone_else.patch(url, json={"price": 1}),
        someone_else.delete(url),
    ):
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    assert someone_else.get(url).json() == item

    assert admin_client.patch(url, json={"price": 2}).json()["owner_id"] == item["owner_id"]
    assert admin_client.delete(url).status_code == 204


def test_an_item_without_an_owner_is_the_admins_alone(
    make_client, make_user, client: TestClient, admin_client: TestClient, database_url: str
):
    bob = make_user("bob")
    item = make_client(as_user=bob).post("/api/v1/items", json={"name": "a", "price": 1}).json()
    url = f"/api/v1/items/{item['id']}"
    # Deleting its creator leaves the item without an owner (ON DELETE SET NULL).
    with get_sync_session_factory(database_url)() as session:
        session.execute(delete(User).where(User.id == bob.id))
        session.commit()

    assert client.get(url).json()["owner_id"] is None
    assert client.patch(url, json={"price": 2}).status_code == 403
    assert admin_client.patch(url, json={"price": 3}).status_code == 200


def test_checks_on_an_existing_item_come_in_order(
    make_client, make_user, anonymous_client: TestClient, client: TestClient, create_item
):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"
    stale = {"If-Match": '"0-0"'}
    someone_else = make_client(as_user=make_user("bob"))

    assert anonymous_client.delete("/api/v1/items/999999").status_code == 401
    assert client.delete("/api/v1/items/999999").status_code == 404
    assert someone_else.delete(url, headers=stale).status_code == 403
    assert client.delete(url, headers=stale).status_code == 412
{%- if cookiecutter.use_ml %}


def test_job_submissions_need_a_token(anonymous_client: TestClient, client: TestClient):
    body = {"inputs": [[0.0] * 64]}

    response = anonymous_client.post("/api/v1/jobs/predictions", json=body)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/jobs/predictions", json=body).status_code == 202
{%- endif %}


def test_the_admin_from_the_settings_is_created_at_start(make_client):
    client = make_client(as_user=None, admin_username="boss", admin_password="admin password")

    assert log_in(client, "boss", "admin password") == 200


def test_ensure_admin_resets_an_existing_users_password_and_role(
    user: User, database_url: str, password: str
):
    async def ensure_twice() -> None:
        for _ in range(2):
            async with standalone_session(database_url) as session:
                await ensure_admin(session, "alice", "a new admin password")

    asyncio.run(ensure_twice())

    with get_sync_session_factory(database_url)() as session:
        users = session.scalars(select(User).where(User.username == "alice")).all()
    assert [(found.id, found.is_admin) for found in users] == [(user.id, True)]
    assert users[0].password_hash != user.password_hash


def test_bootstrap_admin_runs_outside_an_event_loop(database_url: str):
    # What gunicorn's master calls, before it forks its workers.
    bootstrap_admin(database_url, "boss", "admin password")
    bootstrap_admin(database_url, "boss", "another password")

    with get_sync_session_factory(database_url)() as session:
        admins = session.scalars(select(User).where(User.is_admin)).all()
    assert [found.username for found in admins] == ["boss"]


def test_an_invalid_admin_username_is_refused(database_url: str):
    with pytest.raises(ValueError, match="not a valid username"):
        bootstrap_admin(database_url, "no spaces allowed", "admin password")


def test_create_user_command(database_url: str):
    runner = CliRunner()

    result = runner.invoke(
        cli, ["create-user", "dave", "--admin"], input="a good password\na good password\n"
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("Created administrator 'dave' with id ")
    with get_sync_session_factory(database_url)() as session:
        dave = session.scalars(select(User).where(User.username == "dave")).one()
    assert dave.is_admin


@pytest.mark.parametrize(
    ("arguments", "password", "message"),
    [
        (["create-user", "alice"], "a good password", "The username 'alice' is taken"),
        (["create-user", "eve"], "short", "password: String should have at least 12 characters"),
        (["create-user", "e v e"], "a good password", "username: String should match pattern"),
    ],
)
def test_create_user_command_refuses_bad_input(
    user: User, arguments: list, password: str, message: str
):
    result = CliRunner().invoke(cli, arguments, input=f"{password}\n{password}\n")

    assert result.exit_code == 1
    assert message in result.output


def test_the_users_migration_keeps_existing_items(fresh_database_url: str):
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = fresh_database_url
    config.attributes["configure_logging"] = False
    previous = "{% if cookiecutter.use_ml %}0002_create_jobs{% else %}0001_create_items{% endif %}"
    engine = create_sync_engine(fresh_database_url)
    try:
        command.upgrade(config, previous)
        with engine.begin() as connection:
            # Only the columns the table had before users existed.
            connection.execute(
                insert(Item).values(name="Old lamp", price=12.5, tags=["old"], version=1)
            )

        command.upgrade(config, "head")
        with Session(engine) as session:
            items = session.scalars(select(Item)).all()
        assert [(item.name, item.price, item.tags, item.owner_id) for item in items] == [
            ("Old lamp", 12.5, ["old"], None)
        ]
        foreign_keys = inspect(engine).get_foreign_keys("items")
        assert [(key["name"], key["referred_table"]) for key in foreign_keys] == [
            ("fk_items_owner_id_users", "users")
        ]

        command.downgrade(config, previous)
        assert "users" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, price FROM items")).all()
        assert [tuple(row) for row in rows] == [("Old lamp", 12.5)]
    finally:
        engine.dispose()
