"""Image formats end to end: Docker schema 1 (push and the registry's own schema 2 -> 1
conversion for Docker <= 1.9 clients), Docker v2s2 <-> OCI conversion by Accept, OCI
artifacts with ``subject`` and the referrers API (plus its ``sha256-<hex>`` tag fallback),
and the OCI error codes for bad manifests of every format.

Clients: skopeo (``--format v2s1|v2s2|oci``), oras-py (Helm chart, signature with subject),
raw HTTP with ``requests``.  Registry signatures are checked with PyJWT's ES256 code, not
with anything from Berth.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from pathlib import Path

import pytest
import requests

from . import format_images as F
from . import images as I
from .conftest import in_ci, need, run_isolated

pytestmark = pytest.mark.e2e

ANY_MANIFEST = (
    f"{I.OCI_MANIFEST}, {I.OCI_INDEX}, {I.DOCKER_MANIFEST}, {F.DOCKER_LIST}, {F.SCHEMA1_SIGNED}, {F.SCHEMA1_JSON}"
)
NO_ACCEPT = None  # send no Accept header at all (requests would send */* otherwise)
OCI_CODES = {
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- skopeo


def skopeo(tmp: Path, *args: str, check: bool = True, text: bool = True):
    need("skopeo")
    return run_isolated(["skopeo", *args], tmp / "skopeo", check=check, text=text)


def copy(tmp: Path, src: str, dst: str, *extra: str, creds: str | None = None, check: bool = True):
    args = ["copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", *extra]
    for side, ref in (("src", src), ("dest", dst)):
        if ref.startswith("docker://") and creds:
            args += [f"--{side}-creds", creds]
        elif ref.startswith("docker://"):
            args += [f"--{side}-no-creds"]
    return skopeo(tmp, *args, src, dst, check=check)


def raw_manifest(tmp: Path, ref: str, creds: str) -> bytes:
    return skopeo(tmp, "inspect", "--tls-verify=false", "--creds", creds, "--raw", f"docker://{ref}", text=False).stdout


# --------------------------------------------------------------------------- raw HTTP


class Repo:
    """One repository over raw HTTP with a pull,push Bearer token."""

    def __init__(self, berth, account, name: str):
        self.berth, self.name = berth, f"{account.account_id}/{name}"
        self.base = f"{berth.url}/v2/{self.name}"
        self.ref = f"{berth.host}/{self.name}"
        challenge = requests.get(f"{berth.url}/v2/", timeout=10).headers["WWW-Authenticate"]
        realm = re.search(r'realm="([^"]+)"', challenge).group(1)
        service = re.search(r'service="([^"]+)"', challenge).group(1)
        r = requests.get(
            realm,
            params={"service": service, "scope": f"repository:{self.name}:pull,push"},
            auth=(account.username, account.password),
            timeout=30,
        )
        r.raise_for_status()
        body = r.json()
        self.auth = {"Authorization": f"Bearer {body.get('token') or body['access_token']}"}

    def _h(self, accept, extra=None) -> dict:
        h = {**self.auth, "Accept": accept}  # None removes requests' default */*
        h.update(extra or {})
        return h

    def get(self, reference: str, accept=NO_ACCEPT) -> requests.Response:
        return requests.get(f"{self.base}/manifests/{reference}", headers=self._h(accept), timeout=30)

    def head(self, reference: str, accept=NO_ACCEPT) -> requests.Response:
        return requests.head(f"{self.base}/manifests/{reference}", headers=self._h(accept), timeout=30)

    def put(self, reference: str, body: bytes, content_type: str) -> requests.Response:
        return requests.put(
            f"{self.base}/manifests/{reference}",
            data=body,
            timeout=30,
            headers={**self.auth, "Content-Type": content_type},
        )

    def blob(self, digest: str) -> requests.Response:
        return requests.get(f"{self.base}/blobs/{digest}", headers=self.auth, timeout=30)

    def push_blob(self, data: bytes) -> str:
        digest = sha(data)
        r = requests.post(f"{self.base}/blobs/uploads/", headers=self.auth, timeout=30)
        assert r.status_code == 202, (r.status_code, r.text)
        loc = r.headers["Location"]
        loc = loc if loc.startswith("http") else self.berth.url + loc
        r = requests.put(
            loc,
            params={"digest": digest},
            data=data,
            timeout=30,
            headers={**self.auth, "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, (r.status_code, r.text)
        return digest

    def referrers(self, digest: str, artifact_type: str | None = None) -> requests.Response:
        params = {"artifactType": artifact_type} if artifact_type else None
        return requests.get(f"{self.base}/referrers/{digest}", params=params, timeout=30, headers=self._h(I.OCI_INDEX))


def error_of(r: requests.Response) -> dict:
    """The first error of an OCI error envelope."""
    try:
        errors = r.json()["errors"]
    except (ValueError, KeyError) as e:
        raise AssertionError(f"not an OCI error envelope ({r.status_code}): {r.text[:500]}") from e
    assert errors and errors[0]["code"] in OCI_CODES, errors
    return errors[0]


def assert_error(r: requests.Response, status: int, codes: set[str] | str) -> dict:
    codes = {codes} if isinstance(codes, str) else codes
    assert r.status_code == status, (r.status_code, r.headers.get("Content-Type"), r.text[:800])
    err = error_of(r)
    assert err["code"] in codes, (err, codes)
    return err


def verify_registry_jws(body: bytes) -> dict:
    """Check every schema 1 signature with PyJWT's ES256/RS256 code, return the first
    signature's unprotected header.  libtrust puts ``alg`` and ``jwk`` in the unprotected
    header, so PyJWS.decode_complete (which wants ``alg`` in the protected header) cannot be
    used as is; the algorithm object it would use is called directly."""
    import jwt

    doc = json.loads(body)
    assert doc.get("signatures"), "schema 1 manifest without signatures"
    for i in range(len(doc["signatures"])):
        compact, header = F.jws_compact(body, i)
        protected, payload, signature = compact.split(".")
        prot = json.loads(F.b64url_decode(protected))
        assert isinstance(prot.get("formatLength"), int) and "formatTail" in prot, prot
        assert header.get("alg") and header.get("jwk"), header
        key = jwt.PyJWK(header["jwk"], algorithm=header["alg"])
        ok = key.Algorithm.verify(f"{protected}.{payload}".encode(), key.key, F.b64url_decode(signature))
        assert ok, f"signature {i} does not verify (alg {header['alg']}, jwk {header['jwk']})"
        # and a tampered copy must not
        bad = F.tamper_signature(body) if i == 0 else None
        if bad is not None:
            c2, _ = F.jws_compact(bad, 0)
            p2, y2, s2 = c2.split(".")
            assert not key.Algorithm.verify(f"{p2}.{y2}".encode(), key.key, F.b64url_decode(s2))
    return doc["signatures"][0]["header"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def acct(berth):
    return berth.create_account("E2E Formats Co")


@pytest.fixture(scope="module")
def imgs(tmp_path_factory):
    root = tmp_path_factory.mktemp("format-images")
    return {
        "docker": I.build_docker_dir_image(root / "docker"),
        "oci": I.build_oci_image(root / "oci", tag="v1"),
        "empty": F.build_docker_dir_image_with_empty_layers(root / "empty"),
        "multi": I.build_multiarch_index(root / "multi", tag="v1"),
        "helm": I.build_helm_chart(root / "helm"),
    }


# --------------------------------------------------------------------------- 1. schema 1 push


def test_skopeo_pushes_schema1_and_pulls_it_back(berth, acct, imgs, tmp_path):
    img = imgs["docker"]
    repo = Repo(berth, acct, "fmt-schema1")
    ref = f"{repo.ref}:v1"
    digestfile = tmp_path / "digest"
    copy(
        tmp_path,
        f"dir:{img.path}",
        f"docker://{ref}",
        "--format",
        "v2s1",
        "--digestfile",
        str(digestfile),
        creds=acct.creds,
    )
    pushed_digest = digestfile.read_text().strip()

    raw = raw_manifest(tmp_path, ref, acct.creds)
    m = json.loads(raw)
    assert m["schemaVersion"] == 1, raw[:300]
    assert (m["name"], m["tag"]) == (repo.name, "v1")
    blob_sums = [layer["blobSum"] for layer in m["fsLayers"]]
    assert [d for d in blob_sums if d != F.EMPTY_LAYER_DIGEST] == img.layer_digests[::-1]
    assert len(m["history"]) == len(m["fsLayers"])
    verify_registry_jws(raw)  # skopeo's own signature, stored byte for byte
    assert sha(F.schema1_payload(raw)) == pushed_digest

    r = repo.get("v1", F.SCHEMA1_SIGNED)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Content-Type"] == F.SCHEMA1_SIGNED
    assert r.headers["Docker-Content-Digest"] == pushed_digest
    assert r.content == raw
    by_digest = repo.get(pushed_digest, ANY_MANIFEST)
    assert by_digest.status_code == 200 and by_digest.content == raw
    digest = skopeo(
        tmp_path, "inspect", "--tls-verify=false", "--creds", acct.creds, "--format", "{{.Digest}}", f"docker://{ref}"
    ).stdout.strip()
    assert digest == pushed_digest

    out = tmp_path / "pulled"
    copy(tmp_path, f"docker://{ref}", f"dir:{out}", creds=acct.creds)
    assert (out / "manifest.json").read_bytes() == raw
    for d in img.layer_digests:
        assert I.dir_blob(out, d).read_bytes() == I.dir_blob(img.path, d).read_bytes()


# --------------------------------------------------------------------------- 2. oci / v2s2 push


def test_skopeo_oci_and_v2s2_pushes_keep_their_media_type(berth, acct, imgs, tmp_path):
    img = imgs["oci"]
    repo = Repo(berth, acct, "fmt-both")
    copy(tmp_path, f"oci:{img.path}:v1", f"docker://{repo.ref}:oci", "--format", "oci", creds=acct.creds)
    copy(tmp_path, f"oci:{img.path}:v1", f"docker://{repo.ref}:v2s2", "--format", "v2s2", creds=acct.creds)

    raw_oci = raw_manifest(tmp_path, f"{repo.ref}:oci", acct.creds)
    assert raw_oci == img.manifest
    raw_docker = raw_manifest(tmp_path, f"{repo.ref}:v2s2", acct.creds)
    d = json.loads(raw_docker)
    assert d["mediaType"] == I.DOCKER_MANIFEST
    assert d["config"]["mediaType"] == I.DOCKER_CONFIG
    assert [layer["mediaType"] for layer in d["layers"]] == [I.DOCKER_LAYER_GZIP] * len(img.layer_digests)
    assert [layer["digest"] for layer in d["layers"]] == img.layer_digests

    for tag, raw, media_type in (("oci", raw_oci, I.OCI_MANIFEST), ("v2s2", raw_docker, I.DOCKER_MANIFEST)):
        r = repo.get(tag, ANY_MANIFEST)
        assert r.headers["Content-Type"] == media_type and r.content == raw
        assert r.headers["Docker-Content-Digest"] == sha(raw)
        out = tmp_path / f"pulled-{tag}"
        copy(tmp_path, f"docker://{repo.ref}:{tag}", f"dir:{out}", creds=acct.creds)
        pulled = (out / "manifest.json").read_bytes()
        assert pulled == raw, f"{tag}: skopeo pulled other bytes than were pushed"
        assert json.loads(pulled)["mediaType"] == media_type
        for ld in img.layer_digests:
            assert I.dir_blob(out, ld).read_bytes() == I.layout_blob(img.path, ld).read_bytes()
    # the OCI tag into an OCI layout: the same manifest digest
    out = tmp_path / "pulled-layout"
    copy(tmp_path, f"docker://{repo.ref}:oci", f"oci:{out}:v1", creds=acct.creds)
    desc, _ = I.read_oci_layout(out, "v1")
    assert desc["digest"] == img.manifest_digest


# --------------------------------------------------------------------------- 3. Docker <= 1.9


def _check_converted_schema1(
    repo: Repo, r: requests.Response, tag: str, arch: str, layers_bottom_first: list[str]
) -> dict:
    assert r.status_code == 200, (r.status_code, r.text[:800])
    assert r.headers["Content-Type"] == F.SCHEMA1_SIGNED
    body = r.content
    m = json.loads(body)
    assert m["schemaVersion"] == 1
    assert (m["name"], m["tag"], m["architecture"]) == (repo.name, tag, arch)
    header = verify_registry_jws(body)
    assert header["alg"] == "ES256" and header["jwk"]["kty"] == "EC", header
    payload = F.schema1_payload(body)
    assert r.headers["Docker-Content-Digest"] == sha(payload)
    assert json.loads(payload) == {k: v for k, v in m.items() if k != "signatures"}
    blob_sums = [layer["blobSum"] for layer in m["fsLayers"]]
    assert len(m["history"]) == len(blob_sums)
    assert [d for d in blob_sums if d != F.EMPTY_LAYER_DIGEST] == layers_bottom_first[::-1]
    v1 = [json.loads(h["v1Compatibility"]) for h in m["history"]]
    ids = [h["id"] for h in v1]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids)
    for upper, lower in itertools.pairwise(v1):
        assert upper.get("parent") == lower["id"], (upper, lower)
    assert "parent" not in v1[-1]
    assert v1[0]["architecture"] == arch and v1[0]["os"] == "linux"
    return m


def test_docker_19_pull_gets_registry_signed_schema1(berth, acct, imgs, tmp_path):
    img = imgs["empty"]  # v2s2 with empty-layer history steps
    repo = Repo(berth, acct, "fmt-legacy")
    copy(tmp_path, f"dir:{img.path}", f"docker://{repo.ref}:v1", creds=acct.creds)
    assert sha(raw_manifest(tmp_path, f"{repo.ref}:v1", acct.creds)) == img.manifest_digest

    first = repo.get("v1", NO_ACCEPT)
    m = _check_converted_schema1(repo, first, "v1", "amd64", img.layer_digests)
    digest = first.headers["Docker-Content-Digest"]
    # the config's history: ENV(empty) ADD LABEL(empty) ADD CMD(empty), bottom first
    blob_sums = [layer["blobSum"] for layer in m["fsLayers"]]
    assert blob_sums == [
        F.EMPTY_LAYER_DIGEST,
        img.layer_digests[1],
        F.EMPTY_LAYER_DIGEST,
        img.layer_digests[0],
        F.EMPTY_LAYER_DIGEST,
    ], blob_sums
    v1 = [json.loads(h["v1Compatibility"]) for h in m["history"]]
    assert [bool(h.get("throwaway")) for h in v1] == [True, False, True, False, True], v1
    assert v1[0]["config"]["Labels"] == {"x": "y"}

    only_s1 = repo.get("v1", F.SCHEMA1_SIGNED)
    _check_converted_schema1(repo, only_s1, "v1", "amd64", img.layer_digests)
    assert only_s1.headers["Docker-Content-Digest"] == digest  # stable

    # by that digest: the same bytes, whatever the Accept header says; HEAD agrees
    for accept in (NO_ACCEPT, F.SCHEMA1_SIGNED, ANY_MANIFEST):
        r = repo.get(digest, accept)
        assert r.status_code == 200, (accept, r.status_code, r.text[:500])
        assert r.content == first.content, f"GET by digest (Accept {accept}) differs"
        assert r.headers["Content-Type"] == F.SCHEMA1_SIGNED
        assert r.headers["Docker-Content-Digest"] == digest
    h = repo.head(digest)
    assert h.status_code == 200 and h.content == b""
    assert h.headers["Docker-Content-Digest"] == digest
    assert h.headers["Content-Type"] == F.SCHEMA1_SIGNED
    assert int(h.headers["Content-Length"]) == len(first.content)
    # the stored tag itself is untouched for a schema 2 client
    assert sha(repo.get("v1", I.DOCKER_MANIFEST).content) == img.manifest_digest

    # every fsLayers blob can be fetched from this repository (the empty layer too)
    blobs = {}
    for d in set(blob_sums):
        r = repo.blob(d)
        assert r.status_code == 200, (d, r.status_code, r.text[:300])
        assert sha(r.content) == d
        blobs[d] = r.content
    assert blobs[F.EMPTY_LAYER_DIGEST] == F.EMPTY_LAYER_GZIP

    # skopeo reads what Docker 1.9 got: converts it to OCI with the original layers
    s1dir = F.write_dir_layout(tmp_path / "schema1-dir", first.content, blobs)
    info = json.loads(skopeo(tmp_path, "inspect", f"dir:{s1dir}").stdout)
    assert info["Architecture"] == "amd64" and info["Labels"] == {"x": "y"}
    out = tmp_path / "from-schema1"
    copy(tmp_path, f"dir:{s1dir}", f"oci:{out}:v1")
    _, data = I.read_oci_layout(out, "v1")
    om = json.loads(data)
    assert [layer["digest"] for layer in om["layers"]] == img.layer_digests
    cfg = json.loads(I.layout_blob(out, om["config"]["digest"]).read_bytes())
    assert cfg["rootfs"]["diff_ids"] == img.diff_ids
    assert [bool(h.get("empty_layer")) for h in cfg["history"]] == [True, False, True, False, True]
    # ... and pushes it back to Berth as schema 1 under another tag (skopeo re-signs it)
    copy(tmp_path, f"dir:{s1dir}", f"docker://{repo.ref}:from-s1", creds=acct.creds)
    again = json.loads(raw_manifest(tmp_path, f"{repo.ref}:from-s1", acct.creds))
    assert again["schemaVersion"] == 1 and again["tag"] == "from-s1"
    assert [layer["blobSum"] for layer in again["fsLayers"]] == blob_sums


def test_docker_19_pull_of_an_index_gets_linux_amd64(berth, acct, imgs, tmp_path):
    ma = imgs["multi"]
    repo = Repo(berth, acct, "fmt-legacy-multi")
    copy(tmp_path, f"oci:{ma.path}:v1", f"docker://{repo.ref}:v1", "--all", creds=acct.creds)
    amd64 = next(i for i in ma.images if i.platform["architecture"] == "amd64")
    r = repo.get("v1", NO_ACCEPT)
    m = _check_converted_schema1(repo, r, "v1", "amd64", amd64.layer_digests)
    assert repo.blob(m["fsLayers"][0]["blobSum"]).status_code == 200
    # an index-aware client still gets the index
    assert sha(repo.get("v1", ANY_MANIFEST).content) == ma.index_digest


# --------------------------------------------------------------------------- 4. v2s2 <-> OCI


def _check_conversion(repo: Repo, tag: str, stored: bytes, accept: str, want: dict):
    """GET ``tag`` accepting only ``accept``: a converted manifest with its own stable
    digest, the same layers and config; by digest the exact bytes."""
    r = repo.get(tag, accept)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"] == want["type"], r.headers
    conv = r.content
    digest = r.headers["Docker-Content-Digest"]
    assert digest == sha(conv) and digest != sha(stored)
    c, s = json.loads(conv), json.loads(stored)
    assert c["schemaVersion"] == 2
    assert c.get("mediaType", want["type"]) == want["type"]
    assert c["config"]["mediaType"] == want["config"]
    assert [layer["mediaType"] for layer in c["layers"]] == [want["layer"]] * len(s["layers"])
    for a, b in zip([c["config"], *c["layers"]], [s["config"], *s["layers"]]):
        assert (a["digest"], a["size"]) == (b["digest"], b["size"])

    again = repo.get(tag, accept)
    assert again.headers["Docker-Content-Digest"] == digest and again.content == conv
    for acc in (accept, ANY_MANIFEST):
        by = repo.get(digest, acc)
        assert by.status_code == 200 and by.content == conv, (acc, by.status_code)
        assert by.headers["Content-Type"] == want["type"]
    h = repo.head(digest, accept)
    assert h.status_code == 200 and h.headers["Docker-Content-Digest"] == digest
    assert int(h.headers["Content-Length"]) == len(conv)
    # by the stored digest: exactly the stored bytes, even though Accept names only the
    # other family
    orig = repo.get(sha(stored), accept)
    assert orig.status_code == 200 and orig.content == stored, (orig.status_code, orig.text[:300])
    assert orig.headers["Docker-Content-Digest"] == sha(stored)
    # a client that accepts the stored type gets the stored bytes
    assert repo.get(tag, ANY_MANIFEST).content == stored


def test_docker_and_oci_convert_by_accept(berth, acct, imgs, tmp_path):
    docker, oci = imgs["docker"], imgs["oci"]
    repo = Repo(berth, acct, "fmt-convert")
    copy(tmp_path, f"dir:{docker.path}", f"docker://{repo.ref}:docker", creds=acct.creds)
    copy(tmp_path, f"oci:{oci.path}:v1", f"docker://{repo.ref}:oci", creds=acct.creds)
    assert repo.get("docker", I.DOCKER_MANIFEST).content == docker.manifest
    assert repo.get("oci", I.OCI_MANIFEST).content == oci.manifest

    _check_conversion(
        repo,
        "docker",
        docker.manifest,
        f"{I.OCI_MANIFEST}, {I.OCI_INDEX}",
        {"type": I.OCI_MANIFEST, "config": I.OCI_CONFIG, "layer": I.OCI_LAYER_GZIP},
    )
    _check_conversion(
        repo,
        "oci",
        oci.manifest,
        f"{I.DOCKER_MANIFEST}, {F.DOCKER_LIST}",
        {"type": I.DOCKER_MANIFEST, "config": I.DOCKER_CONFIG, "layer": I.DOCKER_LAYER_GZIP},
    )


# --------------------------------------------------------------------------- 5. artifacts


def _oras_client(berth, acct, repo: Repo, tmp_path: Path, monkeypatch):
    try:
        import oras.auth.utils as auth_utils
        import oras.client
    except ImportError:
        if in_ci():
            pytest.fail("python package 'oras' is not installed (CI is set)")
        pytest.skip("python package 'oras' is not installed")
    docker_cfg = tmp_path / "docker"
    docker_cfg.mkdir()
    (docker_cfg / "config.json").write_text('{"auths": {}}')
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_cfg))
    c = oras.client.OrasClient(hostname=berth.host, insecure=True, tls_verify=False)
    c.login(
        username=acct.username,
        password=acct.password,
        hostname=berth.host,
        tls_verify=False,
        config_path=str(docker_cfg / "config.json"),
    )
    # oras-py 0.2.43 only refreshes its token on 403: ask for pull,push up front (as
    # test_clients does, through oras-py's own token code)
    www = requests.get(berth.url + "/v2/", timeout=10).headers.get("WWW-Authenticate", "")
    if www.lower().startswith("bearer"):
        h = auth_utils.parse_auth_header(www)
        h.scope = f"repository:{repo.name}:pull,push"
        token = c.auth.request_token(h)
        assert token, "token service refused pull,push to the owner"
        c.auth.set_token_auth(token)
    return c


SIG_TYPE = "application/vnd.berth.e2e.signature.v1+json"
SBOM_TYPE = "application/vnd.berth.e2e.sbom.v1+json"


def test_oras_artifacts_referrers_and_tag_fallback(berth, acct, imgs, tmp_path, monkeypatch):
    import oras.oci

    repo = Repo(berth, acct, "fmt-artifacts")
    c = _oras_client(berth, acct, repo, tmp_path, monkeypatch)

    # a Helm chart
    chart = imgs["helm"]
    monkeypatch.chdir(chart.chart.parent)  # oras-py wants pushed files under the cwd
    resp = c.push(
        target=f"{repo.ref}:0.1.0",
        files=[f"{chart.chart.name}:{I.HELM_CHART}"],
        manifest_config=f"{chart.config.name}:{I.HELM_CONFIG}",
        quiet=True,
    )
    assert resp.status_code == 201, (resp.status_code, resp.text)
    m = c.get_manifest(f"{repo.ref}:0.1.0")
    assert m["config"]["mediaType"] == I.HELM_CONFIG
    assert m["layers"][0]["digest"] == chart.chart_digest

    # an image to sign
    img = imgs["oci"]
    copy(tmp_path, f"oci:{img.path}:v1", f"docker://{repo.ref}:img", creds=acct.creds)
    subject = {"mediaType": I.OCI_MANIFEST, "digest": img.manifest_digest, "size": len(img.manifest)}

    # a signature through oras-py (subject supported; artifactType = config media type)
    sigdir = tmp_path / "sig"
    sigdir.mkdir()
    (sigdir / "sig.json").write_text(json.dumps({"signed": img.manifest_digest, "nonce": os.urandom(8).hex()}))
    (sigdir / "sig-config.json").write_text('{"kind": "berth-e2e-signature"}')
    monkeypatch.chdir(sigdir)
    resp = c.push(
        target=f"{repo.ref}:sig",
        files=["sig.json:application/vnd.berth.e2e.signature.blob"],
        manifest_config=f"sig-config.json:{SIG_TYPE}",
        subject=oras.oci.Subject(**subject),
        quiet=True,
    )
    assert resp.status_code == 201, (resp.status_code, resp.text)
    sig_digest = resp.headers["Docker-Content-Digest"]
    assert resp.headers.get("OCI-Subject") == img.manifest_digest, dict(resp.headers)
    sig_manifest = repo.get(sig_digest, I.OCI_MANIFEST).content
    assert json.loads(sig_manifest)["subject"] == subject

    # an SBOM with an explicit artifactType over raw HTTP, pushed by digest (no tag)
    sbom, blobs = F.signature_artifact(
        subject, os.urandom(64), artifact_type=SBOM_TYPE, annotations={"org.berth.e2e": "sbom"}
    )
    for data in blobs.values():
        repo.push_blob(data)
    r = repo.put(sha(sbom), sbom, I.OCI_MANIFEST)
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers.get("OCI-Subject") == img.manifest_digest

    want = {
        sig_digest: {
            "mediaType": I.OCI_MANIFEST,
            "digest": sig_digest,
            "size": len(sig_manifest),
            "artifactType": SIG_TYPE,
        },
        sha(sbom): {
            "mediaType": I.OCI_MANIFEST,
            "digest": sha(sbom),
            "size": len(sbom),
            "artifactType": SBOM_TYPE,
            "annotations": {"org.berth.e2e": "sbom"},
        },
    }

    def entries(index: dict) -> dict:
        return {e["digest"]: {k: e.get(k) for k in want.get(e["digest"], e)} for e in index["manifests"]}

    r = repo.referrers(img.manifest_digest)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith(I.OCI_INDEX)
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == I.OCI_INDEX
    assert entries(index) == want

    r = repo.referrers(img.manifest_digest, SBOM_TYPE)
    assert r.status_code == 200 and "artifactType" in r.headers.get("OCI-Filters-Applied", "")
    assert entries(r.json()) == {sha(sbom): want[sha(sbom)]}
    r = repo.referrers(img.manifest_digest, "application/vnd.berth.e2e.none")
    assert r.status_code == 200 and r.json()["manifests"] == []
    r = repo.referrers("sha256:" + "0" * 64)
    assert r.status_code == 200 and r.json()["manifests"] == [], r.text[:300]

    # the referrers tag scheme (older clients): GET manifests/sha256-<hex>
    fallback_tag = "sha256-" + img.manifest_digest.split(":", 1)[1]
    r = repo.get(fallback_tag, f"{I.OCI_INDEX}, {I.OCI_MANIFEST}")
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith(I.OCI_INDEX)
    assert r.json()["mediaType"] == I.OCI_INDEX and entries(r.json()) == want

    # a Helm chart has no schema 1 form
    for accept in (NO_ACCEPT, F.SCHEMA1_SIGNED):
        assert_error(repo.get("0.1.0", accept), 400, "MANIFEST_INVALID")
    # but is served to a client that accepts OCI
    assert repo.get("0.1.0", I.OCI_MANIFEST).status_code == 200


# --------------------------------------------------------------------------- 6. bad manifests


def test_bad_manifests_get_oci_error_codes(berth, acct):
    repo = Repo(berth, acct, "fmt-bad")
    _, gz = I.random_layer("bad")
    layer = repo.push_blob(gz)
    empty = repo.push_blob(F.EMPTY_LAYER_GZIP)
    chain = F.v1_chain(2)
    good_layers = list(zip([empty, layer], chain))

    # the control: a correctly signed schema 1 is stored byte for byte
    good = F.sign_schema1(F.schema1_manifest(repo.name, "good", good_layers))
    r = repo.put("good", good, F.SCHEMA1_SIGNED)
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers["Docker-Content-Digest"] == sha(F.schema1_payload(good))
    got = repo.get("good", F.SCHEMA1_SIGNED)
    assert got.content == good and got.headers["Content-Type"] == F.SCHEMA1_SIGNED
    assert repo.get(sha(F.schema1_payload(good))).content == good
    as_json = F.sign_schema1(F.schema1_manifest(repo.name, "json", good_layers))
    r = repo.put("json", as_json, F.SCHEMA1_JSON)
    assert r.status_code == 201, (r.status_code, r.text)

    # tampered signature
    err = assert_error(repo.put("good", F.tamper_signature(good), F.SCHEMA1_SIGNED), 400, "MANIFEST_UNVERIFIED")
    # a changed payload under the old signature
    doc = good.replace(b'"architecture": "amd64"', b'"architecture": "arm64"', 1)
    assert doc != good
    assert_error(repo.put("good", doc, F.SCHEMA1_SIGNED), 400, "MANIFEST_UNVERIFIED")
    assert repo.get("good", F.SCHEMA1_SIGNED).content == good  # tag untouched

    # tag in the manifest != tag in the URL
    err = assert_error(repo.put("other", good, F.SCHEMA1_SIGNED), 400, {"TAG_INVALID", "MANIFEST_INVALID"})
    assert "tag" in err["message"].lower() or "tag" in json.dumps(err.get("detail")).lower(), err
    # name in the manifest != repository in the URL
    wrong = F.sign_schema1(F.schema1_manifest(f"{acct.account_id}/elsewhere", "good", good_layers))
    err = assert_error(repo.put("good", wrong, F.SCHEMA1_SIGNED), 400, {"NAME_INVALID", "MANIFEST_INVALID"})
    assert "name" in err["message"].lower() or "name" in json.dumps(err.get("detail")).lower(), err

    # unknown blob
    unknown = "sha256:" + hashlib.sha256(os.urandom(16)).hexdigest()
    s1 = F.sign_schema1(F.schema1_manifest(repo.name, "unk", [(unknown, chain[0]), (layer, chain[1])]))
    err = assert_error(repo.put("unk", s1, F.SCHEMA1_SIGNED), 400, "MANIFEST_BLOB_UNKNOWN")
    # unsigned / not JSON
    unsigned = json.dumps(F.schema1_manifest(repo.name, "nosig", good_layers), indent=3).encode()
    assert_error(repo.put("nosig", unsigned, F.SCHEMA1_SIGNED), 400, {"MANIFEST_INVALID", "MANIFEST_UNVERIFIED"})
    assert_error(repo.put("junk", b'{"schemaVersion": 1, "name": ', F.SCHEMA1_SIGNED), 400, "MANIFEST_INVALID")

    # the other formats
    cfg_data = I.canonical_json({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
    cfg = repo.push_blob(cfg_data)

    def v2(media_type, config_type, layer_type, config_digest, layer_digest):
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": media_type,
                "config": {"mediaType": config_type, "digest": config_digest, "size": len(cfg_data)},
                "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": len(gz)}],
            }
        ).encode()

    for mt, ct, lt in (
        (I.DOCKER_MANIFEST, I.DOCKER_CONFIG, I.DOCKER_LAYER_GZIP),
        (I.OCI_MANIFEST, I.OCI_CONFIG, I.OCI_LAYER_GZIP),
    ):
        assert_error(repo.put("v2", v2(mt, ct, lt, cfg, unknown), mt), 400, "MANIFEST_BLOB_UNKNOWN")
        assert_error(repo.put("v2", v2(mt, ct, lt, unknown, layer), mt), 400, "MANIFEST_BLOB_UNKNOWN")
        assert_error(repo.put("v2", b"[not json", mt), 400, "MANIFEST_INVALID")
    for mt, child in ((I.OCI_INDEX, I.OCI_MANIFEST), (F.DOCKER_LIST, I.DOCKER_MANIFEST)):
        idx = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt,
                "manifests": [
                    {
                        "mediaType": child,
                        "digest": unknown,
                        "size": 100,
                        "platform": {"architecture": "amd64", "os": "linux"},
                    }
                ],
            }
        ).encode()
        assert_error(repo.put("idx", idx, mt), 400, {"MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN"})

    # nothing of that was stored
    for tag in ("other", "unk", "nosig", "junk", "v2", "idx"):
        assert_error(repo.get(tag, ANY_MANIFEST), 404, "MANIFEST_UNKNOWN")
