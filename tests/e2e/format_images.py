"""Builders for the image-format tests (:mod:`tests.e2e.test_formats`), stdlib + cryptography.

* :func:`build_docker_dir_image_with_empty_layers` a Docker v2s2 ``dir:`` image whose config
  history has ``empty_layer`` entries (ENV/CMD steps), so a schema 1 conversion needs the
  well-known empty-layer blob.
* :func:`sign_schema1` a Docker schema 1 manifest signed the way libtrust does it (JWS, ES256,
  ``jwk`` in the header, ``formatLength``/``formatTail`` in the protected header), with a
  fresh P-256 key; :func:`schema1_payload` and :func:`jws_compact` take one apart again.
* :func:`signature_artifact` an OCI artifact manifest with a ``subject`` (a "signature").

Everything here is independent of Berth's code: it follows libtrust/distribution and the
OCI image spec.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from . import images as I

SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
SCHEMA1_JSON = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"

# distribution's gzippedEmptyTar (a gzip of 1024 zero bytes: an empty tar archive)
EMPTY_LAYER_GZIP = bytes(
    [
        31,
        139,
        8,
        0,
        0,
        9,
        110,
        136,
        0,
        255,
        98,
        24,
        5,
        163,
        96,
        20,
        140,
        88,
        0,
        8,
        0,
        0,
        255,
        255,
        46,
        175,
        181,
        239,
        0,
        4,
        0,
        0,
    ]
)
EMPTY_LAYER_DIGEST = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
assert I.sha256_digest(EMPTY_LAYER_GZIP) == EMPTY_LAYER_DIGEST


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------- Docker v2s2


def build_docker_dir_image_with_empty_layers(path: str | os.PathLike, arch: str = "amd64") -> I.Image:
    """v2s2 ``dir:`` image: 2 real layers, 3 empty-layer history steps (ENV, LABEL, CMD)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> dict:
        d = I.sha256_digest(data)
        (p / d.split(":", 1)[1]).write_bytes(data)
        return {"digest": d, "size": len(data)}

    layer_descs, diff_ids = [], []
    for i in range(2):
        raw, gz = I.random_layer(f"empty-hist-{arch}-{i}")
        diff_ids.append(I.sha256_digest(raw))
        layer_descs.append({"mediaType": I.DOCKER_LAYER_GZIP, **put(gz)})
    history = [
        {"created": I.CREATED, "created_by": "/bin/sh -c #(nop) ENV A=1", "empty_layer": True},
        {"created": I.CREATED, "created_by": "/bin/sh -c #(nop) ADD file:one in /"},
        {"created": I.CREATED, "created_by": "/bin/sh -c #(nop) LABEL x=y", "empty_layer": True},
        {"created": I.CREATED, "created_by": "/bin/sh -c #(nop) ADD file:two in /"},
        {"created": I.CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["/bin/sh"]', "empty_layer": True},
    ]
    cfg = I.canonical_json(
        {
            "created": I.CREATED,
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin", "A=1"], "Labels": {"x": "y"}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
    )
    cfg_desc = {"mediaType": I.DOCKER_CONFIG, **put(cfg)}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": I.DOCKER_MANIFEST,
            "config": cfg_desc,
            "layers": layer_descs,
        },
        indent=3,
    ).encode()
    (p / "manifest.json").write_bytes(manifest)
    (p / "version").write_text(I.DIR_TRANSPORT_VERSION)
    return I.Image(
        path=p,
        tag=None,
        manifest=manifest,
        manifest_digest=I.sha256_digest(manifest),
        media_type=I.DOCKER_MANIFEST,
        config_digest=cfg_desc["digest"],
        layer_digests=[d["digest"] for d in layer_descs],
        diff_ids=diff_ids,
        platform={"architecture": arch, "os": "linux"},
    )


def write_dir_layout(path: str | os.PathLike, manifest: bytes, blobs: dict[str, bytes]) -> Path:
    """A skopeo ``dir:`` layout holding ``manifest`` and ``blobs`` (digest -> bytes)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    (p / "manifest.json").write_bytes(manifest)
    (p / "version").write_text(I.DIR_TRANSPORT_VERSION)
    for digest, data in blobs.items():
        assert I.sha256_digest(data) == digest, digest
        (p / digest.split(":", 1)[1]).write_bytes(data)
    return p


# --------------------------------------------------------------------------- schema 1 (libtrust)


def _ec_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def libtrust_key_id(public_key) -> str:
    """libtrust's key id: base32 of the first 240 bits of sha256(DER SubjectPublicKeyInfo),
    in 12 groups of 4 separated by colons."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def _jwk(public_key) -> dict:
    nums = public_key.public_numbers()
    return {
        "crv": "P-256",
        "kid": libtrust_key_id(public_key),
        "kty": "EC",
        "x": b64url(nums.x.to_bytes(32, "big")),
        "y": b64url(nums.y.to_bytes(32, "big")),
    }


