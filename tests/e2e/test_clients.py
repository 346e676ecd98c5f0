"""Real registry clients (skopeo, oras-py, podman, docker CLI) against a live Berth server.

Images are built offline by :mod:`tests.e2e.images` with random layers, pushed, pulled
back and compared digest by digest (manifest bytes and every blob).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from apps.kernel.keyring import KeyRing, decode_master_key

from . import images as I
from .conftest import in_ci, need, run_isolated

pytestmark = pytest.mark.e2e


# --------------------------------------------------------------------------- helpers


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def skopeo(tmp: Path, *args: str, check: bool = True, text: bool = True):
    need("skopeo")
    return run_isolated(["skopeo", *args], tmp / "skopeo", check=check, text=text)


def copy(
    tmp: Path,
    src: str,
    dst: str,
    *extra: str,
    src_creds: str | None = None,
    dest_creds: str | None = None,
    check: bool = True,
):
    args = ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", *extra]
    args += ["--src-creds", src_creds] if src_creds else ["--src-no-creds"]
    args += ["--dest-creds", dest_creds] if dest_creds else ["--dest-no-creds"]
    return skopeo(tmp, *args, src, dst, check=check)


def inspect(tmp: Path, ref: str, *extra: str, creds: str | None = None, check: bool = True, text: bool = True):
    args = ["inspect", "--tls-verify=false", *extra]
    args += ["--creds", creds] if creds else ["--no-creds"]
    return skopeo(tmp, *args, f"docker://{ref}", check=check, text=text)


def raw_manifest(tmp: Path, ref: str, creds: str | None) -> bytes:
    """The manifest bytes exactly as the registry serves them (skopeo inspect --raw)."""
    return inspect(tmp, ref, "--raw", creds=creds, text=False).stdout


def remote_digest(tmp: Path, ref: str, creds: str | None) -> str:
    return inspect(tmp, ref, "--format", "{{.Digest}}", creds=creds).stdout.strip()


def assert_oci_layout_blobs(layout: Path, manifest: dict) -> None:
    """Every blob a manifest references is in the layout, with the right digest and size."""
    for desc in [manifest["config"], *manifest["layers"]]:
        data = I.layout_blob(layout, desc["digest"]).read_bytes()
        assert sha(data) == desc["digest"] and len(data) == desc["size"], desc


def assert_failed_auth(res, what: str) -> None:
    assert res.returncode != 0, f"{what}: expected failure, got success:\n{res.stdout[:2000]}"
    err = (res.stderr + res.stdout).lower()
    # must be refused by auth, not some unrelated crash (e.g. connection refused / 500)
    assert "internal server error" not in err, f"{what}: server error:\n{res.stderr[-2000:]}"
    assert re.search(
        r"unauthori[sz]ed|denied|401|403|authentication required|"
        r"requested access to the resource|not found|404|name_unknown|"
        r"manifest unknown",
        err,
    ), f"{what}: unexpected error:\n{res.stderr[-2000:]}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e-images")
    return {
        "oci": I.build_oci_image(root / "oci", tag="v1"),
        "docker": I.build_docker_dir_image(root / "docker"),
        "multi": I.build_multiarch_index(root / "multi", tag="v1"),
        "public": I.build_oci_image(root / "public", tag="v1"),
        "helm": I.build_helm_chart(root / "helm"),
    }


@pytest.fixture(scope="module")
def owner(berth):
    return berth.create_account("E2E Owner Co")


@pytest.fixture(scope="module")
def other(berth):
    return berth.create_account("E2E Other Co")


@pytest.fixture(scope="module")
def pushed_oci(berth, owner, built, tmp_path_factory):
    """The OCI image pushed to the owner's private repository."""
    tmp = tmp_path_factory.mktemp("push-oci")
    img = built["oci"]
    ref = f"{berth.host}/{owner.account_id}/e2e-oci:v1"
    copy(tmp, f"oci:{img.path}:v1", f"docker://{ref}", dest_creds=owner.creds)
    return ref, img


