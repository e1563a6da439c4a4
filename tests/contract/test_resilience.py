"""Crashes and restarts on one host, under load: what clients see and what the database keeps.

* `kill -9` of the whole gunicorn (master and workers) while clients create items, then a
  restart on the same database: every write the service acknowledged (201 with an id) is
  still there. SQLite and PostgreSQL, both frameworks.
* `kill -9` of one worker while clients create items: gunicorn forks a replacement within
  seconds and the replacement serves; only requests in flight on the dead worker fail (no more
  than there are client threads, and none with an HTTP error) and nothing acknowledged is lost.
* A PostgreSQL of the test's own stopped (`pg_ctl stop -m immediate`) for two seconds under
  read and write load, then started again: during the outage every answer is a 503 problem
  (the streamed export's too), never a 500 and never a broken connection, and every worker
  serves again by itself.
* A Redis of the test's own killed and restarted under load: not one create, read or update
  fails, and the item cache fills again once Redis is back. (test_modes.py proves the same
  requests succeed one at a time while Redis is down, and that /ready reports it.)

Each test prints its numbers: acknowledged writes, lost writes (always 0), failed requests and
how long the service took to serve again after the fault.
"""

import contextlib
import itertools
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import redis

from tests.contract.harness import (
    HTTP_TIMEOUT,
    WORKERS,
    KeptConnection,
    RedisServer,
    Service,
    free_port,
    media_type,
    running_service,
    wait_until,
)
from tests.support import TEMPLATES, scratch_database, unavailable

ITEMS = "/api/v1/items"
CLIENT_THREADS = 4
LOAD_SECONDS = 3.0
OUTAGE_SECONDS = 2.0
# After a fault, the client threads keep going this long so that what follows is seen too.
AFTERMATH_SECONDS = 1.0
REPLACEMENT_TIMEOUT = 15.0
RECOVERY_TIMEOUT = 15.0
# A client that just failed to connect waits this long before it tries again.
RETRY_PAUSE = 0.05
WRITE_ONLY = ("create",)
READ_AND_WRITE = ("create", "read", "update", "read")
# Asked once each while PostgreSQL is down: the list, and the export, which streams.
OUTAGE_PROBES = (f"{ITEMS}?limit=5", f"{ITEMS}/export")


# ---- load: client threads and what they saw --------------------------------------------------


@dataclass
class Outcome:
    """One request: when it ran and how it ended (status None: no HTTP answer at all)."""

    operation: str
    started: float
    finished: float
    status: int | None
    content_type: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        answer = self.error if self.status is None else f"{self.status} {self.content_type}"
        return f"{self.operation} at {self.started:.3f}: {answer}"


class Load:
    """Client threads, each with its own connection and the writer's token, sending requests
    in turn from `operations` until stopped. A read or update goes to an item the thread
    created; `acknowledged` maps the id of every 201 to the name that was sent."""

    def __init__(self, service: Service, operations: tuple[str, ...]):
        self.service = service
        self.operations = operations
        self.acknowledged: dict[int, str] = {}
        self.outcomes: list[Outcome] = []
        self._run_id = uuid.uuid4().hex[:8]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._client_loop, args=(number,), daemon=True)
            for number in range(CLIENT_THREADS)
        ]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=HTTP_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self._threads), "a client thread hangs"

    def _client_loop(self, number: int) -> None:
        own_items: list[int] = []
        with self.service.client() as client:
            for step in itertools.count():
                if self._stopping.is_set():
                    return
                operation = self.operations[step % len(self.operations)]
                if not own_items:
                    operation = "create"
                outcome = self._send(client, operation, number, step, own_items)
                with self._lock:
                    self.outcomes.append(outcome)
                if outcome.status is None:
                    time.sleep(RETRY_PAUSE)

    def _send(
        self, client: httpx.Client, operation: str, number: int, step: int, own_items: list[int]
    ) -> Outcome:
        name = f"load-{self._run_id}-{number}-{step}"
        started = time.monotonic()
        try:
            if operation == "create":
                response = client.post(ITEMS, json={"name": name, "price": 1})
            elif operation == "read":
                response = client.get(f"{ITEMS}/{own_items[step % len(own_items)]}")
            else:
                response = client.patch(f"{ITEMS}/{own_items[-1]}", json={"price": step})
        except httpx.HTTPError as error:
            error_text = f"{type(error).__name__}: {error}"
            return Outcome(operation, started, time.monotonic(), None, error=error_text)
        if operation == "create" and response.status_code == 201:
            item_id = response.json()["id"]
            own_items.append(item_id)
            with self._lock:
                self.acknowledged[item_id] = name
        return Outcome(
            operation, started, time.monotonic(), response.status_code, media_type(response)
        )

    # -- what the clients saw --

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.snapshot() if not outcome.succeeded]

    def first_success_after(self, moment: float) -> Outcome | None:
        after = [o for o in self.snapshot() if o.started >= moment and o.succeeded]
        return min(after, key=lambda outcome: outcome.finished, default=None)


