"""Generate every combination of both templates, lint each one and run each one's own tests.

The generated projects' suites share this test environment (PYTHONPATH points at the project);
`test_isolated_install` proves, once per template, that a project installs and passes on its
own in a fresh virtual environment.
"""

import hashlib
import itertools
import json
import os
import queue
import re
import subprocess
import sys
import tomllib
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import TEMPLATES, generate, generate_many, require_redis, scratch_database

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
DEFAULT_PYTHON = "3.11"
DATABASES = ("sqlite", "postgresql")
FEATURES = ("use_websockets", "use_ml", "use_celery", "use_auth", "use_docker")
UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{%|\bcookiecutter\.(?!json\b)\w")
# The only files that may differ between projects generated for different Python versions.
PYTHON_VERSION_FILES = {"pyproject.toml", "Dockerfile", "README.md", ".github/workflows/ci.yml"}
GENERATED_SUITE_TIMEOUT = 300
# Generated suites run two at a time (the machines have two cores), each on its own Redis
# database: SUITE_REDIS_DB and the next.
SUITE_CONCURRENCY = 2
SUITE_REDIS_DB = 6


def feature_sets():
    for values in itertools.product((True, False), repeat=len(FEATURES)):
        yield dict(zip(FEATURES, values, strict=True))


def combination_id(context: dict) -> str:
    switched_off = [name.removeprefix("use_") for name in FEATURES if not context[name]]
    features = "no-" + "-".join(switched_off) if switched_off else "all"
    return f"py{context['python_version']}-{context['database']}-{features}"


ALL_COMBINATIONS = [
    {"python_version": python, "database": database, **features}
    for python in PYTHON_VERSIONS
    for database in DATABASES
    for features in feature_sets()
]


# Projects generated for different Python versions differ only in metadata (asserted below),
# so each project's own suite runs once per database and feature set.
# Which projects run their own suites (every combination is rendered, linted and type-checked,
# the cheap steps), at the default Python (the trees differ across versions only in metadata,
# asserted below):
# - use_docker adds deployment files only (asserted below), so one of each use_docker pair;
# - on SQLite, everything on, everything off, each feature on alone and each off alone: every
#   pair of features in all four of its on/off states;
# - on PostgreSQL, whose projects differ from SQLite's only in dependencies and defaults,
#   everything on and each feature off alone: every set of tables and every migration chain.
def runs_its_suite(context: dict) -> bool:
    if context["python_version"] != DEFAULT_PYTHON or not context["use_docker"]:
        return False
    package_features = [name for name in FEATURES if name != "use_docker"]
    switched_off = sum(not context[name] for name in package_features)
    if context["database"] == "postgresql":
        return switched_off <= 1
    return switched_off in (0, 1, len(package_features) - 1, len(package_features))


def test_the_suites_cover_every_pair_of_features_in_every_state():
    package_features = [name for name in FEATURES if name != "use_docker"]
    sqlite_suites = [c for c in SUITE_COMBINATIONS if c["database"] == "sqlite"]
    for first, second in itertools.combinations(package_features, 2):
        states = {(c[first], c[second]) for c in sqlite_suites}
        assert states == {(True, True), (True, False), (False, True), (False, False)}
    assert len(SUITE_COMBINATIONS) == 15


SUITE_COMBINATIONS = [c for c in ALL_COMBINATIONS if runs_its_suite(c)]
# What use_docker may change: the deployment files, and the README and .gitignore lines
# about them; never the package, its tests or its dependencies.
DOCKER_FILES = {"Dockerfile", ".dockerignore", "compose.yaml", "deploy", "README.md", ".gitignore"}


# The `generated` fixture (conftest.py) holds every combination of one template, generated
# once per session for these tests and for test_deploy.py's.


def text_files(project: Path):
    for path in project.rglob("*"):
        if path.is_file() and "static" not in path.parts and path.suffix != ".onnx":
            yield path


def test_every_combination_renders_completely(generated):
    assert len(generated) == len(ALL_COMBINATIONS)
    leftovers = [
        f"{path}: {line.strip()}"
        for _, project in generated.values()
        for path in text_files(project)
        for line in path.read_text(encoding="utf-8").splitlines()
        if UNRENDERED.search(line)
    ]
    assert leftovers == []


def declared_dependencies(project: Path) -> str:
    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    extras = metadata.get("optional-dependencies", {}).values()
    return " ".join(metadata["dependencies"] + [d for extra in extras for d in extra]).lower()


def test_switched_off_features_leave_no_files_or_dependencies(generated):
    for name, (context, project) in generated.items():
        package = project / "my_service"
        dependencies = declared_dependencies(project)
        if not context["use_ml"]:
            assert not (package / "ml").exists(), name
            assert "onnxruntime" not in dependencies, name
        if not context["use_celery"]:
            assert not (package / "worker.py").exists(), name
            assert "redis" not in dependencies and "celery" not in dependencies, name
        if not context["use_websockets"]:
            assert not (package / "api" / "routes" / "ws.py").exists(), name
        if not context["use_docker"]:
            assert not (project / "Dockerfile").exists(), name
        if not context["use_auth"]:
            assert not (package / "core" / "auth.py").exists(), name
            assert "owner_id" not in (package / "models" / "item.py").read_text(), name
            for dependency in ("pyjwt", "pwdlib", "limits"):
                assert dependency not in dependencies, (name, dependency)
        if context["database"] == "sqlite":
            assert "psycopg" not in dependencies and "asyncpg" not in dependencies, name


def test_every_combination_lints_clean(generated):
    """One ruff call over all combinations: ruff applies each project's own configuration."""
    _, project = next(iter(generated.values()))
    root = project.parent.parent
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format=concise", str(root)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--no-cache", "--check", str(root)],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_python_version_changes_only_metadata(generated):
    for name, (context, project) in generated.items():
        baseline_context = {**context, "python_version": DEFAULT_PYTHON}
        _, baseline = generated[combination_id(baseline_context)]
        differing = {
            path.relative_to(project).as_posix()
            for path in text_files(project)
            if path.read_bytes() != (baseline / path.relative_to(project)).read_bytes()
        }
        assert differing <= PYTHON_VERSION_FILES, (name, differing)
        assert context["python_version"] in (project / "pyproject.toml").read_text(), name


