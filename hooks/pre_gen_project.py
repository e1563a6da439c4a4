"""Validate the answers before cookiecutter writes anything.

Shared by both templates (each template's ``hooks`` is a link to this folder). Jinja
expressions appear only inside the string below, so the module imports as plain Python and
its checks are unit-tested.
"""

import json
import keyword
import re
import sys

CONTEXT_JSON = r"""{{ cookiecutter | jsonify }}"""

SUPPORTED_PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PACKAGE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Names the generated project imports or lays out itself: a package of that name would
# shadow the dependency or clash with a folder of the project.
RESERVED_PACKAGE_NAMES = frozenset(
    {
        "alembic",
        "celery",
        "fastapi",
        "flask",
        "flask_smorest",
        "gunicorn",
        "marshmallow",
        "migrations",
        "numpy",
        "onnxruntime",
        "pydantic",
        "redis",
        "sqlalchemy",
        "static",
        "test",
        "tests",
        "uvicorn",
    }
)


def validate(context: dict) -> list[str]:
    """Return one message per invalid answer; an empty list means all is well."""
    errors = []
    if not context.get("project_name", "").strip():
        errors.append("project_name must not be empty.")

    slug = context.get("project_slug", "")
    if not SLUG_PATTERN.match(slug):
        errors.append(
            f"project_slug {slug!r} is not valid: use lowercase letters, digits and single "
            "hyphens, starting with a letter (for example 'my-service')."
        )

    package = context.get("package_name", "")
    if not PACKAGE_PATTERN.match(package) or keyword.iskeyword(package):
        errors.append(
            f"package_name {package!r} is not a valid Python package name: use lowercase "
            "letters, digits and underscores, not starting with a digit (for example "
            "'my_service')."
        )
    elif package in RESERVED_PACKAGE_NAMES or package in sys.stdlib_module_names:
        errors.append(
            f"package_name {package!r} would shadow a module the project depends on; "
            "choose another name."
        )

    email = context.get("author_email", "")
    if email and not EMAIL_PATTERN.match(email):
        errors.append(f"author_email {email!r} does not look like an e-mail address.")

    version = context.get("python_version", "")
    if version not in SUPPORTED_PYTHON_VERSIONS:
        errors.append(
            f"python_version {version!r} is not supported: choose one of "
            f"{', '.join(SUPPORTED_PYTHON_VERSIONS)}."
        )

    if context.get("database") not in ("sqlite", "postgresql"):
        errors.append(f"database {context.get('database')!r} must be 'sqlite' or 'postgresql'.")
    return errors


def newer_python_warning(version: str, running: tuple[int, int]) -> str | None:
    """One line, with the fix, when the project's floor is above the Python generating it.

    Not an error: a project may be generated here for a newer Python elsewhere (its
    container, say), but then it does not install on this machine.
    """
    if version not in SUPPORTED_PYTHON_VERSIONS:
        return None
    wanted = tuple(int(part) for part in version.split("."))
    if wanted <= running:
        return None
    here = f"{running[0]}.{running[1]}"
    return (
        f"python_version {version} is newer than this Python ({here}): the project will "
        f"require Python >={version} and will not install with python{here}; generate with "
        f"python_version={here}, or install Python {version} and use it."
    )


def main() -> int:
    context = json.loads(CONTEXT_JSON)
    errors = validate(context)
    for message in errors:
        print(f"ERROR: {message}", file=sys.stderr)
    warning = newer_python_warning(context.get("python_version", ""), sys.version_info[:2])
    if warning and not errors:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
