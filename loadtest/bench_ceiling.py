"""The engine's ceiling, measured against wrk.

    python -m loadtest.bench_ceiling [--rounds 7] [--duration 3] [--connections 64,100,256]
                                     [--target epoll|nginx] [--services]

Starts a target pinned to CPU 0 that answers every request with the same fixed response:
by default `ceiling_target.c`, a one-thread epoll responder compiled with the system's C
compiler, which parses nothing but the end of each request head; with `--target nginx`,
nginx with one worker, no access log and `return 200 '{"status":"ok"}'` (nginx saturates
its core at about the rate one client core sends, so it cannot tell the clients apart).
wrk (one thread) and this load generator (one process) then take turns on CPU 1, several
short alternating rounds at each connection count, so both see the same machine. Each round
prints both clients' requests/s and CPU use, and the target core's CPU use, which shows
whether the target was the limit (it must stay under 90%). Then the median generator/wrk
ratio per connection count. With --services it does the same against the Flask and FastAPI
services generated from the templates (GET /health), where the server, not the client,
should be the limit.

wrk, nginx (for `--target nginx`) and a C compiler are installed with apt-get when missing
(Debian/Ubuntu).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from loadtest import procstat, services
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
    location / {{ return 200 '{{"status":"ok"}}'; }}
  }}
}}
"""


def ensure_tools(target: str) -> None:
    """Install what the run needs from the distribution when it is missing."""
    needed = [("wrk", "wrk"), ("nginx", "nginx") if target == "nginx" else ("gcc", "cc")]
    missing = [pkg for pkg, binary in needed if not find(binary)]
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
    (workdir / "tmp").mkdir()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    command = [find("nginx"), "-c", str(conf), "-p", str(workdir)]
    return launch(command, port, cpu, f"nginx did not start; see {workdir / 'error.log'}")


def start_epoll_target(workdir: Path, cpu: str | None) -> tuple[subprocess.Popen, str]:
    binary = workdir / "ceiling_target"
    source = Path(__file__).with_name("ceiling_target.c")
    subprocess.run([find("cc"), "-O2", "-o", str(binary), str(source)], check=True)
    port = services.free_port()
    return launch([str(binary), str(port)], port, cpu, "the epoll target did not start")


def launch(
    command: list[str], port: int, cpu: str | None, failure: str
) -> tuple[subprocess.Popen, str]:
    """Start a target on `cpu` and wait until it answers on `port`; exit with `failure` if not."""
    process = subprocess.Popen(
        [*taskset(cpu), *command],
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
    sys.exit(failure)


TARGETS = {"epoll": start_epoll_target, "nginx": start_nginx}
FULL_CORE = 95  # percent of a core a client must have had for its round to be clean


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, connections: int, duration: float, cpu: str | None) -> tuple[float, None]:
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
    return float(match.group(1)), None


def run_engine(url: str, connections: int, duration: float, cpu: str | None) -> tuple[float, float]:
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
            "--max-duration",
            f"{duration:g}s",
            "--json",
            out.name,
        ]
        subprocess.run(command, capture_output=True, check=True)
        level = json.loads(Path(out.name).read_text())["levels"][0]
    # its own figure: CPU over the measured window, start-up and ramp-up left out
    return level["rps"], level["generator"]["cpu_percent"]


def measured(run, server_pid: int | None, *args) -> dict:
    """One client run: its requests/s, its CPU use and the server's, in percent of a core."""
    started, client_before = time.monotonic(), child_cpu()
    server_before = procstat.sample(server_pid)[1] if server_pid else 0.0
    rps, own_cpu = run(*args)
    seconds = time.monotonic() - started
    server = procstat.sample(server_pid)[1] - server_before if server_pid else 0.0
    client = own_cpu if own_cpu is not None else 100 * (child_cpu() - client_before) / seconds
    return {
        "rps": rps,
        "client_cpu_percent": round(client, 1),
        "server_cpu_percent": round(100 * server / seconds, 1),
    }


