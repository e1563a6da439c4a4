"""JSON log lines on stderr, each carrying the request id of the request it belongs to."""

import json
import logging
import os
import random
import sys
import threading
import time
from json.encoder import encode_basestring_ascii as json_string

from flask import Flask, Response, g, has_app_context, request

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
# Set by core/tracing.py on lines logged inside a trace, when tracing is on.
TRACE_FIELDS = ("trace_id", "span_id")
ALL_FIELDS = (*ACCESS_FIELDS, *TRACE_FIELDS)
FLUSH_SECONDS = 0.2

access_logger = logging.getLogger(__name__.rsplit(".", 2)[0] + ".access")
ACCESS_LOGGER_JSON = json.dumps(access_logger.name)
ACCESS_LINE = (
    '{"ts": "%s", "level": "INFO", "logger": %s, "message": %s, "request_id": %s, '
    '"method": %s, "path": %s, "status": %d, "duration_ms": %r}'
)


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


def _note_process_id() -> None:
    global process_id
    process_id = os.getpid()


# os.getpid() is a system call; this process's id is noted at start and after each fork.
process_id = os.getpid()
os.register_at_fork(after_in_child=_note_process_id)
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
        for field in ALL_FIELDS:
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
        self._start_flushing()
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
        if record.levelno >= logging.WARNING:
            self.flush()

    def add_line(self, line: str) -> None:
        """Queue a line that is already formatted (an access line, see log_access)."""
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            self._start_flushing()
            self._lines.append(line)

    def _start_flushing(self) -> None:
        if self._pid != process_id:
            # A forked child inherits its parent's unwritten lines: the parent writes them.
            self._lines = []
            self._pid = process_id
            threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()

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


def direct_handler() -> StderrHandler | None:
    """The handler that access lines can be handed to as finished text: the only handler
    they would reach, with the JSON formatter and no filter on the way (tracing adds one);
    else None, and they take the logging module's usual path."""
    if access_logger.filters:
        return None
    found = None
    logger: logging.Logger | None = access_logger
    while logger is not None:
        for handler in logger.handlers:
            if found is not None:
                return None
            found = handler
        if not logger.propagate:
            break
        logger = logger.parent
    if (
        type(found) is not StderrHandler
        or found.filters
        or found.level > logging.INFO
        or type(found.formatter) is not JsonFormatter
    ):
        return None
    return found


def log_access(method: str, path: str, status: int, duration_ms: float, request_id: str) -> None:
    """One access line at INFO. Without a LogRecord where none is needed: building one and
    passing it through the logging module cost more than the rest of the line's work."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    message = f"{method} {path} {status}"
    handler = direct_handler()
    if handler is None:
        fields = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
        }
        access_logger.info(message, extra=fields)
        return
    # Byte for byte the line JsonFormatter writes for such a record, put together directly:
    # encoding a dict took 4.6 µs, this 1.5.
    handler.add_line(
        ACCESS_LINE
        % (
            utc_timestamp(time.time()),
            ACCESS_LOGGER_JSON,
            json_string(message),
            json_string(request_id),
            json_string(method),
            json_string(path),
            status,
            duration_ms,
        )
    )


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
    duration_ms = round((time.perf_counter() - g.started_at) * 1000, 3)
    log_access(request.method, request.path, response.status_code, duration_ms, g.request_id)
    return response


def init_request_logging(app: Flask) -> None:
    """Give every request an id (the client's, if sane) and log one access line for it."""
    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