@pytest.fixture(scope="module")
def public_image(berth, owner, built, tmp_path_factory):
    """A public repository: created by the CLI, pushed by the owner via the account-id
    path, to be pulled anonymously via the alias path."""
    need("skopeo")
    tmp = tmp_path_factory.mktemp("push-public")
    assert owner.alias, f"create_account returned no alias: {owner.raw}"
    berth.create_repository(owner.account_id, "e2e-public", public=True)
    img = built["public"]
    copy(tmp, f"oci:{img.path}:v1", f"docker://{berth.host}/{owner.account_id}/e2e-public:v1", dest_creds=owner.creds)
    return f"{berth.host}/{owner.alias}/e2e-public:v1", img


# --------------------------------------------------------------------------- skopeo


def test_skopeo_oci_roundtrip(berth, owner, pushed_oci, tmp_path):
    ref, img = pushed_oci
    raw = raw_manifest(tmp_path, ref, owner.creds)
    assert sha(raw) == img.manifest_digest
    assert raw == img.manifest  # skopeo pushed the layout's manifest bytes unchanged
    assert remote_digest(tmp_path, ref, owner.creds) == img.manifest_digest
    m = json.loads(raw)
    assert m["mediaType"] == I.OCI_MANIFEST
    assert [d["digest"] for d in m["layers"]] == img.layer_digests
    assert m["config"]["digest"] == img.config_digest

    tags = json.loads(
        skopeo(
            tmp_path, "list-tags", "--tls-verify=false", "--creds", owner.creds, f"docker://{ref.rsplit(':', 1)[0]}"
        ).stdout
    )
    assert "v1" in tags["Tags"]

    out = tmp_path / "pulled-oci"
    copy(tmp_path, f"docker://{ref}", f"oci:{out}:v1", src_creds=owner.creds)
    desc, pulled = I.read_oci_layout(out, "v1")
    assert desc["digest"] == img.manifest_digest and sha(pulled) == img.manifest_digest
    assert_oci_layout_blobs(out, json.loads(pulled))
    for d in img.blob_digests:
        assert I.layout_blob(out, d).read_bytes() == I.layout_blob(img.path, d).read_bytes()

    # and into a dir: layout (keeps the manifest as is)
    out_dir = tmp_path / "pulled-dir"
    copy(tmp_path, f"docker://{ref}", f"dir:{out_dir}", src_creds=owner.creds)
    assert sha((out_dir / "manifest.json").read_bytes()) == img.manifest_digest
    for d in img.blob_digests:
        assert I.file_digest(I.dir_blob(out_dir, d)) == d


def test_skopeo_docker_v2s2_roundtrip(berth, owner, built, tmp_path):
    img = built["docker"]
    ref = f"{berth.host}/{owner.account_id}/e2e-docker:v1"
    copy(tmp_path, f"dir:{img.path}", f"docker://{ref}", "--format", "v2s2", dest_creds=owner.creds)

    raw = raw_manifest(tmp_path, ref, owner.creds)
    assert sha(raw) == img.manifest_digest
    assert json.loads(raw)["mediaType"] == I.DOCKER_MANIFEST
    assert remote_digest(tmp_path, ref, owner.creds) == img.manifest_digest

    out = tmp_path / "pulled"
    copy(tmp_path, f"docker://{ref}", f"dir:{out}", src_creds=owner.creds)
    pulled = (out / "manifest.json").read_bytes()
    assert sha(pulled) == img.manifest_digest
    m = json.loads(pulled)
    assert m["mediaType"] == I.DOCKER_MANIFEST
    assert m["config"]["mediaType"] == I.DOCKER_CONFIG
    assert all(layer["mediaType"] == I.DOCKER_LAYER_GZIP for layer in m["layers"])
    for d in img.blob_digests:
        assert I.file_digest(I.dir_blob(out, d)) == d


