"""The deployment files: the image definition, docker compose and the Kubernetes manifests.

Nothing here needs a container engine or a cluster. The compose file is checked against the
compose specification's schema and the manifests against Kubernetes' OpenAPI schemas, both
bundled with their validators, so the checks run offline.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE_FILE = ROOT / "deploy" / "compose" / "compose.yaml"
K8S_DIR = ROOT / "deploy" / "k8s"
SERVICES_DIR = ROOT / "services"

# The oldest Kubernetes release the manifests must run on. kubernetes-validate ships the
# schemas for the releases it supports, so this needs no network.
KUBERNETES_VERSION = "1.33.0"

# The validators are installed in the same environment as the interpreter running the tests.
BIN_DIR = Path(sys.executable).parent

SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)


def _manifests() -> list[Path]:
    files = sorted(K8S_DIR.glob("*.yaml")) + sorted(K8S_DIR.glob("*.yml"))
    return [path for path in files if path.name != "kustomization.yaml"]


def _service_names() -> list[str]:
    if not SERVICES_DIR.is_dir():
        return []
    return sorted(
        path.name
        for path in SERVICES_DIR.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_"))
    )


MANIFESTS = _manifests()
SERVICE_NAMES = _service_names()


# --- helpers ------------------------------------------------------------------------------


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    tool = BIN_DIR / name
    if not tool.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}; install the dev extra")
    return subprocess.run(
        [str(tool), *args], capture_output=True, text=True, check=False, timeout=300
    )


def compose_schema_errors(path: Path) -> str | None:
    """The validator's report if `path` breaks the compose specification, else None."""
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path))
    return None if result.returncode == 0 else result.stdout + result.stderr


