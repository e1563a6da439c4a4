"""Checks the claims people repeat about Flask and FastAPI against one run's numbers.

Only levels that were measured as asked count as measurements: a level that did not hold
its connections is evidence about the server (it accepted so many and no more), and a
level that was not steady, or whose latencies the window cut short, is left out of the
figures the verdicts rest on, and the evidence says so.
"""

from __future__ import annotations

from loadtest.markers import GENERATOR_BOUND, markers_of

STABLE_ERROR_RATE = 0.01
STABLE_P99_MS = 1000.0
SATURATION_GAIN = 1.10  # 10x the connections but under 10% more throughput: saturated
THROUGHPUT_SCENARIOS = ("health", "item-read")
DATABASE_BOUND = ("item-read", "item-list", "write-mix")
LOC_CONCERNS = ("validation", "serialization", "docs", "wiring")

CLAIMS = {
    "throughput": "FastAPI 15,000-30,000 requests/s vs Flask 2,000-5,000",
    "latency": "average latency 5-15 ms (FastAPI) vs 20-50 ms (Flask)",
    "at-100": "at 100 concurrent users both are stable",
    "at-1000": "at 1,000 Flask's workers saturate",
    "at-10000": "at 10,000 Flask needs scaling while FastAPI handles it",
    "boilerplate": "FastAPI cuts 30-50% of boilerplate",
}


def levels(results: dict, framework: str, scenario: str, skipped: bool = False) -> dict[int, dict]:
    outcome = results["frameworks"].get(framework, {}).get("scenarios", {}).get(scenario, {})
    return {
        level["connections"]: level
        for level in outcome.get("levels", [])
        if skipped or "skipped" not in level
    }


def scenario_name(results: dict, scenario: str) -> str:
    """A database-bound scenario names the database it ran on: the verdict holds for it."""
    if scenario not in DATABASE_BOUND:
        return scenario
    database = results.get("environment", {}).get("database", "")
    return f"{scenario} (on {database.split(' (')[0]})" if database else scenario


def reached(level: dict | None) -> bool:
    return level is not None and level.get("reached", True)


def trusted(level: dict | None) -> bool:
    """Held its connections, steady, latencies uncensored: a measurement at its level."""
    return reached(level) and level.get("steady") is not False and not level.get("censored")


def behaviour(level: dict | None) -> str:
    if level is None:
        return "not measured"
    if not reached(level):
        return "did not hold its connections"
    if level["requests"] == 0 or level["error_rate"] >= STABLE_ERROR_RATE:
        return "failing"
    if not trusted(level):
        return "not steady"
    if level["latency_ms"]["p99"] >= STABLE_P99_MS:
        return "slow"
    return "stable"


def saturated(by_conns: dict[int, dict], low: int, high: int) -> bool | None:
    """Ten times the connections for under 10% more throughput, or not even holding them."""
    if not trusted(by_conns.get(low)) or high not in by_conns:
        return None
    if not reached(by_conns[high]):
        return True
    if not trusted(by_conns[high]):
        return None
    return by_conns[high]["ok_rps"] < by_conns[low]["ok_rps"] * SATURATION_GAIN


def accepted(level: dict) -> str:
    return (
        f"accepted at most {level['opened']:,} connections at once and held "
        f"{level['held']:,} of {level['target']:,} through the window"
    )


def describe(level: dict | None) -> str:
    if level is None:
        return "not measured"
    if not reached(level):
        return accepted(level)
    errors = f", {level['error_rate']:.1%} errors" if level["error_rate"] else ""
    text = (
        f"{level['ok_rps']:,.0f} req/s, mean {level['latency_ms']['mean']:.1f} ms, "
        f"p99 {level['latency_ms']['p99']:.1f} ms{errors}"
    )
    if markers_of(level):
        text += f" [{'; '.join(markers_of(level))}]"
    return text


def unsteady(flask: dict, fastapi: dict) -> str:
    return f"Flask {describe(flask)}; FastAPI {describe(fastapi)}"


def step(by_conns: dict[int, dict]) -> str:
    low, high = by_conns[100], by_conns[1000]
    if not reached(high):
        return f"{low['ok_rps']:,.0f} req/s at 100; at 1,000 it {accepted(high)}"
    return (
        f"{low['ok_rps']:,.0f} -> {high['ok_rps']:,.0f} req/s, p99 "
        f"{low['latency_ms']['p99']:.0f} -> {high['latency_ms']['p99']:.0f} ms"
    )


def scaling_word(is_saturated: bool) -> str:
    return "saturated" if is_saturated else "still scaling"


def change_word(cut: float) -> str:
    return f"{cut:.0%} fewer in FastAPI" if cut >= 0 else f"{-cut:.0%} more in FastAPI"


def in_range(value: float, low: float, high: float) -> bool:
    return low <= value <= high


