"""Command line: `python -m loadtest run|compare|merge|floors|scenarios`: parse, then call
down."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from loadtest import compare, merge, scenarios
from loadtest.limits import parse_cpus, pin_to_cpus
from loadtest.runner import WindowError, check_window
from loadtest.sweep import bearer_token, run_scenario


def parse_duration(text: str) -> float:
    """'10s', '2m', '500ms' or a plain number of seconds."""
    text = text.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def parse_levels(text: str) -> list[int]:
    levels = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("connections must be positive integers, e.g. 100,1000")
    return levels


def cmd_run(args: argparse.Namespace) -> int:
    if args.cpus:
        pin_to_cpus(parse_cpus(args.cpus))
    max_duration = args.max_duration if args.max_duration is not None else 3 * args.duration
    timeout = args.timeout if args.timeout is not None else min(10.0, max_duration / 2)
    try:
        check_window(timeout, args.duration, max_duration)
    except WindowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token = bearer_token(args.url, args.token, args.username, args.password)
    outcome = run_scenario(
        args.url,
        args.scenario,
        args.connections,
        args.duration,
        args.rate,
        timeout,
        args.workers,
        warmup=args.warmup,
        max_duration=max_duration,
        token=token,
    )
    outcome["url"] = args.url
    outcome["authenticated"] = token is not None
    if "unavailable" in outcome:
        print(f"{args.scenario}: {outcome['unavailable']}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(outcome, indent=1))
        print(f"wrote {args.json}")
    return 0


def cmd_scenarios(_args: argparse.Namespace) -> int:
    for scenario in scenarios.SCENARIOS.values():
        needs = f" (needs {scenario.needs})" if scenario.needs else ""
        print(f"{scenario.name:15} {scenario.summary}{needs}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    try:
        profile = compare.profile_from_args(args)
    except WindowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return compare.compare(profile)


def cmd_merge(args: argparse.Namespace) -> int:
    merged = merge.merge_files([Path(name) for name in args.files])
    text = json.dumps(merged, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    print(merge.describe(merged))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="load one running service with one scenario")
    run.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    run.add_argument("--scenario", default="health", choices=list(scenarios.SCENARIOS))
    run.add_argument("--connections", type=parse_levels, default=[100], help="e.g. 100,1000,10000")
    run.add_argument(
        "--duration", type=parse_duration, default=10.0, help="shortest window per level, e.g. 10s"
    )
    run.add_argument(
        "--max-duration",
        type=parse_duration,
        help="longest window: a closed-loop level not yet steady runs on up to this "
        "(default 3x --duration)",
    )
    run.add_argument("--rate", type=float, help="open loop: requests per second in total")
    run.add_argument(
        "--timeout",
        type=parse_duration,
        help="per request; shorter than the longest window (default 10s, or half that window)",
    )
    run.add_argument("--token", help="bearer token for the requests that need one")
    run.add_argument("--username", help="log in with this user once, before the run")
    run.add_argument("--password", help="the user's password")
    run.add_argument(
        "--warmup", type=parse_duration, default=0.0, help="load before measuring, e.g. 2s"
    )
    run.add_argument("--workers", type=int, default=1, help="generator processes")
    run.add_argument("--cpus", help="pin the generator to these CPUs, e.g. 1 or 2-3")
    run.add_argument("--json", help="also write the results to this file")
    run.set_defaults(func=cmd_run)

    listing = commands.add_parser("scenarios", help="list the scenarios")
    listing.set_defaults(func=cmd_scenarios)

    comp = commands.add_parser(
        "compare", help="generate, start and load both templates; write a report"
    )
    size = comp.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about three minutes (the default)")
    size.add_argument("--full", action="store_true", help="the long sweep")
    comp.add_argument(
        "--duration", type=parse_duration, help="override the shortest window per level"
    )
    comp.add_argument(
        "--max-duration", type=parse_duration, help="override the longest window per level"
    )
    comp.add_argument("--timeout", type=parse_duration, help="override the request timeout")
    comp.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="postgresql: a fresh database on 127.0.0.1:5432 per run, dropped after",
    )
    comp.add_argument("--connections", type=parse_levels, help="override the levels")
    comp.add_argument("--scenarios", help="comma list; default depends on --quick/--full")
    comp.add_argument(
        "--frameworks",
        default="flask,fastapi",
        help="comma list; a variant runs a template with settings, e.g. fastapi[ML_BATCHING=1]",
    )
    comp.add_argument("--server-workers", type=int, default=2, help="WEB_CONCURRENCY of each")
    comp.add_argument("--load-workers", type=int, default=1, help="generator processes")
    comp.add_argument("--out", help="report directory (default loadtest-reports/<timestamp>)")
    comp.add_argument(
        "--no-install",
        action="store_true",
        help="run the services with this interpreter instead of a venv per framework",
    )
    comp.add_argument("--redis-url", help="Redis for the services (rooms across workers)")
    comp.add_argument("--keep", action="store_true", help="keep the generated projects")
    comp.set_defaults(func=cmd_compare)

    joined = commands.add_parser(
        "merge", help="combine the --json files of runs made at once from several machines"
    )
    joined.add_argument("files", nargs="+", help="the runs' --json files")
    joined.add_argument("--json", help="write the combined results to this file")
    joined.set_defaults(func=cmd_merge)

    from loadtest.floors.cli import add_parser as add_floors_parser

    add_floors_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
