"""Keep-alive connections spread over the gunicorn workers, and reloads still fail nothing.

Where `net.ipv4.tcp_migrate_req` is 1 (Linux 5.14+, set per network namespace), both
gunicorn.conf.py give each worker a listening socket of its own (`reuse_port`): the kernel
picks a socket for every new connection from a hash of its addresses, and moves the
connections queued on a socket that closes to the others instead of resetting them. Elsewhere
the workers share one socket, as gunicorn's do by default, and the worker that is awake when
connections arrive takes them all.

Services of this file's own run in a network namespace of its own with the sysctl set to 1
(root and `ip netns` are needed: skipped without them, failing under CI=true), and a client
thread joins the namespace to reach them:

* a burst of 32 keep-alive connections, opened while one of the two workers is busy (frozen
  with SIGSTOP for half a second), leaves each worker at least 8 (up to 3 tries); with one
  shared socket the other worker takes all 32;
* each worker holds a listening socket of its own, and two reloads (SIGHUP) under the keep-alive
  load of test_reloads.py fail no request.

On the suite's own services (the host's namespace) the workers share the master's listening
socket, unless the host's namespace has the sysctl set to 1.
"""

import contextlib
import ctypes
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.contract.harness import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    HTTP_TIMEOUT,
    SECRET_KEY,
    STARTUP_TIMEOUT,
    WORKERS,
    Process,
    Service,
    free_port,
    service_environment,
    wait_until,
)
from tests.contract.test_reloads import (
    LOAD_CLIENTS,
    RELOADS,
    KeepAliveLoad,
    reload_workers,
    steady_load,
)
from tests.hosts import kill_namespace, namespaces_usable, run_ip
from tests.support import IN_CI

MIGRATE_REQ = Path("/proc/sys/net/ipv4/tcp_migrate_req")
BURST = 32
AT_LEAST = 8
TRIES = 3
# How long one worker stays frozen while the burst arrives: ample for the other to accept
# every connection waiting on a shared socket.
FROZEN_SECONDS = 0.5
CLONE_NEWNET = 0x40000000
TCP_LISTEN = "0A"
TCP_ESTABLISHED = "01"
# Services without Redis: they need nothing but themselves.
NO_REDIS = ["flask-sqlite-noredis", "fastapi-sqlite-noredis"]


# ---- a network namespace with the sysctl set -------------------------------------------------


