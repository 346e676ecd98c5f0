"""The deployment files (deploy/compose.yaml, the Helm chart deploy/helm/berth, the
Containerfile) checked without a container runtime or a cluster: none runs here.

- compose.yaml is parsed, and each Berth service's command, settings and health check
  is checked against what Berth knows (.env.example, the settings it reads).
- The chart is rendered by Go's text/template, Helm's own engine, through
  tests/deploy/helm_render.go (no helm binary is packaged by Debian or PyPI), and the
  manifests it renders are checked: probes, commands, settings, the migrate hook.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_env_example import listed, variables_read

# Nothing here depends on the database: the SQLite pass runs it.
pytestmark = pytest.mark.database_independent

REPOSITORY = Path(__file__).resolve().parents[2]
COMPOSE = REPOSITORY / "deploy" / "compose.yaml"
CHART = REPOSITORY / "deploy" / "helm" / "berth"
RENDERER = Path(__file__).resolve().parent / "helm_render.go"
BERTH_COMMANDS = {"serve", "worker", "beat", "migrate"}
IMAGE_USER = "10001"


@functools.cache
def settings_berth_knows() -> frozenset[str]:
    """The settings .env.example lists and Berth's code reads."""
    return frozenset(listed() & set(variables_read()))


def _berth_services(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if "${BERTH_IMAGE" in str(s.get("image", ""))}


def _command_exists(word: str) -> bool:
    path = REPOSITORY / "registry_project" / "management" / "commands" / f"{word}.py"
    return path.exists()


