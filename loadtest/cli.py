"""Command line: `python -m loadtest run|compare|floors|scenarios`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from loadtest import compare, scenarios
from loadtest.limits import parse_cpus, pin_to_cpus
from loadtest.sweep import run_scenario


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
    outcome = run_scenario(
        args.url,
        args.scenario,
        args.connections,
        args.duration,
        args.rate,
        args.timeout,
        args.workers,
        warmup=args.warmup,
    )
    outcome["url"] = args.url
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
    return compare.compare(compare.profile_from_args(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="load one running service with one scenario")
    run.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    run.add_argument("--scenario", default="health", choices=list(scenarios.SCENARIOS))
    run.add_argument("--connections", type=parse_levels, default=[100], help="e.g. 100,1000,10000")
    run.add_argument("--duration", type=parse_duration, default=10.0, help="per level, e.g. 10s")
    run.add_argument("--rate", type=float, help="open loop: requests per second in total")
    run.add_argument("--timeout", type=parse_duration, default=10.0, help="per request")
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
    size.add_argument("--quick", action="store_true", help="about two minutes (the default)")
    size.add_argument("--full", action="store_true", help="the long sweep")
    comp.add_argument("--duration", type=parse_duration, help="override the per-level duration")
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