def wait_for_acknowledged(load: Load, count: int, timeout: float) -> None:
    """Until the service has acknowledged `count` writes (the load is really running)."""
    assert wait_until(lambda: len(load.acknowledged) >= count, timeout, 0.05), (
        f"only {len(load.acknowledged)} writes acknowledged; failures: "
        f"{[outcome.describe() for outcome in load.failures()[:5]]}"
    )


def stored_names(service: Service) -> dict[int, str]:
    """Every item in the database, id to name, through the NDJSON export."""
    with service.client(token=None) as client:
        response = client.get(f"{ITEMS}/export")
    assert response.status_code == 200, response.text[:500]
    items = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    return {item["id"]: item["name"] for item in items}


def lost_writes(service: Service, acknowledged: dict[int, str]) -> list[int]:
    """The acknowledged ids the database does not hold (with the name that was sent)."""
    stored = stored_names(service)
    return sorted(item_id for item_id, name in acknowledged.items() if stored.get(item_id) != name)


def print_numbers(scenario: str, **numbers: object) -> None:
    print(
        f"\n{scenario}: "
        + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in numbers.items())
    )


def kinds(failures: list[Outcome]) -> dict[str, int]:
    """How many failures of each kind: an HTTP status, or the client's exception."""
    names = [str(f.status) if f.status else f.error.partition(":")[0] for f in failures]
    return {name: names.count(name) for name in sorted(set(names))}


def seconds(value: float) -> str:
    return f"{value:.2f} s"


# ---- processes -------------------------------------------------------------------------------


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill_whole_server(service: Service) -> list[int]:
    """SIGKILL to the gunicorn master and all its workers at once, as a crash would do.

    They are alone in their process group (no Celery worker runs here)."""
    pids = [service.server.pid, *service.worker_pids()]
    os.killpg(service.server.pid, signal.SIGKILL)
    assert wait_until(lambda: all(gone(pid) for pid in pids), 10.0, 0.05), pids
    return pids


def replacement_workers(service: Service, dead_pid: int) -> list[int] | None:
    pids = service.worker_pids()
    return pids if len(pids) == WORKERS and dead_pid not in pids else None


def connection_to(service: Service, pid: int, timeout: float) -> KeptConnection:
    """A keep-alive connection held by worker `pid`.

    The kernel hands each new connection to either worker, so keep opening connections."""

    def one_attempt() -> KeptConnection | None:
        connection = KeptConnection(service)
        if service.worker_pid_for(connection.port) == pid:
            return connection
        connection.close()
        return None

    connection = wait_until(one_attempt, timeout, 0.05)
    assert connection is not None, f"no connection reached worker {pid}"
    return connection


def answers_until_success(service: Service, pid: int, path: str, timeout: float) -> list[int]:
    """The statuses worker `pid` answers to GET `path`, on one connection, up to the first 200."""
    connection = connection_to(service, pid, timeout)
    statuses: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while 200 not in statuses and time.monotonic() < deadline:
            statuses.append(connection.get(path))
    finally:
        connection.close()
    return statuses


