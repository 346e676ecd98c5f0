"""Berth's own Helm chart (deploy/helm/berth) pushed to a live Berth as an OCI Helm
artifact, as `helm package` + `helm push` make one, and pulled back unchanged."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.e2e import images as I
from tests.e2e.conftest import REPO_ROOT, in_ci
from tests.e2e.test_clients import _oras_prime_push_token

# Nothing here depends on the database: the SQLite pass runs it.
pytestmark = pytest.mark.database_independent

CHART_DIR = REPO_ROOT / "deploy" / "helm" / "berth"


def package_chart(chart_dir: Path, out: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """(<name>-<version>.tgz, config.json, the packaged files): the chart's files under
    ``<name>/`` in a gzipped tar, and the config Helm pushes with it (Chart.yaml as JSON)."""
    metadata = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    name, version = metadata["name"], metadata["version"]
    files = {
        f"{name}/{path.relative_to(chart_dir).as_posix()}": path.read_bytes()
        for path in sorted(chart_dir.rglob("*"))
        if path.is_file()
    }
    _, tgz = I.make_layer(files)
    out.mkdir(parents=True, exist_ok=True)
    chart = out / f"{name}-{version}.tgz"
    chart.write_bytes(tgz)
    config = out / "config.json"
    config.write_text(json.dumps(metadata, separators=(",", ":")))
    return chart, config, files


def test_the_chart_is_pushed_to_berth_as_a_helm_artifact(berth, tmp_path, monkeypatch):
    try:
        import oras.client
    except ImportError:
        if in_ci():
            pytest.fail("python package 'oras' is not installed (CI is set)")
        pytest.skip("python package 'oras' is not installed")
    owner = berth.create_account("Chart Owner Co")
    chart, config, files = package_chart(CHART_DIR, tmp_path / "package")
    assert {"berth/Chart.yaml", "berth/values.yaml", "berth/templates/web.yaml"} <= set(files)

    docker_cfg = tmp_path / "docker"
    docker_cfg.mkdir()
    (docker_cfg / "config.json").write_text('{"auths": {}}')
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_cfg))
    monkeypatch.chdir(chart.parent)  # oras-py wants pushed files under the cwd
    version = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["version"]
    repository = f"{owner.account_id}/charts/berth"
    target = f"{berth.host}/{repository}:{version}"
    client = oras.client.OrasClient(hostname=berth.host, insecure=True, tls_verify=False)
    client.login(
        username=owner.username,
        password=owner.password,
        hostname=berth.host,
        tls_verify=False,
        config_path=str(docker_cfg / "config.json"),
    )
    _oras_prime_push_token(client, berth, repository)
    resp = client.push(
        target=target,
        files=[f"{chart.name}:{I.HELM_CHART}"],
        manifest_config=f"{config.name}:{I.HELM_CONFIG}",
        quiet=True,
    )
    assert resp.status_code == 201, (resp.status_code, resp.text)

    manifest = client.get_manifest(target)
    assert manifest["config"] == {
        "mediaType": I.HELM_CONFIG,
        "digest": I.file_digest(config),
        "size": config.stat().st_size,
    }
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == I.HELM_CHART
    assert layer["digest"] == I.file_digest(chart)

    pulled = client.pull(target=target, outdir=str(tmp_path / "pulled"))
    (pulled_chart,) = pulled
    assert I.file_digest(pulled_chart) == I.file_digest(chart)
    with tarfile.open(pulled_chart, "r:gz") as tar:
        back = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert back == files
    # the config Berth serves is Chart.yaml's metadata
    blob = client.get_blob(container=target, digest=manifest["config"]["digest"])
    assert json.load(io.BytesIO(blob.content)) == yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