def test_use_docker_changes_only_deployment_files(generated):
    for name, (context, project) in generated.items():
        if context["use_docker"]:
            continue
        _, twin = generated[combination_id({**context, "use_docker": True})]
        differing = {
            path.relative_to(twin).parts[0]
            for path in text_files(twin)
            if not (project / path.relative_to(twin)).exists()
            or path.read_bytes() != (project / path.relative_to(twin)).read_bytes()
        }
        assert differing <= DOCKER_FILES, (name, differing)


def test_every_workflow_is_a_valid_github_workflow(generated):
    """One check-jsonschema call over every combination's CI workflow."""
    workflows = [project / ".github" / "workflows" / "ci.yml" for _, project in generated.values()]
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, workflows),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]


def package_fingerprint(project: Path) -> str:
    """What mypy's verdict depends on: the package's sources and its mypy configuration."""
    mypy_settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["mypy"]
    digest = hashlib.sha256(repr(mypy_settings).encode())
    for path in sorted((project / "my_service").rglob("*.py")):
        digest.update(path.relative_to(project).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_every_combination_passes_mypy_strict(generated, tmp_path_factory):
    """`mypy` as each project configures it (strict), for every database and feature set.

    One Python version: the trees differ across versions only in metadata (asserted above).
    Combinations whose package sources and mypy settings are byte for byte the same (use_docker
    changes neither; the database changes only the dependencies) are checked once, in this
    one environment, and all runs share one cache, so that the third-party packages are
    analysed only once.
    """
    cache = tmp_path_factory.mktemp("mypy-cache")
    verdicts: dict[str, str] = {}
    failures = []
    for name, (context, project) in generated.items():
        if context["python_version"] != DEFAULT_PYTHON:
            continue
        settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["mypy"]
        assert settings["strict"] is True and settings["packages"] == ["my_service"], name
        fingerprint = package_fingerprint(project)
        if fingerprint in verdicts:
            continue
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--cache-dir", str(cache)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=600,
        )
        verdicts[fingerprint] = result.stdout
        if result.returncode != 0 or "Success: no issues found" not in result.stdout:
            failures.append(f"{name}:\n{result.stdout[-3000:]}{result.stderr[-1000:]}")
    assert failures == [], "\n".join(failures)


