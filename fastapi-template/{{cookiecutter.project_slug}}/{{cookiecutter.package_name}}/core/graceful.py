"""A worker that stops (SIGTERM, and so on every reload, SIGHUP) without dropping a request.

uvicorn closes every idle keep-alive connection the moment its worker starts to stop. A client
may have sent its next request on one already: it gets a reset instead of an answer, and cannot
know whether the request was served. Here an idle connection stays open for STOP_LINGER_SECONDS
more; a request that arrives meanwhile is answered, with `Connection: close`. A response whose
head has not gone out yet says `Connection: close` too; one already under way finishes as it
began, and its connection then lingers like an idle one. Connections are closed when they are
done with, which tells a client to open a new one, to a worker that is not stopping.
{%- if cookiecutter.use_websockets %}

WebSockets are closed with 1001 (going away) rather than uvicorn's 1012 (service restart): the
server is not necessarily coming back, and clients may reconnect at once, to another worker.
{%- endif %}

gunicorn.conf.py puts {% if cookiecutter.use_websockets %}both{% else %}it{% endif %} in place.
"""

from asyncio import TimerHandle
{%- if cookiecutter.use_websockets %}

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
{%- endif %}

from .request_head import LimitedHttpToolsProtocol

# Long enough for a client to send the request it has just decided to send; short enough not
# to hold a stopping worker back.
STOP_LINGER_SECONDS = 1.0
{%- if cookiecutter.use_websockets %}
GOING_AWAY = 1001
{%- endif %}


class GracefulHttpToolsProtocol(LimitedHttpToolsProtocol):
    """The request-head-limited httptools protocol, with a graceful stop."""

    stopping = False
    linger: TimerHandle | None = None

    def shutdown(self) -> None:
        """Called by uvicorn on every open connection when the worker starts to stop."""
        self.stopping = True
        if self.is_idle():
            self.linger_then_close()
        elif not self.cycle.response_started:
            self.cycle.keep_alive = False
        # Otherwise the response's head said keep-alive: on_response_complete lingers.

    def is_idle(self) -> bool:
        # A cycle exists from the end of a request's head until its response is complete.
        return self.cycle is None or self.cycle.response_complete

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.stopping and self.cycle is not None:
            self.cycle.keep_alive = False

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms the keep-alive timeout only when the connection stays open and idle.
        if self.stopping and self.timeout_keep_alive_task is not None:
            self.linger_then_close()

    def linger_then_close(self) -> None:
        if self.linger is None:
            self.linger = self.loop.call_later(STOP_LINGER_SECONDS, self.close_if_idle)

    def close_if_idle(self) -> None:
        # A request that arrived meanwhile closes the connection itself once answered.
        if self.is_idle() and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.linger is not None:
            self.linger.cancel()
        super().connection_lost(exc)
{%- if cookiecutter.use_websockets %}


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, closing open WebSockets with 1001 when the worker stops."""

    def shutdown(self) -> None:
        if not (self.handshake_complete and self.initial_response is None and not self.close_sent):
            # Not an open WebSocket (yet, or any more): uvicorn's own handling.
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()
{%- endif %}
