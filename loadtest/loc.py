"""Lines of code per concern in a generated project.

A line of code is a line with Python tokens on it that is not a comment or a docstring.
Files map to concerns by their place in the shared tree; the schema modules are split
class by class: input models are validation, output models are serialization.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

CONCERNS = ("validation", "serialization", "docs", "wiring", "errors", "handlers", "other")
SKIPPED_TOKENS = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
OUTPUT_NAME = re.compile(r"(Out|Response|Read|Public|Page|List|Result|Dump|Serial)", re.I)
WIRING_FILES = {
    "main.py",
    "api/__init__.py",
    "api/deps.py",
    "api/routes/__init__.py",
    "core/config.py",
}
IDENTICAL_DIRS = ("ml/",)  # the same files in both templates: nothing to compare


def code_lines(source: str) -> set[int]:
    """Line numbers that carry code (not blank, comment or docstring)."""
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in SKIPPED_TOKENS:
            lines.update(range(token.start[0], token.end[0] + 1))
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                lines.difference_update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def concern_of(relative: str) -> str:
    if relative.startswith("schemas/"):
        return "validation"
    if relative == "api/routes/docs.py":
        return "docs"
    if relative in WIRING_FILES:
        return "wiring"
    if relative == "core/errors.py":
        return "errors"
    if relative.startswith("api/routes/"):
        return "handlers"
    return "other"


def split_schema_lines(source: str, lines: set[int]) -> tuple[int, int]:
    """(validation, serialization) lines of a schema module, by top-level definition."""
    tree = ast.parse(source)
    serialization = 0
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            span = set(range(node.lineno, node.end_lineno + 1)) & lines
            start = min((d.lineno for d in getattr(node, "decorator_list", [])), default=None)
            if start is not None:
                span |= set(range(start, node.lineno)) & lines
            if OUTPUT_NAME.search(node.name):
                serialization += len(span)
    return len(lines) - serialization, serialization


def count_concerns(project: Path) -> dict:
    """{"concerns": {concern: lines}, "files": {path: lines}, "total": lines}."""
    package = project / project.name.replace("-", "_")
    concerns = dict.fromkeys(CONCERNS, 0)
    files: dict[str, int] = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith(IDENTICAL_DIRS):
            continue
        source = path.read_text()
        try:
            lines = code_lines(source)
        except (SyntaxError, tokenize.TokenError):
            continue
        files[relative] = len(lines)
        concern = concern_of(relative)
        if concern == "validation":
            validation, serialization = split_schema_lines(source, lines)
            concerns["validation"] += validation
            concerns["serialization"] += serialization
        else:
            concerns[concern] += len(lines)
    return {"concerns": concerns, "files": files, "total": sum(files.values())}
