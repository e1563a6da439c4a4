"""Python and C calls per request of an ASGI app (through uvicorn's own protocol) or a WSGI app.

Requests/s on a shared machine move by 10% between runs; the number of calls a request
makes does not. This drives uvicorn's httptools protocol in-process (a fake transport, the
app's lifespan run as uvicorn runs it), counts every call a `sys.setprofile` hook sees over
`--requests` requests after a warm-up, and prints the total per request and the functions
that make most of them. Two apps side by side (a template and its floor) show where a
template's extra work goes. Run it where the app imports, with its settings in the
environment:

    cd my-service && PYTHONPATH=. DATABASE_URL=sqlite:///app.db \\
        python -m loadtest.floors.calls my_service.main:app --path /health \\
        --protocol my_service.core.graceful:GracefulHttpToolsProtocol

With `--wsgi` the apps are WSGI callables (`module:attribute`, or `module:factory()` to call
a factory), each request a fresh WSGI environ: the app's own work, without the server's.

    cd my-flask-service && PYTHONPATH=. DATABASE_URL=sqlite:///app.db \\
        python -m loadtest.floors.calls --wsgi "my_flask_service.main:create_app()" \\
        --path "/api/v1/items?limit=20"

Calls are a proxy for time, not a measure of it: a C call that writes to a socket and one
that reads a dict count the same, and only the event loop's thread is counted (aiosqlite's
and the log flusher's threads are not). The loop is uvloop's when it is installed, as under
the templates' servers, so the loop's own work is C and not counted. Use it to find and
check a change, and requests/s (`python -m loadtest floors`) to judge one.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import importlib
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from wsgiref.util import setup_testing_defaults

from uvicorn.config import Config
from uvicorn.lifespan.on import LifespanOn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

DEFAULT_PROTOCOL = "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol"
WARMUP_REQUESTS = 200


class Transport(asyncio.Transport):
    """Takes what the protocol writes and keeps the last write (the end of the response)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_write = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.last_write = bytes(data)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


def load(target: str) -> object:
    """`module:attribute`, or `module:factory()` for what the factory returns."""
    module, _, name = target.partition(":")
    if name.endswith("()"):
        return getattr(importlib.import_module(module), name[:-2])()
    return getattr(importlib.import_module(module), name)


def request_bytes(method: str, path: str) -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n".encode()


def call_name(frame, event: str, arg: object) -> str:
    if event == "c_call":
        return "C " + getattr(arg, "__qualname__", repr(arg))
    code = frame.f_code
    filename = code.co_filename.split("site-packages/")[-1]
    return f"{filename}:{code.co_name}"


@contextmanager
def counting_calls() -> Iterator[collections.Counter[str]]:
    """Count every Python and C call this thread makes inside the block, by name.

    The cyclic garbage collector is paused meanwhile: the finalizers its collections run
    would land in the count at random (two counts of the floor's /health in a row gave 313.1
    and 313.3 calls a request).
    """
    counts: collections.Counter[str] = collections.Counter()

    def hook(frame, event: str, arg: object) -> None:
        if event in ("call", "c_call"):
            counts[call_name(frame, event, arg)] += 1

    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    sys.setprofile(hook)
    try:
        yield counts
    finally:
        sys.setprofile(None)
        if collecting:
            gc.enable()


async def count_calls(
    app_target: str, protocol_target: str, raw_request: bytes, requests: int
) -> tuple[collections.Counter[str], bytes]:
    config = Config(app_target, lifespan="on", log_level="warning", access_log=False)
    config.load()
    lifespan = LifespanOn(config)
    await lifespan.startup()
    base: type[HttpToolsProtocol] = load(protocol_target)  # type: ignore[assignment]
    loop = asyncio.get_running_loop()

    class Protocol(base):  # type: ignore[valid-type, misc]
        done: asyncio.Future[None]

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self.done.set_result(None)

    protocol = Protocol(
        config=config, server_state=ServerState(), app_state=lifespan.state, _loop=loop
    )
    transport = Transport()
    protocol.connection_made(transport)

    async def send(count: int) -> None:
        for _ in range(count):
            protocol.done = loop.create_future()
            protocol.data_received(raw_request)
            await protocol.done

    await send(WARMUP_REQUESTS)
    with counting_calls() as counts:
        await send(requests)
    protocol.connection_lost(None)
    await lifespan.shutdown()
    return counts, transport.last_write


def wsgi_environ(method: str, path: str) -> dict[str, object]:
    path_info, _, query = path.partition("?")
    environ: dict[str, object] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.input": io.BytesIO(),
    }
    setup_testing_defaults(environ)
    return environ


def count_wsgi_calls(
    app_target: str, method: str, path: str, requests: int
) -> tuple[collections.Counter[str], bytes]:
    app = load(app_target)
    last_body = b""

    def call(environ: dict[str, object]) -> None:
        nonlocal last_body
        result = app(environ, lambda status, headers, exc_info=None: None)  # type: ignore[operator]
        try:
            last_body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()

    for _ in range(WARMUP_REQUESTS):
        call(wsgi_environ(method, path))
    environs = [wsgi_environ(method, path) for _ in range(requests)]
    with counting_calls() as counts:
        for environ in environs:
            call(environ)
    return counts, last_body


def report(app: str, counts: collections.Counter[str], requests: int, top: int) -> list[str]:
    total = sum(counts.values()) / requests
    lines = [f"{app}: {total:,.1f} calls per request"]
    lines += [f"  {n / requests:8.1f}  {name}" for name, n in counts.most_common(top)]
    return lines


def event_loop_runner() -> Callable:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.floors.calls", description=__doc__)
    parser.add_argument("apps", nargs="+", help="ASGI apps as module:attribute")
    parser.add_argument("--path", default="/health", help="the request's path and query")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--protocol", default=DEFAULT_PROTOCOL, help="uvicorn protocol class")
    parser.add_argument("--wsgi", action="store_true", help="the apps are WSGI callables")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=15, help="functions to list per app")
    args = parser.parse_args(argv)
    raw_request = request_bytes(args.method, args.path)
    run = event_loop_runner()
    for app in args.apps:
        if args.wsgi:
            counts, last_write = count_wsgi_calls(app, args.method, args.path, args.requests)
        else:
            counts, last_write = run(count_calls(app, args.protocol, raw_request, args.requests))
        print("\n".join(report(app, counts, args.requests, args.top)))
        print(f"  last bytes written: {last_write[-80:]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
