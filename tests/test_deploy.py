"""The deployment files of every combination, and migrations applied once by racing instances.

For every generated combination with use_docker: hadolint finds nothing at all in the
Dockerfile, compose.yaml follows the compose specification, every Kubernetes manifest
validates against the schemas of a pinned Kubernetes version, and `kubectl kustomize` renders
deploy/k8s into the resources the README promises. Each tool runs once over all the files of
a template (a file rendered identically for several combinations is checked once).

Then three instances of each service start at the same moment on one fresh PostgreSQL
database: all of them become ready, and the schema is at head once.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from alembic.script import ScriptDirectory

from tests.contract.harness import (
    STARTUP_TIMEOUT,
    Process,
    free_port,
    service_environment,
    wait_until,
)
from tests.support import IN_CI, TEMPLATES, generate, scratch_database

KUBERNETES_VERSION = "1.31.0"
TOOL_TIMEOUT = 300
BIN = Path(sys.executable).parent
INSTANCES = 3


def run(command: list) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=TOOL_TIMEOUT
    )


def docker_projects(generated) -> list[tuple[dict, Path]]:
    return [(context, project) for context, project in generated.values() if context["use_docker"]]


def distinct(items: list[tuple[dict, Path]], key) -> list[tuple[dict, Path]]:
    """One item per distinct `key(path)`: most files render the same for many combinations."""
    seen: dict = {}
    for context, path in items:
        seen.setdefault(key(path), (context, path))
    return list(seen.values())


def content(path: Path) -> bytes:
    return path.read_bytes()


def kubernetes_dir(project: Path) -> Path:
    return project / "deploy" / "k8s"


def manifests(k8s_dir: Path) -> list[Path]:
    return sorted(path for path in k8s_dir.glob("*.yaml") if path.name != "kustomization.yaml")


def tree_content(k8s_dir: Path) -> tuple:
    return tuple((path.name, path.read_bytes()) for path in sorted(k8s_dir.iterdir()))


def test_deployment_files_come_with_use_docker_and_the_worker_with_jobs(generated):
    for name, (context, project) in generated.items():
        assert (project / "deploy").exists() == context["use_docker"], name
        worker = kubernetes_dir(project) / "worker-deployment.yaml"
        jobs = context["use_celery"] and context["use_ml"]
        assert worker.exists() == (context["use_docker"] and jobs), name


def test_every_dockerfile_passes_hadolint_without_a_single_finding(generated):
    dockerfiles = distinct(
        [(c, project / "Dockerfile") for c, project in docker_projects(generated)], content
    )
    # style is hadolint's lowest level: any finding at all fails.
    result = run(
        [
            BIN / "hadolint",
            "--no-color",
            "--failure-threshold",
            "style",
            *(path for _, path in dockerfiles),
        ]
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def compose_files(project: Path) -> bytes:
    return (project / "compose.yaml").read_bytes() + (project / "deploy/nginx.conf").read_bytes()


def test_every_compose_file_follows_the_compose_specification(generated):
    projects = distinct(docker_projects(generated), compose_files)
    result = run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            *(project / "compose.yaml" for _, project in projects),
        ]
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for context, project in projects:
        compose = yaml.safe_load((project / "compose.yaml").read_text())
        check_compose(context, compose, project)


def check_compose(context: dict, compose: dict, project: Path) -> None:
    """What the README says of compose.yaml, beyond the specification's schema."""
    services = compose["services"]
    jobs = context["use_celery"] and context["use_ml"]
    expected = {"lb", "migrate", "web"} | ({"worker"} if jobs else set())
    expected |= {"db"} if context["database"] == "postgresql" else set()
    expected |= {"redis"} if context["use_celery"] else set()
    assert set(services) == expected, project
    # Scalable: no host port on web; nginx is the only way in.
    assert "ports" not in services["web"]
    assert services["lb"]["ports"] == ["8000:80"]
    for name in ("web", "worker") if jobs else ("web",):
        service = services[name]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert service["environment"]["MIGRATE_ON_START"] == "0"
        assert service["environment"]["ENVIRONMENT"] == "production"
        assert service["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert "upgrade_database()" in " ".join(services["migrate"]["command"])
    nginx = (project / "deploy" / "nginx.conf").read_text()
    assert "proxy_pass http://web;" in nginx
    assert ("proxy_set_header Upgrade $http_upgrade;" in nginx) == context["use_websockets"]


def test_every_kubernetes_manifest_validates(generated):
    files = distinct(
        [
            (c, manifest)
            for c, project in docker_projects(generated)
            for manifest in manifests(kubernetes_dir(project))
        ],
        content,
    )
    result = run(
        [
            BIN / "kubernetes-validate",
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "--quiet",
            *(path for _, path in files),
        ]
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_kustomization_renders_what_the_readme_promises(generated, tmp_path):
    if shutil.which("kubectl") is None:
        if IN_CI:
            pytest.fail("kubectl is not installed")
        pytest.skip("kubectl is not installed")
    rendered = []
    for index, (context, k8s_dir) in enumerate(
        distinct(
            [(c, kubernetes_dir(project)) for c, project in docker_projects(generated)],
            tree_content,
        )
    ):
        result = run(["kubectl", "kustomize", k8s_dir])
        assert result.returncode == 0, f"{k8s_dir}: {result.stderr}"
        output = tmp_path / f"rendered-{index}.yaml"
        output.write_text(result.stdout)
        rendered.append(output)
        check_resources(context, list(yaml.safe_load_all(result.stdout)), k8s_dir.parent.parent)
    # What kustomize produced is valid too.
    validate = run(
        [
            BIN / "kubernetes-validate",
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "--quiet",
            *rendered,
        ]
    )
    assert validate.returncode == 0, validate.stdout[-4000:] + validate.stderr[-2000:]


def graceful_timeout(project: Path) -> int:
    match = re.search(
        r"^graceful_timeout = (\d+)$", (project / "gunicorn.conf.py").read_text(), re.M
    )
    assert match, "gunicorn.conf.py sets no graceful_timeout"
    return int(match.group(1))


def check_resources(context: dict, resources: list[dict], project: Path) -> None:
    by_name = {(r["kind"], r["metadata"]["name"]): r for r in resources}
    jobs = context["use_celery"] and context["use_ml"]
    expected = {
        ("ConfigMap", "my-service-config"),
        ("Job", "my-service-migrate"),
        ("Deployment", "my-service-web"),
        ("Service", "my-service-web"),
        ("Ingress", "my-service"),
        ("HorizontalPodAutoscaler", "my-service-web"),
        ("PodDisruptionBudget", "my-service-web"),
    } | ({("Deployment", "my-service-worker")} if jobs else set())
    assert set(by_name) == expected, project

    config = by_name["ConfigMap", "my-service-config"]["data"]
    assert config["MIGRATE_ON_START"] == "0" and config["ENVIRONMENT"] == "production"
    hpa = by_name["HorizontalPodAutoscaler", "my-service-web"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"

    pods = {
        name: r["spec"]["template"]["spec"]
        for (kind, name), r in by_name.items()
        if kind in ("Deployment", "Job")
    }
    for name, pod in pods.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        writable = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, name
            mounts = {m["mountPath"] for m in container["volumeMounts"] if m["name"] in writable}
            assert "/tmp" in mounts, name
            if name != "my-service-migrate":
                assert config["PROMETHEUS_MULTIPROC_DIR"] in mounts, name

    web_pod = pods["my-service-web"]
    web = web_pod["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"
    assert web["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert web_pod["terminationGracePeriodSeconds"] > graceful_timeout(project)

    annotations = by_name["Ingress", "my-service"]["metadata"]["annotations"]
    timeout = "nginx.ingress.kubernetes.io/proxy-read-timeout"
    assert (timeout in annotations) == context["use_websockets"]


# ---- migrations once, whatever starts first -------------------------------------------------


def applied_revisions(database_url: str) -> list[str]:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as connection:
        return [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]


def answers_ready(port: int, process: Process) -> bool:
    assert process.alive(), f"{process.name} exited while starting\n{process.log_tail()}"
    return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200


@pytest.mark.parametrize("template", TEMPLATES)
def test_instances_started_together_on_a_fresh_database_migrate_once(template, tmp_path):
    # The fewest features, one worker each: this is about starting, and starting is cheap then.
    project = generate(
        template,
        tmp_path / "project",
        database="postgresql",
        use_websockets=False,
        use_ml=False,
        use_celery=False,
        use_docker=False,
    )
    head = ScriptDirectory(str(project / "migrations")).get_current_head()
    with scratch_database(f"deploy_{template}") as database_url:
        instances = []
        try:
            for index in range(INSTANCES):
                port = free_port()
                env = service_environment(
                    project,
                    BIND=f"127.0.0.1:{port}",
                    WEB_CONCURRENCY="1",
                    DATABASE_URL=database_url,
                    MIGRATE_ON_START="1",
                )
                command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
                log = tmp_path / f"gunicorn-{index}.log"
                instances.append((port, Process(f"gunicorn-{index}", command, project, env, log)))
            for port, process in instances:
                ready = wait_until(
                    lambda port=port, process=process: answers_ready(port, process),
                    STARTUP_TIMEOUT,
                    0.2,
                )
                assert ready, f"{process.name} did not become ready\n{process.log_tail()}"
            assert applied_revisions(database_url) == [head]
        finally:
            for _, process in instances:
                process.stop()
