"""Two app hosts behind a load balancer, each host a network namespace: losing one loses nothing.

Per framework, on PostgreSQL, a private network (tests/hosts.py) of three hosts:

    root namespace  .1   the bridge; relays to PostgreSQL and Redis on 127.0.0.1
    lb              .10  nginx, upstream app1 + app2, next upstream on error or timeout
    app1, app2  .11 .12  the generated service under gunicorn (2 workers) + a Celery worker

The tests prove that:
* a WebSocket room spans hosts: a message sent through one host reaches clients connected to
  the other host and through the load balancer, and back;
* a prediction job submitted through a host whose Celery worker is dead completes on the
  other host's worker;
* under a write load through the load balancer, kill -9 of everything on one host loses no
  acknowledged write, fails no more than the requests in flight, and the load balancer keeps
  serving.

The host kill ends a host: that test comes last, and each test first restarts whatever it
needs that an earlier one killed.
"""

import contextlib
import json
import os
import pwd
import shutil
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from tests.contract.harness import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    HTTP_TIMEOUT,
    PACKAGE,
    PROJECT_NAME,
    SECRET_KEY,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    WORKERS,
    WRITER_PASSWORD,
    WRITER_USERNAME,
    Process,
    Service,
    _wait_for_celery,
    _wait_for_health,
    service_environment,
    wait_until,
    ws_connect,
    ws_receive,
)
from tests.contract.test_jobs import rows, submit, wait_for_job
from tests.hosts import (
    Network,
    TcpRelay,
    exclusive_networks,
    kill_namespace,
    namespaces_usable,
    remove_stale,
    tcp_local_addresses,
)
from tests.support import (
    IN_CI,
    REDIS_HOST,
    REDIS_PORT,
    TEMPLATES,
    generate,
    require_redis,
    scratch_database,
)

# Redis databases of this file alone; one network (10.231.<n>.0/24) per framework.
REDIS_DB = {"flask": 3, "fastapi": 4}
NETWORK_INDEX = {"flask": 1, "fastapi": 2}
APP_PORT = 8000
LB_PORT = 8080
# How long a run waits for another run's networks to go away.
LOCK_TIMEOUT = 180.0

ITEMS = "/api/v1/items"
WRITE_THREADS = 4
LOAD_SECONDS = 6.0
KILL_AFTER = 2.0
# Only a request already in flight when its host dies may fail; one sent this long after the
# kill must be answered by the survivor.
SETTLE_SECONDS = 1.0


def unusable(reason: str) -> None:
    message = f"several hosts cannot be built here: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class HostService(Service):
    """A generated service on a host of its own, reached at the host's address."""

    address: str = "127.0.0.1"
    namespace: str = ""
    run_dir: Path = Path()
    env: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{self.address}:{self.port}{path}"


@dataclass
class Balancer:
    address: str
    port: int
    run_dir: Path
    process: Process

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{self.address}:{self.port}{path}"

    @property
    def access_log(self) -> Path:
        return self.run_dir / "access.log"


@dataclass
class Cluster:
    framework: str
    hosts: list[HostService]
    balancer: Balancer
    database_url: str  # as the test reaches it, on 127.0.0.1
    redis_relay: TcpRelay

    def ensure_running(self, *, celery: bool) -> None:
        """Start what is not running (at first, everything; later, what an earlier test killed):
        a host's gunicorn, and its Celery worker if `celery`; then wait until they serve."""
        servers = [host for host in self.hosts if not running(host.server)]
        workers = [host for host in self.hosts if celery and not running(host.worker)]
        for host in servers:
            power_off(host)  # whatever the earlier kill spared
            start_server(host)
        for host in workers:
            start_worker(host)
        for host in servers:
            _wait_for_health(host)
        for host in workers:
            _wait_for_celery(host.worker, host.redis_url)


# ---- starting the hosts -----------------------------------------------------------------------