# --------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_the_stack(compose):
    services = compose["services"]
    assert {"postgres", "redis", "minio", "create-bucket", "migrate", "web", "worker", "beat"} <= set(services)
    berth = _berth_services(compose)
    assert set(berth) == {"migrate", "web", "worker", "beat"}
    commands = {name: s["command"] for name, s in berth.items()}
    assert commands == {
        "migrate": ["migrate", "--no-input"],
        "web": ["serve", "--no-worker"],
        "worker": ["worker"],
        "beat": ["beat"],
    }
    for command in commands.values():
        assert command[0] in BERTH_COMMANDS and _command_exists(command[0])
    # the image is built once, from the repository's Containerfile
    assert [name for name, s in berth.items() if "build" in s] == ["migrate"]
    build = berth["migrate"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == REPOSITORY / "Containerfile"


def test_compose_settings_are_berths(compose):
    for name, service in _berth_services(compose).items():
        env = service["environment"]
        unknown = sorted(key for key in env if key not in settings_berth_knows())
        assert not unknown, f"{name}: settings .env.example does not list or Berth does not read: {unknown}"
        assert env["BLOB_STORAGE"] == "s3"
        assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        # secrets come from the operator's environment, never a value in the file
        for secret in ("SECRET_KEY", "BERTH_SEALING_KEYS", "AWS_SECRET_ACCESS_KEY"):
            assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", env[secret]), (name, secret, env[secret])
    # the bucket the one-shot makes is the one Berth writes to
    bucket = compose["services"]["web"]["environment"]["AWS_STORAGE_BUCKET_NAME"]
    assert compose["services"]["create-bucket"]["entrypoint"][-1] == f"store/{bucket}"


def test_compose_health_and_order(compose):
    services = compose["services"]
    web = services["web"]
    assert web["healthcheck"]["test"] == ["CMD", "python3", "-m", "registry_project.healthcheck", "/readyz"]
    assert web["ports"] == ["${BERTH_PORT:-5000}:5000"]
    assert web["volumes"] == ["web-data:/var/lib/berth"]
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("postgres", "redis", "minio"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "create-bucket": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
        }, name
    for one_shot in ("migrate", "create-bucket"):
        assert services[one_shot]["restart"] == "no"
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert named == set(compose["volumes"])


# --------------------------------------------------------------------------- Containerfile


def test_containerfile_runs_berth_as_its_user():
    text = (REPOSITORY / "Containerfile").read_text()
    assert re.search(r"^ARG BASE=docker\.io/library/python:3\.11-slim-bookworm$", text, re.M)
    assert re.search(r"^USER berth:berth$", text, re.M)
    assert f"--uid {IMAGE_USER}" in text
    assert re.search(r'^ENTRYPOINT \["berth"\]$', text, re.M)
    assert re.search(r'^CMD \["serve", "--no-worker"\]$', text, re.M)
    assert re.search(r"^EXPOSE 5000$", text, re.M)
    assert re.search(r'^VOLUME \["/var/lib/berth"\]$', text, re.M)
    assert '"registry_project.healthcheck", "/healthz"' in text and "collectstatic" in text
    # what the image leaves out of requirements.txt starts at this line
    assert "# Lint and format" in text
    assert "# Lint and format (scripts/test runs both first)" in (REPOSITORY / "requirements.txt").read_text()
    # every ENV the image sets for Berth is a setting it knows
    env_block = re.search(r"^ENV PATH=.*?(?=^\S)", text, re.M | re.S).group()
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", env_block))
    berth_names = {n for n in names if n.startswith("BERTH_")}
    assert berth_names and berth_names <= settings_berth_knows()


# --------------------------------------------------------------------------- Helm chart


@pytest.fixture(scope="session")
def helm_render(tmp_path_factory) -> Path:
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI"):
            pytest.fail("go is not installed (CI is set): scripts/test installs golang-go")
        pytest.skip("go is not installed")
    out = tmp_path_factory.mktemp("helm-render") / "helm_render"
    res = subprocess.run(
        [go, "build", "-o", str(out), RENDERER.name],
        cwd=RENDERER.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GO111MODULE": "off", "GOFLAGS": ""},
    )
    assert res.returncode == 0, res.stderr
    return out


def chart_context(**overrides) -> dict:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    values["secrets"].update(
        SECRET_KEY="k" * 50,
        BERTH_SEALING_KEYS="c2VhbGluZy1rZXktc2VhbGluZy1rZXktc2VhbGluZy0=",
        BERTH_TOKEN_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----\n",
        DATABASE_URL="postgresql://berth:pw@db:5432/berth",
        REDIS_URL="redis://redis:6379/0",
    )
    for path, value in overrides.items():
        node = values
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return {
        "Values": values,
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
        "Release": {"Name": "reg", "Namespace": "registry", "Service": "Helm"},
        "Capabilities": {},
    }


def render(helm_render: Path, context: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(helm_render), str(CHART)], input=json.dumps(context), capture_output=True, text=True, timeout=60
    )


def manifests(helm_render: Path, **overrides) -> dict[tuple[str, str], dict]:
    res = render(helm_render, chart_context(**overrides))
    assert res.returncode == 0, res.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    found = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(found) == len(docs), "two manifests of one kind share a name"
    return found


def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "berth" and chart["type"] == "application"
    import tomllib

    version = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version


