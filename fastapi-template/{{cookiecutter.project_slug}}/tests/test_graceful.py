"""A stopping server answers the requests already on their way (core/graceful.py).

uvicorn runs here with the protocols gunicorn.conf.py gives it, serving a small ASGI app on a
socket of the test's own. "Stopping" is what a worker does on SIGTERM; the test knows it has
begun once the listening socket refuses connections: uvicorn closes it in the same step in
which it tells every open connection to shut down.
"""

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

{% if cookiecutter.use_websockets -%}
import pytest
{% endif -%}
import uvicorn
{%- if cookiecutter.use_websockets %}
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
{%- endif %}

{% if cookiecutter.use_websockets -%}
from {{ cookiecutter.package_name }}.core.graceful import (
    STOP_LINGER_SECONDS,
    GoingAwayWebSocketProtocol,
    GracefulHttpToolsProtocol,
)
{%- else -%}
from {{ cookiecutter.package_name }}.core.graceful import (
    STOP_LINGER_SECONDS,
    GracefulHttpToolsProtocol,
)
{%- endif %}

TIMEOUT = 5.0
# Set by the test: the response to /slow, whose head has gone out, may finish.
release_slow_response = threading.Event()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
{%- if cookiecutter.use_websockets %}
    if scope["type"] == "websocket":
        await receive()  # the connect event
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
{%- endif %}
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/slow":
        await asyncio.to_thread(release_slow_response.wait, TIMEOUT)
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def running_server() -> Iterator[tuple[uvicorn.Server, int]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        http=GracefulHttpToolsProtocol,
{%- if cookiecutter.use_websockets %}
        ws=GoingAwayWebSocketProtocol,
{%- endif %}
        lifespan="off",
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield server, port
    finally:
        server.should_exit = True
        thread.join(timeout=TIMEOUT)
        assert not thread.is_alive(), "the server did not stop"


def begin_stop(server: uvicorn.Server, port: int) -> None:
    """Stop the server and return once it has told its connections to shut down.

    A probe that reaches the backlog just as the listener closes is reset rather than refused:
    either way the listener is gone.
    """
    server.should_exit = True
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except (ConnectionRefusedError, ConnectionResetError):
            return
        assert time.monotonic() < deadline, "the server did not stop listening"
        time.sleep(0.01)


def get(connection: http.client.HTTPConnection, path: str = "/") -> http.client.HTTPResponse:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    return response


def kept_alive_connection(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    response = get(connection)
    assert response.status == 200 and not response.will_close
    return connection


def test_a_request_on_an_idle_connection_is_answered_with_connection_close():
    with running_server() as (server, port):
        with closing(kept_alive_connection(port)) as connection:
            begin_stop(server, port)
            response = get(connection)
        assert response.status == 200
        assert response.getheader("connection") == "close"


def test_a_response_under_way_finishes_and_the_next_request_is_answered_too():
    release_slow_response.clear()
    with running_server() as (server, port):
        with closing(kept_alive_connection(port)) as connection:
            connection.request("GET", "/slow")
            slow = connection.getresponse()  # its head has arrived, announcing keep-alive
            begin_stop(server, port)
            release_slow_response.set()
            assert slow.read() == b"ok" and not slow.will_close
            response = get(connection)
        assert response.status == 200 and response.will_close


def test_an_idle_connection_is_closed_once_the_linger_is_over():
    with running_server() as (server, port):
        with closing(kept_alive_connection(port)) as connection:
            begin_stop(server, port)
            started = time.monotonic()
            assert connection.sock is not None
            assert connection.sock.recv(1) == b""  # closed by the server
        assert time.monotonic() - started < STOP_LINGER_SECONDS + 1.0
{%- if cookiecutter.use_websockets %}


def test_websockets_are_closed_with_1001_going_away():
    with running_server() as (server, port), connect(f"ws://127.0.0.1:{port}/") as websocket:
        begin_stop(server, port)
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
{%- endif %}
