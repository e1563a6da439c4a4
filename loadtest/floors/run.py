"""`python -m loadtest floors`: every template against its framework's floor, in one run."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadtest import scenarios, services
from loadtest.api import ApiClient
from loadtest.floors import measure
from loadtest.floors.report import floors_markdown, machine_facts
from loadtest.floors.servers import Server, start_floor, start_template, template_facts
from loadtest.http import split_url
from loadtest.limits import cpu_count, pin_to_cpus

POSTGRES_ADMIN_URL = os.environ.get(
    "LOADTEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DEFAULT_REDIS_URL = os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/12")
FRAMEWORKS = ("fastapi", "flask")
DATABASES = ("sqlite", "postgresql")


@dataclass
class Options:
    frameworks: list[str]
    databases: list[str]
    scenarios: list[str]
    rounds: int = 2
    duration: float = 2.0
    warmup: float = 0.5
    redis_url: str = DEFAULT_REDIS_URL
    out: Path | None = None
    keep: bool = False
    # Generate the templates from this checkout instead (to measure an older version).
    templates_from: Path | None = None


@contextlib.contextmanager
def scratch_database(kind: str, run_dir: Path, name: str) -> Iterator[str]:
    """A fresh database for one framework's template and floor, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{run_dir / f'{name}.db'}"
        return
    import psycopg

    database = f"floors_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what is written to standard output, by this process or its children, to standard
    error instead: cookiecutter runs the template's hook (which prints "next steps") as a
    process of its own, past any `sys.stdout` redirection, and stdout carries the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def generate(framework: str, output_dir: Path, checkout: Path | None) -> Path:
    """The template with every feature on, as `compare` runs it, but for users and tokens:
    a floor does no token check, so the template must not either for the same work."""
    from cookiecutter.main import cookiecutter

    with stdout_to_stderr():
        project = cookiecutter(
            str(checkout or services.REPO_ROOT),
            directory=f"{framework}-template",
            no_input=True,
            overwrite_if_exists=True,
            output_dir=str(output_dir),
            extra_context={
                "project_name": f"bench-{framework}",
                "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
                "use_auth": False,
            },
        )
    return Path(project)


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def seed(server: Server) -> tuple[list[int], str]:
    """100 items through the template's API, as the load test's item scenarios seed them."""
    host, port, prefix = split_url(server.url)
    api = ApiClient(host, port, prefix)
    try:
        state = scenarios.setup(scenarios.get("item-read"), api)
    finally:
        api.close()
    return state["ids"], state["tag"]


class Run:
    def __init__(self, options: Options, log=print) -> None:
        self.options = options
        self.log = log
        self.cache = Path(".loadtest-cache").absolute() / "floors"
        cpus = cpu_count()
        self.server_cpus = "0" if cpus >= 2 else None
        self.generator_cpus = set(range(1, cpus)) if cpus >= 2 else None
        self.projects: dict[str, Path] = {}
        self.comparisons: list[measure.Comparison] = []
        self.warmed: set[int] = set()  # the servers that have had their warm-up round

    def generate(self) -> None:
        for framework in self.options.frameworks:
            self.log(f"== {framework}: generating the template")
            self.projects[framework] = generate(
                framework, self.cache / framework, self.options.templates_from
            )

    def start_sides(self, framework: str, database: str, url: str, run_dir: Path):
        """Template and floor, each without and with Redis in front of the item read."""
        project = self.projects[framework]
        facts = template_facts(framework, project, [url])
        driver_url = facts.driver_urls[url]
        redis = self.options.redis_url
        base = f"{framework}-{database}"
        servers = {}
        try:
            self.log(f"== {framework} on {database}: starting template and floor ({driver_url})")
            servers["template"] = start_template(
                framework, project, f"{base}-template", url, None, True, run_dir, self.server_cpus
            )
            servers["template+redis"] = start_template(
                framework,
                project,
                f"{base}-template-redis",
                url,
                redis,
                False,
                run_dir,
                self.server_cpus,
            )
            servers["floor"] = start_floor(
                framework,
                f"{base}-floor",
                driver_url,
                None,
                facts.threads,
                run_dir,
                self.server_cpus,
            )
            servers["floor+redis"] = start_floor(
                framework,
                f"{base}-floor-redis",
                driver_url,
                redis,
                facts.threads,
                run_dir,
                self.server_cpus,
            )
        except BaseException:
            for server in servers.values():
                server.stop()
            raise
        return servers, facts

    def measure(self, framework: str, database: str, servers: dict[str, Server]) -> None:
        ids, tag = seed(servers["template"])
        for scenario in measure.SCENARIOS:
            if scenario.name not in self.options.scenarios:
                continue
            suffix = "+redis" if scenario.cached else ""
            sides = {side: servers[side + suffix] for side in ("template", "floor")}
            requests = {
                side: measure.requests_for(scenario.name, f"127.0.0.1:{s.port}", ids, tag)
                for side, s in sides.items()
            }
            comparison = measure.Comparison(framework, database, scenario)
            measure.compare_sides(
                comparison,
                sides,
                requests,
                self.options.rounds,
                self.options.duration,
                self.options.warmup,
                self.log,
                self.warmed,
            )
            self.comparisons.append(comparison)

    def execute(self) -> dict:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = (self.options.out or Path("loadtest-reports") / f"floors-{stamp}").absolute()
        out.mkdir(parents=True, exist_ok=True)
        run_dir = self.cache / f"run-{stamp}"
        run_dir.mkdir(parents=True, exist_ok=True)
        placement = (
            "each server (one gunicorn worker) on CPU 0, the generator on CPU 1"
            if self.server_cpus
            else "one CPU: servers and generator share it"
        )
        machine = machine_facts(placement)
        if self.generator_cpus:
            pin_to_cpus(self.generator_cpus)
        self.generate()
        started = time.time()
        try:
            for database in self.options.databases:
                for framework in self.options.frameworks:
                    flush_redis(self.options.redis_url)
                    with scratch_database(database, run_dir, framework) as url:
                        servers, _ = self.start_sides(framework, database, url, run_dir)
                        try:
                            self.measure(framework, database, servers)
                        finally:
                            for server in servers.values():
                                server.stop()
        finally:
            if not self.options.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
        results = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "elapsed_seconds": round(time.time() - started, 1),
            "environment": machine,
            "connections": measure.CONNECTIONS,
            "rounds": self.options.rounds,
            "duration": self.options.duration,
            "warmup": self.options.warmup,
            "redis": self.options.redis_url,
            "templates_from": str(self.options.templates_from or services.REPO_ROOT),
            "comparisons": [c.to_dict() for c in self.comparisons],
        }
        (out / "floors.json").write_text(json.dumps(results, indent=1))
        markdown = floors_markdown(results)
        (out / "floors.md").write_text(markdown)
        results["out"] = str(out)
        return results


def run_floors(options: Options) -> int:
    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if not services.redis_available(options.redis_url):
        log(f"floors: no Redis answers at {options.redis_url} (set --redis-url)")
        return 2
    results = Run(options, log).execute()
    print(floors_markdown(results))
    print(f"\nwrote {results['out']}/floors.md and floors.json")
    return 0 if all(c["met"] for c in results["comparisons"]) else 1
