"""Distribution packages: dpkg (Debian, Ubuntu; ``var/lib/dpkg/status`` and the
distroless ``var/lib/dpkg/status.d/*``) and apk (Alpine; ``lib/apk/db/installed``).

Their package URLs name the distribution by the image's os-release:
``pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12``,
``pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1``."""

from __future__ import annotations

import re

from packageurl import PackageURL

from . import stanzas
from .packages import ALPINE, DEBIAN, OperatingSystem, Package

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d"
APK_INSTALLED = ("lib/apk/db/installed", "usr/lib/apk/db/installed")

_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]*)\))?")


def is_dpkg_database(path: str) -> bool:
    if path == DPKG_STATUS:
        return True
    parent, _, name = path.rpartition("/")
    # status.d holds one file per package, and <package>.md5sums beside it
    return parent == DPKG_STATUS_D and bool(name) and not name.endswith(".md5sums")


def parse_dpkg(data: bytes, *, distroless: bool) -> list[dict[str, str]]:
    """The installed packages' stanzas. In ``status`` a package is installed when its
    Status ends in "installed"; status.d entries (distroless) may have no Status."""
    found = []
    for fields in stanzas.deb822(data.decode("utf-8", "replace")):
        if not fields.get("Package") or not fields.get("Version"):
            continue
        status = fields.get("Status")
        if status is None and not distroless:
            continue
        if status is not None and status.split()[-1:] != ["installed"]:
            continue
        found.append(fields)
    return found


def dpkg_packages(stanza_list: list[dict[str, str]], path: str, layer_digest: str, os: OperatingSystem | None):
    namespace = os.id if os else "debian"
    packages = []
    for fields in stanza_list:
        name, version = fields["Package"], fields["Version"]
        source_name, source_version = _dpkg_source(fields.get("Source", ""))
        arch = fields.get("Architecture", "")
        packages.append(
            Package(
                ecosystem=DEBIAN,
                name=name,
                version=version,
                purl=_purl("deb", namespace, name, version, arch, os),
                path=path,
                layer_digest=layer_digest,
                source_name="" if source_name == name else source_name,
                source_version="" if source_version == version else source_version,
            )
        )
    return packages


def _dpkg_source(source: str) -> tuple[str, str]:
    """dpkg's ``Source: name`` or ``Source: name (version)``."""
    match = _SOURCE.match(source.strip())
    if not match:
        return "", ""
    return match["name"], (match["version"] or "").strip()


def parse_apk(data: bytes) -> list[dict[str, str]]:
    return [f for f in stanzas.apk(data.decode("utf-8", "replace")) if f.get("P") and f.get("V")]


def apk_packages(stanza_list: list[dict[str, str]], path: str, layer_digest: str, os: OperatingSystem | None):
    namespace = os.id if os else "alpine"
    packages = []
    for fields in stanza_list:
        name, version = fields["P"], fields["V"]
        origin = fields.get("o", "")
        packages.append(
            Package(
                ecosystem=ALPINE,
                name=name,
                version=version,
                purl=_purl("apk", namespace, name, version, fields.get("A", ""), os),
                path=path,
                layer_digest=layer_digest,
                source_name="" if origin == name else origin,
                licenses=(fields["L"],) if fields.get("L") else (),
            )
        )
    return packages


def _purl(kind: str, namespace: str, name: str, version: str, arch: str, os: OperatingSystem | None) -> str:
    qualifiers = {}
    if arch:
        qualifiers["arch"] = arch
    if os and os.version_id:
        qualifiers["distro"] = f"{os.id}-{os.version_id}"
    return PackageURL(type=kind, namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()
