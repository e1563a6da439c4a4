"""JSON log lines on stderr, each carrying the request id of the request it belongs to."""

import json
import logging
import os
import random
import sys
import threading
import time

from flask import Flask, Response, g, has_app_context, request

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
# Set by core/tracing.py on lines logged inside a trace, when tracing is on.
TRACE_FIELDS = ("trace_id", "span_id")
FLUSH_SECONDS = 0.2

access_logger = logging.getLogger(__name__.rsplit(".", 2)[0] + ".access")


def utc_timestamp(created: float) -> str:
    """`2026-01-02T03:04:05.123456Z`; the part up to the second is formatted once a second."""
    global _last_second
    second = int(created)
    cached_second, text = _last_second
    if second != cached_second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, text)  # one tuple, so threads never see half an update
    return f"{text}.{int((created - second) * 1_000_000):06d}Z"


_last_second = (-1, "")
# Built once: json.dumps with any keyword argument builds a new encoder on every call.
encode_json = json.JSONEncoder(default=str).encode


def current_request_id() -> str | None:
    return g.get("request_id") if has_app_context() else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, request_id (+ access fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for field in (*ACCESS_FIELDS, *TRACE_FIELDS):
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return encode_json(entry)


class StderrHandler(logging.Handler):
    """Writes lines to whatever `sys.stderr` is at the time (test runners swap it), in batches.

    One write per line costs a system call, and under many threads a hand-over of the GIL
    each time: measured with one gunicorn worker, the access line took a fifth of /health's
    throughput that way. Lines are kept and written together at least every FLUSH_SECONDS by a
    thread of each process, at once for warnings and errors, and at exit. A process killed
    outright loses its last FLUSH_SECONDS of lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[str] = []
        self._pid = 0  # the process whose flusher thread is running
        self._stopped = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        if self._pid != os.getpid():
            # A forked child inherits its parent's unwritten lines: the parent writes them.
            self._lines = []
            self._pid = os.getpid()
            threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
        if record.levelno >= logging.WARNING:
            self.flush()

    def _flush_periodically(self) -> None:
        while not self._stopped.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            lines, self._lines = self._lines, []
            if lines:
                sys.stderr.write("\n".join(lines) + "\n")
                sys.stderr.flush()
        finally:
            self.release()

    def close(self) -> None:
        self._stopped.set()
        self.flush()
        super().close()


def configure_logging(level: str) -> None:
    """Send every logger's records, as JSON, to stderr through one root handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler):
            root.removeHandler(handler)
            handler.close()
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # The logging HOWTO's "Optimization" switches: no record collects the thread, process or
    # caller details that no formatter here prints, which makes every access line cheaper.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None


def _valid_request_id(value: str | None) -> bool:
    return value is not None and 0 < len(value) <= 128 and value.isascii() and value.isprintable()


def new_request_id() -> str:
    # Unique enough to find a request's lines, and no system call: it is not a secret.
    return f"{random.getrandbits(128):032x}"


def _start_request() -> None:
    g.started_at = time.perf_counter()
    request_id = request.headers.get(REQUEST_ID_HEADER)
    g.request_id = request_id if _valid_request_id(request_id) else new_request_id()


def _finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.request_id
    access_logger.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.started_at) * 1000, 3),
        },
    )
    return response


def init_request_logging(app: Flask) -> None:
    """Give every request an id (the client's, if sane) and log one access line for it."""
    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