# The envelope format is the filesystem store's, whatever the database: the SQLite pass runs it.
@pytest.mark.database_independent()
def test_skopeo_roundtrip_through_an_encrypted_repository(berth, owner, built, tmp_path):
    """KMS with a key of the server's key ring (AES256 is the same envelope under the
    master key, tested in-process): pushed and pulled digest by digest, and the
    stored copies hold none of the layers' bytes in the clear."""
    img = built["docker"]
    # What `berth keys create e2e-team` does, without starting a process for it: the
    # server's ring, wrapped by the master key it created in its data directory.
    master = decode_master_key((berth.data_dir / "encryption_master_key").read_text())
    KeyRing(berth.data_dir / "key-ring.json", [master]).create("e2e-team")
    name = "e2e-kms"
    berth.cli(
        "create_repository",
        "--account",
        owner.account_id,
        "--name",
        name,
        "--encryption",
        "KMS",
        "--kms-key",
        "e2e-team",
    )
    ref = f"{berth.host}/{owner.account_id}/{name}:v1"
    copy(tmp_path, f"dir:{img.path}", f"docker://{ref}", "--format", "v2s2", dest_creds=owner.creds)
    assert remote_digest(tmp_path, ref, owner.creds) == img.manifest_digest
    out = tmp_path / "pulled"
    copy(tmp_path, f"docker://{ref}", f"dir:{out}", src_creds=owner.creds)
    assert sha((out / "manifest.json").read_bytes()) == img.manifest_digest
    for d in img.blob_digests:
        assert I.file_digest(I.dir_blob(out, d)) == d
        encoded = d.split(":")[1]
        stored = (berth.data_dir / "blobs/encrypted/kms/e2e-team/sha256" / encoded[:2] / encoded).read_bytes()
        assert stored.startswith(b"BERTHENC")
        assert I.dir_blob(img.path, d).read_bytes()[:256] not in stored


def test_skopeo_multiarch_index_all(berth, owner, built, tmp_path):
    ma = built["multi"]
    ref = f"{berth.host}/{owner.account_id}/e2e-multi:v1"
    copy(tmp_path, f"oci:{ma.path}:v1", f"docker://{ref}", "--all", dest_creds=owner.creds)

    raw = raw_manifest(tmp_path, ref, owner.creds)
    assert sha(raw) == ma.index_digest
    index = json.loads(raw)
    assert index["mediaType"] == I.OCI_INDEX
    plats = {(d["platform"]["architecture"], d["platform"].get("variant")) for d in index["manifests"]}
    assert plats == {("amd64", None), ("arm64", "v8")}
    assert remote_digest(tmp_path, ref, owner.creds) == ma.index_digest

    # each child manifest by digest
    repo = ref.rsplit(":", 1)[0]
    for child in ma.images:
        assert sha(raw_manifest(tmp_path, f"{repo}@{child.manifest_digest}", owner.creds)) == child.manifest_digest

    out = tmp_path / "pulled"
    copy(tmp_path, f"docker://{ref}", f"oci:{out}:v1", "--all", src_creds=owner.creds)
    desc, pulled = I.read_oci_layout(out, "v1")
    assert desc["digest"] == ma.index_digest and sha(pulled) == ma.index_digest
    for child in ma.images:
        data = I.layout_blob(out, child.manifest_digest).read_bytes()
        assert sha(data) == child.manifest_digest
        assert_oci_layout_blobs(out, json.loads(data))


# --------------------------------------------------------------------------- oras


