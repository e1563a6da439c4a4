import pytest

from loadtest.http import (
    ProtocolError,
    ResponseParser,
    encode_json_request,
    encode_request,
    header_value,
    split_url,
)


def collect(keep_body=True):
    responses = []
    parser = ResponseParser(lambda s, h, b: responses.append((s, h, b)), keep_body)
    return parser, responses


def feed_in_pieces(parser, data: bytes, size: int) -> None:
    for start in range(0, len(data), size):
        parser.feed(data[start : start + size])


def test_get_request_is_what_wrk_sends():
    assert encode_request("GET", "/health", "127.0.0.1:8000") == (
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
    )


def test_json_request_carries_type_and_length():
    raw = encode_json_request("POST", "/api/v1/items", "h:1", {"name": "x"})
    head, body = raw.split(b"\r\n\r\n")
    assert body == b'{"name":"x"}'
    assert b"Content-Type: application/json" in head
    assert b"Content-Length: 12" in head


def test_split_url():
    assert split_url("http://127.0.0.1:8000/") == ("127.0.0.1", 8000, "")
    assert split_url("http://example.test/prefix/") == ("example.test", 80, "/prefix")
    with pytest.raises(ValueError):
        split_url("https://example.test")


PIPELINE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    b"HTTP/1.1 204 No Content\r\n\r\n"
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 201 Created\r\nLocation: /api/v1/items/7\r\ncontent-length: 2\r\n\r\n{}"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n"
    b'HTTP/1.1 304 Not Modified\r\nETag: "1-1"\r\n\r\n'
)


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, len(PIPELINE)])
def test_responses_parse_whatever_the_read_boundaries(piece):
    parser, responses = collect()
    feed_in_pieces(parser, PIPELINE, piece)
    assert [(s, b) for s, _, b in responses] == [
        (200, b"hello"),
        (204, b""),
        (201, b"{}"),
        (200, b"Wikipedia in \r\n\r\nchunks."),
        (304, b""),
    ]
    assert header_value(responses[2][1], b"location") == b"/api/v1/items/7"
    assert parser.idle


def test_bodies_are_skipped_unless_kept():
    parser, responses = collect(keep_body=False)
    feed_in_pieces(parser, PIPELINE, 5)
    assert [s for s, _, _ in responses] == [200, 204, 201, 200, 304]
    assert all(b == b"" for _, _, b in responses)


def test_body_until_close():
    parser, responses = collect()
    parser.feed(b"HTTP/1.0 200 OK\r\n\r\nall of it")
    parser.feed(b" until the end")
    assert responses == []
    assert parser.feed_eof()
    assert responses[0][2] == b"all of it until the end"
    assert parser.close_after


def test_connection_close_is_noticed():
    parser, _ = collect()
    parser.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert parser.close_after


def test_incomplete_body_is_not_a_response():
    parser, responses = collect()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert responses == [] and not parser.idle
    assert not parser.feed_eof()


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 abc Bad\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_garbage_raises_protocol_error(garbage):
    parser, _ = collect()
    with pytest.raises(ProtocolError):
        parser.feed(garbage)
