"""HTTP/1.1 on the wire: requests pre-encoded once, responses parsed incrementally.

The parser handles what a keep-alive client meets: Content-Length bodies, chunked bodies,
bodies without either that end when the server closes, 1xx interim responses, and
responses that never have a body (204, 304).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1."""


def split_url(url: str) -> tuple[str, int, str]:
    """host, port and path prefix of an http:// URL."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"only http:// URLs are supported, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    return parts.hostname, parts.port or 80, parts.path.rstrip("/")


def encode_request(
    method: str,
    path: str,
    host: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """One complete request, ready to write. GETs carry only Host, like wrk's."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body is not None else head


def encode_json_request(
    method: str, path: str, host: str, payload: object, headers: dict[str, str] | None = None
) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    return encode_request(method, path, host, body, headers)


def header_value(head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (lower-case bytes) in a raw response head."""
    lowered = head.lower()
    start = lowered.find(b"\r\n" + name + b":")
    if start < 0:
        return None
    start += len(name) + 3
    end = lowered.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


# Parser states
HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, CHUNK_TRAILER, UNTIL_CLOSE = range(7)

ResponseCallback = Callable[[int, bytes, bytes], None]


class ResponseParser:
    """Feeds bytes in, calls `on_response(status, head, body)` per complete response.

    With `keep_body=False` the body is skipped rather than collected (and passed as b""),
    which is what a throughput run wants.
    """

    __slots__ = (
        "on_response",
        "keep_body",
        "buffer",
        "state",
        "status",
        "head",
        "remaining",
        "body_parts",
        "close_after",
        "last_whole",
    )

    def __init__(self, on_response: ResponseCallback, keep_body: bool = False) -> None:
        self.on_response = on_response
        self.keep_body = keep_body
        self.buffer = b""
        self.state = HEAD
        self.status = 0
        self.head = b""
        self.remaining = 0
        self.body_parts: list[bytes] = []
        self.close_after = False
        # the offset of the head's end when the last feed was exactly one response with a
        # Content-Length, that leaves the connection open; else None
        self.last_whole: int | None = None

    @property
    def idle(self) -> bool:
        """True between responses, with nothing buffered."""
        return self.state == HEAD and not self.buffer

    def feed(self, data: bytes) -> None:
        self.last_whole = None
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        pos = 0
        end = len(data)
        while pos < end:
            state = self.state
            if state == HEAD:
                head_end = data.find(b"\r\n\r\n", pos)
                if head_end < 0:
                    if end - pos > MAX_HEAD_BYTES:
                        raise ProtocolError("response head too large")
                    self.buffer = data[pos:]
                    return
                pos = self._start_response(data, pos, head_end)
            elif state == BODY:
                take = min(self.remaining, end - pos)
                if self.keep_body:
                    self.body_parts.append(data[pos : pos + take])
                pos += take
                self.remaining -= take
                if self.remaining == 0:
                    self._finish()
            elif state == CHUNK_SIZE:
                line_end = data.find(b"\r\n", pos)
                if line_end < 0:
                    self.buffer = data[pos:]
                    return
                size_text = data[pos:line_end].split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text!r}") from None
                pos = line_end + 2
                if size == 0:
                    self.state = CHUNK_TRAILER
                else:
                    self.remaining = size
                    self.state = CHUNK_DATA
            elif state == CHUNK_DATA:
                take = min(self.remaining, end - pos)
                if self.keep_body:
                    self.body_parts.append(data[pos : pos + take])
                pos += take
                self.remaining -= take
                if self.remaining == 0:
                    self.remaining = 2  # the CRLF after the chunk data
                    self.state = CHUNK_END
            elif state == CHUNK_END:
                take = min(self.remaining, end - pos)
                pos += take
                self.remaining -= take
                if self.remaining == 0:
                    self.state = CHUNK_SIZE
            elif state == CHUNK_TRAILER:
                line_end = data.find(b"\r\n", pos)
                if line_end < 0:
                    self.buffer = data[pos:]
                    return
                blank = line_end == pos
                pos = line_end + 2
                if blank:
                    self._finish()
            else:  # UNTIL_CLOSE
                if self.keep_body:
                    self.body_parts.append(data[pos:])
                return

    def feed_eof(self) -> bool:
        """The peer closed. True if that completed a close-delimited response."""
        if self.state == UNTIL_CLOSE:
            self._finish()
            return True
        return False

    def _start_response(self, data: bytes, pos: int, head_end: int) -> int:
        head = data[pos:head_end]
        if head[:5] != b"HTTP/" or len(head) < 12:
            raise ProtocolError(f"not an HTTP response: {head[:40]!r}")
        try:
            status = int(head[9:12])
        except ValueError:
            raise ProtocolError(f"bad status line: {head[:40]!r}") from None
        pos = head_end + 4
        self.status = status
        self.head = head
        lowered = head.lower()
        self.close_after = b"\r\nconnection: close" in lowered or head[5:8] == b"1.0"
        if status < 200:
            return pos  # interim response: the real one follows
        if status == 204 or status == 304:
            self._finish()
            return pos
        cl_at = lowered.find(b"\r\ncontent-length:")
        if cl_at >= 0:
            line_end = lowered.find(b"\r\n", cl_at + 2)
            value = lowered[cl_at + 17 : line_end if line_end >= 0 else len(lowered)]
            try:
                length = int(value)
            except ValueError:
                raise ProtocolError(f"bad Content-Length {value!r}") from None
            if length == 0:
                self._finish()
                return pos
            if len(data) - pos >= length:  # the common case: the whole body is here
                body = data[pos : pos + length] if self.keep_body else b""
                whole = len(head) == head_end and head_end + 4 + length == len(data)
                if whole and not self.close_after:
                    self.last_whole = head_end
                self.on_response(status, head, body)
                return pos + length
            self.remaining = length
            self.state = BODY
            return pos
        if b"\r\ntransfer-encoding:" in lowered and b"chunked" in lowered:
            self.state = CHUNK_SIZE
            return pos
        self.state = UNTIL_CLOSE
        self.close_after = True
        return pos

    def _finish(self) -> None:
        body = b"".join(self.body_parts) if self.body_parts else b""
        self.body_parts = []
        self.state = HEAD
        self.remaining = 0
        self.on_response(self.status, self.head, body)
