"""Run generated services the way a user does, and the checks every contract test shares.

A `Service` is a generated project started under its production server
(`python -m gunicorn -c gunicorn.conf.py`) in its own process group, optionally with a Celery
worker beside it. Everything here is bounded in time: a service that does not come up, or does
not go away, fails the test with its log rather than hanging the run.
"""

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil

PROJECT_NAME = "Contract Check"
PACKAGE = "contract_check"
WORKERS = 2
# The contract's default body limit, which the services use when MAX_BODY_BYTES is unset.
# A 10,000-row prediction job (about 1.3 MB) is over it: the jobs route allows more.
MAX_BODY_BYTES = 1024 * 1024
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 20.0
LOG_TAIL_CHARS = 8000

# name: (framework, database, with Redis and a Celery worker)
SERVICES = {
    "flask-sqlite": ("flask", "sqlite", True),
    "flask-postgresql": ("flask", "postgresql", True),
    "fastapi-sqlite": ("fastapi", "sqlite", True),
    "fastapi-postgresql": ("fastapi", "postgresql", True),
    "flask-sqlite-noredis": ("flask", "sqlite", False),
    "fastapi-sqlite-noredis": ("fastapi", "sqlite", False),
}
ALL_SERVICES = list(SERVICES)
REDIS_SERVICES = [name for name, (_, _, redis) in SERVICES.items() if redis]
# One service per framework, for the slow checks that do not depend on the database.
ONE_PER_FRAMEWORK = ["flask-sqlite", "fastapi-sqlite"]

# Settings a service reads from the environment: never inherited from the test run.
SERVICE_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "PROMETHEUS_MULTIPROC_DIR",
    "MAX_BODY_BYTES",
    "CORS_ORIGINS",
    "BIND",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "MIGRATE_ON_START",
    "CACHE_TTL_SECONDS",
    "TEST_DATABASE_URL",
    "TEST_REDIS_URL",
    "ENVIRONMENT",
    "SECRET_KEY",
    "ADMIN_USERNAME",
    "ADMIN_PASSWORD",
    "ACCESS_TOKEN_MINUTES",
    "LOGIN_RATE_LIMIT",
    "DOCS_ENABLED",
    "HSTS_SECONDS",
    "WS_MAX_MESSAGE_BYTES",
)

# Both services share one signing key, so a token from one is accepted by the other.
SECRET_KEY = "contract-suite-signing-key-0123456789abcdef"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "contract-admin-password"
# The regular user whose token `Service.client()` carries, created by the admin at start.
WRITER_USERNAME = "writer"
WRITER_PASSWORD = "contract-writer-password"

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
REASON_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
DETAILS = {
    400: "Malformed JSON body",
    405: "Method Not Allowed",
    412: "The item has changed: If-Match does not match the current ETag",
    413: f"Request body exceeds {MAX_BODY_BYTES} bytes",
    415: "Request body must be application/json",
    422: "Request validation failed",
}
ROUTE_NOT_FOUND = "The requested URL was not found"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# What a poll may meet while a server or a process is coming and going.
TRANSIENT_ERRORS = (OSError, ValueError, httpx.HTTPError, psutil.Error)


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.1):
    """Poll `condition` until it returns something truthy; return that, or None at the deadline.

    Transient errors count as "not yet"; a failed assertion inside `condition` propagates.
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(*TRANSIENT_ERRORS):
            result = condition()
            if result:
                return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class Process:
    """A child process in its own process group, its output going to a log file."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict, log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self) -> str:
        return self.log()[-LOG_TAIL_CHARS:]

    def stop(self) -> None:
        """SIGTERM to the process, then SIGKILL to its whole group if it lingers."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log.close()


@dataclass
class Service:
    """One running generated project, as seen from outside."""

    name: str
    framework: str
    database: str
    project_dir: Path
    port: int
    database_url: str
    redis_url: str | None
    server: Process
    worker: Process | None = None
    token: str | None = None  # the writer's access token, once the service is up

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def model_path(self) -> Path:
        return self.project_dir / PACKAGE / "ml" / "digits.onnx"

    def client(self, token: str | None = "writer", **kwargs) -> httpx.Client:
        """A client that sends the writer's token (`token=None`: none; or a token of its own)."""
        if token == "writer":
            token = self.token
        if token:
            kwargs["headers"] = {"Authorization": f"Bearer {token}", **kwargs.get("headers", {})}
        return httpx.Client(base_url=self.base_url, timeout=HTTP_TIMEOUT, **kwargs)

    def login(self, username: str, password: str) -> str:
        """An access token from POST /api/v1/auth/token (fails the test if refused)."""
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/token",
            data={"username": username, "password": password},
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def create_user(self, username: str, password: str, is_admin: bool = False) -> None:
        """Create a user as the admin; a user of that name already there is fine."""
        with self.client(token=self.login(ADMIN_USERNAME, ADMIN_PASSWORD)) as admin:
            response = admin.post(
                "/api/v1/users",
                json={"username": username, "password": password, "is_admin": is_admin},
            )
        assert response.status_code in (201, 409), response.text

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def logs(self) -> str:
        parts = [f"--- {self.name}: gunicorn ---\n{self.server.log_tail()}"]
        if self.worker is not None:
            parts.append(f"--- {self.name}: celery worker ---\n{self.worker.log_tail()}")
        return "\n".join(parts)

    def worker_pids(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.server.pid).children()]

    def worker_pid_for(self, client_port: int) -> int | None:
        """The gunicorn worker whose socket is the server side of a client's connection."""

        def owner():
            for child in psutil.Process(self.server.pid).children():
                with contextlib.suppress(psutil.Error):
                    for conn in child.net_connections(kind="tcp"):
                        if (
                            conn.laddr
                            and conn.raddr
                            and conn.laddr.port == self.port
                            and conn.raddr.port == client_port
                        ):
                            return child.pid
            return None

        return wait_until(owner, timeout=3.0, interval=0.05)


