"""Users: /users/me, admins creating users, item ownership, the migration, the admin set-up
and the create-user command."""

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from {{ cookiecutter.package_name }}.core.db import MIGRATIONS_DIR, JsonColumn, db, utcnow
from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.services import users

PASSWORD = "correct horse battery staple"  # the conftest users' password
NEW_PASSWORD = "another long password"
ITEM = {"name": "Lamp", "price": 10}
USER_FIELDS = {"id", "username", "is_admin", "created_at"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    return response.json


def can_sign_in(client, username: str, password: str) -> bool:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return response.status_code == 200


def test_me_is_the_caller_without_secrets(client, user):
    response = client.get("/api/v1/users/me")
    assert response.status_code == 200
    body = response.json
    assert set(body) == USER_FIELDS
    assert body["id"] == user.id
    assert body["username"] == "alice" and body["is_admin"] is False
    assert body["created_at"].endswith("Z")


def test_me_needs_a_token(anonymous_client):
    assert_problem(anonymous_client.get("/api/v1/users/me"), 401)


def test_an_admin_creates_users(app, admin_client, anonymous_client):
    response = admin_client.post("/api/v1/users", json={"username": "bob", "password": PASSWORD})
    assert response.status_code == 201
    assert "Location" not in response.headers  # there is no GET by id
    body = response.json
    assert set(body) == USER_FIELDS
    assert body["username"] == "bob" and body["is_admin"] is False
    assert can_sign_in(anonymous_client, "bob", PASSWORD)
    with app.app_context():
        stored = db.session.get(User, body["id"])
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash

    made_admin = admin_client.post(
        "/api/v1/users", json={"username": "carol", "password": PASSWORD, "is_admin": True}
    )
    assert made_admin.json["is_admin"] is True


def test_only_admins_create_users(client, anonymous_client):
    new_user = {"username": "bob", "password": PASSWORD}
    assert_problem(client.post("/api/v1/users", json=new_user), 403)
    assert_problem(anonymous_client.post("/api/v1/users", json=new_user), 401)
    # The right comes before the body: an invalid one is still a 403 for a non-admin.
    assert_problem(client.post("/api/v1/users", json={"username": "x"}), 403)


def test_a_taken_username_is_409(admin_client, user):
    response = admin_client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
    assert assert_problem(response, 409)["detail"] == "Username alice is taken"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"username": "bob", "password": "x" * 11}, ["body", "password"]),
        ({"username": "bob", "password": "x" * 129}, ["body", "password"]),
        ({"username": "bob", "password": "twelve chars\x00"}, ["body", "password"]),
        ({"username": "no spaces", "password": PASSWORD}, ["body", "username"]),
        ({"username": "ab", "password": PASSWORD}, ["body", "username"]),
        ({"username": "b" * 51, "password": PASSWORD}, ["body", "username"]),
        ({"username": "bob\n", "password": PASSWORD}, ["body", "username"]),
        ({"username": "bob", "password": PASSWORD, "is_admin": "true"}, ["body", "is_admin"]),
        ({"username": "bob", "password": PASSWORD, "is_admin": 1}, ["body", "is_admin"]),
        ({"username": "bob", "password": PASSWORD, "role": "admin"}, ["body", "role"]),
        ({"password": PASSWORD}, ["body", "username"]),
    ],
)
def test_invalid_users_are_422(admin_client, body, loc):
    response = admin_client.post("/api/v1/users", json=body)
    problem = assert_problem(response, 422)
    assert [error["loc"] for error in problem["errors"]] == [loc]


def test_a_new_item_belongs_to_its_creator(client, anonymous_client, user):
    item = client.post("/api/v1/items", json=ITEM).json
    assert item["owner_id"] == user.id
    assert anonymous_client.get(f"/api/v1/items/{item['id']}").json["owner_id"] == user.id
    assert anonymous_client.get("/api/v1/items").json["items"][0]["owner_id"] == user.id


def test_the_owner_cannot_be_chosen(client):
    response = client.post("/api/v1/items", json={**ITEM, "owner_id": 1})
    problem = assert_problem(response, 422)
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [
        (["body", "owner_id"], "extra_forbidden")
    ]


def test_only_the_owner_or_an_admin_changes_an_item(client, admin_client, new_user_client):
    item = client.post("/api/v1/items", json=ITEM).json
    url = f"/api/v1/items/{item['id']}"
    stranger = new_user_client("bob")
    assert_problem(stranger.put(url, json={"name": "Mine", "price": 1}), 403)
    assert_problem(stranger.patch(url, json={"price": 1}), 403)
    assert_problem(stranger.delete(url), 403)
    assert client.get(url).json == item

    patched = admin_client.patch(url, json={"price": 12})
    assert patched.status_code == 200
    assert patched.json["owner_id"] == item["owner_id"]
    assert client.patch(url, json={"price": 11}).status_code == 200
    assert admin_client.delete(url).status_code == 204


def test_401_then_404_then_403_then_412(client, anonymous_client, new_user_client):
    item = client.post("/api/v1/items", json=ITEM).json
    url = f"/api/v1/items/{item['id']}"
    stale = {"If-Match": '"0-0"'}
    stranger = new_user_client("bob")
    assert_problem(anonymous_client.patch("/api/v1/items/999999", json={"price": 1}), 401)
    assert_problem(stranger.patch("/api/v1/items/999999", json={"price": 1}), 404)
    assert_problem(stranger.patch(url, json={"price": 1}, headers=stale), 403)
    assert_problem(client.patch(url, json={"price": 1}, headers=stale), 412)


