"""Upgrading a generated project from the template with cruft, end to end.

A temporary clone of this repository stands for the template's upstream: a project is
created from it at one commit, edited and committed by its owner; then the template moves
on, and `cruft update` brings the change in with the owner's edits kept. A later commit that
touches only the other framework's template leaves the project's files as they are.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

BIN = Path(sys.executable).parent
CRUFT = str(BIN / "cruft")
GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
ENV_EXAMPLE = Path("{{cookiecutter.project_slug}}") / ".env.example"
TEMPLATE_LINE = "# TEMPLATE_CHANGE: a setting the template added after the project was made\n"
OWN_LINE = "Notes of the team that owns this service.\n"


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


def commit_all(repository: Path, message: str) -> None:
    run([*GIT, "add", "-A"], repository)
    run([*GIT, "commit", "-qm", message], repository)


def status(project: Path) -> list[str]:
    return run(["git", "status", "--porcelain"], project).stdout.splitlines()


@pytest.mark.slow
def test_cruft_update_applies_a_template_change_and_keeps_the_projects_edits(tmp_path):
    upstream = tmp_path / "template"
    run(["git", "clone", "-q", "--no-local", str(REPO_ROOT), str(upstream)], tmp_path)

    run(
        [
            CRUFT,
            "create",
            str(upstream),
            "--directory",
            "fastapi-template",
            "--no-input",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        tmp_path,
    )
    project = tmp_path / "out" / "my-service"
    recorded = json.loads((project / ".cruft.json").read_text())
    assert recorded["directory"] == "fastapi-template"
    created_at = recorded["commit"]

    # The owner's own work, committed: cruft update needs a clean work tree.
    run(["git", "init", "-q", "-b", "main"], project)
    with (project / "README.md").open("a") as readme:
        readme.write(OWN_LINE)
    commit_all(project, "Generated, plus our notes")
    run([CRUFT, "check"], project)  # up to date

    # The template moves on.
    with (upstream / "fastapi-template" / ENV_EXAMPLE).open("a") as env_example:
        env_example.write(TEMPLATE_LINE)
    commit_all(upstream, "Template: a new setting")
    behind = subprocess.run([CRUFT, "check"], cwd=project, capture_output=True, text=True)
    assert behind.returncode != 0, behind.stdout

    run([CRUFT, "update", "--skip-apply-ask", "--allow-untracked-files"], project)
    assert (project / ".env.example").read_text().endswith(TEMPLATE_LINE)
    assert (project / "README.md").read_text().endswith(OWN_LINE)
    recorded = json.loads((project / ".cruft.json").read_text())
    assert recorded["commit"] != created_at
    assert sorted(line[3:] for line in status(project)) == [".cruft.json", ".env.example"]
    commit_all(project, "Template update")
    run([CRUFT, "check"], project)

    # A change to the Flask template only: cruft sees a new commit of the repository, but the
    # FastAPI project's files must not change.
    with (upstream / "flask-template" / ENV_EXAMPLE).open("a") as env_example:
        env_example.write("# FLASK_ONLY_CHANGE\n")
    commit_all(upstream, "Flask template: a new setting")
    assert subprocess.run([CRUFT, "check"], cwd=project, capture_output=True).returncode != 0
    run([CRUFT, "update", "--skip-apply-ask", "--allow-untracked-files"], project)
    assert [line[3:] for line in status(project)] == [".cruft.json"]
    assert "FLASK_ONLY_CHANGE" not in (project / ".env.example").read_text()
