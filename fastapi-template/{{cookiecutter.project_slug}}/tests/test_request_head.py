"""The 16 KiB limit on a request's head, in the server that runs in production (gunicorn)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.core.request_head import MAX_REQUEST_HEAD_BYTES

PROJECT_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("request-head")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = int(probe.getsockname()[1])
    environment = os.environ | {
        "BIND": f"127.0.0.1:{free_port}",
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": f"sqlite:///{directory / 'app.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(directory / "metrics"),
{%- if cookiecutter.use_celery %}
        "REDIS_URL": "",
{%- endif %}
    }
    log = directory / "gunicorn.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", free_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield free_port
    finally:
        server.terminate()
        server.wait(timeout=30)


def head_with_padding(fields: int, field_bytes: int) -> bytes:
    """A GET /health whose head carries `fields` extra headers of `field_bytes` each."""
    padding = "".join(f"X-Padding-{n:02}: {'a' * field_bytes}\r\n" for n in range(fields))
    return f"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{padding}\r\n".encode()


def answer_to(port: int, data: bytes) -> bytes:
    """Send `data`, then read until the server closes (10 s at most)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_head_just_under_the_limit_is_served(port: int):
    head = head_with_padding(fields=16, field_bytes=1000)
    assert MAX_REQUEST_HEAD_BYTES - 256 < len(head) < MAX_REQUEST_HEAD_BYTES
    assert answer_to(port, head).startswith(b"HTTP/1.1 200")


def test_a_head_over_the_limit_is_431(port: int):
    head = head_with_padding(fields=17, field_bytes=1000)
    assert MAX_REQUEST_HEAD_BYTES < len(head) < MAX_REQUEST_HEAD_BYTES + 1024
    assert answer_to(port, head).startswith(b"HTTP/1.1 431")


def test_a_header_that_never_ends_is_refused_while_it_arrives(port: int):
    # No end of head ever comes: the server refuses once the limit is passed, rather than
    # holding on to the header while it grows.
    start = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Endless: "
    answer = answer_to(port, start + b"a" * (MAX_REQUEST_HEAD_BYTES + 4096))
    assert answer.startswith(b"HTTP/1.1 431")


def test_the_connection_and_the_worker_stay_usable(port: int):
    answer_to(port, head_with_padding(fields=40, field_bytes=1000))
    assert answer_to(port, head_with_padding(fields=1, field_bytes=10)).startswith(b"HTTP/1.1 200")
