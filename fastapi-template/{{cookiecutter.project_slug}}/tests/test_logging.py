"""Access lines: one JSON line per request, the same whichever way it is written.

The access line skips the logging module's records when the app's own handler is the only
place it goes (see core/logging.py). pytest adds handlers of its own to the root logger
while a test runs, so these tests leave the app's handler alone there, as under gunicorn.
"""

import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.core.logging import (
    JsonFormatter,
    StderrHandler,
    access_logger,
    direct_handler,
    log_access,
)

TIMESTAMP = re.compile(r'"ts": "[^"]+"')


@pytest.fixture
def app_handler() -> Iterator[StderrHandler]:
    """The app's handler (a new one if no app has installed it), with the root at INFO."""
    found = [each for each in logging.root.handlers if isinstance(each, StderrHandler)]
    handler = found[0] if found else StderrHandler()
    if not found:
        handler.setFormatter(JsonFormatter())
    level = logging.root.level
    logging.root.setLevel(logging.INFO)
    yield handler
    logging.root.setLevel(level)


def alone(monkeypatch: pytest.MonkeyPatch, *handlers: logging.Handler) -> None:
    monkeypatch.setattr(logging.root, "handlers", list(handlers))


def written(handler: StderrHandler, capsys: pytest.CaptureFixture[str]) -> list[str]:
    handler.flush()
    return capsys.readouterr().err.splitlines()


def test_a_line_written_directly_is_the_formatters_line(
    app_handler: StderrHandler,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = '/api/v1/items/"quoted"\\slash/é'

    alone(monkeypatch, app_handler)
    written(app_handler, capsys)  # whatever came before
    assert direct_handler() is app_handler
    log_access("GET", path, 404, 1.25, 'id "with" quotes')
    direct = written(app_handler, capsys)
    alone(monkeypatch, app_handler, logging.NullHandler())  # two handlers: the usual path
    assert direct_handler() is None
    log_access("GET", path, 404, 1.25, 'id "with" quotes')
    usual = written(app_handler, capsys)

    assert len(direct) == len(usual) == 1
    assert TIMESTAMP.sub("", direct[0]) == TIMESTAMP.sub("", usual[0])
    assert json.loads(direct[0]) | {"ts": None} == {
        "ts": None,
        "level": "INFO",
        "logger": access_logger.name,
        "message": f"GET {path} 404",
        "request_id": 'id "with" quotes',
        "method": "GET",
        "path": path,
        "status": 404,
        "duration_ms": 1.25,
    }


def test_a_filter_on_the_way_takes_the_usual_path(
    app_handler: StderrHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Nothing(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return False

    alone(monkeypatch, app_handler)
    monkeypatch.setattr(app_handler, "filters", [Nothing()])

    assert direct_handler() is None


def test_every_request_writes_one_access_line(
    client: TestClient,
    app_handler: StderrHandler,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alone(monkeypatch, app_handler)
    written(app_handler, capsys)  # whatever came before

    response = client.get("/health", headers={"X-Request-ID": "abc-123"})

    lines = [json.loads(line) for line in written(app_handler, capsys)]
    access = [line for line in lines if line["logger"] == access_logger.name]
    assert response.status_code == 200
    assert len(access) == 1
    assert access[0]["request_id"] == "abc-123"
    assert (access[0]["method"], access[0]["path"], access[0]["status"]) == ("GET", "/health", 200)
    assert access[0]["duration_ms"] >= 0
