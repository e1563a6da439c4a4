import pytest

from loadtest.http import ProtocolError
from loadtest.websocket import (
    OP_BINARY,
    OP_PING,
    OP_TEXT,
    FrameParser,
    accept_value,
    encode_frame,
    handshake_request,
    mask_payload,
)


def test_accept_value_matches_rfc_6455_example():
    assert accept_value(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_request_asks_for_an_upgrade():
    request, accept = handshake_request("/ws/echo", "h:1", b"dGhlIHNhbXBsZSBub25jZQ==")
    assert request.startswith(b"GET /ws/echo HTTP/1.1\r\nHost: h:1\r\n")
    assert b"Upgrade: websocket\r\n" in request and request.endswith(b"\r\n\r\n")
    assert accept == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_masked_text_frame_matches_rfc_6455_example():
    frame = encode_frame(b"Hello", OP_TEXT, mask=bytes([0x37, 0xFA, 0x21, 0x3D]))
    assert frame == bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])


@pytest.mark.parametrize("size, header", [(125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_payload_length_encodings(size, header):
    frame = encode_frame(b"a" * size, OP_BINARY, mask=b"\x00\x00\x00\x00")
    assert len(frame) == header + 4 + size
    received = []
    FrameParser(lambda op, p: received.append((op, p))).feed(frame)
    assert received == [(OP_BINARY, b"a" * size)]


def test_masking_is_its_own_inverse():
    payload = bytes(range(256)) * 3
    mask = b"\x01\x80\xff\x10"
    assert mask_payload(mask_payload(payload, mask), mask) == payload


def test_parser_reads_unmasked_fragmented_and_control_frames_byte_by_byte():
    stream = (
        bytes([0x81, 0x05])
        + b"Hello"  # a single-frame text message
        + bytes([0x01, 0x03])
        + b"Hel"  # first fragment
        + bytes([0x89, 0x02])
        + b"hi"  # a ping between the fragments
        + bytes([0x80, 0x02])
        + b"lo"  # the final fragment
    )
    received = []
    parser = FrameParser(lambda op, p: received.append((op, p)))
    for byte in stream:
        parser.feed(bytes([byte]))
    assert received == [(OP_TEXT, b"Hello"), (OP_PING, b"hi"), (OP_TEXT, b"Hello")]


def test_continuation_without_a_start_is_an_error():
    with pytest.raises(ProtocolError):
        FrameParser(lambda op, p: None).feed(bytes([0x80, 0x01]) + b"x")


def test_a_refused_upgrade_makes_the_scenario_unavailable():
    from loadtest.sweep import run_scenario
    from tests.loadtest.tiny_server import TinyServer

    with TinyServer() as server:  # it answers 404 to a path it does not know
        url = f"http://127.0.0.1:{server.port}/elsewhere"
        outcome = run_scenario(url, "ws-echo", [5], 0.3, timeout=0.2, quiet=True)
    assert outcome["unavailable"].startswith("setup failed: WebSocket upgrade refused")
    assert outcome["levels"] == []


def test_a_handshake_in_flight_is_as_old_as_its_wait():
    """An unanswered upgrade counts in the window's unfinished ages from when it was sent."""
    from loadtest.connections import WsConnection
    from loadtest.engine import Worker
    from loadtest.histogram import Histogram

    class Transport:
        def write(self, data: bytes) -> None:
            pass

    worker = Worker.__new__(Worker)
    worker.live = set()
    worker.result = type("Result", (), {"connections_opened": 0, "peak_connections": 0})()
    conn = WsConnection(worker, 0, "echo", (b"GET / HTTP/1.1\r\n\r\n", b"accept"))
    conn.connection_made(Transport())
    ages: Histogram = Worker.unfinished_ages(worker, conn.written_at + 1_000_000)
    assert ages.count == 1
    assert ages.max <= 2_000_000  # about 1 ms, never the time since the machine started
