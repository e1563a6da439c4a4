"""Generate, install, start and stop the two services under their production servers."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("flask", "fastapi")
STARTUP_SECONDS = 90


class ServiceError(Exception):
    """A service could not be generated, installed or started."""


SERVERS = ("gunicorn", "granian")


def generate(framework: str, output_dir: Path, options: dict[str, object] | None = None) -> Path:
    """Render the framework's template with every feature on (unless `options` turn one
    off or choose the database); the project directory."""
    from cookiecutter.main import cookiecutter

    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        project = cookiecutter(
            str(REPO_ROOT),
            directory=f"{framework}-template",
            no_input=True,
            overwrite_if_exists=True,
            output_dir=str(output_dir),
            extra_context={
                "project_name": f"bench-{framework}",
                # the interpreter that will run it, so requires-python admits it
                "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
                **(options or {}),
            },
        )
    except Exception as exc:  # cookiecutter raises many kinds; all mean "no project"
        raise ServiceError(f"generating the {framework} project failed: {exc}") from exc
    return Path(project)


def package_name(project: Path) -> str:
    return project.name.replace("-", "_")


def install(project: Path, venv: Path, extra: tuple[str, ...] = ()) -> Path:
    """A virtualenv with the project (and `extra` packages, such as another server)
    installed in editable mode; its python.

    The venv is reused while the project's pyproject.toml is unchanged, so repeated runs
    start in seconds.
    """
    python = venv / "bin" / "python"
    stamp = venv / ".pyproject-sha256"
    pyproject = (project / "pyproject.toml").read_bytes()
    digest = hashlib.sha256(pyproject + " ".join(extra).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "-q", "-e", str(project), *extra],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceError(f"{' '.join(step)} failed:\n{done.stderr[-2000:]}")
    stamp.write_text(digest)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_available(url: str) -> bool:
    """True when a Redis answers PING at `url` (redis://host:port/db)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RunningService:
    framework: str
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM to gunicorn's master (its own process group), SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass


def start(
    framework: str,
    project: Path,
    python: Path,
    run_dir: Path,
    workers: int,
    server_cpus: str | None,
    extra_env: dict[str, str],
    use_path: bool,
    server: str = "gunicorn",
    template: str = "",
) -> RunningService:
    """Start the project under its production server (`gunicorn -c gunicorn.conf.py`), or
    under Granian, and wait for /health."""
    port = free_port()
    env = dict(os.environ)
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DATABASE_URL"):
        env.pop(name, None)
    env.update(
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        DATABASE_URL=f"sqlite:///{run_dir / f'{framework}.db'}",
        MIGRATE_ON_START="1",
        LOG_LEVEL="WARNING",
        PROMETHEUS_MULTIPROC_DIR=str(run_dir / f"{framework}-metrics"),
    )
    env.update(extra_env)  # a variant's settings, or another database, win
    # gunicorn's configs prepare the metrics directory in the master; other servers do not
    metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    if use_path:  # run from the generated tree with this interpreter's packages
        env["PYTHONPATH"] = str(project) + os.pathsep + env.get("PYTHONPATH", "")
    log_path = run_dir / f"{framework}-server.log"
    if server == "granian":
        migrate(project, python, env, log_path)
        command = granian_command(project, python, port, workers, asgi=template == "fastapi")
    elif server == "gunicorn":
        command = [str(python), "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    else:
        raise ServiceError(f"unknown server {server!r}; choose from {', '.join(SERVERS)}")
    if server_cpus and shutil.which("taskset"):
        command = ["taskset", "-c", server_cpus, *command]
    log = log_path.open("wb")
    process = subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    service = RunningService(framework, f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise ServiceError(f"the {framework} server exited at start:\n{tail}")
        try:
            with urllib.request.urlopen(service.url + "/health", timeout=2) as response:
                if response.status == 200:
                    return service
        except OSError:
            time.sleep(0.3)
    service.stop()
    raise ServiceError(f"the {framework} server did not answer /health in {STARTUP_SECONDS}s")


def migrate(project: Path, python: Path, env: dict[str, str], log_path: Path) -> None:
    """Apply the migrations once, as gunicorn's master does before it starts workers."""
    code = f"from {package_name(project)}.core.db import upgrade_database; upgrade_database()"
    done = subprocess.run([str(python), "-c", code], cwd=project, env=env, capture_output=True)
    log_path.write_bytes(done.stdout + done.stderr)
    if done.returncode != 0:
        raise ServiceError(f"migrating {project.name} failed:\n{done.stderr[-2000:].decode()}")


def granian_command(project: Path, python: Path, port: int, workers: int, asgi: bool) -> list[str]:
    """Granian: FastAPI over ASGI; Flask over WSGI (Granian's WSGI mode carries no
    WebSockets, so the Flask project is generated without them)."""
    package = package_name(project)
    target = [f"{package}.main:app"] if asgi else ["--factory", f"{package}.main:create_app"]
    interface = "asgi" if asgi else "wsgi"
    return [
        str(python),
        "-m",
        "granian",
        "--interface",
        interface,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backlog",
        "2048",
        "--no-log",
        *target,
    ]