def test_items_without_an_owner_are_for_admins_only(app, client, admin_client):
    with app.app_context():
        now = utcnow()
        orphan = Item(**ITEM, owner_id=None, created_at=now, updated_at=now)
        db.session.add(orphan)
        db.session.commit()
    url = f"/api/v1/items/{orphan.id}"
    assert client.get(url).json["owner_id"] is None
    assert_problem(client.patch(url, json={"price": 1}), 403)
    assert admin_client.patch(url, json={"price": 1}).status_code == 200


def test_deleting_a_user_leaves_their_items_without_an_owner(app, client, user):
    item = client.post("/api/v1/items", json=ITEM).json
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
    assert client.get(f"/api/v1/items/{item['id']}").json["owner_id"] is None
{%- if cookiecutter.use_ml %}


def test_job_submissions_need_a_token(anonymous_client):
    response = anonymous_client.post("/api/v1/jobs/predictions", json={"inputs": [[0.0] * 64]})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
{%- endif %}


# The items table as the migration before the users found it.
old_items = sa.table(
    "items",
    sa.column("name", sa.String),
    sa.column("description", sa.String),
    sa.column("price", sa.Float),
    sa.column("tags", JsonColumn),
    sa.column("dimensions", JsonColumn),
    sa.column("version", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def test_the_users_migration_keeps_existing_items(app):
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    before_users = scripts.get_revision("0003_create_users").down_revision
    now = utcnow()
    rows = [
        {"name": "Old lamp", "description": None, "price": 5.0, "tags": ["old"]},
        {"name": "Old desk", "description": "Oak", "price": 120.0, "tags": []},
    ]
    with app.app_context():
        downgrade(revision=before_users)
        try:
            extra = {"dimensions": None, "version": 1, "created_at": now, "updated_at": now}
            db.session.execute(old_items.insert(), [{**row, **extra} for row in rows])
            db.session.commit()
        finally:
            upgrade()
        items = db.session.scalars(sa.select(Item).order_by(Item.id)).all()
        kept = [
            {"name": i.name, "description": i.description, "price": i.price, "tags": i.tags}
            for i in items
        ]
        assert kept == rows
        assert [item.owner_id for item in items] == [None, None]
        assert [item.version for item in items] == [1, 1]


def test_ensure_admin_creates_then_resets(app, user):
    with app.app_context():
        created = users.ensure_admin("boss", PASSWORD)
        assert created.is_admin
        assert users.authenticate("boss", PASSWORD) == created
        again = users.ensure_admin("boss", PASSWORD)
        assert again.id == created.id
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2

        # An existing user becomes an admin, with the new password.
        promoted = users.ensure_admin("alice", NEW_PASSWORD)
        assert promoted.id == user.id and promoted.is_admin
        assert users.authenticate("alice", PASSWORD) is None
        assert users.authenticate("alice", NEW_PASSWORD) == promoted


def test_ensure_admin_updates_a_user_another_process_created_meanwhile(app, user, monkeypatch):
    # The lookup misses alice, as if another process inserted her just after: the insert
    # then hits the unique username and ensure_admin updates her instead.
    real_lookup = users.get_user_by_username
    calls = []

    def late_lookup(username: str) -> User | None:
        calls.append(username)
        return None if len(calls) == 1 else real_lookup(username)

    monkeypatch.setattr(users, "get_user_by_username", late_lookup)
    with app.app_context():
        admin = users.ensure_admin("alice", NEW_PASSWORD)
        assert admin.id == user.id and admin.is_admin
        assert users.authenticate("alice", NEW_PASSWORD) == admin


def test_ensure_admin_refuses_an_invalid_username(app):
    with app.app_context(), pytest.raises(ValueError, match="ADMIN_USERNAME"):
        users.ensure_admin("not valid", PASSWORD)


def test_the_app_sets_up_the_admin_from_the_settings(app, make_app):
    admin_app = make_app(ADMIN_USERNAME="boss", ADMIN_PASSWORD=PASSWORD)
    assert can_sign_in(admin_app.test_client(), "boss", PASSWORD)


def create_user(app, *args: str, password: str = PASSWORD, confirmation: str | None = None):
    confirmation = password if confirmation is None else confirmation
    runner = app.test_cli_runner()
    return runner.invoke(args=["create-user", *args], input=f"{password}\n{confirmation}\n")


def test_create_user_command(app, anonymous_client):
    result = create_user(app, "bob", "--admin")
    assert result.exit_code == 0, result.output
    last_line = result.output.splitlines()[-1]
    assert last_line.startswith("Created admin bob (id ")
    assert PASSWORD not in result.output  # the prompt does not echo it
    assert can_sign_in(anonymous_client, "bob", PASSWORD)

    regular = create_user(app, "carol")
    assert regular.output.splitlines()[-1].startswith("Created user carol")


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["alice"], PASSWORD, "Error: Username alice is taken"),
        (["bob"], "short", "Error: Invalid user: password: Length must be between 12 and 128."),
        (["no spaces"], PASSWORD, "Error: Invalid user: username: Must be 3 to 50 characters"),
    ],
)
def test_create_user_command_refuses(app, user, args, password, message):
    result = create_user(app, *args, password=password)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(message)
