"""Offline builders for the end-to-end test images (stdlib only, no network).

Every builder writes into a directory it is given and returns a small record with the
digests a registry round trip must preserve:

* :func:`build_oci_image`      OCI image layout (``oci-layout``, ``index.json`` with the tag in
  ``org.opencontainers.image.ref.name``, ``blobs/sha256/<hex>``), N random gzip tar layers and
  an OCI config (architecture, os, rootfs.diff_ids, history).
* :func:`build_docker_dir_image` Docker v2s2 image in skopeo's ``dir:`` layout (``manifest.json``,
  ``version`` = ``Directory Transport Version: 1.1``, blobs named by the bare hex digest).
* :func:`build_multiarch_index` OCI layout whose tag points at an OCI image index
  (linux/amd64 and linux/arm64 variant v8).
* :func:`build_helm_chart`     Helm chart ``.tgz`` plus its config json (for ORAS).

Layer content is random (``os.urandom``), so every run pushes blobs no registry has seen.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

DIR_TRANSPORT_VERSION = "Directory Transport Version: 1.1\n"

CREATED = "2024-01-01T00:00:00Z"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def canonical_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Image:
    """One image manifest and what it references."""

    path: Path  # the layout directory (OCI layout or skopeo dir:)
    tag: str | None
    manifest: bytes
    manifest_digest: str
    media_type: str
    config_digest: str
    layer_digests: list[str]
    diff_ids: list[str] = field(default_factory=list)
    platform: dict | None = None

    @property
    def blob_digests(self) -> list[str]:
        return [self.config_digest, *self.layer_digests]


@dataclass
class MultiArch:
    path: Path
    tag: str
    index: bytes
    index_digest: str
    images: list[Image]

    @property
    def manifest_digest(self) -> str:
        return self.index_digest


@dataclass
class HelmChart:
    chart: Path
    config: Path
    chart_digest: str
    config_digest: str


# --------------------------------------------------------------------------- layers


def make_layer(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """A tar of ``files`` (path -> content) -> (tar bytes, gzip bytes); reproducible metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for name in sorted(files):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
                    tar.addfile(ti)
            data = files[name]
            ti = tarfile.TarInfo(name)
            # an ELF binary is installed executable
            ti.size, ti.mode, ti.mtime = len(data), 0o755 if data.startswith(b"\x7fELF") else 0o644, 0
            tar.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


def random_layer(label: str, size: int = 4096) -> tuple[bytes, bytes]:
    return make_layer(
        {
            f"e2e/{label}.txt": f"berth e2e layer {label}\n".encode(),
            f"e2e/{label}.bin": os.urandom(size),
        }
    )


def _image_config(arch: str, diff_ids: list[str], variant: str | None = None, docker: bool = False) -> dict:
    cfg = {
        "created": CREATED,
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": f"berth e2e layer {i}"} for i in range(len(diff_ids))],
    }
    if variant:
        cfg["variant"] = variant
    if docker:
        cfg["config"]["Labels"] = {"org.berth.e2e": "docker-v2s2"}
    return cfg


# --------------------------------------------------------------------------- OCI layout


class OCILayout:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
        if not (self.path / "index.json").exists():
            self._write_index([])

    def add_blob(self, data: bytes) -> dict:
        d = sha256_digest(data)
        (self.path / "blobs" / "sha256" / d.split(":", 1)[1]).write_bytes(data)
        return {"digest": d, "size": len(data)}

    def _read_index(self) -> list[dict]:
        return json.loads((self.path / "index.json").read_text()).get("manifests", [])

    def _write_index(self, manifests: list[dict]) -> None:
        (self.path / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}, indent=2)
        )

    def set_ref(self, tag: str, media_type: str, digest: str, size: int) -> None:
        keep = [m for m in self._read_index() if (m.get("annotations") or {}).get(REF_NAME) != tag]
        keep.append({"mediaType": media_type, "digest": digest, "size": size, "annotations": {REF_NAME: tag}})
        self._write_index(keep)


def _add_oci_image(layout: OCILayout, arch: str, n_layers: int, variant: str | None, label: str) -> Image:
    layer_descs, diff_ids = [], []
    for i in range(n_layers):
        raw, gz = random_layer(f"{label}-{arch}-{i}")
        diff_ids.append(sha256_digest(raw))
        layer_descs.append({"mediaType": OCI_LAYER_GZIP, **layout.add_blob(gz)})
    cfg = canonical_json(_image_config(arch, diff_ids, variant))
    cfg_desc = {"mediaType": OCI_CONFIG, **layout.add_blob(cfg)}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": cfg_desc,
            "layers": layer_descs,
        },
        indent=2,
    ).encode()
    mdesc = layout.add_blob(manifest)
    platform = {"architecture": arch, "os": "linux"}
    if variant:
        platform["variant"] = variant
    return Image(
        path=layout.path,
        tag=None,
        manifest=manifest,
        manifest_digest=mdesc["digest"],
        media_type=OCI_MANIFEST,
        config_digest=cfg_desc["digest"],
        layer_digests=[d["digest"] for d in layer_descs],
        diff_ids=diff_ids,
        platform=platform,
    )


def build_oci_image(path: str | os.PathLike, tag: str = "v1", arch: str = "amd64", n_layers: int = 2) -> Image:
    """OCI image layout at ``path`` with one image tagged ``tag``."""
    layout = OCILayout(path)
    img = _add_oci_image(layout, arch, n_layers, None, "oci")
    layout.set_ref(tag, OCI_MANIFEST, img.manifest_digest, len(img.manifest))
    img.tag = tag
    return img