def in_namespace(namespace: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


def new_log(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}-{time.monotonic_ns()}.log"


def running(process: Process | None) -> bool:
    return process is not None and process.alive()


def start_server(host: HostService) -> None:
    host.server = Process(
        f"{host.name} gunicorn",
        in_namespace(host.namespace, sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"),
        host.project_dir,
        host.env,
        new_log(host.run_dir, "gunicorn"),
    )


def start_worker(host: HostService) -> None:
    if host.worker is not None:
        host.worker.stop()
    celery = [sys.executable, "-m", "celery", "-A", f"{PACKAGE}.worker", "worker"]
    options = ["--pool=solo", "--concurrency=1", "--loglevel=INFO", f"--hostname={host.name}@%h"]
    host.worker = Process(
        f"{host.name} celery",
        in_namespace(host.namespace, *celery, *options),
        host.project_dir,
        host.env,
        new_log(host.run_dir, "celery"),
    )


def power_off(host: HostService) -> None:
    """Kill everything on the host at once, and reap it: nothing here needs a graceful stop."""
    kill_namespace(host.namespace)
    for process in (host.server, host.worker):
        if process is not None:
            process.stop()


def app_host(
    name, framework, project, network, last_octet, run_dir, database_url, redis_url
) -> HostService:
    namespace, address = network.add_host(name, last_octet)
    run_dir.mkdir(parents=True)
    env = service_environment(
        project,
        BIND=f"{address}:{APP_PORT}",
        WEB_CONCURRENCY=str(WORKERS),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        SECRET_KEY=SECRET_KEY,
        ADMIN_USERNAME=ADMIN_USERNAME,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        LOG_LEVEL="INFO",
        # Both hosts apply pending migrations at start; the services take turns under a lock.
        MIGRATE_ON_START="1",
        PROMETHEUS_MULTIPROC_DIR=str(run_dir / "metrics"),
    )
    return HostService(
        name=name,
        framework=framework,
        database="postgresql",
        project_dir=project,
        port=APP_PORT,
        database_url=database_url,
        redis_url=redis_url,
        server=None,  # Cluster.ensure_running starts it
        address=address,
        namespace=namespace,
        run_dir=run_dir,
        env=env,
    )


def nginx_config(run_dir: Path, listen: str, upstreams: list[str]) -> str:
    servers = "\n".join(
        f"        server {address}:{APP_PORT} max_fails=1 fail_timeout=2s;" for address in upstreams
    )
    return f"""
user {pwd.getpwuid(os.geteuid()).pw_name};
worker_processes 1;
daemon off;
master_process on;
pid {run_dir}/nginx.pid;
error_log {run_dir}/error.log info;
events {{ worker_connections 512; }}
http {{
    log_format upstreams '$msec|$status|$request_method|$uri|$upstream_addr|$upstream_status';
    access_log {run_dir}/access.log upstreams;
    client_body_temp_path {run_dir}/client_body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;

    upstream app {{
{servers}
        keepalive 16;
    }}

    # Hop-by-hop headers nginx does not pass on by itself: a WebSocket handshake needs them.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      "";
    }}

    server {{
        listen {listen};
        client_max_body_size 16m;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        # A host that refuses or does not answer the connection is skipped at once. A request
        # already sent is not repeated elsewhere (nginx never does for a POST): it fails.
        proxy_connect_timeout 1s;
        proxy_read_timeout 30s;
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 2;

        location / {{
            proxy_pass http://app;
        }}
    }}
}}
"""


def start_balancer(network: Network, run_dir: Path, upstreams: list[str]) -> Balancer:
    namespace, address = network.add_host("lb", 10)
    run_dir.mkdir(parents=True)
    config = run_dir / "nginx.conf"
    config.write_text(nginx_config(run_dir, f"{address}:{LB_PORT}", upstreams))
    command = ["nginx", "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "error.log")]
    process = Process(
        "nginx",
        in_namespace(namespace, *command),
        run_dir,
        dict(os.environ),
        run_dir / "nginx.log",
    )
    return Balancer(address, LB_PORT, run_dir, process)


def wait_for_balancer(balancer: Balancer) -> None:
    def serves():
        if not balancer.process.alive():
            raise RuntimeError(f"nginx exited\n{balancer.process.log_tail()}")
        return httpx.get(f"{balancer.base_url}/health", timeout=2).status_code == 200

    assert wait_until(serves, STARTUP_TIMEOUT, 0.2), (
        f"nginx does not serve /health\n{(balancer.run_dir / 'error.log').read_text()[-4000:]}"
    )


def via_relay(url: str, relay: TcpRelay) -> str:
    """The same URL with the relay's address in place of the server's."""
    parts = urllib.parse.urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return parts._replace(netloc=f"{user}{relay.listen_host}:{relay.port}").geturl()


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    with contextlib.closing(client):
        client.flushdb()


@pytest.fixture(scope="module", params=TEMPLATES)
def cluster(request, tmp_path_factory):
    """The network of one framework: both app hosts and the load balancer serving, the writer's
    token on each host; everything killed and removed afterwards."""
    framework = request.param
    reason = namespaces_usable() or (
        None if shutil.which("nginx") else "nginx is not installed (bash .ci/setup.sh installs it)"
    )
    if reason:
        unusable(reason)
    redis_url = require_redis(REDIS_DB[framework])
    root = tmp_path_factory.mktemp(f"hosts-{framework}")
    project = generate(
        framework,
        root / "project",
        project_name=PROJECT_NAME,
        database="postgresql",
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        use_websockets=True,
        use_ml=True,
        use_celery=True,
        use_auth=True,
    )
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(scratch_database(f"hosts_{framework}"))
        flush_redis(redis_url)
        stack.callback(flush_redis, redis_url)

        stack.enter_context(exclusive_networks(LOCK_TIMEOUT))
        remove_stale()
        network = Network(NETWORK_INDEX[framework])
        stack.callback(network.destroy)
        network.create()
        postgres = urllib.parse.urlsplit(database_url)
        relays = {
            "postgres": TcpRelay(network.gateway, (postgres.hostname, postgres.port or 5432)),
            "redis": TcpRelay(network.gateway, (REDIS_HOST, REDIS_PORT)),
        }
        for relay in relays.values():
            stack.callback(relay.stop)
            relay.start()

        hosts = [
            app_host(
                f"app{number}",
                framework,
                project,
                network,
                10 + number,
                root / f"app{number}",
                via_relay(database_url, relays["postgres"]),
                via_relay(redis_url, relays["redis"]),
            )
            for number in (1, 2)
        ]
        for host in hosts:
            stack.callback(power_off, host)
        balancer = start_balancer(network, root / "lb", [host.address for host in hosts])
        stack.callback(balancer.process.stop)
        cluster = Cluster(framework, hosts, balancer, database_url, relays["redis"])

        cluster.ensure_running(celery=True)
        wait_for_balancer(balancer)
        hosts[0].create_user(WRITER_USERNAME, WRITER_PASSWORD)
        token = hosts[0].login(WRITER_USERNAME, WRITER_PASSWORD)
        for host in hosts:
            host.token = token
        yield cluster


# ---- 1. WebSockets across hosts ---------------------------------------------------------------


def room_message(room: str, data) -> dict:
    return {"type": "message", "room": room, "data": data}


def received(connection) -> dict:
    message = ws_receive(connection)
    return {key: message.get(key) for key in ("type", "room", "data")}


def test_a_room_message_reaches_clients_on_the_other_host(cluster):
    cluster.ensure_running(celery=False)
    first, second = cluster.hosts
    room = f"hosts-{uuid.uuid4().hex[:12]}"
    path = f"/ws/rooms/{room}"
    with (
        ws_connect(first, path) as on_first,
        ws_connect(second, path) as on_second,
        ws_connect(cluster.balancer, path) as through_balancer,
    ):
        data = {"from": first.name, "n": 1}
        on_first.send(json.dumps({"type": "message", "data": data}))
        for connection in (on_second, through_balancer, on_first):
            assert received(connection) == room_message(room, data)

        data = {"from": second.name, "n": 2}
        on_second.send(json.dumps({"type": "message", "data": data}))
        for connection in (on_first, through_balancer, on_second):
            assert received(connection) == room_message(room, data)


# ---- 2. Jobs where a Celery worker is dead ----------------------------------------------------


def kill_worker(host: HostService, relay: TcpRelay) -> None:
    """SIGKILL the host's Celery worker and wait until the relay has dropped its connections,
    so that Redis no longer counts it as a consumer."""
    worker = host.worker
    assert worker is not None and worker.alive()
    connections = tcp_local_addresses(worker.pid)
    assert connections, "the Celery worker holds no TCP connection"
    os.kill(worker.pid, signal.SIGKILL)
    worker.popen.wait(timeout=STOP_TIMEOUT)
    dropped = wait_until(lambda: not relay.open_peers() & connections, STOP_TIMEOUT, 0.05)
    assert dropped, "the relay still holds the dead worker's connections"


def tasks_run(host: HostService) -> int:
    """How many tasks the host's Celery worker has finished, as its log says."""
    assert host.worker is not None
    return host.worker.log().count(" succeeded in ")


def test_jobs_complete_on_whichever_celery_worker_is_alive(cluster):
    cluster.ensure_running(celery=True)
    survivor, stricken = cluster.hosts
    kill_worker(stricken, cluster.redis_relay)
    ran_before = tasks_run(survivor)

    took = {}
    for seed, host in enumerate((stricken, survivor)):
        inputs = rows(5, seed=seed)
        started = time.monotonic()
        with host.client() as client:
            _, location = submit(client, inputs)
            done = wait_for_job(host, location)
            expected = client.post("/api/v1/models/digits/predict", json={"inputs": inputs})
        took[host.name] = round(time.monotonic() - started, 3)
        assert done["status"] == "SUCCESS", (host.name, done, survivor.logs())
        assert done["result"]["predictions"] == expected.json()["predictions"]
    # The worker logs a task's success just after the job's row says so.
    both_ran_there = wait_until(lambda: tasks_run(survivor) == ran_before + 2, STOP_TIMEOUT)
    print(
        f"[{cluster.framework}] {stricken.name}'s Celery worker dead: job submitted through "
        f"each host done in {took} s, run by {survivor.name}'s worker: {bool(both_ran_there)}"
    )
    assert both_ran_there, survivor.logs()


# ---- 3. A host killed under write load --------------------------------------------------------


@dataclass
class Attempt:
    name: str
    started: float
    finished: float = 0.0
    status: int | None = None  # None: no HTTP response at all
    item_id: int | None = None
    error: str = ""


def write_until(deadline: float, base_url: str, token: str, thread: int) -> list[Attempt]:
    """POST items with unique names, one after another, until the deadline."""
    attempts = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=HTTP_TIMEOUT) as client:
        while time.monotonic() < deadline:
            attempt = Attempt(f"hosts-{thread}-{uuid.uuid4().hex}", time.monotonic())
            try:
                response = client.post(ITEMS, json={"name": attempt.name, "price": 1})
            except httpx.HTTPError as error:
                attempt.error = repr(error)
            else:
                attempt.status = response.status_code
                if response.status_code == 201:
                    attempt.item_id = response.json()["id"]
                else:
                    attempt.error = response.reason_phrase
            attempt.finished = time.monotonic()
            attempts.append(attempt)
    return attempts


def write_load(
    balancer: Balancer, token: str, seconds: float
) -> tuple[list[Attempt], Callable[[], None]]:
    """Start WRITE_THREADS writers for `seconds`: (their attempts, a function that waits for
    them). The list is complete once that function has returned."""
    deadline = time.monotonic() + seconds
    results: list[Attempt] = []

    def writer(thread: int) -> None:
        results.extend(write_until(deadline, balancer.base_url, token, thread))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITE_THREADS)]
    for thread in threads:
        thread.start()

    def join() -> None:
        for thread in threads:
            thread.join(timeout=seconds + 2 * HTTP_TIMEOUT)
            assert not thread.is_alive(), "a writer is stuck"

    return results, join


