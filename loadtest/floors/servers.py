"""Start the templates and their floors under gunicorn, one worker each, on the server CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from loadtest.services import REPO_ROOT, RunningService, ServiceError, free_port, package_name

STARTUP_SECONDS = 90
# Variables of the caller's shell that would point a service at someone else's servers.
FOREIGN_SETTINGS = (
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "DATABASE_URL",
    "FLOOR_DATABASE_URL",
    "FLOOR_REDIS_URL",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
)

# The template's production server settings, which the floor gets too: the worker class
# and keep-alive of each template's gunicorn.conf.py (Flask's thread count is read from
# the generated project, see `template_facts`).
FLOOR_SERVERS = {
    "fastapi": ["-k", "uvicorn_worker.UvicornWorker", "--keep-alive", "5"],
    "flask": ["-k", "gthread", "--keep-alive", "2"],
}
FLOOR_APPS = {
    "fastapi": "loadtest.floors.fastapi_app:app",
    "flask": "loadtest.floors.flask_app:create_app()",
}

FACTS_SCRIPT = {
    "fastapi": """
import json, sys
from {pkg}.core.db import async_database_url
print(json.dumps({{"urls": [async_database_url(url) for url in sys.argv[1:]], "threads": None}}))
""",
    "flask": """
import json, sys
from {pkg}.core.config import load_settings, sqlalchemy_url
threads = load_settings({{}})["GUNICORN_THREADS"]
print(json.dumps({{"urls": [sqlalchemy_url(url) for url in sys.argv[1:]], "threads": threads}}))
""",
}


@dataclass
class TemplateFacts:
    """What the floor copies from the generated template: drivers and server threads."""

    driver_urls: dict[str, str]  # the URL the template connects with, by plain URL
    threads: int | None


def template_facts(framework: str, project: Path, urls: list[str]) -> TemplateFacts:
    script = FACTS_SCRIPT[framework].format(pkg=package_name(project))
    done = subprocess.run(
        [sys.executable, "-c", script, *urls],
        cwd=project,
        env=service_env({"PYTHONPATH": str(project)}),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ServiceError(f"reading the {framework} template's settings failed:\n{done.stderr}")
    facts = json.loads(done.stdout)
    return TemplateFacts(dict(zip(urls, facts["urls"], strict=True)), facts["threads"])


def service_env(settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    env.update(settings)
    return env


@dataclass
class Server:
    """One running gunicorn: its master, and the CPU time its processes have used."""

    name: str
    service: RunningService
    port: int

    @property
    def url(self) -> str:
        return self.service.url

    def cpu_seconds(self) -> float:
        """User and system time of gunicorn's master and workers so far."""
        pids = [self.service.process.pid, *children(self.service.process.pid)]
        return sum(process_cpu_seconds(pid) for pid in pids)

    def stop(self) -> None:
        self.service.stop()


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def start_server(
    name: str, command: list[str], cwd: Path, env: dict[str, str], run_dir: Path, cpus: str | None
) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *command]
    if cpus and shutil.which("taskset"):
        command = ["taskset", "-c", cpus, *command]
    log_path = run_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=service_env({**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = RunningService(name, f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise ServiceError(f"{name} exited at start:\n{tail}")
        try:
            with urllib.request.urlopen(service.url + "/health", timeout=2) as response:
                if response.status == 200:
                    return Server(name, service, port)
        except OSError:
            time.sleep(0.3)
    service.stop()
    raise ServiceError(f"{name} did not answer /health in {STARTUP_SECONDS}s")


def start_template(
    framework: str,
    project: Path,
    name: str,
    database_url: str,
    redis_url: str | None,
    migrate: bool,
    run_dir: Path,
    cpus: str | None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """The generated project under its own gunicorn.conf.py, logging at INFO as shipped."""
    metrics_dir = run_dir / f"{name}-metrics"
    env = {
        "PYTHONPATH": str(project),
        "DATABASE_URL": database_url,
        "MIGRATE_ON_START": "1" if migrate else "0",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **({"REDIS_URL": redis_url} if redis_url else {}),
        **(extra_env or {}),
    }
    return start_server(name, ["-c", "gunicorn.conf.py"], project, env, run_dir, cpus)


def start_floor(
    framework: str,
    name: str,
    driver_url: str,
    redis_url: str | None,
    threads: int | None,
    run_dir: Path,
    cpus: str | None,
) -> Server:
    command = [*FLOOR_SERVERS[framework], "--workers", "1"]
    if threads:
        command += ["--threads", str(threads)]
    command.append(FLOOR_APPS[framework])
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "FLOOR_DATABASE_URL": driver_url,
        **({"FLOOR_REDIS_URL": redis_url} if redis_url else {}),
    }
    return start_server(name, command, REPO_ROOT, env, run_dir, cpus)
