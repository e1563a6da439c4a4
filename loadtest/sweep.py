"""One scenario against one running service: seed, each connection level in turn, teardown."""

from __future__ import annotations

import sys
import time

from loadtest import scenarios
from loadtest.api import ApiClient, ApiError
from loadtest.http import ProtocolError, split_url
from loadtest.limits import ensure_open_files, open_files_warning
from loadtest.procstat import ServerMonitor
from loadtest.runner import ProgressLine, check_window, run_level
from loadtest.textreport import level_table


def wait_until_idle(api: ApiClient, limit: float = 30.0, quick_ms: float = 100.0) -> float:
    """Wait until /health answers quickly twice in a row; the seconds waited.

    A server may still be working through the requests of connections the last level
    closed; starting the next level before it is done would measure that backlog.
    """
    started = time.monotonic()
    quick_in_a_row = 0
    while quick_in_a_row < 2 and time.monotonic() - started < limit:
        sent = time.monotonic()
        try:
            api.request("GET", "/health")
            quick = (time.monotonic() - sent) * 1000 < quick_ms
        except (ApiError, OSError):
            quick = False
        quick_in_a_row = quick_in_a_row + 1 if quick else 0
        if not quick:
            time.sleep(0.2)
    return round(time.monotonic() - started, 2)


def run_scenario(
    url: str,
    scenario_name: str,
    levels: list[int],
    duration: float,
    rate: float | None = None,
    timeout: float = 10.0,
    workers: int = 1,
    label: str = "",
    quiet: bool = False,
    warmup: float = 0.0,
    max_duration: float | None = None,
    token: str | None = None,
    monitor: ServerMonitor | None = None,
) -> dict:
    """Seed, sweep the connection levels, clean up; the results as a dict.

    `token` is sent as a bearer token with every request that needs one; `monitor`, when
    given, adds the server's own CPU time and memory to each level."""
    check_window(timeout, duration, max_duration)
    host, port, prefix = split_url(url)
    host_header = f"{host}:{port}"
    scenario = scenarios.get(scenario_name)
    api = ApiClient(host, port, prefix, token=token)
    outcome: dict = {"scenario": scenario.name, "summary": scenario.summary, "levels": []}
    try:
        state = scenarios.setup(scenario, api)
    except (ApiError, ProtocolError, OSError, ValueError, KeyError, TypeError) as exc:
        outcome["unavailable"] = f"setup failed: {exc}"
        api.close()
        return outcome
    try:
        plan = scenarios.plan(scenario, state, host_header, prefix, token)
        for connections in levels:
            can_hold = ensure_open_files(connections * (2 if workers == 1 else 1))
            if can_hold < connections:
                print(open_files_warning(connections, can_hold), file=sys.stderr)
                outcome["levels"].append(
                    {
                        "connections": connections,
                        "skipped": open_files_warning(connections, can_hold),
                    }
                )
                continue
            settle_seconds = wait_until_idle(api)
            progress = (
                None
                if quiet
                else ProgressLine(f"{label}{scenario.name} c={connections}", duration, connections)
            )
            level = run_level(
                host,
                port,
                scenario,
                plan,
                connections,
                duration,
                rate,
                timeout,
                workers,
                progress,
                warmup,
                max_duration,
            )
            if progress is not None:
                progress.done()
            level["settle_seconds"] = settle_seconds
            if monitor is not None:
                level["server"] = monitor.usage(
                    level["window"]["start_ns"], level["window"]["end_ns"], level["requests"]
                )
            outcome["levels"].append(level)
            if not quiet:
                print(level_table([level], header=not outcome["levels"][:-1]), flush=True)
    finally:
        try:
            outcome["cleaned_up"] = scenarios.teardown(scenario, api, state)
        except (ApiError, OSError, ValueError, KeyError) as exc:
            outcome["cleanup_error"] = str(exc)
        api.close()
    return outcome


def bearer_token(
    url: str, token: str | None, username: str | None, password: str | None
) -> str | None:
    """The token to send: the one given, or one from logging in once. A service without a
    token endpoint gets no Authorization header at all."""
    if token or not username:
        return token
    host, port, prefix = split_url(url)
    api = ApiClient(host, port, prefix)
    try:
        token = api.login(username, password or "")
    finally:
        api.close()
    if token is None:
        print(f"{url} has no token endpoint: running without authentication", file=sys.stderr)
    return token