def schema1_manifest(name: str, tag: str, layers: list[tuple[str, dict]], architecture: str = "amd64") -> dict:
    """Unsigned schema 1 manifest. ``layers`` is (blob digest, v1Compatibility dict), top
    layer first, as in fsLayers/history."""
    return {
        "schemaVersion": 1,
        "name": name,
        "tag": tag,
        "architecture": architecture,
        "fsLayers": [{"blobSum": d} for d, _ in layers],
        "history": [{"v1Compatibility": json.dumps(v1, separators=(",", ":"))} for _, v1 in layers],
    }


def v1_chain(n: int, architecture: str = "amd64") -> list[dict]:
    """v1Compatibility objects for ``n`` layers (top first) with ids/parents chained."""
    ids = [hashlib.sha256(os.urandom(16)).hexdigest() for _ in range(n)]
    out = []
    for i in range(n):  # i = 0 is the top
        v1 = {"id": ids[i], "created": I.CREATED, "container_config": {"Cmd": [f"berth e2e schema1 layer {n - 1 - i}"]}}
        if i + 1 < n:
            v1["parent"] = ids[i + 1]
        if i == 0:
            v1.update({"architecture": architecture, "os": "linux", "config": {"Cmd": ["/bin/sh"]}})
        out.append(v1)
    return out


def sign_schema1(manifest: dict, key=None) -> bytes:
    """libtrust ``NewJSONSignature`` + ``Sign`` + ``PrettySignature("signatures")``:
    3-space-indented payload, ``signatures`` spliced in before the closing brace."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = key or _ec_key()
    payload = json.dumps(manifest, indent=3).encode()
    close = len(payload.rstrip()) - 1
    assert payload[close : close + 1] == b"}"
    format_length = len(payload[:close].rstrip())
    format_tail = payload[format_length:]
    protected = b64url(
        json.dumps(
            {
                "formatLength": format_length,
                "formatTail": b64url(format_tail),
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ).encode()
    )
    signing_input = f"{protected}.{b64url(payload)}".encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    sig = {
        "header": {"jwk": _jwk(key.public_key()), "alg": "ES256"},
        "signature": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
        "protected": protected,
    }
    sigs = json.dumps([sig], indent=3)
    sigs = sigs.replace("\n", "\n   ")  # MarshalIndent(sigs, indent, indent)
    return payload[:format_length] + b',\n   "signatures": ' + sigs.encode() + b"\n}"


def _protected(sig: dict) -> dict:
    return json.loads(b64url_decode(sig["protected"]))


def schema1_payload(body: bytes, sig_index: int = 0) -> bytes:
    """The signed payload: body[:formatLength] + formatTail (what the digest is over)."""
    sig = json.loads(body)["signatures"][sig_index]
    prot = _protected(sig)
    return body[: prot["formatLength"]] + b64url_decode(prot["formatTail"])


def jws_compact(body: bytes, sig_index: int = 0) -> tuple[str, dict]:
    """(compact JWS of one signature over the payload, its unprotected header)."""
    sig = json.loads(body)["signatures"][sig_index]
    payload = schema1_payload(body, sig_index)
    return f"{sig['protected']}.{b64url(payload)}.{sig['signature']}", sig["header"]


def tamper_signature(body: bytes) -> bytes:
    """The same document with one bit of the (first) signature flipped."""
    doc = json.loads(body)
    sig = doc["signatures"][0]["signature"]
    raw = bytearray(b64url_decode(sig))
    raw[5] ^= 0x01
    bad = b64url(bytes(raw))
    assert body.count(sig.encode()) == 1
    return body.replace(sig.encode(), bad.encode())


# --------------------------------------------------------------------------- OCI artifacts


def signature_artifact(
    subject: dict,
    layer: bytes,
    artifact_type: str | None = None,
    config: tuple[str, bytes] | None = None,
    annotations: dict | None = None,
) -> tuple[bytes, dict]:
    """(OCI manifest bytes, {digest: blob}) of an artifact that refers to ``subject``
    (a descriptor).  Without ``config`` the config is the OCI empty descriptor."""
    cfg_type, cfg = config or (OCI_EMPTY, EMPTY_JSON)
    blobs = {I.sha256_digest(cfg): cfg, I.sha256_digest(layer): layer}
    m = {"schemaVersion": 2, "mediaType": I.OCI_MANIFEST}
    if artifact_type:
        m["artifactType"] = artifact_type
    m["config"] = {"mediaType": cfg_type, "digest": I.sha256_digest(cfg), "size": len(cfg)}
    m["layers"] = [{"mediaType": "application/octet-stream", "digest": I.sha256_digest(layer), "size": len(layer)}]
    m["subject"] = subject
    if annotations:
        m["annotations"] = annotations
    return json.dumps(m, indent=2).encode(), blobs