def test_oras_helm_chart(berth, owner, built, tmp_path, monkeypatch):
    try:
        import oras.client
    except ImportError:
        if in_ci():
            pytest.fail("python package 'oras' is not installed (CI is set)")
        pytest.skip("python package 'oras' is not installed")
    chart = built["helm"]
    docker_cfg = tmp_path / "docker"
    docker_cfg.mkdir()
    (docker_cfg / "config.json").write_text('{"auths": {}}')
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_cfg))
    monkeypatch.chdir(chart.chart.parent)  # oras-py wants pushed files under the cwd

    target = f"{berth.host}/{owner.account_id}/e2e-chart:0.1.0"
    c = oras.client.OrasClient(hostname=berth.host, insecure=True, tls_verify=False)
    c.login(
        username=owner.username,
        password=owner.password,
        hostname=berth.host,
        tls_verify=False,
        config_path=str(docker_cfg / "config.json"),
    )
    # oras-py 0.2.43 keeps the first token it gets (from the pull-scoped challenge of its
    # HEAD blob check) and refreshes only on 403, not on the 401 insufficient_scope a
    # token registry (distribution, Berth) answers a push with.  Like the oras Go CLI and
    # Helm, ask for pull,push up front -- through oras-py's own token code.
    _oras_prime_push_token(c, berth, f"{owner.account_id}/e2e-chart")
    resp = c.push(
        target=target,
        files=[f"{chart.chart.name}:{I.HELM_CHART}"],
        manifest_config=f"{chart.config.name}:{I.HELM_CONFIG}",
        quiet=True,
    )
    assert resp.status_code == 201, (resp.status_code, resp.text)

    m = c.get_manifest(target)
    assert m["config"]["mediaType"] == I.HELM_CONFIG
    assert m["config"]["digest"] == chart.config_digest
    assert len(m["layers"]) == 1
    assert m["layers"][0]["mediaType"] == I.HELM_CHART
    assert m["layers"][0]["digest"] == chart.chart_digest

    files = c.pull(target=target, outdir=str(tmp_path / "pulled"))
    assert len(files) == 1
    assert I.file_digest(files[0]) == chart.chart_digest

    # the same manifest as another client sees it
    if shutil.which("skopeo"):
        raw = raw_manifest(tmp_path, target, owner.creds)
        assert json.loads(raw)["layers"][0]["digest"] == chart.chart_digest


def _oras_prime_push_token(client, berth, repo: str) -> None:
    import oras.auth.utils as auth_utils

    ch = requests.get(berth.url + "/v2/", timeout=10)
    www = ch.headers.get("WWW-Authenticate", "")
    if not www.lower().startswith("bearer"):
        return  # not token auth: nothing to prime
    h = auth_utils.parse_auth_header(www)
    h.scope = f"repository:{repo}:pull,push"
    token = client.auth.request_token(h)
    assert token, f"token service refused pull,push on {repo} to the owner"
    client.auth.set_token_auth(token)


# --------------------------------------------------------------------------- public repos


def test_podman_pull_public_anonymous_then_push(berth, owner, public_image, tmp_path):
    need("podman")
    ref, img = public_image
    runroot = tempfile.mkdtemp(prefix="be2e-")  # podman wants a runroot under 50 chars
    base = [
        "podman",
        "--storage-driver",
        "vfs",
        "--root",
        str(tmp_path / "root"),
        "--runroot",
        runroot,
        "--events-backend",
        "file",
        "--cgroup-manager",
        "cgroupfs",
    ]
    iso = tmp_path / "iso"
    mine = f"{berth.host}/{owner.account_id}/e2e-podman:v1"
    try:
        # anonymous: no --creds, empty auth file (run_isolated)
        run_isolated([*base, "pull", "-q", "--tls-verify=false", ref], iso)
        res = run_isolated([*base, "image", "inspect", "--format", "{{.Digest}} {{.Id}}", ref], iso)
        digest, image_id = res.stdout.split()
        assert digest == img.manifest_digest
        assert "sha256:" + image_id.removeprefix("sha256:") == img.config_digest

        # podman push re-compresses the layers on the fly (uploads of unknown length)
        run_isolated([*base, "tag", ref, mine], iso)
        res = run_isolated([*base, "push", "--tls-verify=false", mine], iso, check=False)
        assert_failed_auth(res, "anonymous podman push")
        run_isolated([*base, "push", "-q", "--tls-verify=false", "--creds", owner.creds, mine], iso)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
    pushed = json.loads(raw_manifest(tmp_path, mine, owner.creds))
    assert len(pushed["layers"]) == len(img.layer_digests)
    out = tmp_path / "pulled"
    copy(tmp_path, f"docker://{mine}", f"oci:{out}:v1", src_creds=owner.creds)
    _, pulled = I.read_oci_layout(out, "v1")
    assert_oci_layout_blobs(out, json.loads(pulled))
    # same filesystem content: the uncompressed layers are the config's diff_ids
    cfg = json.loads(I.layout_blob(out, json.loads(pulled)["config"]["digest"]).read_bytes())
    assert cfg["rootfs"]["diff_ids"] == img.diff_ids