def build_image_from_layers(
    path: str | os.PathLike, tag: str, layers: list[dict[str, bytes]], arch: str = "amd64"
) -> Image:
    """OCI image layout at ``path``, tagged ``tag``, whose layers hold ``layers`` (each a
    path -> content map, lowest first; a ``.wh.<name>`` file deletes ``<name>`` below)."""
    layout = OCILayout(path)
    layer_descs, diff_ids = [], []
    for files in layers:
        raw, gz = make_layer(files)
        diff_ids.append(sha256_digest(raw))
        layer_descs.append({"mediaType": OCI_LAYER_GZIP, **layout.add_blob(gz)})
    cfg_desc = {"mediaType": OCI_CONFIG, **layout.add_blob(canonical_json(_image_config(arch, diff_ids)))}
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg_desc, "layers": layer_descs}, indent=2
    ).encode()
    mdesc = layout.add_blob(manifest)
    layout.set_ref(tag, OCI_MANIFEST, mdesc["digest"], mdesc["size"])
    return Image(
        path=layout.path,
        tag=tag,
        manifest=manifest,
        manifest_digest=mdesc["digest"],
        media_type=OCI_MANIFEST,
        config_digest=cfg_desc["digest"],
        layer_digests=[d["digest"] for d in layer_descs],
        diff_ids=diff_ids,
        platform={"architecture": arch, "os": "linux"},
    )


def build_multiarch_index(path: str | os.PathLike, tag: str = "v1") -> MultiArch:
    """OCI layout whose ``tag`` is an image index: linux/amd64 + linux/arm64/v8."""
    layout = OCILayout(path)
    images = [_add_oci_image(layout, "amd64", 1, None, "multi"), _add_oci_image(layout, "arm64", 1, "v8", "multi")]
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": im.manifest_digest,
                    "size": len(im.manifest),
                    "platform": im.platform,
                }
                for im in images
            ],
        },
        indent=2,
    ).encode()
    idesc = layout.add_blob(index)
    layout.set_ref(tag, OCI_INDEX, idesc["digest"], idesc["size"])
    return MultiArch(path=layout.path, tag=tag, index=index, index_digest=idesc["digest"], images=images)


# --------------------------------------------------------------------------- skopeo dir:


def build_docker_dir_image(path: str | os.PathLike, arch: str = "amd64", n_layers: int = 2) -> Image:
    """Docker v2s2 image in skopeo's ``dir:`` layout (blobs named by bare hex digest)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> dict:
        d = sha256_digest(data)
        (p / d.split(":", 1)[1]).write_bytes(data)
        return {"digest": d, "size": len(data)}

    layer_descs, diff_ids = [], []
    for i in range(n_layers):
        raw, gz = random_layer(f"docker-{arch}-{i}")
        diff_ids.append(sha256_digest(raw))
        layer_descs.append({"mediaType": DOCKER_LAYER_GZIP, **put(gz)})
    cfg = canonical_json(_image_config(arch, diff_ids, docker=True))
    cfg_desc = {"mediaType": DOCKER_CONFIG, **put(cfg)}
    # Docker puts mediaType first and uses 3-space indent; any JSON works for the digest.
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": cfg_desc,
            "layers": layer_descs,
        },
        indent=3,
    ).encode()
    (p / "manifest.json").write_bytes(manifest)
    (p / "version").write_text(DIR_TRANSPORT_VERSION)
    return Image(
        path=p,
        tag=None,
        manifest=manifest,
        manifest_digest=sha256_digest(manifest),
        media_type=DOCKER_MANIFEST,
        config_digest=cfg_desc["digest"],
        layer_digests=[d["digest"] for d in layer_descs],
        diff_ids=diff_ids,
        platform={"architecture": arch, "os": "linux"},
    )


# --------------------------------------------------------------------------- Helm chart


def build_helm_chart(path: str | os.PathLike, name: str = "mychart", version: str = "0.1.0") -> HelmChart:
    """``<path>/<name>-<version>.tgz`` (a Helm v2-apiVersion chart) + ``<path>/config.json``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    chart_yaml = (
        f"apiVersion: v2\nname: {name}\nversion: {version}\ndescription: berth e2e test chart\ntype: application\n"
    ).encode()
    files = {
        f"{name}/Chart.yaml": chart_yaml,
        f"{name}/values.yaml": f"replicaCount: 1\nnonce: {os.urandom(8).hex()}\n".encode(),
        f"{name}/templates/cm.yaml": (b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"),
    }
    _, tgz = make_layer(files)
    chart = p / f"{name}-{version}.tgz"
    chart.write_bytes(tgz)
    config = p / "config.json"
    config.write_bytes(
        json.dumps(
            {
                "name": name,
                "version": version,
                "apiVersion": "v2",
                "description": "berth e2e test chart",
                "type": "application",
            }
        ).encode()
    )
    return HelmChart(chart=chart, config=config, chart_digest=sha256_digest(tgz), config_digest=file_digest(config))


# --------------------------------------------------------------------------- reading back


def read_oci_layout(path: str | os.PathLike, tag: str | None = None) -> tuple[dict, bytes]:
    """(descriptor from index.json for ``tag`` or the only entry, the manifest bytes)."""
    p = Path(path)
    entries = json.loads((p / "index.json").read_text())["manifests"]
    if tag is not None:
        entries = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == tag]
    assert len(entries) == 1, entries
    desc = entries[0]
    data = (p / "blobs" / "sha256" / desc["digest"].split(":", 1)[1]).read_bytes()
    return desc, data


def layout_blob(path: str | os.PathLike, digest: str) -> Path:
    """Where a blob lives in an OCI layout."""
    return Path(path) / "blobs" / "sha256" / digest.split(":", 1)[1]


def dir_blob(path: str | os.PathLike, digest: str) -> Path:
    """Where a blob lives in a skopeo ``dir:`` layout."""
    return Path(path) / digest.split(":", 1)[1]