def check_throughput(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        named = scenario_name(results, scenario)
        fl = [lv for lv in levels(results, "flask", scenario).values() if trusted(lv)]
        fa = [lv for lv in levels(results, "fastapi", scenario).values() if trusted(lv)]
        if not fl or not fa:
            continue
        flask_top = max(fl, key=lambda level: level["ok_rps"])
        fastapi_top = max(fa, key=lambda level: level["ok_rps"])
        flask_best, fastapi_best = flask_top["ok_rps"], fastapi_top["ok_rps"]
        ratio = fastapi_best / flask_best if flask_best else float("inf")
        both = in_range(fastapi_best, 15000, 30000) and in_range(flask_best, 2000, 5000)
        verdicts.append("supported" if both else "partly" if in_range(ratio, 3, 15) else "no")
        bound = [
            name
            for name, top in (("FastAPI", fastapi_top), ("Flask", flask_top))
            if GENERATOR_BOUND in markers_of(top)
        ]
        caveat = f"; {' and '.join(bound)} {GENERATOR_BOUND}" if bound else ""
        findings.append(
            f"{named}: FastAPI {fastapi_best:,.0f} vs Flask {flask_best:,.0f} req/s "
            f"(best steady level; FastAPI/Flask = {ratio:.2f}x; the claim implies 3-15x{caveat})"
        )
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_latency(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        named = scenario_name(results, scenario)
        fl = levels(results, "flask", scenario).get(100)
        fa = levels(results, "fastapi", scenario).get(100)
        if not trusted(fl) or not trusted(fa):
            if fl is not None and fa is not None:
                findings.append(
                    f"{named} at 100 connections: left out, Flask {describe(fl)}, "
                    f"FastAPI {describe(fa)}"
                )
            continue
        flask_mean = fl["latency_ms"]["mean"]
        fastapi_mean = fa["latency_ms"]["mean"]
        both = in_range(fastapi_mean, 5, 15) and in_range(flask_mean, 20, 50)
        verdicts.append("supported" if both else "partly" if fastapi_mean < flask_mean else "no")
        findings.append(
            f"{named} at 100 connections: FastAPI mean {fastapi_mean:.1f} ms, "
            f"Flask mean {flask_mean:.1f} ms"
        )
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_at_100(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        named = scenario_name(results, scenario)
        states = {
            fw: behaviour(levels(results, fw, scenario).get(100)) for fw in ("flask", "fastapi")
        }
        if "not measured" in states.values():
            continue
        if "not steady" in states.values():
            pair = [levels(results, fw, scenario).get(100) for fw in ("flask", "fastapi")]
            findings.append(f"{named} at 100: left out, {unsteady(*pair)}")
            continue
        verdicts.append("supported" if set(states.values()) == {"stable"} else "no")
        findings.append(f"{named}: Flask {states['flask']}, FastAPI {states['fastapi']}")
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_at_1000(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        named = scenario_name(results, scenario)
        fl = levels(results, "flask", scenario)
        fa = levels(results, "fastapi", scenario)
        flask_sat = saturated(fl, 100, 1000)
        fastapi_sat = saturated(fa, 100, 1000)
        if flask_sat is None or fastapi_sat is None:
            continue
        if flask_sat and not fastapi_sat:
            verdicts.append("supported")
        elif flask_sat:
            verdicts.append("partly")  # true of Flask, but FastAPI saturates too
        else:
            verdicts.append("no")
        findings.append(
            f"{named} 100 -> 1,000 connections: Flask {step(fl)} ({scaling_word(flask_sat)}); "
            f"FastAPI {step(fa)} ({scaling_word(fastapi_sat)})"
        )
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_at_10000(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        named = scenario_name(results, scenario)
        fl = levels(results, "flask", scenario).get(10000)
        fa = levels(results, "fastapi", scenario).get(10000)
        if fl is None or fa is None:
            continue
        flask_state, fastapi_state = behaviour(fl), behaviour(fa)
        if "not steady" in (flask_state, fastapi_state):
            findings.append(f"{named} at 10,000: left out, {unsteady(fl, fa)}")
            continue
        if flask_state != "stable" and fastapi_state == "stable":
            verdicts.append("supported")
        elif flask_state != "stable":
            verdicts.append("partly")  # Flask needs scaling, but so does FastAPI
        else:
            verdicts.append("no")
        findings.append(
            f"{named} at 10,000: Flask {flask_state} ({describe(fl)}); "
            f"FastAPI {fastapi_state} ({describe(fa)})"
        )
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_boilerplate(results: dict) -> tuple[str, str]:
    loc = results.get("loc", {})
    if "flask" not in loc or "fastapi" not in loc:
        return "not measured", "not measured"
    flask_concerns = sum(loc["flask"]["concerns"][c] for c in LOC_CONCERNS)
    fastapi_concerns = sum(loc["fastapi"]["concerns"][c] for c in LOC_CONCERNS)
    flask_total, fastapi_total = loc["flask"]["total"], loc["fastapi"]["total"]
    cut_concerns = 1 - fastapi_concerns / flask_concerns if flask_concerns else 0.0
    cut_total = 1 - fastapi_total / flask_total if flask_total else 0.0
    verdict = (
        "supported"
        if in_range(cut_concerns, 0.30, 0.50)
        else "partly"
        if cut_concerns > 0
        else "no"
    )
    return verdict, (
        f"validation + serialization + docs + wiring: Flask {flask_concerns} lines, FastAPI "
        f"{fastapi_concerns} ({change_word(cut_concerns)}); whole package: Flask {flask_total}, "
        f"FastAPI {fastapi_total} ({change_word(cut_total)})"
    )


CHECKS = {
    "throughput": check_throughput,
    "latency": check_latency,
    "at-100": check_at_100,
    "at-1000": check_at_1000,
    "at-10000": check_at_10000,
    "boilerplate": check_boilerplate,
}
VERDICT_TEXT = {
    "supported": "supported",
    "partly": "partly supported",
    "no": "not supported",
    "not measured": "not measured",
}


def combine(verdicts: list[str]) -> str:
    if not verdicts:
        return "not measured"
    if all(v == "supported" for v in verdicts):
        return "supported"
    if all(v == "no" for v in verdicts):
        return "no"
    return "partly"


def evaluate(results: dict) -> list[dict]:
    rows = []
    for key, claim in CLAIMS.items():
        verdict, evidence = CHECKS[key](results)
        rows.append({"claim": claim, "verdict": VERDICT_TEXT[verdict], "evidence": evidence})
    return rows
