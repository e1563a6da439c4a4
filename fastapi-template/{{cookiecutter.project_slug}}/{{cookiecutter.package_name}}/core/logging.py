"""JSON log lines on stderr, each tagged with the request id, and one access line per request."""

import json
import logging
import os
import random
import re
import sys
import threading
import time
from contextvars import ContextVar
from json.encoder import encode_basestring_ascii as json_string

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.core.errors import send_problem

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,128}")
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
# Set by core/tracing.py on lines logged inside a trace, when tracing is on.
TRACE_FIELDS = ("trace_id", "span_id")
ALL_FIELDS = (*ACCESS_FIELDS, *TRACE_FIELDS)
FLUSH_SECONDS = 0.2

access_logger = logging.getLogger("{{ cookiecutter.package_name }}.access")
ACCESS_LOGGER_JSON = json.dumps(access_logger.name)
ACCESS_LINE = (
    '{"ts": "%s", "level": "INFO", "logger": %s, "message": %s, "request_id": %s, '
    '"method": %s, "path": %s, "status": %d, "duration_ms": %r}'
)
error_logger = logging.getLogger("{{ cookiecutter.package_name }}.errors")


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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for field in ALL_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return encode_json(line)


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
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for previous in root.handlers:
        if isinstance(previous, StderrHandler):
            previous.close()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # The logging HOWTO's "Optimization" switches: no record collects the thread, process or
    # caller details that no formatter here prints, which makes every access line cheaper.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    # Uvicorn's own access log would duplicate the access lines written below.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


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


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            candidate: str = value.decode("latin-1")
            if VALID_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    # Unique enough to find a request's lines, and no system call: it is not a secret.
    return f"{random.getrandbits(128):032x}"


class RequestLoggingMiddleware:
    """Assign the request id, echo it in X-Request-ID, and log one access line per request.

    It is the outermost middleware, so it also turns an unhandled exception into the
    contract's 500 problem (logged with its traceback, which never reaches the client).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = incoming_request_id(scope)
        token = request_id_var.set(request_id)
        start = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != REQUEST_ID_HEADER
                ]
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            error_logger.exception("Unhandled error")
            if response_started:
                raise
            await send_problem(
                send_with_request_id, 500, "An unexpected error occurred", scope["path"]
            )
        finally:
            duration_ms = round((time.perf_counter() - start) * 1000, 3)
            log_access(scope["method"], scope["path"], status, duration_ms, request_id)
            request_id_var.reset(token)