def test_chart_renders_web_worker_beat_and_migrate(helm_render):
    found = manifests(helm_render)
    assert set(found) == {
        ("ConfigMap", "reg-berth-settings"),
        ("Secret", "reg-berth-secrets"),
        ("Deployment", "reg-berth-web"),
        ("Service", "reg-berth"),
        ("Deployment", "reg-berth-worker"),
        ("Deployment", "reg-berth-beat"),
        ("Job", "reg-berth-migrate"),
    }
    image = "registry.example.com/berth/berth:0.1.0"

    web = found[("Deployment", "reg-berth-web")]
    c = _container(web)
    assert c["image"] == image
    assert c["args"][:2] == ["serve", "--no-worker"]
    assert c["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["port"] == "http"
        # Berth answers its allowed hosts only
        assert c[probe]["httpGet"]["httpHeaders"] == [{"name": "Host", "value": "registry.example.com"}]
    pod = web["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(IMAGE_USER) and pod["securityContext"]["runAsNonRoot"]
    service = found[("Service", "reg-berth")]
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"

    worker, beat = found[("Deployment", "reg-berth-worker")], found[("Deployment", "reg-berth-beat")]
    assert _container(worker)["args"] == ["worker"]
    assert "inspect ping" in " ".join(_container(worker)["livenessProbe"]["exec"]["command"])
    assert _container(beat)["args"] == ["beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"

    job = found[("Job", "reg-berth-migrate")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    (jc,) = job["spec"]["template"]["spec"]["containers"]
    assert jc["args"] == ["migrate", "--no-input"] and jc["image"] == image
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"

    # every Berth container reads the same settings; each is one Berth knows
    config, secret = found[("ConfigMap", "reg-berth-settings")], found[("Secret", "reg-berth-secrets")]
    for workload in (web, worker, beat):
        assert _container(workload)["envFrom"] == [
            {"configMapRef": {"name": "reg-berth-settings"}},
            {"secretRef": {"name": "reg-berth-secrets"}},
        ]
    keys = set(config["data"]) | set(secret["stringData"])
    assert keys <= settings_berth_knows(), keys - settings_berth_knows()
    assert all(isinstance(v, str) for v in config["data"].values())
    assert config["data"]["BERTH_PUBLIC_URL"] == "https://registry.example.com"
    assert secret["stringData"]["BERTH_TOKEN_PRIVATE_KEY"].startswith("-----BEGIN PRIVATE KEY-----\n")


def test_chart_options(helm_render):
    found = manifests(
        helm_render,
        **{
            "ingress.enabled": True,
            "ingress.className": "nginx",
            "ingress.tlsSecretName": "registry-tls",
            "secrets.existingSecret": "berth-prod",
            "image.tag": "1.2.3",
            "web.replicas": 4,
        },
    )
    assert ("Secret", "reg-berth-secrets") not in found
    ingress = found[("Ingress", "reg-berth")]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["registry.example.com"], "secretName": "registry-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "reg-berth", "port": {"name": "http"}}
    web = found[("Deployment", "reg-berth-web")]
    assert web["spec"]["replicas"] == 4
    assert _container(web)["image"].endswith(":1.2.3")
    assert _container(web)["envFrom"][1] == {"secretRef": {"name": "berth-prod"}}


def test_chart_refuses_missing_secrets(helm_render):
    context = chart_context()
    context["Values"]["secrets"]["BERTH_SEALING_KEYS"] = ""
    res = render(helm_render, context)
    assert res.returncode != 0
    assert "secrets.BERTH_SEALING_KEYS is required" in res.stderr


# --------------------------------------------------------------------------- the image's health check


@pytest.mark.parametrize(
    ("env", "host"),
    [
        ({}, "localhost"),
        ({"BERTH_PUBLIC_URL": "https://registry.example.com/"}, "registry.example.com"),
        ({"ALLOWED_HOSTS": ".example.com,other", "BERTH_PUBLIC_URL": "https://x.test"}, "example.com"),
        ({"ALLOWED_HOSTS": "*"}, "localhost"),
    ],
)
def test_healthcheck_asks_for_an_allowed_host(env, host, monkeypatch):
    """registry_project.healthcheck, the image's HEALTHCHECK: GET <path> on BERTH_BIND's
    port with a Host header ALLOWED_HOSTS accepts; 0 on a 2xx, 1 otherwise."""
    import http.server
    import threading

    from registry_project import healthcheck

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers["Host"]))
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for name in ("ALLOWED_HOSTS", "BERTH_PUBLIC_URL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("BERTH_BIND", f"0.0.0.0:{server.server_address[1]}")
        assert healthcheck.main([]) == 0
        assert healthcheck.main(["/readyz"]) == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert seen == [("/healthz", host), ("/readyz", host)]
    monkeypatch.setenv("BERTH_BIND", f"127.0.0.1:{_free_port()}")
    assert healthcheck.main([]) == 1  # nothing listens


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