def test_every_package_passes_bandit(generated):
    """bandit finds nothing of medium severity or above in any distinct generated package.

    (Known vulnerabilities in the dependencies are pip-audit's job, in the generated CI
    workflow, where the vulnerability databases can be reached.)
    """
    packages: dict[str, Path] = {}
    for context, project in generated.values():
        if context["python_version"] == DEFAULT_PYTHON:
            packages.setdefault(package_fingerprint(project), project / "my_service")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-q",
            "-r",
            "-ll",
            "-f",
            "json",
            *map(str, packages.values()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(result.stdout)
    findings = [
        f"{issue['filename']}:{issue['line_number']} {issue['test_id']} {issue['issue_text']}"
        for issue in report["results"]
    ]
    assert findings == [], "\n".join(findings)
    assert report["errors"] == []


def run_generated_suite(
    project: Path, env_overrides: dict[str, str]
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project), **env_overrides}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=GENERATED_SUITE_TIMEOUT,
    )


def run_suite_of(project: Path, context: dict, redis_db: int) -> str | None:
    """One generated project's own tests; None if they pass, else the output."""
    env = {}
    if context["use_celery"]:
        env["TEST_REDIS_URL"] = require_redis(db=redis_db)
    if context["database"] == "postgresql":
        with scratch_database("gen_suite") as database_url:
            result = run_generated_suite(project, {**env, "TEST_DATABASE_URL": database_url})
    else:
        result = run_generated_suite(project, env)
    if result.returncode == 0 and re.search(r"\d+ passed", result.stdout):
        return None
    return result.stdout[-6000:] + result.stderr[-3000:]


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_generated_suite_passes(template, tmp_path):
    """Each combination's own tests, SUITE_CONCURRENCY suites at a time (each with a Redis
    database and, on PostgreSQL, a scratch database of its own), once all are generated."""
    jobs = [(tmp_path / combination_id(context), context) for context in SUITE_COMBINATIONS]
    projects = {
        combination_id(context): (context, project)
        for context, project in zip(SUITE_COMBINATIONS, generate_many(template, jobs), strict=True)
    }
    free_redis_dbs: queue.Queue[int] = queue.Queue()
    for slot in range(SUITE_CONCURRENCY):
        free_redis_dbs.put(SUITE_REDIS_DB + slot)

    def run(name: str) -> tuple[str, str | None]:
        context, project = projects[name]
        redis_db = free_redis_dbs.get()
        try:
            return name, run_suite_of(project, context, redis_db)
        finally:
            free_redis_dbs.put(redis_db)

    with ThreadPoolExecutor(max_workers=SUITE_CONCURRENCY) as pool:
        outcomes = list(pool.map(run, projects))
    failures = [f"--- {name} ---\n{output}" for name, output in outcomes if output is not None]
    assert failures == [], "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_isolated_install(template, tmp_path):
    """A project installs from its own pyproject.toml into a fresh venv and passes its suite."""
    running_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    project = generate(template, tmp_path / "project", python_version=running_python)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    # As the generated README says: the pip that ships with Python 3.11 backtracks into a
    # conflict over the OpenTelemetry packages' release trains, which a current pip resolves.
    for step in (["--upgrade", "pip"], ["-e", ".[dev]"]):
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *step],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    env["TEST_REDIS_URL"] = require_redis(db=5)
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=GENERATED_SUITE_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    lint = subprocess.run(
        [str(environment / "bin" / "ruff"), "check", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