def test_skopeo_public_anonymous_and_write_protected(berth, owner, other, public_image, tmp_path):
    ref, img = public_image
    assert sha(raw_manifest(tmp_path, ref, None)) == img.manifest_digest
    assert remote_digest(tmp_path, ref, None) == img.manifest_digest
    tags = json.loads(
        skopeo(tmp_path, "list-tags", "--tls-verify=false", "--no-creds", f"docker://{ref.rsplit(':', 1)[0]}").stdout
    )
    assert tags["Tags"] == ["v1"]
    out = tmp_path / "pulled"
    copy(tmp_path, f"docker://{ref}", f"oci:{out}:v1")
    desc, pulled = I.read_oci_layout(out, "v1")
    assert desc["digest"] == img.manifest_digest
    assert_oci_layout_blobs(out, json.loads(pulled))
    # public means public reads, not public writes (neither via the alias nor the id path)
    by_id = f"{berth.host}/{owner.account_id}/e2e-public"
    for repo in (ref.rsplit(":", 1)[0], by_id):
        for creds in (None, other.creds):
            res = copy(tmp_path, f"oci:{img.path}:v1", f"docker://{repo}:hijack", dest_creds=creds, check=False)
            assert_failed_auth(res, f"push to {repo} as {creds or 'anonymous'}")


