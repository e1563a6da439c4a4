"""The limit on a request's head (request target and header fields): 16 KiB.

uvicorn's httptools protocol sets none of its own, and httptools keeps a header that is still
arriving in memory whatever its size. This protocol counts the head while it arrives and
answers 431 (problem+json) and closes the connection as soon as it passes the limit, so a
connection never holds more than the limit and one read. gunicorn.conf.py puts it in place.
"""

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import PROBLEM_CONTENT_TYPE, problem_body

MAX_REQUEST_HEAD_BYTES = 16 * 1024
# Each header field counts with its ": " and CRLF, as it was sent.
FIELD_OVERHEAD = 4


class RequestHeadTooLarge(Exception):
    """Raised in a parser callback: httptools stops parsing and uvicorn answers the error."""


def head_too_large_response(path: str) -> bytes:
    body = json.dumps(
        problem_body(
            431,
            f"The request line and headers exceed {MAX_REQUEST_HEAD_BYTES} bytes",
            path,
        )
    ).encode()
    return b"".join(
        [
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            b"content-type: " + PROBLEM_CONTENT_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with MAX_REQUEST_HEAD_BYTES on every request's head."""

    head_bytes = 0  # counted exactly, from the parser's callbacks
    unparsed_head_bytes = 0  # received while the head was incomplete
    reading_head = True
    head_too_large = False

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.reading_head and not self.transport.is_closing():
            # A header still arriving stays inside httptools until it is complete.
            self.unparsed_head_bytes += len(data)
            if self.unparsed_head_bytes > MAX_REQUEST_HEAD_BYTES:
                self.refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes = 0
        self.unparsed_head_bytes = 0
        self.reading_head = True

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.count_head(len(name) + len(value) + FIELD_OVERHEAD)

    def on_headers_complete(self) -> None:
        self.reading_head = False
        super().on_headers_complete()

    def count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_REQUEST_HEAD_BYTES:
            self.head_too_large = True
            raise RequestHeadTooLarge

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400: one raised by count_head is a 431.
        if self.head_too_large:
            self.refuse_head()
        else:
            super().send_400_response(msg)

    def refuse_head(self) -> None:
        self.reading_head = False
        # The target may be incomplete, or too long to echo whole.
        path = getattr(self, "url", b"").partition(b"?")[0][:200].decode("latin-1")
        self.transport.write(head_too_large_response(path))
        self.transport.close()
