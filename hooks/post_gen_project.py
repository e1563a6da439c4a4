"""Remove the files of switched-off features and print the next steps.

Shared by both templates. The feature-to-files map below is the one place that says which
files belong to an optional feature; it is unit-tested against both templates.
"""

import json
import shutil
import sys
from pathlib import Path

CONTEXT_JSON = r"""{{ cookiecutter | jsonify }}"""

# Paths relative to the generated project; "{package}" is the package name.
FEATURE_FILES = {
    "use_websockets": [
        "{package}/core/realtime.py",
        "{package}/api/routes/ws.py",
        "tests/test_ws.py",
    ],
    "use_ml": [
        "{package}/ml",
        "{package}/schemas/ml.py",
        "{package}/schemas/job.py",
        "{package}/models/job.py",
        "{package}/api/routes/ml.py",
        "{package}/api/routes/jobs.py",
        "{package}/services/jobs.py",
        "{package}/services/predictions.py",
        "{package}/worker.py",
        "deploy/k8s/worker-deployment.yaml",
        "migrations/versions/0002_create_jobs.py",
        "tests/test_ml.py",
        "tests/test_jobs.py",
    ],
    "use_celery": [
        "{package}/core/cache.py",
        "{package}/worker.py",
        "tests/test_cache.py",
        "deploy/k8s/worker-deployment.yaml",
    ],
    "use_auth": [
        "{package}/core/auth.py",
        "{package}/core/throttle.py",
        "{package}/models/user.py",
        "{package}/schemas/user.py",
        "{package}/services/users.py",
        "{package}/api/routes/auth.py",
        "{package}/api/routes/users.py",
        "{package}/commands.py",
        "migrations/versions/0003_create_users.py",
        "tests/test_auth.py",
        "tests/test_users.py",
    ],
    "use_docker": [
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        "deploy",
    ],
}


def is_enabled(value) -> bool:
    """Booleans arrive as bools from the Python API and as strings from some callers."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(value)


def files_to_remove(context: dict) -> list[str]:
    paths = []
    for feature, feature_paths in FEATURE_FILES.items():
        if not is_enabled(context.get(feature, True)):
            paths.extend(path.format(package=context["package_name"]) for path in feature_paths)
    return sorted(set(paths))


def remove_paths(project_dir: Path, relative_paths: list[str]) -> None:
    for relative in relative_paths:
        path = project_dir / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def next_steps(context: dict) -> str:
    framework = "Flask" if context.get("_framework") == "flask" else "FastAPI"
    slug = context["project_slug"]
    lines = [
        f"Generated {context['project_name']!r}, a {framework} service, in ./{slug}",
        "",
        "Next steps:",
        f"  cd {slug}",
        "  uv sync --extra dev                 # or: pip install -e '.[dev]' in a venv",
        "  uv run pytest",
        "  uv run gunicorn -c gunicorn.conf.py # http://127.0.0.1:8000/docs",
    ]
    if is_enabled(context.get("use_celery")) and is_enabled(context.get("use_ml")):
        lines.append(
            f"  uv run celery -A {context['package_name']}.worker worker   # with CELERY_BROKER_URL"
        )
    return "\n".join(lines)


def main() -> int:
    context = json.loads(CONTEXT_JSON)
    remove_paths(Path.cwd(), files_to_remove(context))
    print(next_steps(context))
    return 0


if __name__ == "__main__":
    sys.exit(main())
