"""WebSocket (RFC 6455) client framing: the opening handshake, masked client frames,
and an incremental parser for server frames."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
from collections.abc import Callable

from loadtest.http import ProtocolError

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def handshake_request(path: str, host: str, key: bytes | None = None) -> tuple[bytes, bytes]:
    """The upgrade request and the Sec-WebSocket-Accept value it must be answered with."""
    key = key or base64.b64encode(os.urandom(16))
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode("latin-1")
    return request, accept_value(key)


def accept_value(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def mask_payload(payload: bytes, mask: bytes) -> bytes:
    """XOR the payload with the repeated 4-byte mask, as one big-integer operation."""
    if not payload:
        return payload
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")
    return masked.to_bytes(n, "big")


def encode_frame(
    payload: bytes, opcode: int = OP_TEXT, mask: bytes | None = None, fin: bool = True
) -> bytes:
    """One client-to-server frame (always masked, as RFC 6455 requires of clients)."""
    mask = mask if mask is not None else os.urandom(4)
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    return header + mask + mask_payload(payload, mask)


def encode_close(code: int = 1000, reason: str = "") -> bytes:
    return encode_frame(struct.pack("!H", code) + reason.encode(), OP_CLOSE)


MessageCallback = Callable[[int, bytes], None]


class FrameParser:
    """Feeds server bytes in; calls `on_message(opcode, payload)` per complete message.

    Fragmented messages are reassembled; control frames (ping, pong, close) are passed
    through as they arrive, even between fragments.
    """

    __slots__ = ("on_message", "buffer", "fragments", "fragment_opcode")

    def __init__(self, on_message: MessageCallback) -> None:
        self.on_message = on_message
        self.buffer = b""
        self.fragments: list[bytes] = []
        self.fragment_opcode = 0

    def feed(self, data: bytes) -> None:
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        pos = 0
        end = len(data)
        while end - pos >= 2:
            first = data[pos]
            second = data[pos + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                header = 10
            masked = second & 0x80
            if masked:
                header += 4
            if end - pos < header + length:
                break
            payload = data[pos + header : pos + header + length]
            if masked:
                payload = mask_payload(payload, data[pos + header - 4 : pos + header])
            pos += header + length
            self._frame(first & 0x80, first & 0x0F, payload)
        if pos < end:
            self.buffer = data[pos:]

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode >= OP_CLOSE:
            self.on_message(opcode, payload)
        elif opcode == OP_CONTINUATION:
            if not self.fragments:
                raise ProtocolError("continuation frame without a message to continue")
            self.fragments.append(payload)
            if fin:
                message = b"".join(self.fragments)
                self.fragments = []
                self.on_message(self.fragment_opcode, message)
        elif fin:
            self.on_message(opcode, payload)
        else:
            self.fragments = [payload]
            self.fragment_opcode = opcode


def first_message(host: str, port: int, path: str, wait: float = 1.0) -> bytes | None:
    """Open a WebSocket, return the first text message the server sends unasked within
    `wait` seconds (None if there is none), and close it again. ProtocolError when the
    server refuses the upgrade."""
    request, _ = handshake_request(path, f"{host}:{port}")
    received: list[bytes] = []
    parser = FrameParser(lambda opcode, payload: received.append(payload))
    with socket.create_connection((host, port), timeout=wait + 2) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        if head[9:12] != b"101":
            raise ProtocolError(f"WebSocket upgrade refused: {head[:40]!r}")
        sock.settimeout(max(wait, 0.1))
        try:
            if rest:
                parser.feed(rest)
            while not received and wait > 0:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                parser.feed(chunk)
        except TimeoutError:
            pass
        with contextlib.suppress(OSError):
            sock.sendall(encode_close())
    return received[0] if received else None


def is_joined_message(payload: bytes | None) -> bool:
    try:
        return json.loads(payload or b"").get("type") == "joined"
    except (ValueError, AttributeError):
        return False
