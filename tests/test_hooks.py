"""Unit tests of the shared cookiecutter hooks, and of how cookiecutter runs them."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, TEMPLATES


def load_hook(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")

VALID = {
    "project_name": "My Service",
    "project_slug": "my-service",
    "package_name": "my_service",
    "author_email": "you@example.com",
    "python_version": "3.11",
    "database": "sqlite",
}


def test_valid_answers_pass():
    assert pre_gen.validate(VALID) == []


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("project_name", "  ", "project_name must not be empty"),
        ("project_slug", "My Service", "project_slug 'My Service' is not valid"),
        ("project_slug", "9lives", "project_slug '9lives' is not valid"),
        ("project_slug", "double--hyphen", "not valid"),
        ("package_name", "my-service", "not a valid Python package name"),
        ("package_name", "1service", "not a valid Python package name"),
        ("package_name", "class", "not a valid Python package name"),
        ("package_name", "flask", "would shadow a module"),
        ("package_name", "json", "would shadow a module"),
        ("package_name", "tests", "would shadow a module"),
        ("author_email", "not-an-email", "does not look like an e-mail"),
        ("python_version", "3.9", "python_version '3.9' is not supported"),
        ("database", "mysql", "must be 'sqlite' or 'postgresql'"),
    ],
)
def test_invalid_answer_is_reported(field, value, fragment):
    errors = pre_gen.validate({**VALID, field: value})
    assert len(errors) == 1
    assert fragment in errors[0]


def test_every_invalid_answer_is_reported_at_once():
    errors = pre_gen.validate({**VALID, "project_slug": "A B", "package_name": "a-b"})
    assert len(errors) == 2


@pytest.mark.parametrize(
    ("version", "running"),
    [("3.11", (3, 11)), ("3.11", (3, 13)), ("3.12", (3, 12)), ("3.9", (3, 11))],
)
def test_no_warning_when_this_python_can_install_the_project(version, running):
    assert pre_gen.newer_python_warning(version, running) is None


def test_newer_python_version_gets_one_line_with_the_fix():
    warning = pre_gen.newer_python_warning("3.13", (3, 11))
    assert "\n" not in warning
    assert "python_version 3.13 is newer than this Python (3.11)" in warning
    assert "generate with python_version=3.11" in warning
    assert "install Python 3.13" in warning


def test_all_features_on_removes_nothing():
    context = {**VALID, "use_websockets": True, "use_ml": True, "use_celery": True}
    assert post_gen.files_to_remove({**context, "use_docker": True}) == []


def test_switched_off_feature_files_are_listed_with_the_package_name():
    context = {**VALID, "use_websockets": True, "use_ml": False, "use_celery": "no"}
    removed = post_gen.files_to_remove({**context, "use_docker": "yes"})
    assert "my_service/ml" in removed
    assert "my_service/core/cache.py" in removed
    assert "migrations/versions/0002_create_jobs.py" in removed
    assert removed.count("my_service/worker.py") == 1
    assert not any("realtime" in path or path == "Dockerfile" for path in removed)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("yes", True), ("no", False), ("True", True), ("0", False)],
)
def test_switch_values_from_any_caller(value, expected):
    assert post_gen.is_enabled(value) is expected


def test_feature_map_names_files_that_exist_in_a_template():
    """Every listed path is in both templates, or in one where only that framework needs it."""
    roots = [REPO_ROOT / f"{t}-template" / "{{cookiecutter.project_slug}}" for t in TEMPLATES]
    for paths in post_gen.FEATURE_FILES.values():
        for path in paths:
            relative = path.format(package="{{cookiecutter.package_name}}")
            assert any((root / relative).exists() for root in roots), path


def test_remove_paths_deletes_files_and_folders(tmp_path: Path):
    (tmp_path / "pkg" / "ml").mkdir(parents=True)
    (tmp_path / "pkg" / "ml" / "model.py").write_text("")
    (tmp_path / "Dockerfile").write_text("")
    (tmp_path / "keep.py").write_text("")
    post_gen.remove_paths(tmp_path, ["pkg/ml", "Dockerfile", "never-existed.txt"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.py", "pkg"]
    assert not (tmp_path / "pkg" / "ml").exists()


def test_next_steps_name_the_worker_only_when_there_are_jobs_to_run():
    context = {**VALID, "_framework": "fastapi", "use_celery": True, "use_ml": True}
    assert "celery -A my_service.worker worker" in post_gen.next_steps(context)
    assert "FastAPI" in post_gen.next_steps(context)
    assert "celery" not in post_gen.next_steps({**context, "use_ml": False})


@pytest.mark.parametrize("template", TEMPLATES)
def test_cookiecutter_stops_on_invalid_names_with_the_hook_message(template, tmp_path):
    result = run_cookiecutter(template, tmp_path, "project_name=Bad Name!")
    assert result.returncode != 0
    assert "ERROR: project_slug 'bad-name!' is not valid" in result.stderr
    assert list(tmp_path.iterdir()) == []


def run_cookiecutter(template: str, output_dir: Path, *answers: str):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "--directory",
            f"{template}-template",
            "-o",
            str(output_dir),
            str(REPO_ROOT),
            *answers,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("template", TEMPLATES)
def test_cookiecutter_warns_when_python_version_is_newer_than_this_python(template, tmp_path):
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    newer = [v for v in pre_gen.SUPPORTED_PYTHON_VERSIONS if v > here]
    if not newer:
        pytest.skip(f"no supported python_version is newer than {here}")
    result = run_cookiecutter(template, tmp_path, f"python_version={newer[-1]}")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING:")]
    assert warnings == [f"WARNING: {pre_gen.newer_python_warning(newer[-1], sys.version_info[:2])}"]
    assert (tmp_path / "my-service" / "pyproject.toml").exists()


@pytest.mark.parametrize("template", TEMPLATES)
def test_default_python_version_installs_on_the_oldest_supported_python(template, tmp_path):
    result = run_cookiecutter(template, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    pyproject = (tmp_path / "my-service" / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in pyproject
