"""Checks the claims people repeat about Flask and FastAPI against one run's numbers."""

from __future__ import annotations

STABLE_ERROR_RATE = 0.01
STABLE_P99_MS = 1000.0
SATURATION_GAIN = 1.10  # 10x the connections but under 10% more throughput: saturated
THROUGHPUT_SCENARIOS = ("health", "item-read")
LOC_CONCERNS = ("validation", "serialization", "docs", "wiring")

CLAIMS = {
    "throughput": "FastAPI 15,000-30,000 requests/s vs Flask 2,000-5,000",
    "latency": "average latency 5-15 ms (FastAPI) vs 20-50 ms (Flask)",
    "at-100": "at 100 concurrent users both are stable",
    "at-1000": "at 1,000 Flask's workers saturate",
    "at-10000": "at 10,000 Flask needs scaling while FastAPI handles it",
    "boilerplate": "FastAPI cuts 30-50% of boilerplate",
}


def levels(results: dict, framework: str, scenario: str) -> dict[int, dict]:
    outcome = results["frameworks"].get(framework, {}).get("scenarios", {}).get(scenario, {})
    return {
        level["connections"]: level for level in outcome.get("levels", []) if "skipped" not in level
    }


def behaviour(level: dict | None) -> str:
    if level is None:
        return "not measured"
    if level["requests"] == 0 or level["error_rate"] >= STABLE_ERROR_RATE:
        return "failing"
    if level["latency_ms"]["p99"] >= STABLE_P99_MS:
        return "slow"
    return "stable"


def saturated(by_conns: dict[int, dict], low: int, high: int) -> bool | None:
    if low not in by_conns or high not in by_conns:
        return None
    return by_conns[high]["ok_rps"] < by_conns[low]["ok_rps"] * SATURATION_GAIN


def describe(level: dict | None) -> str:
    if level is None:
        return "not measured"
    errors = f", {level['error_rate']:.1%} errors" if level["error_rate"] else ""
    return (
        f"{level['ok_rps']:,.0f} req/s, mean {level['latency_ms']['mean']:.1f} ms, "
        f"p99 {level['latency_ms']['p99']:.1f} ms{errors}"
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
        fl = levels(results, "flask", scenario)
        fa = levels(results, "fastapi", scenario)
        if not fl or not fa:
            continue
        flask_best = max(level["ok_rps"] for level in fl.values())
        fastapi_best = max(level["ok_rps"] for level in fa.values())
        ratio = fastapi_best / flask_best if flask_best else float("inf")
        both = in_range(fastapi_best, 15000, 30000) and in_range(flask_best, 2000, 5000)
        verdicts.append("supported" if both else "partly" if in_range(ratio, 3, 15) else "no")
        findings.append(
            f"{scenario}: FastAPI {fastapi_best:,.0f} vs Flask {flask_best:,.0f} req/s "
            f"(best level; FastAPI/Flask = {ratio:.2f}x; the claim implies 3-15x)"
        )
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_latency(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        fl = levels(results, "flask", scenario).get(100)
        fa = levels(results, "fastapi", scenario).get(100)
        if fl is None or fa is None:
            continue
        flask_mean = fl["latency_ms"]["mean"]
        fastapi_mean = fa["latency_ms"]["mean"]
        both = in_range(fastapi_mean, 5, 15) and in_range(flask_mean, 20, 50)
        verdicts.append("supported" if both else "partly" if fastapi_mean < flask_mean else "no")
        findings.append(
            f"{scenario} at 100 connections: FastAPI mean {fastapi_mean:.1f} ms, "
            f"Flask mean {flask_mean:.1f} ms"
        )
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_at_100(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        states = {
            fw: behaviour(levels(results, fw, scenario).get(100)) for fw in ("flask", "fastapi")
        }
        if "not measured" in states.values():
            continue
        verdicts.append("supported" if set(states.values()) == {"stable"} else "no")
        findings.append(f"{scenario}: Flask {states['flask']}, FastAPI {states['fastapi']}")
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_at_1000(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
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
            f"{scenario} 100 -> 1,000 connections: Flask {fl[100]['ok_rps']:,.0f} -> "
            f"{fl[1000]['ok_rps']:,.0f} req/s, p99 {fl[100]['latency_ms']['p99']:.0f} -> "
            f"{fl[1000]['latency_ms']['p99']:.0f} ms ({scaling_word(flask_sat)}); "
            f"FastAPI {fa[100]['ok_rps']:,.0f} -> {fa[1000]['ok_rps']:,.0f} req/s, p99 "
            f"{fa[100]['latency_ms']['p99']:.0f} -> {fa[1000]['latency_ms']['p99']:.0f} ms "
            f"({scaling_word(fastapi_sat)})"
        )
    return combine(verdicts), "; ".join(findings) or "not measured"


def check_at_10000(results: dict) -> tuple[str, str]:
    findings = []
    verdicts = []
    for scenario in THROUGHPUT_SCENARIOS:
        fl = levels(results, "flask", scenario).get(10000)
        fa = levels(results, "fastapi", scenario).get(10000)
        if fl is None or fa is None:
            continue
        flask_state, fastapi_state = behaviour(fl), behaviour(fa)
        if flask_state != "stable" and fastapi_state == "stable":
            verdicts.append("supported")
        elif flask_state != "stable":
            verdicts.append("partly")  # Flask needs scaling, but so does FastAPI
        else:
            verdicts.append("no")
        findings.append(
            f"{scenario} at 10,000: Flask {flask_state} ({describe(fl)}); "
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