def alternate(
    label: str,
    url: str,
    rounds: int,
    duration: float,
    connections: int,
    cpu: str | None,
    server_pid: int | None,
) -> dict:
    """Rounds of wrk and the engine, taking turns to go first; per-round ratios and their
    median, over all rounds and over the rounds in which both clients had their core."""
    rows = []
    for n in range(1, rounds + 1):
        if n % 2:
            wrk = measured(run_wrk, server_pid, url, connections, duration, cpu)
            ours = measured(run_engine, server_pid, url, connections, duration, cpu)
        else:
            ours = measured(run_engine, server_pid, url, connections, duration, cpu)
            wrk = measured(run_wrk, server_pid, url, connections, duration, cpu)
        ratio = ours["rps"] / wrk["rps"]
        # A client that got less than FULL_CORE of its core was held back by the machine
        # (another process, or the host taking the virtual CPU), not by its own work.
        had_core = min(wrk["client_cpu_percent"], ours["client_cpu_percent"]) >= FULL_CORE
        rows.append({"wrk": wrk, "loadtest": ours, "ratio": ratio, "clients_had_core": had_core})
        print(
            f"{label:8} c={connections:<4} round {n}: "
            f"wrk {wrk['rps']:>9,.0f} req/s (cpu {wrk['client_cpu_percent']:3.0f}%, "
            f"server {wrk['server_cpu_percent']:3.0f}%)   "
            f"loadtest {ours['rps']:>9,.0f} req/s (cpu {ours['client_cpu_percent']:3.0f}%, "
            f"server {ours['server_cpu_percent']:3.0f}%)   ratio {ratio:.3f}"
            + ("" if had_core else "   (a client was short of its core)"),
            flush=True,
        )
    median = statistics.median(row["ratio"] for row in rows)
    clean = [row["ratio"] for row in rows if row["clients_had_core"]]
    busiest = max(
        max(row["wrk"]["server_cpu_percent"], row["loadtest"]["server_cpu_percent"]) for row in rows
    )
    return {
        "target": label,
        "connections": connections,
        "rounds": rows,
        "median_ratio": median,
        "clean_rounds": len(clean),
        "clean_median_ratio": statistics.median(clean) if clean else None,
        "server_cpu_percent_max": busiest,
    }


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_ceiling", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[64, 100, 256],
        help="comma list, e.g. 64,100,256",
    )
    parser.add_argument("--target", choices=sorted(TARGETS), default="epoll")
    parser.add_argument("--services", action="store_true", help="also both generated services")
    parser.add_argument("--json", help="write the measurements to this file")
    args = parser.parse_args(argv)

    ensure_tools(args.target)
    two_cores = cpu_count() >= 2
    server_cpu, client_cpu = ("0", "1") if two_cores else (None, None)
    print(
        f"server on CPU {server_cpu}, wrk -t1 and loadtest (one process) on CPU {client_cpu}"
        if two_cores
        else "one CPU: server and clients share it",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="loadtest-target-") as tmp:
        target, url = TARGETS[args.target](Path(tmp), server_cpu)
        try:
            for connections in args.connections:
                results.append(
                    alternate(
                        args.target,
                        url,
                        args.rounds,
                        args.duration,
                        connections,
                        client_cpu,
                        target.pid,
                    )
                )
        finally:
            stop(target)
    if args.services:
        results += bench_services(args, server_cpu, client_cpu)

    print(
        "\nmedian ratios (loadtest / wrk requests per second), over all rounds and over the"
        f" rounds in which both clients had at least {FULL_CORE}% of their core:"
    )
    for result in results:
        fixed_target = result["target"] in TARGETS
        goal = 0.90 if fixed_target else 0.95
        verdict = "ok" if result["median_ratio"] >= goal else f"below {goal:.0%}"
        busiest = result["server_cpu_percent_max"]
        target_note = f"the {result['target']} core at most {busiest:.0f}% busy" + (
            "" if busiest < 90 or not fixed_target else ": SATURATED, not a ceiling"
        )
        clean = result["clean_median_ratio"]
        clean_note = (
            f"{clean:.3f} over {result['clean_rounds']} of {len(result['rounds'])}"
            if clean is not None
            else f"none of {len(result['rounds'])} rounds"
        )
        print(
            f"  {result['target']:8} c={result['connections']:<4} {result['median_ratio']:.3f}"
            f"   ({verdict}; {target_note}); {clean_note}"
        )
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
                results.append(
                    alternate(
                        framework,
                        service.url,
                        args.rounds,
                        args.duration,
                        args.connections[0],
                        client_cpu,
                        service.pid,
                    )
                )
            finally:
                service.stop()
    return results


if __name__ == "__main__":
    sys.exit(main())
