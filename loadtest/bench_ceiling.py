"""The engine's ceiling, measured against wrk.

    python -m loadtest.bench_ceiling [--rounds 5] [--duration 5] [--connections 100]
                                     [--services]

Starts nginx (one worker process) serving a small static file, pins it to CPU 0, and runs
wrk (one thread) and this load generator (one process) in turn on CPU 1, several short
alternating rounds each, so both see the same machine. Prints each round and the median
ratio of requests/s. With --services it does the same against the Flask and FastAPI
services generated from the templates (GET /health), where the generator must match wrk.

nginx and wrk are installed with apt-get when missing (Debian/Ubuntu).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from loadtest import services
from loadtest.limits import cpu_count

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300;
  default_type application/json;
  client_body_temp_path {dir}/tmp;
  proxy_temp_path {dir}/tmp;
  fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp;
  scgi_temp_path {dir}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
  }}
}}
"""


def ensure_tools() -> None:
    """Install nginx and wrk from the distribution when either is missing."""
    missing = [pkg for pkg, binary in (("nginx", "nginx"), ("wrk", "wrk")) if not find(binary)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        sys.exit(f"missing {', '.join(missing)} and no apt-get to install them")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def find(binary: str) -> str | None:
    return shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )


def taskset(cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu] if cpu is not None and shutil.which("taskset") else []


def start_nginx(workdir: Path, cpu: str | None) -> tuple[subprocess.Popen, str]:
    port = services.free_port()
    workdir.chmod(0o755)  # nginx's worker may run as an unprivileged user
    (workdir / "www").mkdir(parents=True)
    (workdir / "tmp").mkdir()
    (workdir / "www" / "health").write_text('{"status":"ok"}')
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    process = subprocess.Popen(
        [*taskset(cpu), find("nginx"), "-c", str(conf), "-p", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit(f"nginx did not start; see {workdir / 'error.log'}")


def run_wrk(url: str, connections: int, duration: float, cpu: str | None) -> float:
    command = [
        *taskset(cpu),
        find("wrk"),
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        url + "/health",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if not match:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    return float(match.group(1))


def run_engine(url: str, connections: int, duration: float, cpu: str | None) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [
            *taskset(cpu),
            sys.executable,
            "-m",
            "loadtest",
            "run",
            "--url",
            url,
            "--scenario",
            "health",
            "--connections",
            str(connections),
            "--duration",
            f"{duration:g}s",
            "--json",
            out.name,
        ]
        subprocess.run(command, capture_output=True, check=True)
        level = json.loads(Path(out.name).read_text())["levels"][0]
    return level["rps"]


def alternate(
    label: str, url: str, rounds: int, duration: float, connections: int, cpu: str | None
) -> dict:
    """Rounds of wrk then the engine; per-round ratios and their median."""
    rows = []
    for n in range(1, rounds + 1):
        wrk = run_wrk(url, connections, duration, cpu)
        ours = run_engine(url, connections, duration, cpu)
        rows.append({"wrk": wrk, "loadtest": ours, "ratio": ours / wrk})
        print(
            f"{label:8} round {n}: wrk {wrk:>10,.0f} req/s   loadtest {ours:>10,.0f} req/s   "
            f"ratio {ours / wrk:.3f}",
            flush=True,
        )
    median = statistics.median(row["ratio"] for row in rows)
    return {"target": label, "connections": connections, "rounds": rows, "median_ratio": median}


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_ceiling", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--services", action="store_true", help="also both generated services")
    parser.add_argument("--json", help="write the measurements to this file")
    args = parser.parse_args(argv)

    ensure_tools()
    two_cores = cpu_count() >= 2
    server_cpu, client_cpu = ("0", "1") if two_cores else (None, None)
    print(
        f"server on CPU {server_cpu}, wrk -t1 and loadtest (one process) on CPU {client_cpu}"
        if two_cores
        else "one CPU: server and clients share it",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="loadtest-nginx-") as tmp:
        nginx, url = start_nginx(Path(tmp), server_cpu)
        try:
            results.append(
                alternate("nginx", url, args.rounds, args.duration, args.connections, client_cpu)
            )
        finally:
            stop(nginx)
    if args.services:
        results += bench_services(args, server_cpu, client_cpu)

    print("\nmedian ratios (loadtest / wrk requests per second):")
    for result in results:
        goal = 0.90 if result["target"] == "nginx" else 0.95
        verdict = "ok" if result["median_ratio"] >= goal else f"below {goal:.0%}"
        print(f"  {result['target']:8} {result['median_ratio']:.3f}   ({verdict})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def bench_services(args: argparse.Namespace, server_cpu: str | None, client_cpu: str | None):
    results = []
    cache = Path(".loadtest-cache").absolute()
    with tempfile.TemporaryDirectory(prefix="loadtest-bench-") as tmp:
        for framework in services.FRAMEWORKS:
            project = services.generate(framework, cache / "projects" / framework)
            service = services.start(
                framework,
                project,
                Path(sys.executable),
                Path(tmp),
                2,
                server_cpu,
                {},
                use_path=True,
            )
            try:
                rounds = max(3, args.rounds // 2)
                results.append(
                    alternate(
                        framework, service.url, rounds, args.duration, args.connections, client_cpu
                    )
                )
            finally:
                service.stop()
    return results


if __name__ == "__main__":
    sys.exit(main())
