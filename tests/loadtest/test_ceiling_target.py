"""The ceiling benchmark's epoll target answers each request head once, in order."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from loadtest.services import free_port

SOURCE = Path(__file__).resolve().parents[2] / "loadtest" / "ceiling_target.c"
RESPONSE_END = b'{"status":"ok"}'


@pytest.fixture
def target(tmp_path):
    compiler = shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    binary = tmp_path / "ceiling_target"
    subprocess.run(
        [compiler, "-O2", "-Wall", "-Werror", "-o", str(binary), str(SOURCE)], check=True
    )
    port = free_port()
    process = subprocess.Popen([str(binary), str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait()


def read_responses(conn: socket.socket, count: int) -> bytes:
    received = b""
    while received.count(RESPONSE_END) < count:
        chunk = conn.recv(65536)
        assert chunk, "the target closed the connection"
        received += chunk
    return received


def test_heads_split_across_reads_are_each_answered_once(target):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", target), timeout=5) as conn:
        conn.sendall(request * 2 + request[:20])  # two whole heads and part of a third
        time.sleep(0.05)
        conn.sendall(request[20:-3])
        time.sleep(0.05)
        conn.sendall(request[-3:])  # the third head ends inside its blank line
        received = read_responses(conn, 3)
        time.sleep(0.1)
        conn.setblocking(False)
        with pytest.raises(BlockingIOError):
            conn.recv(65536)  # nothing more: three heads, three answers
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 3
