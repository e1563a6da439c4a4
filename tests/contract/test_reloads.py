"""Reloads (SIGHUP) and graceful stops (SIGTERM) under keep-alive load fail no request.

Sixteen clients each keep one HTTP/1.1 connection and send GET /health and GET of an item
back to back. A client opens a new connection only after a response that said
`Connection: close`. Any request that gets no response, or a non-2xx one, is a failed request,
as a load balancer in front would see it: the client cannot tell a connection closed while idle
from one closed under its request.

* Two reloads, each waited for until only new workers are left: no request fails.
* A stop: no request fails on a connection opened before it. New connections are expected to
  be refused once the listener closes; one the kernel still accepted in the last moment before
  it closed is reset without a response (inherent to closing a listening socket), and is
  reported but not counted. The master exits within its graceful timeout, and WebSocket clients
  connected at that moment get close code 1001 (going away).

Each test prints its numbers: requests served and failed, reconnections, how long each reload
took and the slowest request (the longest any client waited for the service to serve again).
"""

import contextlib
import http.client
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest
from websockets.exceptions import ConnectionClosed

from tests.contract.harness import (
    HTTP_TIMEOUT,
    WORKERS,
    Service,
    running_service,
    wait_until,
    ws_connect,
)

LOAD_CLIENTS = 16
RELOADS = 2
# Load before and after each fault, so that the clients sit on the workers it hits.
STEADY_SECONDS = 1.0
RELOAD_TIMEOUT = 30.0
GRACEFUL_TIMEOUT = 20.0  # graceful_timeout in both gunicorn.conf.py
WEBSOCKET_CLIENTS = 4


@pytest.fixture(scope="module", params=["flask", "fastapi"])
def service(request, generated_project, tmp_path_factory):
    """A service of the file's own (the last test stops it), on SQLite with no Redis."""
    framework = request.param
    run_dir = tmp_path_factory.mktemp(f"reloads-{framework}")
    with running_service(
        name=f"{framework}-reloads",
        framework=framework,
        database="sqlite",
        project_dir=generated_project(framework, "sqlite"),
        run_dir=run_dir,
        database_url=f"sqlite:///{run_dir / 'app.db'}",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def item_path(service) -> str:
    with service.client() as client:
        response = client.post("/api/v1/items", json={"name": "under load", "price": 1})
    assert response.status_code == 201, response.text
    return f"/api/v1/items/{response.json()['id']}"


# ---- the load -------------------------------------------------------------------------------


@dataclass
class LoadReport:
    served: int = 0
    reconnects: int = 0  # new connections after a response that said Connection: close
    refused: int = 0  # new connections refused (expected once a stop has begun)
    failures: list[str] = field(default_factory=list)
    # Connections opened after a stop began, reset before their first response.
    late_resets: int = 0
    slowest: float = 0.0  # the longest any one request took, in seconds
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> str:
        return (
            f"served={self.served} failed={len(self.failures)} reconnects={self.reconnects} "
            f"refused={self.refused} late_resets={self.late_resets} "
            f"slowest={self.slowest:.2f}s"
        )


class Connection:
    """One client's current connection, and whether a stop had begun when it was opened."""

    def __init__(self, port: int, opened_while_stopping: bool):
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        self.http.connect()
        self.opened_while_stopping = opened_while_stopping
        self.answered = 0


class KeepAliveLoad:
    """LOAD_CLIENTS threads, each with one persistent connection, requesting back to back.

    Once `stopping()` has been called, a refused connection ends that client; before that it is
    a failure like any other.
    """

    def __init__(self, service: Service, item_path: str):
        self.service = service
        self.requests = [
            ("/health", {}),
            (item_path, {"Authorization": f"Bearer {service.token}"}),
        ]
        self.report = LoadReport()
        self.done = threading.Event()
        self.server_stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.client, name=f"load-{n}", daemon=True)
            for n in range(LOAD_CLIENTS)
        ]

    def __enter__(self) -> "KeepAliveLoad":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=HTTP_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self.threads), "a load client hangs"

    def stopping(self) -> None:
        self.server_stopping.set()

    def client(self) -> None:
        connection = None
        sent = 0
        while not self.done.is_set():
            if connection is None:
                connection = self.connect()
                if connection is None:
                    if self.server_stopping.is_set():
                        return
                    continue
            path, headers = self.requests[sent % len(self.requests)]
            sent += 1
            if not self.request(connection, path, headers):
                connection.http.close()
                connection = None
        if connection is not None:
            connection.http.close()

    def connect(self) -> Connection | None:
        opened_while_stopping = self.server_stopping.is_set()
        try:
            return Connection(self.service.port, opened_while_stopping)
        except (ConnectionRefusedError, ConnectionResetError) as exc:
            # A reset here is a connection the kernel had queued as the listener closed.
            with self.report.lock:
                self.report.refused += 1
                if not opened_while_stopping:
                    self.report.failures.append(f"connect: {exc!r}")
            time.sleep(0.01)
            return None

    def request(self, connection: Connection, path: str, headers: dict) -> bool:
        """One request; False when the connection is not to be used again."""
        started = time.monotonic()
        try:
            connection.http.request("GET", path, headers=headers)
            response = connection.http.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            if connection.opened_while_stopping and connection.answered == 0:
                with self.report.lock:
                    self.report.late_resets += 1
            else:
                self.record(started, f"GET {path}: {exc!r}")
            return False
        connection.answered += 1
        ok = 200 <= response.status < 300
        self.record(started, None if ok else f"GET {path}: {response.status}")
        if response.will_close:
            with self.report.lock:
                self.report.reconnects += 1
            return False
        return True

    def record(self, started: float, failure: str | None) -> None:
        took = time.monotonic() - started
        with self.report.lock:
            self.report.slowest = max(self.report.slowest, took)
            if failure is None:
                self.report.served += 1
            else:
                self.report.failures.append(failure)