def test_docker_manifest_inspect_public_anonymous(public_image, tmp_path):
    docker = need("docker")
    ref, img = public_image
    cfg = tmp_path / "docker-config"
    cfg.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(cfg)
    res = subprocess.run(
        [docker, "manifest", "inspect", "--insecure", "-v", ref], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["Descriptor"]["digest"] == img.manifest_digest
    assert out["Descriptor"]["mediaType"] == I.OCI_MANIFEST
    assert sha(base64.b64decode(out["Raw"])) == img.manifest_digest


# --------------------------------------------------------------------------- isolation


def test_tenant_isolation_private_repo(berth, owner, other, pushed_oci, tmp_path):
    ref, img = pushed_oci
    # another account's member cannot read it
    res = inspect(tmp_path, ref, "--raw", creds=other.creds, check=False)
    assert_failed_auth(res, "other account reads private repo")
    res = copy(tmp_path, f"docker://{ref}", f"oci:{tmp_path / 'x'}:v1", src_creds=other.creds, check=False)
    assert_failed_auth(res, "other account pulls private repo")
    # nor anonymous
    res = inspect(tmp_path, ref, "--raw", check=False)
    assert_failed_auth(res, "anonymous reads private repo")
    res = copy(tmp_path, f"docker://{ref}", f"oci:{tmp_path / 'y'}:v1", check=False)
    assert_failed_auth(res, "anonymous pulls private repo")
    # nor push into the owner's namespace
    res = copy(
        tmp_path,
        f"oci:{img.path}:v1",
        f"docker://{berth.host}/{owner.account_id}/e2e-intruder:v1",
        dest_creds=other.creds,
        check=False,
    )
    assert_failed_auth(res, "other account pushes into owner's namespace")
    res = copy(tmp_path, f"oci:{img.path}:v1", f"docker://{ref}", dest_creds=other.creds, check=False)
    assert_failed_auth(res, "other account overwrites owner's tag")
    # the owner still sees the original
    assert remote_digest(tmp_path, ref, owner.creds) == img.manifest_digest


def test_delete_only_by_owner(berth, owner, other, built, tmp_path):
    img = built["docker"]
    ref = f"{berth.host}/{owner.account_id}/e2e-delete:v1"
    copy(tmp_path, f"dir:{img.path}", f"docker://{ref}", dest_creds=owner.creds)
    for creds in (None, other.creds):
        res = skopeo(
            tmp_path,
            "delete",
            "--tls-verify=false",
            *(["--creds", creds] if creds else ["--no-creds"]),
            f"docker://{ref}",
            check=False,
        )
        assert_failed_auth(res, f"delete as {creds or 'anonymous'}")
    assert remote_digest(tmp_path, ref, owner.creds) == img.manifest_digest
    skopeo(tmp_path, "delete", "--tls-verify=false", "--creds", owner.creds, f"docker://{ref}")
    res = inspect(tmp_path, ref, "--raw", creds=owner.creds, check=False)
    assert res.returncode != 0 and "manifest unknown" in res.stderr.lower(), res.stderr


def test_wrong_password_fails(berth, owner, pushed_oci, tmp_path):
    ref, img = pushed_oci
    bad = f"{owner.username}:{owner.password}-wrong"
    res = inspect(tmp_path, ref, "--raw", creds=bad, check=False)
    assert_failed_auth(res, "wrong password")
    res = copy(
        tmp_path,
        f"oci:{img.path}:v1",
        f"docker://{berth.host}/{owner.account_id}/e2e-badpw:v1",
        dest_creds=bad,
        check=False,
    )
    assert_failed_auth(res, "push with wrong password")
    res = inspect(tmp_path, ref, "--raw", creds=f"nobody-{owner.username}:x", check=False)
    assert_failed_auth(res, "unknown user")


def _auth_header(berth, scopes: list[str], auth: tuple[str, str]) -> dict | None:
    """Authorization header for ``scope``: a Bearer token from the realm the registry
    names in its challenge (Docker token auth), or Basic if that is what it asks for."""
    ch = requests.get(berth.url + "/v2/", timeout=10)
    assert ch.status_code == 401, (ch.status_code, ch.headers)
    www = ch.headers["WWW-Authenticate"]
    if www.lower().startswith("basic"):
        return {"Authorization": requests.auth._basic_auth_str(*auth)}
    params = dict(re.findall(r'(\w+)="([^"]*)"', www))
    q = [("service", params.get("service", ""))] + [("scope", sc) for sc in scopes]
    r = requests.get(params["realm"], params=q, auth=auth, timeout=10)
    if r.status_code != 200:
        return None
    body = r.json()
    token = body.get("token") or body.get("access_token")
    return {"Authorization": f"Bearer {token}"} if token else None


def test_cross_tenant_blob_mount_refused(berth, owner, other, pushed_oci):
    """A blob that only exists in the owner's private repository must not be mountable
    (POST ?mount=&from=) into another account's repository."""
    ref, img = pushed_oci
    src_repo = f"{owner.account_id}/e2e-oci"
    dst_repo = f"{other.account_id}/e2e-mount"
    h = _auth_header(
        berth, [f"repository:{dst_repo}:pull,push", f"repository:{src_repo}:pull"], (other.username, other.password)
    )
    assert h, "other account could not get a token for its own repository"
    layer = img.layer_digests[0]
    r = requests.post(
        f"{berth.url}/v2/{dst_repo}/blobs/uploads/",
        params={"mount": layer, "from": src_repo},
        headers=h,
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code != 201, f"cross-tenant mount succeeded: {r.status_code} {r.headers}"
    assert r.status_code in (202, 401, 403, 404), (r.status_code, r.text[:500])
    r = requests.head(f"{berth.url}/v2/{dst_repo}/blobs/{layer}", headers=h, timeout=10)
    assert r.status_code in (401, 403, 404), (r.status_code, r.headers)
    # nor read it straight from the owner's repository with its own token
    r = requests.get(f"{berth.url}/v2/{src_repo}/blobs/{layer}", headers=h, timeout=10)
    assert r.status_code in (401, 403, 404), (r.status_code, r.headers)


def test_catalog_lists_only_own_repositories(berth, owner, other, pushed_oci):
    names = {}
    for who in (owner, other):
        h = _auth_header(berth, ["registry:catalog:*"], (who.username, who.password))
        assert h, f"no catalog token for {who.username}"
        r = requests.get(f"{berth.url}/v2/_catalog", params={"n": 1000}, headers=h, timeout=10)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        names[who.account_id] = r.json()["repositories"]
    assert f"{owner.account_id}/e2e-oci" in names[owner.account_id]
    assert not [n for n in names[other.account_id] if n.startswith(owner.account_id + "/")], names
    assert not [n for n in names[owner.account_id] if n.startswith(other.account_id + "/")], names
