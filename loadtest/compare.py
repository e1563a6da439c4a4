"""`python -m loadtest compare`: both services, the same sweep, one report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtest import databases, services
from loadtest.engine import event_loop_name
from loadtest.limits import cpu_count, pin_to_cpus
from loadtest.loc import count_concerns
from loadtest.procstat import ServerMonitor
from loadtest.report import write_reports
from loadtest.runner import check_window
from loadtest.sweep import bearer_token, run_scenario

QUICK_SCENARIOS = ["health", "item-read", "write-mix", "predict", "ws-echo"]
FULL_SCENARIOS = [
    "health",
    "item-read",
    "item-list",
    "write-mix",
    "predict",
    "predict-batch",
    "ws-echo",
    "ws-broadcast",
    "ws-idle",
]
DEFAULT_REDIS_URL = os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/12")


@dataclass
class Profile:
    name: str
    scenarios: list[str]
    connections: list[int]
    duration: float  # the shortest window per level
    max_duration: float  # the longest, for levels that need longer to settle
    timeout: float
    warmup: float
    frameworks: list[str]
    database: str = "sqlite"
    server_workers: int = 2
    load_workers: int = 1
    out: Path | None = None
    install: bool = True
    redis_url: str | None = None
    keep: bool = False
    # Scenarios that run at the highest concurrency level; None means every scenario.
    peak_scenarios: set[str] | None = None
    notes: list[str] = field(default_factory=list)

    def levels_for(self, scenario: str) -> list[int]:
        if self.peak_scenarios is None or scenario in self.peak_scenarios:
            return self.connections
        return [level for level in self.connections if level < max(self.connections)]


def split_frameworks(text: str) -> list[str]:
    """Commas separate frameworks, except inside a variant's brackets."""
    frameworks, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            frameworks.append(current.strip())
            current = ""
        else:
            current += char
    frameworks.append(current.strip())
    return [framework for framework in frameworks if framework]


def profile_from_args(args: argparse.Namespace) -> Profile:
    full = bool(args.full)
    profile = Profile(
        name="full" if full else "quick",
        scenarios=list(FULL_SCENARIOS if full else QUICK_SCENARIOS),
        connections=[100, 1000, 10000],
        duration=10.0 if full else 2.0,
        max_duration=30.0 if full else 10.0,
        timeout=10.0 if full else 5.0,
        warmup=2.0 if full else 0.5,
        database=args.database,
        frameworks=split_frameworks(args.frameworks),
        server_workers=args.server_workers,
        load_workers=args.load_workers,
        out=Path(args.out) if args.out else None,
        install=not args.no_install,
        keep=args.keep,
        # The quick run takes the framework floor (health) to the peak level only: the
        # ramp-up to 10,000 connections is what costs the time.
        peak_scenarios=None if full else {"health"},
    )
    if args.scenarios:
        profile.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if args.connections:
        profile.connections = args.connections
        profile.peak_scenarios = None
    if args.duration:
        profile.duration = args.duration
        profile.max_duration = max(profile.max_duration, args.duration)
    if args.max_duration:
        profile.max_duration = args.max_duration
    if args.timeout:
        profile.timeout = args.timeout
    elif profile.timeout >= max(profile.duration, profile.max_duration):
        profile.timeout = max(profile.duration, profile.max_duration) / 2
    check_window(profile.timeout, profile.duration, profile.max_duration)
    if args.redis_url:
        profile.redis_url = args.redis_url
    elif services.redis_available(DEFAULT_REDIS_URL):
        profile.redis_url = DEFAULT_REDIS_URL
    return profile


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    """`fastapi[ML_BATCHING=1]` is the fastapi template run with that setting."""
    template, _, rest = spec.partition("[")
    settings = {}
    for pair in filter(None, rest.rstrip("]").split(",")):
        name, _, value = pair.partition("=")
        settings[name.strip()] = value.strip()
    return template.strip(), settings


def placement() -> tuple[str | None, set[int] | None, str]:
    """Server on CPU 0 and the generator on the others, when there are at least two."""
    cpus = cpu_count()
    if cpus < 2:
        return None, None, f"{cpus} CPU: server and generator share it"
    generator = set(range(1, cpus))
    text = f"server on CPU 0, generator on CPU {'1' if cpus == 2 else f'1-{cpus - 1}'}"
    return "0", generator, text


