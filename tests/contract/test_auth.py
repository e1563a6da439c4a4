"""Authentication and authorization: users, bearer tokens, ownership and login throttling."""

import time
import uuid

import httpx
import jwt
import pytest

from tests.contract.harness import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    ONE_PER_FRAMEWORK,
    REDIS_SERVICES,
    SECRET_KEY,
    WRITER_USERNAME,
    KeptConnection,
    assert_problem,
    assert_validation_error,
    running_service,
    wait_until,
)

ITEMS = "/api/v1/items"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/users/me"
USERS = "/api/v1/users"
JOBS = "/api/v1/jobs/predictions"
PASSWORD = "a-password-long-enough"
# LOGIN_RATE_LIMIT's default: five failed attempts a minute
FAILED_LOGINS_ALLOWED = 5


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def signed_token(claims: dict, key: str = SECRET_KEY) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def assert_unauthorized(response: httpx.Response) -> None:
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def new_item(client: httpx.Client) -> dict:
    created = client.post(ITEMS, json={"name": unique_name("owned"), "price": 1})
    assert created.status_code == 201, created.text
    return created.json()


def test_token_for_good_credentials(service):
    response = httpx.post(
        service.base_url + TOKEN, data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    claims = jwt.decode(body["access_token"], SECRET_KEY, algorithms=["HS256"])
    assert set(claims) >= {"sub", "iat", "exp"}
    assert isinstance(claims["sub"], str)
    assert claims["exp"] - claims["iat"] == 30 * 60


def test_wrong_password_is_401_with_bearer_challenge(service):
    response = httpx.post(
        service.base_url + TOKEN, data={"username": WRITER_USERNAME, "password": "not it at all"}
    )
    assert_unauthorized(response)
    assert "access_token" not in response.text


def test_token_request_without_fields_is_422(service):
    response = httpx.post(service.base_url + TOKEN, data={"username": WRITER_USERNAME})
    assert_validation_error(response, ["body", "password"])


def test_me_is_the_caller_without_secrets(client):
    me = client.get(ME)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["username"] == WRITER_USERNAME
    assert body["is_admin"] is False
    assert set(body) == {"id", "username", "is_admin", "created_at"}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic d3JpdGVyOnB3", "Bearer not.a.jwt", "bearer x y", "Token abc"],
    ids=["missing", "bare-scheme", "basic", "malformed", "extra-parts", "other-scheme"],
)
def test_writes_without_a_valid_token_are_401(service, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    with service.client(token=None, headers=headers) as anonymous:
        assert_unauthorized(anonymous.post(ITEMS, json={"name": "x", "price": 1}))
        assert_unauthorized(anonymous.put(f"{ITEMS}/1", json={"name": "x", "price": 1}))
        assert_unauthorized(anonymous.patch(f"{ITEMS}/1", json={"price": 1}))
        assert_unauthorized(anonymous.delete(f"{ITEMS}/1"))
        assert_unauthorized(anonymous.get(ME))


def test_expired_badly_signed_and_orphan_tokens_are_401(service, client):
    writer_id = client.get(ME).json()["id"]
    now = int(time.time())
    tokens = {
        "expired": signed_token({"sub": str(writer_id), "iat": now - 7200, "exp": now - 3600}),
        "other key": signed_token(
            {"sub": str(writer_id), "iat": now, "exp": now + 600}, key="x" * 40
        ),
        "no exp": signed_token({"sub": str(writer_id), "iat": now}),
        "no such user": signed_token({"sub": "987654321", "iat": now, "exp": now + 600}),
        "not a user id": signed_token({"sub": "writer", "iat": now, "exp": now + 600}),
        "alg none": jwt.encode({"sub": str(writer_id), "iat": now, "exp": now + 600}, None, "none"),
    }
    for name, token in tokens.items():
        with service.client(token=token) as bearer:
            response = bearer.post(ITEMS, json={"name": "x", "price": 1})
            assert response.status_code == 401, (name, response.text)
            assert_unauthorized(response)


def test_a_token_we_sign_with_the_shared_key_is_accepted(service, client):
    writer_id = client.get(ME).json()["id"]
    now = int(time.time())
    token = signed_token({"sub": str(writer_id), "iat": now, "exp": now + 600})
    with service.client(token=token) as bearer:
        assert bearer.get(ME).json()["username"] == WRITER_USERNAME


def test_reads_and_predictions_stay_public(service, client):
    item = new_item(client)
    with service.client(token=None) as anonymous:
        assert anonymous.get(f"{ITEMS}/{item['id']}").status_code == 200
        assert anonymous.get(ITEMS).status_code == 200
        assert anonymous.get("/health").status_code == 200


def test_job_submission_needs_a_token(service, client):
    with service.client(token=None) as anonymous:
        assert_unauthorized(anonymous.post(JOBS, json={"inputs": [[0.0] * 64]}))
    submitted = client.post(JOBS, json={"inputs": [[0.0] * 64]})
    assert submitted.status_code == 202, submitted.text


def test_items_record_their_owner(client):
    writer_id = client.get(ME).json()["id"]
    item = new_item(client)
    assert item["owner_id"] == writer_id
    assert client.get(f"{ITEMS}/{item['id']}").json()["owner_id"] == writer_id
    listed = client.get(ITEMS, params={"limit": 100}).json()
    assert all("owner_id" in entry for entry in listed["items"])


def test_owner_id_cannot_be_set_by_the_client(client):
    response = client.post(ITEMS, json={"name": "mine", "price": 1, "owner_id": 1})
    assert_validation_error(response, ["body", "owner_id"])


def test_other_users_items_are_403_unless_admin(service, client):
    item = new_item(client)
    path = f"{ITEMS}/{item['id']}"
    other = unique_name("other")
    service.create_user(other, PASSWORD)
    with service.client(token=service.login(other, PASSWORD)) as stranger:
        assert_problem(stranger.put(path, json={"name": "taken", "price": 2}), 403)
        assert_problem(stranger.patch(path, json={"price": 2}), 403)
        assert_problem(stranger.delete(path), 403)
        assert_problem(stranger.patch(f"{ITEMS}/987654321", json={"price": 2}), 404)
        assert stranger.post(ITEMS, json={"name": "their own", "price": 1}).status_code == 201
    assert client.get(path).json()["price"] == 1
    with service.client(token=service.login(ADMIN_USERNAME, ADMIN_PASSWORD)) as admin:
        patched = admin.patch(path, json={"price": 3})
        assert patched.status_code == 200, patched.text
        assert patched.json()["owner_id"] == item["owner_id"]
        assert admin.delete(path).status_code == 204


def test_only_the_admin_creates_users(service, client):
    name = unique_name("new")
    assert_problem(client.post(USERS, json={"username": name, "password": PASSWORD}), 403)
    with service.client(token=service.login(ADMIN_USERNAME, ADMIN_PASSWORD)) as admin:
        created = admin.post(USERS, json={"username": name, "password": PASSWORD})
        assert created.status_code == 201, created.text
        body = created.json()
        assert set(body) == {"id", "username", "is_admin", "created_at"}
        assert body["username"] == name and body["is_admin"] is False
        assert_problem(admin.post(USERS, json={"username": name, "password": PASSWORD}), 409)
        assert_validation_error(
            admin.post(USERS, json={"username": unique_name("short"), "password": "short"}),
            ["body", "password"],
        )
        assert_validation_error(
            admin.post(USERS, json={"username": "no spaces allowed", "password": PASSWORD}),
            ["body", "username"],
        )
    assert service.login(name, PASSWORD)


def failed_login(http: httpx.Client, username: str) -> httpx.Response:
    return http.post(TOKEN, data={"username": username, "password": "wrong password!"})


def test_failed_logins_are_throttled_with_retry_after(service):
    name = unique_name("throttled")
    service.create_user(name, PASSWORD)
    # one keep-alive connection: one worker, so in-process counting sees every attempt
    with service.client(token=None) as http:
        for _ in range(FAILED_LOGINS_ALLOWED):
            assert failed_login(http, name).status_code == 401
        throttled = failed_login(http, name)
        assert_problem(throttled, 429)
        assert 0 < int(throttled.headers["retry-after"]) <= 60
        # while throttled, even the right password is refused
        right = http.post(TOKEN, data={"username": name, "password": PASSWORD})
        assert_problem(right, 429)
    # throttling is per username: another user still logs in
    assert service.login(WRITER_USERNAME, "contract-writer-password")


@pytest.mark.parametrize("service", REDIS_SERVICES, indirect=True)
def test_throttling_is_shared_by_every_worker_through_redis(service):
    name = unique_name("shared")
    service.create_user(name, PASSWORD)
    first = KeptConnection(service)
    try:
        for _ in range(FAILED_LOGINS_ALLOWED):
            assert first.failed_login(TOKEN, name)[0] == 401
        first_worker = service.worker_pid_for(first.port)
    finally:
        first.close()

    def status_on_another_worker():
        other = KeptConnection(service)
        try:
            if service.worker_pid_for(other.port) == first_worker:
                return None
            return other.failed_login(TOKEN, name)
        finally:
            other.close()

    answer = wait_until(status_on_another_worker, timeout=20, interval=0)
    assert answer is not None, "no connection landed on the other worker"
    assert answer[0] == 429, answer


def test_a_token_from_the_fastapi_service_works_on_the_flask_service(generated_project, tmp_path):
    def start(framework: str):
        return running_service(
            name=f"{framework}-shared-key",
            framework=framework,
            database="sqlite",
            project_dir=generated_project(framework, "sqlite"),
            run_dir=tmp_path / framework,
            database_url=f"sqlite:///{tmp_path / framework}.db",
        )

    # the writer is the second user in both fresh databases, so its id is the same
    with (
        start("fastapi") as issuer,
        start("flask") as verifier,
        verifier.client(token=issuer.token) as bearer,
    ):
        me = bearer.get(ME)
        assert me.status_code == 200, me.text
        assert me.json()["username"] == WRITER_USERNAME
        created = bearer.post(ITEMS, json={"name": "cross-service", "price": 1})
        assert created.status_code == 201, created.text


@pytest.mark.parametrize("service", ONE_PER_FRAMEWORK, indirect=True)
def test_login_form_is_documented_for_swagger_ui(service):
    document = httpx.get(service.base_url + "/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    scheme = schemes["OAuth2PasswordBearer"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"].endswith(TOKEN)
    post_items = document["paths"][ITEMS]["post"]
    assert {"OAuth2PasswordBearer": []} in post_items["security"]
    assert "401" in post_items["responses"]