def stored_names(database_url: str, ids: list[int]) -> dict[int, str]:
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        found = connection.execute("SELECT id, name FROM items WHERE id = ANY(%s)", (ids,))
        return dict(found.fetchall())


def writes_per_upstream(balancer: Balancer, since: float, until: float) -> dict[str, int]:
    """How many item writes each upstream was sent between two wall-clock times (nginx's log)."""
    counts: dict[str, int] = {}
    for line in balancer.access_log.read_text().splitlines():
        msec, _, method, uri, upstream_addresses, _ = line.split("|")
        if method == "POST" and uri == ITEMS and since <= float(msec) <= until:
            for address in upstream_addresses.split(", "):
                counts[address] = counts.get(address, 0) + 1
    return counts


def failure_reasons(failed: list[Attempt]) -> dict[str, int]:
    return dict(Counter(f"{a.status or 'no response'} {a.error[:120]}" for a in failed))


def test_killing_a_host_under_write_load_loses_no_acknowledged_write(cluster):
    cluster.ensure_running(celery=False)
    doomed, survivor = cluster.hosts

    load_started = time.time()
    attempts, join = write_load(cluster.balancer, survivor.token, LOAD_SECONDS)
    time.sleep(KILL_AFTER)
    killed_at, killed_at_epoch = time.monotonic(), time.time()
    killed = kill_namespace(doomed.namespace)
    join()

    acknowledged = {a.item_id: a.name for a in attempts if a.status == 201}
    stored = stored_names(cluster.database_url, list(acknowledged))
    lost = {i: name for i, name in acknowledged.items() if stored.get(i) != name}
    failed = [a for a in attempts if a.status != 201]
    late_failures = [a for a in failed if a.started > killed_at + SETTLE_SECONDS]
    served_again = min(
        (a.finished - killed_at for a in attempts if a.status == 201 and a.started >= killed_at),
        default=float("inf"),
    )
    before_kill = writes_per_upstream(cluster.balancer, load_started, killed_at_epoch)
    numbers = (
        f"[{cluster.framework}] {len(attempts)} writes sent, {len(acknowledged)} acknowledged, "
        f"{len(lost)} lost, {len(failed)} failed ({len(late_failures)} of them sent over "
        f"{SETTLE_SECONDS}s after the kill), served again {served_again:.3f}s after the kill; "
        f"{len(killed)} processes killed on {doomed.name}; "
        f"writes per upstream before the kill: {before_kill}; "
        f"failures: {failure_reasons(failed)}"
    )
    print(numbers)

    assert killed, f"nothing ran on {doomed.name}"
    assert before_kill.get(f"{doomed.address}:{APP_PORT}"), f"no write reached {doomed.name}"
    assert not lost, f"acknowledged writes lost: {lost}; {numbers}"
    assert len(failed) <= 2 * WRITE_THREADS, numbers
    assert not late_failures, numbers
    assert served_again < SETTLE_SECONDS, numbers
    with httpx.Client(base_url=cluster.balancer.base_url, timeout=HTTP_TIMEOUT) as client:
        for item_id in list(acknowledged)[-5:]:
            response = client.get(f"{ITEMS}/{item_id}")
            assert response.status_code == 200, (response.status_code, response.text, numbers)
            assert response.json()["name"] == acknowledged[item_id]