def compare(profile: Profile) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = profile.out or Path("loadtest-reports") / stamp
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(".loadtest-cache").absolute()
    server_cpus, generator_cpus, placement_text = placement()
    machine = environment(profile, placement_text)  # before pinning narrows the CPU count
    if generator_cpus:
        pin_to_cpus(generator_cpus)
    started = time.time()
    results: dict = {
        "profile": profile.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": machine,
        "frameworks": {},
        "loc": {},
    }
    if profile.server_workers > 1 and not profile.redis_url and "ws-broadcast" in profile.scenarios:
        profile.scenarios.remove("ws-broadcast")
        profile.notes.append(
            "ws-broadcast skipped: with several server workers a room spans processes only "
            "through Redis, and none was reachable (use --redis-url)"
        )
    credentials = admin_credentials()
    for framework in profile.frameworks:
        fw_result: dict = {"scenarios": {}}
        results["frameworks"][framework] = fw_result
        try:
            run_framework(
                profile, framework, fw_result, results, cache, out, server_cpus, credentials
            )
        except services.ServiceError as exc:
            fw_result["error"] = str(exc)
            print(f"== {framework}: {exc}", file=sys.stderr)
    results["elapsed_seconds"] = round(time.time() - started, 1)
    results["notes"] = profile.notes
    (out / "results.json").write_text(json.dumps(results, indent=1))
    headline = write_reports(results, out)
    print(headline)
    print(f"\nreport: {out / 'report.md'}")
    print(f"        {out / 'report.html'}\n        {out / 'results.json'}")
    failed = [fw for fw, r in results["frameworks"].items() if "error" in r]
    return 1 if failed else 0


def admin_credentials() -> dict[str, str]:
    """The admin the services create at start-up, and the signing key they share; the load
    test logs in with it once per service (services without authentication ignore it)."""
    return {
        "ADMIN_USERNAME": "loadtest-admin",
        "ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "SECRET_KEY": secrets.token_urlsafe(48),
    }


def run_framework(
    profile: Profile,
    framework: str,
    fw_result: dict,
    results: dict,
    cache: Path,
    out: Path,
    server_cpus: str | None,
    credentials: dict[str, str],
) -> None:
    """Generate, install and start one framework (or variant), then run every scenario."""
    template, settings = parse_variant(framework)
    server = settings.pop("SERVER", "gunicorn")
    options: dict[str, object] = {"database": profile.database}
    if server == "granian" and template == "flask":
        options["use_websockets"] = False  # Granian's WSGI mode carries no WebSockets
    fw_result["server"] = server
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", framework).strip("-")
    print(f"== {framework}: generating", file=sys.stderr, flush=True)
    project = services.generate(template, cache / "projects" / label, options)
    results["loc"][framework] = count_concerns(project)
    extra = ("granian",) if server == "granian" else ()
    if profile.install:
        print(f"== {framework}: installing", file=sys.stderr, flush=True)
        python = services.install(project, cache / "venvs" / label, extra)
    else:
        python = Path(sys.executable)
    env = {"REDIS_URL": profile.redis_url} if profile.redis_url else {}
    env.update(credentials)
    env.update(settings)
    with databases.scratch(profile.database, label) as database_url:
        if database_url:
            env["DATABASE_URL"] = database_url
        print(f"== {framework}: starting {server}", file=sys.stderr, flush=True)
        service = services.start(
            label,
            project,
            python,
            out.resolve(),
            profile.server_workers,
            server_cpus,
            env,
            use_path=not profile.install,
            server=server,
            template=template,
        )
        monitor = ServerMonitor(service.pid)
        try:
            token = bearer_token(
                service.url, None, credentials["ADMIN_USERNAME"], credentials["ADMIN_PASSWORD"]
            )
            fw_result["authenticated"] = token is not None
            monitor.mark_idle()
            for name in profile.scenarios:
                outcome = run_scenario(
                    service.url,
                    name,
                    profile.levels_for(name),
                    profile.duration,
                    timeout=profile.timeout,
                    workers=profile.load_workers,
                    warmup=profile.warmup,
                    max_duration=profile.max_duration,
                    label=f"{framework} ",
                    token=token,
                    monitor=monitor,
                )
                if "unavailable" in outcome:
                    print(f"   {name}: {outcome['unavailable']}", file=sys.stderr)
                fw_result["scenarios"][name] = outcome
        finally:
            monitor.stop()
            service.stop()


def environment(profile: Profile, placement_text: str) -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": cpu_model or platform.processor(),
        "cpus": cpu_count(),
        "placement": placement_text,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "event_loop": event_loop_name(),
        "server_workers": profile.server_workers,
        "load_workers": profile.load_workers,
        "duration_per_level": profile.duration,
        "max_duration_per_level": profile.max_duration,
        "timeout": profile.timeout,
        "warmup": profile.warmup,
        "connections": profile.connections,
        "redis": profile.redis_url or "not used (in-process fallbacks)",
        "database": databases.describe(profile.database),
        "log_level": "WARNING",
    }
