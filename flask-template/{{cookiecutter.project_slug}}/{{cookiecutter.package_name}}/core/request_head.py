"""The limit on a request's head (request target and header fields): 16 KiB.

gunicorn limits the request line (`limit_request_line`) and each header field
(`limit_request_field_size`), but not the head as a whole: with its defaults one request may
hold about 800 KiB of headers. `limit_request_heads` (called by gunicorn.conf.py) gives its
parser a request class that stops reading a head once it passes the limit, and gunicorn
answers its own 431.
"""

from typing import Any

from gunicorn.http.errors import LimitRequestHeaders
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser

MAX_REQUEST_HEAD_BYTES = 16 * 1024
# Each header field counts with its ": " and CRLF, as it was sent.
FIELD_OVERHEAD = 4


class LimitedRequest(Request):  # type: ignore[misc]  # gunicorn publishes no types
    """gunicorn's request, refused when its head passes MAX_REQUEST_HEAD_BYTES."""

    max_buffer_headers: int  # set by gunicorn from its limits, before parse

    def parse(self, unreader: Any) -> bytes:
        # gunicorn stops reading and refuses a header block past this size.
        self.max_buffer_headers = min(self.max_buffer_headers, MAX_REQUEST_HEAD_BYTES)
        unused: bytes = super().parse(unreader)
        size = len(self.uri or "") + sum(
            len(name) + len(value) + FIELD_OVERHEAD for name, value in self.headers
        )
        if size > MAX_REQUEST_HEAD_BYTES:
            raise LimitRequestHeaders(f"request head over {MAX_REQUEST_HEAD_BYTES} bytes")
        return unused


def limit_request_heads() -> None:
    """gunicorn has no setting for this: its parser's request class is the only way in."""
    RequestParser.mesg_class = LimitedRequest
