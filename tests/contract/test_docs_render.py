"""/docs and /redoc render in headless Chromium with nothing but loopback reachable.

The raw HTML of both pages names no API path: the paths and summaries only appear once the
page's own JavaScript, loaded from /static/docs/, has fetched /openapi.json and rendered it.
"""

import os
import shutil
import subprocess

import pytest

from tests.contract.harness import ONE_PER_FRAMEWORK
from tests.support import IN_CI

pytestmark = pytest.mark.browser

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
RENDER_TIMEOUT = 90


def chromium() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    message = "headless Chromium is not installed (apt-get install chromium)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def render(url: str, profile_dir) -> str:
    """The DOM after the page's scripts ran, with every non-loopback host unreachable."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
        f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    env = {**os.environ, "HOME": str(profile_dir)}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, env=env, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def operation_summaries(client) -> list[str]:
    spec = client.get("/openapi.json").json()
    items = spec["paths"]["/api/v1/items"]
    return [op["summary"] for op in items.values() if isinstance(op, dict) and op.get("summary")]


@pytest.mark.parametrize("service", ONE_PER_FRAMEWORK, indirect=True)
def test_swagger_ui_renders_offline(service, client, tmp_path, operation_summaries):
    assert "/api/v1/items" not in client.get("/docs").text
    dom = render(f"{service.base_url}/docs", tmp_path)
    assert 'class="swagger-ui' in dom, dom[:2000]
    assert "opblock" in dom, "no operations rendered"
    assert 'data-path="/api/v1/items"' in dom
    assert "/api/v1/models/digits/predict" in dom
    for summary in operation_summaries:
        assert summary in dom, summary


@pytest.mark.parametrize("service", ONE_PER_FRAMEWORK, indirect=True)
def test_redoc_renders_offline(service, client, tmp_path, operation_summaries):
    assert "/api/v1/items" not in client.get("/redoc").text
    dom = render(f"{service.base_url}/redoc", tmp_path)
    assert "/api/v1/items" in dom, dom[:2000]
    assert "/api/v1/models/digits/predict" in dom
    for summary in operation_summaries:
        assert summary in dom, summary