def steady_load(load: KeepAliveLoad) -> None:
    """STEADY_SECONDS of load, which must go on being served."""
    served = load.report.served
    time.sleep(STEADY_SECONDS)
    assert wait_until(lambda: load.report.served >= served + 50, 10, 0.05), load.report.summary()


# ---- reloads --------------------------------------------------------------------------------


def reload_workers(service: Service) -> float:
    """SIGHUP to the master; the seconds until only new workers, all of them, are left."""
    old = set(service.worker_pids())
    started = time.monotonic()
    service.server.popen.send_signal(signal.SIGHUP)

    def only_new_workers():
        pids = set(service.worker_pids())
        return len(pids) == WORKERS and not pids & old

    assert wait_until(only_new_workers, RELOAD_TIMEOUT, 0.05), service.logs()
    return time.monotonic() - started


def test_reloads_under_keep_alive_load_fail_no_request(service, item_path):
    took = []
    with KeepAliveLoad(service, item_path) as load:
        steady_load(load)
        for _ in range(RELOADS):
            took.append(reload_workers(service))
            steady_load(load)
    report = load.report
    print(
        f"{service.name}: {RELOADS} reloads under load, each done in "
        f"{', '.join(f'{seconds:.2f}s' for seconds in took)}: {report.summary()}"
    )
    assert report.failures == [], (report.summary(), report.failures[:20])
    # Every client was moved off a stopping worker by a Connection: close.
    assert report.reconnects >= LOAD_CLIENTS, report.summary()


# ---- stop -----------------------------------------------------------------------------------


def open_websockets(service: Service) -> list:
    sockets = []
    for n in range(WEBSOCKET_CLIENTS):
        ws = ws_connect(service, "/ws/echo")
        sockets.append(ws)
        ws.send(f"hello {n}")
        assert ws.recv(timeout=10) == f"hello {n}"
    return sockets


def close_code(ws) -> int | None:
    """The code of the close frame the server sends (None if it sends none)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=GRACEFUL_TIMEOUT)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_graceful_stop_under_keep_alive_load_fails_no_request(service, item_path):
    websockets = []
    try:
        websockets = open_websockets(service)
        with KeepAliveLoad(service, item_path) as load:
            steady_load(load)
            started = time.monotonic()
            load.stopping()
            service.server.popen.send_signal(signal.SIGTERM)
            codes = [close_code(ws) for ws in websockets]
            exit_status = service.server.popen.wait(timeout=GRACEFUL_TIMEOUT + 10)
            took = time.monotonic() - started
    finally:
        for ws in websockets:
            with contextlib.suppress(Exception):
                ws.close()
    report = load.report
    print(
        f"{service.name}: stop under load: {report.summary()}, master exited "
        f"({exit_status}) after {took:.2f}s, WebSocket close codes {codes}"
    )
    assert report.failures == [], (report.summary(), report.failures[:20])
    assert exit_status == 0, service.logs()
    assert took < GRACEFUL_TIMEOUT, service.logs()
    assert codes == [1001] * WEBSOCKET_CLIENTS