def join_namespace(namespace: str) -> None:
    """Move the calling thread, and only it, into the network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns {namespace}: {os.strerror(error)}")
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    reason = namespaces_usable()
    if reason is None and not MIGRATE_REQ.exists():
        reason = "the kernel has no net.ipv4.tcp_migrate_req (Linux 5.14+)"
    if reason is not None:
        message = f"no network namespace with net.ipv4.tcp_migrate_req=1: {reason}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"tstwk{os.getpid()}"
    run_ip("netns", "add", name)
    try:
        run_ip("-n", name, "link", "set", "lo", "up")
        # A sysctl of the namespace's own: the host's stays as it is.
        set_to_one = f"open({str(MIGRATE_REQ)!r}, 'w').write('1')"
        command = ["ip", "netns", "exec", name, sys.executable, "-c", set_to_one]
        subprocess.run(command, check=True, timeout=10)
        yield name
    finally:
        kill_namespace(name)
        run_ip("netns", "del", name, check=False)


@pytest.fixture(scope="module")
def in_namespace(namespace) -> Iterator[Callable]:
    """in_namespace(function, *args): its result, called in a thread inside the namespace."""
    with ThreadPoolExecutor(1, initializer=join_namespace, initargs=(namespace,)) as thread:
        yield lambda function, *args: thread.submit(function, *args).result()


def answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    finally:
        connection.close()


@pytest.fixture(scope="module", params=["flask", "fastapi"])
def namespaced_service(request, namespace, in_namespace, generated_project, tmp_path_factory):
    """A service of the file's own inside the namespace, on SQLite with no Redis."""
    framework = request.param
    project = generated_project(framework, "sqlite")
    run_dir = tmp_path_factory.mktemp(f"workers-{framework}")
    port = in_namespace(free_port)
    database_url = f"sqlite:///{run_dir / 'app.db'}"
    env = service_environment(
        project,
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(WORKERS),
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        ADMIN_USERNAME=ADMIN_USERNAME,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        LOG_LEVEL="INFO",
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    command = ["ip", "netns", "exec", namespace, *gunicorn]  # ip execs it: the same pid
    server = Process("gunicorn", command, project, env, run_dir / "gunicorn.log")
    service = Service(
        f"{framework}-namespace", framework, "sqlite", project, port, database_url, None, server
    )
    try:

        def up():
            if not server.alive():
                raise RuntimeError(f"gunicorn exited while starting\n{service.logs()}")
            return len(service.worker_pids()) == WORKERS and in_namespace(answers, port)

        assert wait_until(up, STARTUP_TIMEOUT, 0.2), service.logs()
        service.token = in_namespace(service.login, ADMIN_USERNAME, ADMIN_PASSWORD)
        yield service
    finally:
        server.stop()


# ---- who holds which socket ------------------------------------------------------------------


def tcp_sockets(pid: int, port: int, state: str) -> dict[str, int]:
    """The process's IPv4 TCP sockets in `state` whose local port is `port`: inode -> remote
    port. Read from /proc/<pid>, so from the process's own network namespace."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    held = {}
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, socket_state, inode = fields[1], fields[2], fields[3], fields[9]
        if socket_state == state and int(local.split(":")[1], 16) == port and inode in inodes:
            held[inode] = int(remote.split(":")[1], 16)
    return held


def listening_sockets(pid: int, port: int) -> set[str]:
    return set(tcp_sockets(pid, port, TCP_LISTEN))


def connections_per_worker(service: Service, client_ports: set[int]) -> list[int]:
    return sorted(
        sum(
            port in client_ports
            for port in tcp_sockets(pid, service.port, TCP_ESTABLISHED).values()
        )
        for pid in service.worker_pids()
    )


# ---- the burst -------------------------------------------------------------------------------


def burst(service: Service) -> list[int]:
    """BURST keep-alive connections, each with one request, opened while one worker is frozen;
    how many each worker holds once all are answered (fewest first)."""
    frozen = service.worker_pids()[0]
    connections = []
    os.kill(frozen, signal.SIGSTOP)
    try:
        for _ in range(BURST):
            connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=HTTP_TIMEOUT)
            connections.append(connection)
            connection.request("GET", "/health")
        time.sleep(FROZEN_SECONDS)
    finally:
        os.kill(frozen, signal.SIGCONT)
    try:
        for connection in connections:
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert not response.will_close
        client_ports = {connection.sock.getsockname()[1] for connection in connections}
        return connections_per_worker(service, client_ports)
    finally:
        for connection in connections:
            connection.close()


def test_a_burst_of_keep_alive_connections_spreads_over_the_workers(
    namespaced_service, in_namespace
):
    service = namespaced_service
    splits = []
    for _ in range(TRIES):
        splits.append(in_namespace(burst, service))
        assert len(splits[-1]) == WORKERS and sum(splits[-1]) == BURST, splits
        if min(splits[-1]) >= AT_LEAST:
            break
    print(f"{service.name}: {BURST} connections per worker, fewest first: {splits}")
    assert min(splits[-1]) >= AT_LEAST, splits


# ---- reloads with a socket per worker --------------------------------------------------------


class NamespacedLoad(KeepAliveLoad):
    """test_reloads.py's keep-alive load, its client threads inside the namespace."""

    def __init__(self, namespace: str, service: Service, item_path: str):
        super().__init__(service, item_path)
        self.namespace = namespace

    def client(self) -> None:
        join_namespace(self.namespace)
        super().client()


def create_item(service: Service) -> str:
    with service.client() as client:
        response = client.post("/api/v1/items", json={"name": "under load", "price": 1})
    assert response.status_code == 201, response.text
    return f"/api/v1/items/{response.json()['id']}"


def test_reloads_with_a_socket_per_worker_fail_no_request(
    namespaced_service, namespace, in_namespace
):
    service = namespaced_service
    master = listening_sockets(service.server.pid, service.port)
    workers = [listening_sockets(pid, service.port) for pid in service.worker_pids()]
    assert master == set(), "the master listens: the workers share its socket"
    assert all(len(sockets) == 1 for sockets in workers) and workers[0] != workers[1], workers
    assert "Each worker listens on a socket of its own" in service.server.log()

    item_path = in_namespace(create_item, service)
    took = []
    with NamespacedLoad(namespace, service, item_path) as load:
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
    assert report.reconnects >= LOAD_CLIENTS, report.summary()


# ---- the host's namespace --------------------------------------------------------------------


@pytest.mark.parametrize("service", NO_REDIS, indirect=True)
def test_the_workers_share_one_socket_unless_the_host_moves_queued_connections(service):
    moves = MIGRATE_REQ.exists() and MIGRATE_REQ.read_text().strip() == "1"
    master = listening_sockets(service.server.pid, service.port)
    workers = [listening_sockets(pid, service.port) for pid in service.worker_pids()]
    if moves:
        assert master == set() and workers[0] != workers[1], (master, workers)
    else:
        assert len(master) == 1 and all(sockets == master for sockets in workers), (master, workers)
        assert "The workers share one listening socket" in service.server.log()
