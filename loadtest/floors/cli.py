"""The `floors` subcommand of `python -m loadtest`."""

from __future__ import annotations

import argparse
from pathlib import Path

from loadtest.floors.measure import SCENARIO_NAMES
from loadtest.floors.run import DATABASES, DEFAULT_REDIS_URL, FRAMEWORKS, Options, run_floors


def comma_list(choices):
    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [value for value in values if value not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}")
        return values

    return parse


def add_parser(commands) -> None:
    floors = commands.add_parser(
        "floors",
        help="each template against a minimal app of its framework doing the same work",
    )
    floors.add_argument("--frameworks", type=comma_list(FRAMEWORKS), default=list(FRAMEWORKS))
    floors.add_argument("--databases", type=comma_list(DATABASES), default=list(DATABASES))
    floors.add_argument(
        "--scenarios", type=comma_list(SCENARIO_NAMES), default=list(SCENARIO_NAMES)
    )
    floors.add_argument("--rounds", type=int, default=2, help="rounds per side (default 2)")
    floors.add_argument("--duration", type=float, default=2.0, help="seconds per round")
    floors.add_argument("--warmup", type=float, default=0.5, help="seconds before each round")
    floors.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    floors.add_argument("--out", type=Path, help="directory for floors.md and floors.json")
    floors.add_argument("--keep", action="store_true", help="keep the servers' logs and files")
    floors.add_argument(
        "--templates-from", type=Path, help="generate the templates from this checkout instead"
    )
    floors.set_defaults(func=cmd_floors)


def cmd_floors(args: argparse.Namespace) -> int:
    options = Options(
        frameworks=args.frameworks,
        databases=args.databases,
        scenarios=args.scenarios,
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        redis_url=args.redis_url,
        out=args.out,
        keep=args.keep,
        templates_from=args.templates_from,
    )
    return run_floors(options)