def get_outcome(service: Service, path: str) -> Outcome:
    """One GET on a connection of its own (so to either worker)."""
    started = time.monotonic()
    try:
        response = httpx.get(service.base_url + path, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as error:
        error_text = f"{type(error).__name__}: {error}"
        return Outcome(f"GET {path}", started, time.monotonic(), None, error=error_text)
    return Outcome(
        f"GET {path}", started, time.monotonic(), response.status_code, media_type(response)
    )


@contextlib.contextmanager
def database_url_for(database: str, framework: str, run_dir: Path) -> Iterator[str]:
    if database == "postgresql":
        with scratch_database(f"resilience_{framework}") as url:
            yield url
    else:
        yield f"sqlite:///{run_dir / 'app.db'}"


# ---- 1. the whole server killed, then restarted ----------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("framework", TEMPLATES)
def test_killing_the_whole_server_loses_no_acknowledged_write(
    framework, database, generated_project, tmp_path
):
    project = generated_project(framework, database)
    same_project = {"framework": framework, "database": database, "project_dir": project}
    with database_url_for(database, framework, tmp_path) as database_url:
        with (
            running_service(
                name=f"{framework}-{database}-killed",
                run_dir=tmp_path / "before",
                database_url=database_url,
                **same_project,
            ) as service,
            Load(service, WRITE_ONLY) as load,
        ):
            wait_for_acknowledged(load, CLIENT_THREADS, timeout=30.0)
            time.sleep(LOAD_SECONDS)
            killed_at = time.monotonic()
            killed_pids = kill_whole_server(service)
            time.sleep(0.5)  # the clients meet the dead server
        restart_began = time.monotonic()
        with running_service(
            name=f"{framework}-{database}-restarted",
            run_dir=tmp_path / "after",
            database_url=database_url,
            **same_project,
        ) as restarted:
            serving_again = time.monotonic()
            lost = lost_writes(restarted, load.acknowledged)

    failures = load.failures()
    print_numbers(
        f"kill -9 of gunicorn ({framework}, {database}, pids {killed_pids})",
        acknowledged_writes=len(load.acknowledged),
        lost=len(lost),
        failed_requests=len(failures),
        failures_by_kind=kinds(failures),
        restart_took=seconds(serving_again - restart_began),
        serving_again_after_the_kill=seconds(serving_again - killed_at),
    )
    assert len(load.acknowledged) > CLIENT_THREADS
    assert lost == [], f"acknowledged but missing after the restart: {lost}"


# ---- a service on SQLite and a Redis of its own, shared by scenarios 2 and 4 -----------------


@dataclass
class ServiceOnPrivateRedis:
    service: Service
    redis_server: RedisServer


@pytest.fixture(scope="module", params=TEMPLATES)
def sqlite_service_on_private_redis(request, generated_project, tmp_path_factory):
    """Left as found by each test: both workers up and Redis running."""
    framework = request.param
    run_dir = tmp_path_factory.mktemp(f"resilience-{framework}")
    redis_server = RedisServer(run_dir / "redis")
    try:
        redis_server.start()
    except FileNotFoundError:
        unavailable("redis-server")
    try:
        with running_service(
            name=f"{framework}-sqlite-private-redis",
            framework=framework,
            database="sqlite",
            project_dir=generated_project(framework, "sqlite"),
            run_dir=run_dir / "service",
            database_url=f"sqlite:///{run_dir / 'app.db'}",
            redis_url=redis_server.url,
        ) as service:
            yield ServiceOnPrivateRedis(service, redis_server)
    finally:
        redis_server.stop()


# ---- 2. one worker killed --------------------------------------------------------------------


def test_killing_one_worker_fails_only_the_requests_in_flight(sqlite_service_on_private_redis):
    service = sqlite_service_on_private_redis.service
    with Load(service, WRITE_ONLY) as load:
        wait_for_acknowledged(load, CLIENT_THREADS, timeout=30.0)
        time.sleep(LOAD_SECONDS / 2)
        before = service.worker_pids()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        workers = wait_until(
            lambda: replacement_workers(service, victim), REPLACEMENT_TIMEOUT, 0.05
        )
        replaced_after = time.monotonic() - killed_at
        assert workers, f"worker {victim} not replaced: {service.worker_pids()}"
        (newcomer,) = set(workers) - set(before)
        assert answers_until_success(service, newcomer, "/health", REPLACEMENT_TIMEOUT) == [200]
        time.sleep(AFTERMATH_SECONDS)
    first_success = load.first_success_after(killed_at)
    failures = load.failures()
    lost = lost_writes(service, load.acknowledged)

    print_numbers(
        f"kill -9 of one worker ({service.name}, pid {victim}, replaced by {newcomer})",
        acknowledged_writes=len(load.acknowledged),
        lost=len(lost),
        failed_requests=len(failures),
        failures_by_kind=kinds(failures),
        worker_count_back_after=seconds(replaced_after),
        first_success_after=seconds(first_success.finished - killed_at) if first_success else None,
    )
    assert [f.describe() for f in failures if f.status is not None] == [], "HTTP errors"
    assert len(failures) <= CLIENT_THREADS, [f.describe() for f in failures]
    assert first_success is not None
    assert lost == [], f"acknowledged but missing: {lost}"


# ---- 3. PostgreSQL stopped and started again -------------------------------------------------


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL server's binaries (initdb, pg_ctl)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not found:
        unavailable("PostgreSQL's initdb (/usr/lib/postgresql/<version>/bin)")
    return found[-1].parent


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a temporary directory, listening on
    127.0.0.1 on a free port and on a Unix socket in that directory; the machine's own
    PostgreSQL is never touched. initdb refuses to run as root, so under root the cluster
    belongs to the `postgres` system user."""

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        self.port = free_port()
        # Not under pytest's temporary directory: the postgres user could not reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="resilience-pg-"))
        self.data_dir = self.dir / "data"
        self.owner = "postgres" if os.geteuid() == 0 else None
        if self.owner:
            account = pwd.getpwnam(self.owner)
            os.chown(self.dir, account.pw_uid, account.pw_gid)

    def _run(self, program: str, *arguments: str) -> None:
        finished = subprocess.run(
            [str(self.bin_dir / program), *arguments],
            cwd=self.dir,
            user=self.owner,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if finished.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(arguments)} failed:\n{finished.stdout}{finished.stderr}"
                f"\n{self.log_tail()}"
            )

    def log_tail(self) -> str:
        log = self.dir / "postgres.log"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""

    def initdb(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        # fsync off: after a stop (a process crash, not the machine's) everything written is
        # still in the page cache, and recovery then skips syncing the whole data directory,
        # which took seconds on a busy machine.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.dir} -c fsync=off"
        )
        log = str(self.dir / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", log, "-o", options, "-w", "start")

    def stop_immediately(self) -> None:
        """Every server process quits at once, without a checkpoint: a crash, as far as
        clients and the next start (which recovers from the WAL) can tell."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="module")
def private_postgres():
    """One cluster for the module; each test leaves it running, with a database of its own."""
    server = PrivatePostgres()
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.remove()


def is_unavailable_problem(outcome: Outcome) -> bool:
    return outcome.status == 503 and outcome.content_type == "application/problem+json"


@pytest.mark.parametrize("framework", TEMPLATES)
def test_postgresql_restart_is_503_problems_then_service_again(
    framework, private_postgres, generated_project, tmp_path
):
    database_url = private_postgres.create_database(f"resilience_{framework}")
    with running_service(
        name=f"{framework}-private-postgresql",
        framework=framework,
        database="postgresql",
        project_dir=generated_project(framework, "postgresql"),
        run_dir=tmp_path / "run",
        database_url=database_url,
    ) as service:
        with Load(service, READ_AND_WRITE) as load:
            wait_for_acknowledged(load, CLIENT_THREADS, timeout=30.0)
            time.sleep(LOAD_SECONDS / 2)
            stop_began = time.monotonic()
            private_postgres.stop_immediately()
            down_from = time.monotonic()
            probes = [get_outcome(service, path) for path in OUTAGE_PROBES]
            time.sleep(max(0.0, down_from + OUTAGE_SECONDS - time.monotonic()))
            down_until = time.monotonic()
            private_postgres.start()
            up_from = time.monotonic()
            wait_until(lambda: load.first_success_after(up_from), RECOVERY_TIMEOUT, 0.05)
            time.sleep(AFTERMATH_SECONDS)
        # A worker the clients' connections did not reach during the outage still holds
        # connections from before it; its next request meets one and fails once (a 503).
        answers_by_worker = {
            pid: answers_until_success(service, pid, f"{ITEMS}?limit=1", RECOVERY_TIMEOUT)
            for pid in service.worker_pids()
        }
        lost = lost_writes(service, load.acknowledged)

    outcomes = load.snapshot() + probes
    during = [o for o in outcomes if o.started >= down_from and o.finished <= down_until]
    after = [o for o in outcomes if o.started >= up_from]
    first_success = load.first_success_after(up_from)
    failed_after = [o for o in after if not o.succeeded]
    last_failure = max((o.finished for o in failed_after), default=up_from)
    print_numbers(
        f"PostgreSQL stopped for {OUTAGE_SECONDS} s ({framework})",
        acknowledged_writes=len(load.acknowledged),
        lost=len(lost),
        failed_requests=len(load.failures()),
        failures_by_kind=kinds(load.failures()),
        answered_during_the_outage=len(during),
        pg_ctl_stop_took=seconds(down_from - stop_began),
        pg_ctl_start_took=seconds(up_from - down_until),
        failed_after_the_restart=len(failed_after),
        first_success_after=seconds(first_success.finished - up_from) if first_success else None,
        all_succeed_after=seconds(last_failure - up_from),
        each_worker_answered=answers_by_worker,
    )
    answers = [o.describe() for o in outcomes if not (o.succeeded or is_unavailable_problem(o))]
    assert answers == [], "neither a success nor a 503 problem"
    assert during and all(is_unavailable_problem(o) for o in during), [
        o.describe() for o in during if not is_unavailable_problem(o)
    ]
    assert first_success is not None, "not serving again after PostgreSQL came back"
    assert any(o.succeeded and o.started > last_failure for o in after), "still failing"
    assert [p.describe() for p in probes if not is_unavailable_problem(p)] == []
    for statuses in answers_by_worker.values():
        assert statuses[-1] == 200 and set(statuses[:-1]) <= {503}, answers_by_worker
    assert lost == [], f"acknowledged but missing: {lost}"


# ---- 4. Redis killed and restarted -----------------------------------------------------------


def cached_item_keys(redis_url: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        return list(client.scan_iter(match="item:*", count=1000))
    finally:
        client.close()


def test_redis_killed_under_load_fails_no_request_and_cache_resumes(
    sqlite_service_on_private_redis,
):
    service = sqlite_service_on_private_redis.service
    redis_server = sqlite_service_on_private_redis.redis_server
    with Load(service, READ_AND_WRITE) as load:
        wait_for_acknowledged(load, CLIENT_THREADS, timeout=30.0)
        assert wait_until(lambda: cached_item_keys(redis_server.url), 10.0, 0.05), "no cache"
        time.sleep(LOAD_SECONDS / 2)
        redis_server.kill()
        killed_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        # Without persistence the new Redis starts empty: any item key is written after this.
        redis_server.start()
        back_at = time.monotonic()
        cache_keys = wait_until(lambda: cached_item_keys(redis_server.url), RECOVERY_TIMEOUT, 0.05)
        cache_back_after = time.monotonic() - back_at
        time.sleep(AFTERMATH_SECONDS)
    failures = load.failures()
    during = [o for o in load.snapshot() if killed_at <= o.started and o.finished <= back_at]
    lost = lost_writes(service, load.acknowledged)

    print_numbers(
        f"Redis killed for {OUTAGE_SECONDS} s ({service.name})",
        acknowledged_writes=len(load.acknowledged),
        lost=len(lost),
        failed_requests=len(failures),
        requests_during_the_outage=len(during),
        cache_filled_again_after=seconds(cache_back_after),
    )
    assert [f.describe() for f in failures] == [], "requests failed"
    assert during, "no request ran while Redis was down"
    assert cache_keys, "no item:<id> key in Redis after it came back"
    assert lost == [], f"acknowledged but missing: {lost}"
