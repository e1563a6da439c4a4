"""Schemathesis against each service's own OpenAPI document: every check, positive and
negative data, at least 1,000 cases per service, and nothing found.

What schemathesis reports that is not a fault of ours goes in ACCEPTED, with the reason,
and the test asserts that it is all that was reported.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.harness import ADMIN_PASSWORD, ADMIN_USERNAME, ONE_PER_FRAMEWORK

MIN_CASES = 1000
EXAMPLES_PER_OPERATION = 50
SEED = 20261206
TIMEOUT_SECONDS = 600
# Settings that say what counts as a failure: the 412 a stale If-Match must get is one.
CONFIG = Path(__file__).with_name("schemathesis.toml")

# (failure code, operation) -> why it is not a fault of the service
ACCEPTED: dict[tuple[str, str], str] = {}


def run_schemathesis(service, report_path) -> dict:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{service.base_url}/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--no-shrink",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--header",
        # the admin may change every item and create users: every operation can succeed
        f"Authorization: Bearer {service.login(ADMIN_USERNAME, ADMIN_PASSWORD)}",
        "--report",
        "json",
        "--report-json-path",
        str(report_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert report_path.exists(), done.stdout[-4000:] + done.stderr[-2000:]
    report = json.loads(report_path.read_text())
    report["output"] = done.stdout[-8000:]
    return report


@pytest.mark.parametrize("service", ONE_PER_FRAMEWORK, indirect=True)
def test_schemathesis_finds_nothing(service, tmp_path):
    report = run_schemathesis(service, tmp_path / "schemathesis.json")
    cases = report["test_cases"]["generated"]
    print(f"{service.name}: {cases} cases, {len(report['failures'])} failures")
    assert cases >= MIN_CASES, f"only {cases} cases generated"
    assert report["errors"] == [], report["output"]
    found = {
        (failure["code"], operation)
        for failure in report["failures"]
        for operation in failure["operations"]
    }
    unexpected = sorted(found - set(ACCEPTED))
    assert unexpected == [], report["output"]
