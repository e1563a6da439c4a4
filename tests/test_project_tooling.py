"""The generated projects' own tooling, tried on a fresh project as a user would.

`uv lock`, `pre-commit run --all-files` and the default project's suite on every supported
Python run once per template on the default generation; they install from the package
index through uv (its cache makes later runs cheap).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import TEMPLATES, generate, require_redis

BIN = Path(sys.executable).parent
UV = str(BIN / "uv")
NEWER_PYTHONS = ("3.12", "3.13")
GIT_IDENTITY = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
VERSION_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


def tool_environment(**overrides: str) -> dict[str, str]:
    """The caller's environment, less this repository's own virtual environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL", "UV_PROJECT_ENVIRONMENT")
    }
    # uv and pre-commit come from this environment; the project gets its own .venv.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **overrides}


def run(command: list[str], cwd: Path, timeout: int = 900, **env: str):
    return subprocess.run(
        command,
        cwd=cwd,
        env=tool_environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def git_repository(project: Path) -> None:
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        [*GIT_IDENTITY, "commit", "-qm", "Generated"],
    ):
        result = run(command, project)
        assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_fresh_project_locks_and_passes_its_pre_commit_hooks(template, tmp_path):
    project = generate(template, tmp_path / "out", python_version="3.11")
    git_repository(project)

    lock = run([UV, "lock"], project)
    assert lock.returncode == 0, lock.stdout + lock.stderr
    assert "[[package]]" in (project / "uv.lock").read_text()

    hooks = run(
        [str(BIN / "pre-commit"), "run", "--all-files", "--color=never"],
        project,
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        UV_PYTHON=sys.executable,
    )
    assert hooks.returncode == 0, hooks.stdout[-6000:] + hooks.stderr[-2000:]
    passed = [line for line in hooks.stdout.splitlines() if line.endswith("Passed")]
    assert [line.split(".")[0] for line in passed] == ["ruff check", "ruff format", "mypy --strict"]
    # The hooks ran the locked tools in the project's own environment.
    assert (project / ".venv" / "bin" / "mypy").exists()


def find_python(version: str) -> str | None:
    """An interpreter of that version on PATH, or one that pyenv has installed."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [str(candidate), "-c", VERSION_PROBE],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return str(candidate)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("version", NEWER_PYTHONS)
@pytest.mark.parametrize("template", TEMPLATES)
def test_default_project_installs_from_its_lock_and_passes_on_newer_pythons(
    template, version, tmp_path
):
    """The default generation (floor 3.11) on 3.12 and 3.13; 3.11 is the isolated install test."""
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter on this machine")
    project = generate(template, tmp_path / "out")
    environment = {"UV_PYTHON": python, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")}
    sync = run([UV, "sync", "--extra", "dev"], project, **environment)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    interpreter = run([UV, "run", "--no-sync", "python", "-V"], project, **environment)
    assert interpreter.stdout.startswith(f"Python {version}."), interpreter.stdout
    tests = run(
        [UV, "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"],
        project,
        TEST_REDIS_URL=require_redis(db=4),
        **environment,
    )
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout, tests.stdout[-2000:]