class KeptConnection:
    """One keep-alive connection (so one gunicorn worker) that knows its local port."""

    def __init__(self, service: Service):
        self.http = http.client.HTTPConnection("127.0.0.1", service.port, timeout=HTTP_TIMEOUT)
        self.http.connect()
        self.port = self.http.sock.getsockname()[1]

    def get(self, path: str, token: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http.request("GET", path, headers=headers)
        response = self.http.getresponse()
        response.read()
        return response.status

    def failed_login(self, token_path: str, username: str) -> tuple[int, str]:
        form = urllib.parse.urlencode({"username": username, "password": "wrong password!"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self.http.request("POST", token_path, body=form, headers=headers)
        response = self.http.getresponse()
        return response.status, response.read().decode()

    def close(self) -> None:
        self.http.close()


def service_environment(project_dir: Path, **settings: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS}
    env["PYTHONPATH"] = str(project_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: value for key, value in settings.items() if value is not None})
    return env


def _wait_for_health(service: Service) -> None:
    """Until /health answers 200 and every worker process has been forked."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if not service.server.alive():
            raise RuntimeError(f"{service.name} exited while starting\n{service.logs()}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{service.base_url}/health", timeout=2)
            if response.status_code == 200 and len(service.worker_pids()) == WORKERS:
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"{service.name} did not answer /health in {STARTUP_TIMEOUT}s\n{service.logs()}"
    )


def _wait_for_celery(worker: Process, broker_url: str) -> None:
    """Ready once it logs "ready." or holds a connection to the broker (whatever its logging)."""
    broker_port = urlparse(broker_url).port or 6379

    def ready():
        if not worker.alive():
            return True
        if " ready." in worker.log():
            return True
        connections = psutil.Process(worker.pid).net_connections(kind="tcp")
        return any(conn.raddr and conn.raddr.port == broker_port for conn in connections)

    wait_until(ready, STARTUP_TIMEOUT, 0.2)
    if not worker.alive():
        raise RuntimeError(f"celery worker exited while starting\n{worker.log_tail()}")


@contextlib.contextmanager
def running_service(
    *,
    name: str,
    framework: str,
    database: str,
    project_dir: Path,
    run_dir: Path,
    database_url: str,
    redis_url: str | None = None,
    celery: bool = False,
    **settings: str | None,
) -> Iterator[Service]:
    """Start gunicorn (and a Celery worker when asked) and stop both afterwards; `settings`
    are further environment variables for both (None leaves one unset)."""
    port = free_port()
    defaults = {
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url if celery else None,
        "SECRET_KEY": SECRET_KEY,
        "ADMIN_USERNAME": ADMIN_USERNAME,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    env = service_environment(project_dir, **{**defaults, **settings})
    run_dir.mkdir(parents=True, exist_ok=True)
    server = Process(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        project_dir,
        env,
        run_dir / "gunicorn.log",
    )
    service = Service(name, framework, database, project_dir, port, database_url, redis_url, server)
    try:
        _wait_for_health(service)
        service.create_user(WRITER_USERNAME, WRITER_PASSWORD)
        service.token = service.login(WRITER_USERNAME, WRITER_PASSWORD)
        if celery:
            service.worker = Process(
                "celery",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    f"{PACKAGE}.worker",
                    "worker",
                    "--loglevel=INFO",
                    "--concurrency=1",
                    "--pool=solo",
                ],
                project_dir,
                env,
                run_dir / "celery.log",
            )
            _wait_for_celery(service.worker, redis_url)
        yield service
    finally:
        if service.worker is not None:
            service.worker.stop()
        server.stop()


class RedisServer:
    """A private redis-server on a port of its own, which a test may kill and restart."""

    def __init__(self, run_dir: Path, port: int | None = None):
        self.run_dir = run_dir
        self.port = port or free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.process = Process(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.run_dir),
            ],
            self.run_dir,
            dict(os.environ),
            self.run_dir / f"redis-{time.monotonic_ns()}.log",
        )
        if not wait_until(self._answers, timeout=15):
            raise RuntimeError(f"redis-server did not start\n{self.process.log_tail()}")

    def _answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def kill(self) -> None:
        """Die abruptly, as a crashed Redis does."""
        if self.process is not None and self.process.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


# ---- checks shared by the tests -------------------------------------------------------------


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def assert_problem(
    response: httpx.Response,
    status: int,
    *,
    detail: str | None = None,
    instance: str | None = None,
) -> dict:
    """An RFC 9457 problem with the shared title and, unless told otherwise, the shared detail."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert media_type(response) == "application/problem+json", response.headers
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["title"] == REASON_PHRASES[status]
    assert body["status"] == status
    expected_detail = detail if detail is not None else DETAILS.get(status)
    if expected_detail is not None:
        assert body["detail"] == expected_detail
    else:
        assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == (instance if instance is not None else response.request.url.path)
    return body


def assert_well_formed(response: httpx.Response) -> None:
    """Whatever the input: no 5xx, and any error is a problem document without internals."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert media_type(response) == "application/problem+json", (
            response.status_code,
            response.headers.get("content-type"),
            response.text[:300],
        )
        body = response.json()
        assert body["status"] == response.status_code
        assert body["title"] == REASON_PHRASES[response.status_code]
        assert body["type"] == "about:blank"
        assert isinstance(body["detail"], str)
        assert isinstance(body["instance"], str) and body["instance"].startswith("/")
        assert "Traceback" not in response.text


def error_locs(body: dict) -> list[list]:
    """The `loc` of every entry in a 422's `errors`, each checked for the shared shape."""
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    for error in errors:
        assert isinstance(error["msg"], str) and error["msg"]
        assert isinstance(error["type"], str) and error["type"]
        assert error["loc"][0] in ("body", "query", "path"), error
    return [list(error["loc"]) for error in errors]


def assert_validation_error(response: httpx.Response, *expected_locs: list) -> list[list]:
    """A 422 problem whose `errors` contain (at least) every expected `loc`."""
    body = assert_problem(response, 422)
    locs = error_locs(body)
    for loc in expected_locs:
        assert list(loc) in locs, (loc, locs)
    return locs


# ---- WebSocket clients ----------------------------------------------------------------------

WS_TIMEOUT = 10.0


def ws_connect(service: Service, path: str):
    """An open connection; to a room, one the server has already added to that room (its
    first message, `{"type": "joined", "room": ...}`, says so and is consumed here)."""
    from websockets.sync.client import connect

    # Connected on return (legacy=True), as ws_pair needs; callers close it with `with`.
    connection = connect(
        service.ws_url(path), open_timeout=WS_TIMEOUT, close_timeout=2, legacy=True
    )
    if path.startswith("/ws/rooms/"):
        try:
            first = ws_receive(connection)
            assert first == {"type": "joined", "room": path.removeprefix("/ws/rooms/")}, first
        except BaseException:
            connection.close()
            raise
    return connection


def ws_local_port(connection) -> int:
    return connection.socket.getsockname()[1]


def ws_receive(connection, timeout: float = WS_TIMEOUT):
    """The next JSON message (raises TimeoutError if none arrives in time)."""
    import json

    return json.loads(connection.recv(timeout=timeout))


def ws_receive_matching(connection, predicate, timeout: float = WS_TIMEOUT):
    """Skip messages (other tests share the room) until one satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no matching WebSocket message")
        message = ws_receive(connection, timeout=remaining)
        if predicate(message):
            return message


def ws_pair(service: Service, path: str, *, same_worker: bool, attempts: int = 60):
    """Two connections to `path` held by the same, or by different, worker processes.

    Returns (first, second, first_pid, second_pid); connections opened along the way and not
    used are closed. Which worker accepts a connection is up to the kernel and to which worker
    is free to: one still busy with an earlier test's background work can leave every
    connection to the other for a while (24 in a row once). So keep opening, with a pause
    between attempts, holding at most one connection per worker while looking for two.
    """
    opened = []
    try:
        for _ in range(attempts):
            connection = ws_connect(service, path)
            pid = service.worker_pid_for(ws_local_port(connection))
            assert pid is not None, "no gunicorn worker owns the WebSocket connection"
            for other, other_pid in opened:
                if (other_pid == pid) == same_worker:
                    opened.remove((other, other_pid))
                    return other, connection, other_pid, pid
            if any(other_pid == pid for _, other_pid in opened):
                with connection:  # a second on a worker that already has one: not needed
                    pass
            else:
                opened.append((connection, pid))
            time.sleep(0.1)
        raise AssertionError(
            f"no two connections on {'the same' if same_worker else 'different'} workers"
        )
    finally:
        for connection, _ in opened:
            with connection:  # entering and leaving closes it the way websockets expects
                pass