def k8s_schema_errors(path: Path) -> str | None:
    """The validator's report if any resource in `path` is not valid Kubernetes, else None.

    --strict rejects misspelled fields, which the default mode lets through. A kind or
    apiVersion without a schema (a typo, or an API removed from KUBERNETES_VERSION) is only a
    WARN with exit status 0, so warnings count as failures here.
    """
    result = run_tool(
        "kubernetes-validate",
        "--strict",
        "--kubernetes-version",
        KUBERNETES_VERSION,
        "--quiet",
        str(path),
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "WARN" in output:
        return output
    return None


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a YAML mapping"
    return document


def k8s_resources() -> list[dict[str, Any]]:
    return [
        document
        for path in MANIFESTS
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def is_proctor_compose_service(service: dict[str, Any]) -> bool:
    build = service.get("build")
    return isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile"


def is_proctor_image(image: str) -> bool:
    return image.split("/")[-1].split(":")[0] == "proctor"


def proctor_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in k8s_resources():
        if resource.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            for container in pod_spec(resource)["containers"]:
                if is_proctor_image(container["image"]):
                    yield resource["metadata"]["name"], container


def console_scripts() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(pyproject["project"].get("scripts", {}))


def deployment_gaps(
    service: str, compose: dict[str, Any], resources: list[dict[str, Any]]
) -> list[str]:
    """What is missing for `service` to run under compose and Kubernetes."""
    gaps = []
    compose_service = compose.get("services", {}).get(service)
    if compose_service is None:
        gaps.append(f"no service {service!r} in {COMPOSE_FILE.relative_to(ROOT)}")
    elif not is_proctor_compose_service(compose_service):
        gaps.append(f"compose service {service!r} is not built from deploy/Dockerfile")
    names = {
        (resource.get("kind"), resource.get("metadata", {}).get("name")) for resource in resources
    }
    for kind in ("Deployment", "PodDisruptionBudget"):
        if (kind, service) not in names:
            gaps.append(f"no {kind} named {service!r} in {K8S_DIR.relative_to(ROOT)}")
    return gaps


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


# --- the validators really run ------------------------------------------------------------


def test_compose_validator_rejects_a_broken_file(tmp_path: Path) -> None:
    # The misspelling sits in a merged anchor, as it would in x-proctor-service.
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        "x-common: &common\n"
        "  image: proctor:latest\n"
        "  contianer_name: audit\n"
        "services:\n"
        "  audit:\n"
        "    <<: *common\n"
        '    command: ["proctor-audit"]\n'
    )
    errors = compose_schema_errors(broken)
    assert errors is not None and "contianer_name" in errors


def test_k8s_validator_rejects_a_misspelled_field(tmp_path: Path) -> None:
    broken = tmp_path / "deployment.yaml"
    broken.write_text(
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata: {name: audit}\n"
        "spec:\n"
        "  replica: 2\n"
        "  selector: {matchLabels: {app: audit}}\n"
        "  template:\n"
        "    metadata: {labels: {app: audit}}\n"
        "    spec: {containers: [{name: audit, image: proctor:latest}]}\n"
    )
    errors = k8s_schema_errors(broken)
    assert errors is not None and "replica" in errors


def test_k8s_validator_rejects_a_removed_api(tmp_path: Path) -> None:
    removed = tmp_path / "pdb.yaml"
    removed.write_text(
        "apiVersion: policy/v1beta1\n"
        "kind: PodDisruptionBudget\n"
        "metadata: {name: audit}\n"
        "spec: {maxUnavailable: 1, selector: {matchLabels: {app: audit}}}\n"
    )
    errors = k8s_schema_errors(removed)
    assert errors is not None and "policy/v1beta1" in errors


def test_coverage_check_reports_a_service_that_is_not_deployed() -> None:
    gaps = deployment_gaps("not-deployed", load_compose(), k8s_resources())
    assert len(gaps) == 3


# --- docker compose -----------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    errors = compose_schema_errors(COMPOSE_FILE)
    assert errors is None, errors


def publishes_fixed_host_port(port: str | int | dict[str, Any]) -> bool:
    if isinstance(port, dict):
        return str(port.get("published", "")).isdigit()
    # "80" leaves the host port to Docker; "8080:80" and "127.0.0.1:8080:80" fix it.
    parts = str(port).split("/")[0].split(":")
    return len(parts) >= 2 and parts[-2].isdigit()


def test_compose_services_can_be_scaled() -> None:
    # `docker compose up --scale` needs generated container names and no fixed host port.
    for name, service in load_compose()["services"].items():
        assert "container_name" not in service, f"{name} sets container_name"
        if is_proctor_compose_service(service):
            for port in service.get("ports", []):
                assert not publishes_fixed_host_port(port), f"{name} publishes {port}"


def test_compose_file_holds_no_literal_secrets() -> None:
    for name, service in load_compose()["services"].items():
        for key, value in compose_environment(service).items():
            if SECRET_KEY.search(key) and not key.endswith("_FILE"):
                assert value.startswith("${"), f"{name}: {key} is a literal, not ${{...}}"
            if SECRET_KEY.search(key) and key.endswith("_FILE"):  # where the secret is mounted
                assert value.startswith("/run/secrets/"), f"{name}: {key} is not a secret file"
            if "://" in value:
                password = urlsplit(value).password
                assert password is None or password.startswith("${"), (
                    f"{name}: {key} has a literal password"
                )


# --- Kubernetes ---------------------------------------------------------------------------


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda path: path.name)
def test_manifest_is_valid_kubernetes(manifest: Path) -> None:
    errors = k8s_schema_errors(manifest)
    assert errors is None, errors


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(path.name for path in MANIFESTS)


def test_manifests_live_in_the_proctor_namespace() -> None:
    # The NATS routes and the client URL name proctor.svc, so nothing works elsewhere.
    for resource in k8s_resources():
        if resource["kind"] != "Namespace":
            where = f"{resource['kind']}/{resource['metadata']['name']}"
            assert resource["metadata"].get("namespace") == "proctor", where


def test_committed_secrets_are_placeholders() -> None:
    for resource in k8s_resources():
        if resource["kind"] == "Secret":
            assert "data" not in resource, "base64 data hides what is committed"
            for key, value in resource.get("stringData", {}).items():
                if value == "CHANGE-ME":  # a password or key the operator provides
                    continue
                # A value is a URL or a document holding URLs (the gateway configuration).
                urls = re.findall(r"[a-z]+://\S+", value)
                assert urls, f"{key} holds no URL to check"
                for url in urls:
                    host = urlsplit(url).hostname or ""
                    assert host.endswith(".invalid"), f"{key} points at a real host: {url}"


