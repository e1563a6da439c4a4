"""The generated projects' own tooling, tried on a fresh project as a user would.

`uv lock` and `pre-commit run --all-files` run once per template on the default generation;
the hooks install the project's locked environment from the package index through uv (its
cache makes later runs cheap).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import TEMPLATES, generate

BIN = Path(sys.executable).parent
UV = str(BIN / "uv")
GIT_IDENTITY = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]


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
