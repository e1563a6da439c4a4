"""Several hosts on one machine: network namespaces on a private bridge, and a TCP relay.

`Network` builds a /24 of its own: a bridge in the root namespace holding the first address,
and one network namespace per host, each joined to the bridge by a veth pair. Hosts reach
each other and the root namespace over the bridge; they have no default route, so nothing
leaves the machine. Names and subnets are fixed and every name starts with `PREFIX`; one run
at a time builds networks (`exclusive_networks`), so whatever carries the prefix when a run
gets the lock was left by a run that died, and `remove_stale` removes it.

`TcpRelay` lets the hosts reach a server that listens on 127.0.0.1 in the root namespace
(PostgreSQL, Redis): it listens on the bridge's address and forwards every connection.
"""

import asyncio
import contextlib
import fcntl
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PREFIX = "tsthx"
LOCK_PATH = Path(tempfile.gettempdir()) / f"{PREFIX}.lock"
COMMAND_TIMEOUT = 10.0
RELAY_CONNECT_TIMEOUT = 5.0
RELAY_CHUNK = 65536


def run_ip(*args: str, check: bool = True) -> str:
    """Run one `ip` command and return its output (a failure raises, with ip's message)."""
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def namespaces_usable() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"{PREFIX}-probe-{os.getpid()}"
    try:
        run_ip("netns", "add", probe)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return f"`ip netns add` fails: {error}"
    run_ip("netns", "del", probe, check=False)
    return None


def namespace_pids(namespace: str) -> list[int]:
    return [int(pid) for pid in run_ip("netns", "pids", namespace, check=False).split()]


def kill_namespace(namespace: str) -> list[int]:
    """SIGKILL every process in the namespace, as a host losing power does; returns the pids."""
    pids = namespace_pids(namespace)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


@contextlib.contextmanager
def exclusive_networks(timeout: float) -> Iterator[None]:
    """Hold the lock that makes this the only run building networks (waiting up to `timeout`)."""
    with LOCK_PATH.open("w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"another run has held {LOCK_PATH} for {timeout}s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_stale() -> None:
    """Namespaces and links left by an earlier run that did not get to clean up."""
    for line in run_ip("netns", "list", check=False).splitlines():
        namespace = line.split()[0] if line.strip() else ""
        if namespace.startswith(PREFIX):
            kill_namespace(namespace)
            run_ip("netns", "del", namespace, check=False)
    for line in run_ip("-o", "link", "show", check=False).splitlines():
        link = line.split(":")[1].strip().split("@")[0]
        if link.startswith(PREFIX):
            run_ip("link", "del", link, check=False)


class Network:
    """A bridge `<PREFIX><index>-br` on 10.231.<index>.0/24 and the hosts attached to it."""

    def __init__(self, index: int):
        self.name = f"{PREFIX}{index}"
        self.subnet = ipaddress.ip_network(f"10.231.{index}.0/24")
        self.bridge = f"{self.name}-br"
        self.gateway = str(self.subnet[1])  # the root namespace's address on the bridge
        self.namespaces: list[str] = []

    def create(self) -> None:
        run_ip("link", "add", self.bridge, "type", "bridge")
        run_ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        run_ip("link", "set", self.bridge, "up")

    def add_host(self, host: str, last_octet: int) -> tuple[str, str]:
        """A namespace `<name>-<host>` with address .last_octet on the bridge: (namespace, ip)."""
        namespace = f"{self.name}-{host}"
        address = str(self.subnet[last_octet])
        root_end = namespace  # at most 15 characters, the kernel's limit for a link name
        run_ip("netns", "add", namespace)
        self.namespaces.append(namespace)
        run_ip("link", "add", root_end, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        run_ip("link", "set", root_end, "master", self.bridge)
        run_ip("link", "set", root_end, "up")
        run_ip("-n", namespace, "link", "set", "lo", "up")
        run_ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        run_ip("-n", namespace, "link", "set", "eth0", "up")
        return namespace, address

    def destroy(self) -> None:
        """Kill whatever still runs in the hosts, then remove them and the bridge."""
        for namespace in self.namespaces:
            deadline = time.monotonic() + COMMAND_TIMEOUT
            while kill_namespace(namespace) and time.monotonic() < deadline:
                time.sleep(0.1)
            run_ip("netns", "del", namespace, check=False)
            run_ip("link", "del", namespace, check=False)
        run_ip("link", "del", self.bridge, check=False)


class TcpRelay:
    """Forward every connection accepted on `listen_host` to `target`, from a thread of its own.

    When either side of a relayed connection closes, both are closed at once: a client that
    died must look dead to the server too (a Redis BRPOP left hanging on a dead worker's
    behalf would swallow the next task).
    """

    def __init__(self, listen_host: str, target: tuple[str, int]):
        self.listen_host = listen_host
        self.target = target
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task] = set()
        self._peers: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._relay, self.listen_host, 0))
        self.port = self._server.sockets[0].getsockname()[1]

    def open_peers(self) -> set[tuple[str, int]]:
        """The (address, port) of every client whose connection is being relayed now."""
        with self._lock:
            return set(self._peers)

    def stop(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=COMMAND_TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(COMMAND_TIMEOUT)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for handler in list(self._handlers):
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _relay(self, client_reader, client_writer) -> None:
        handler = asyncio.current_task()
        self._handlers.add(handler)
        peer = client_writer.get_extra_info("peername")[:2]
        with self._lock:
            self._peers.add(peer)
        writers = [client_writer]
        try:
            server_reader, server_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), RELAY_CONNECT_TIMEOUT
            )
            writers.append(server_writer)
            pumps = [
                asyncio.create_task(self._pump(client_reader, server_writer)),
                asyncio.create_task(self._pump(server_reader, client_writer)),
            ]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
        except (OSError, TimeoutError):
            pass
        finally:
            for writer in writers:
                writer.close()
            with self._lock:
                self._peers.discard(peer)
            self._handlers.discard(handler)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(RELAY_CHUNK):
                writer.write(data)
                await writer.drain()


def tcp_local_addresses(pid: int) -> set[tuple[str, int]]:
    """The local (address, port) of every IPv4 TCP socket of a process, in its own namespace.

    /proc/<pid>/net/tcp lists the sockets of the process's network namespace (psutil reads the
    caller's); the process's own sockets are those whose inode it holds a descriptor for.
    """
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    addresses = set()
    with contextlib.suppress(OSError), open(f"/proc/{pid}/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                address, port = fields[1].split(":")
                ip = str(ipaddress.IPv4Address(bytes.fromhex(address)[::-1]))
                addresses.add((ip, int(port, 16)))
    return addresses