# --- every service is deployed --------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_runs_under_compose_and_kubernetes(service: str) -> None:
    compose = load_compose()
    resources = k8s_resources()
    assert deployment_gaps(service, compose, resources) == []

    deployment = next(
        resource
        for resource in resources
        if resource["kind"] == "Deployment" and resource["metadata"]["name"] == service
    )
    pod = pod_spec(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["containers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"requests", "limits"} <= set(container.get("resources", {}))
    commands = {tuple(container["command"]) for container in pod["containers"]}
    assert tuple(compose["services"][service]["command"]) in commands, (
        "compose and Kubernetes run different commands"
    )


def test_every_proctor_command_is_an_installed_console_script() -> None:
    scripts = console_scripts()
    commands = [
        (f"compose service {name}", service.get("command"))
        for name, service in load_compose()["services"].items()
        if is_proctor_compose_service(service)
    ]
    commands += [
        (f"Kubernetes {name}", container.get("command")) for name, container in proctor_containers()
    ]
    assert commands
    for where, command in commands:
        argv = shlex.split(command) if isinstance(command, str) else command
        assert argv and argv[0] in scripts, f"{where} runs {argv}, not one of {sorted(scripts)}"


# --- the image ----------------------------------------------------------------------------


def test_dockerfile_installs_the_project() -> None:
    instructions = dockerfile_instructions()
    bases = [arguments.split()[0] for keyword, arguments in instructions if keyword == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases)
    assert ("RUN", "pip install --no-cache-dir .") in instructions
    assert ("ENTRYPOINT", "[]") in instructions


def test_dockerfile_copies_what_the_build_needs() -> None:
    copied: list[str] = []
    for keyword, arguments in dockerfile_instructions():
        words = arguments.split()
        if keyword == "COPY" and not any(word.startswith("--from") for word in words):
            copied += [word.rstrip("/") for word in words[:-1] if not word.startswith("--")]
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = [project["project"]["readme"], "pyproject.toml"]
    needed += project["tool"]["setuptools"]["packages"]["find"]["where"]
    for path in needed:
        assert any(path == source or path.startswith(f"{source}/") for source in copied), (
            f"the build needs {path} but the Dockerfile does not copy it"
        )


def test_image_runs_as_a_numeric_non_root_user() -> None:
    users = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    # Kubernetes can enforce runAsNonRoot only for a numeric user.
    assert user.isdigit() and int(user) != 0


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {
        line.strip().removeprefix("**/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (
        ".venv",
        ".git",
        ".proctor",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
    ):
        assert entry in patterns


# --- the bus as a trust boundary ------------------------------------------------------------

NATS_USERS = {
    "audit": "audit",
    "classifier": "classifier",
    "masker": "masker",
    "approval": "approval",
    "ingress-proxy": "ingress",
}


def _k8s_nats_conf() -> str:
    config = next(r for r in k8s_resources() if r["metadata"]["name"] == "nats-config")
    return str(config["data"]["nats.conf"])


def test_deployed_nats_users_are_the_embedded_ones() -> None:
    from proctor.busaccess import deployed_authorization

    block = deployed_authorization()
    regenerate = "regenerate with proctor.busaccess.deployed_authorization()"
    compose_conf = (COMPOSE_FILE.parent / "nats" / "nats.conf").read_text()
    assert compose_conf.endswith(block), f"deploy/compose/nats/nats.conf differs: {regenerate}"
    assert block.strip() in _k8s_nats_conf(), f"nats.yaml's authorization differs: {regenerate}"


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_nats_server_accepts_the_deployed_configuration(where: str, tmp_path: Path) -> None:
    from proctor.busaccess import USERS, password_variable
    from proctor.embedded import nats_server_binary

    if where == "compose":
        text = (COMPOSE_FILE.parent / "nats" / "nats.conf").read_text()
    else:  # without the cluster, which needs its peers
        text = _k8s_nats_conf().replace("$POD_NAME", "n0")
        text = re.sub(r"cluster \{.*?\n\}\n", "", text, flags=re.S)
        text = text.replace("/var/run/nats/", f"{tmp_path}/").replace("/data", str(tmp_path))
    conf = tmp_path / "nats.conf"
    conf.write_text(text)
    env = {password_variable(user): f"{user}-password-not-a-secret" for user in USERS}
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], env=env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr + checked.stdout


@pytest.mark.parametrize("service", sorted(NATS_USERS))
def test_each_service_connects_as_its_own_nats_user(service: str) -> None:
    user = NATS_USERS[service]
    compose = load_compose()["services"][service]
    assert compose_environment(compose)["PROCTOR_NATS_USER"] == user
    assert {"source": f"nats_{user}", "target": "nats_password"} in compose["secrets"]
    deployment = next(
        r for r in k8s_resources() if r["kind"] == "Deployment" and r["metadata"]["name"] == service
    )
    env = {e["name"]: e for e in pod_spec(deployment)["containers"][0]["env"]}
    assert env["PROCTOR_NATS_USER"]["value"] == user
    ref = env["PROCTOR_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "proctor-nats", "key": f"PROCTOR_NATS_PASSWORD_{user.upper()}"}
