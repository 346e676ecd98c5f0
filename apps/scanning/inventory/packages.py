"""What an inventory is made of: the operating system and the packages found in an
image's file system, each with the layer that brought it.

These are plain values (no database): the layer walker produces them, the matcher
and the SBOM writers read them, and ``apps.scanning.models`` stores them."""

from __future__ import annotations

from dataclasses import dataclass, field

# The package kinds an inventory holds, named as OSV names ecosystems (without a
# release: "Debian", not "Debian:12"; the OS release completes it when matching).
DEBIAN = "Debian"  # dpkg, also Ubuntu (OperatingSystem.id says which)
ALPINE = "Alpine"  # apk
RPM = "RPM"  # rpm databases (Red Hat, Fedora, Rocky, SUSE …)
PYPI = "PyPI"
NPM = "npm"
GO = "Go"
MAVEN = "Maven"


@dataclass(frozen=True)
class OperatingSystem:
    """From /etc/os-release (or /usr/lib/os-release): ``id`` "debian", "ubuntu",
    "alpine", …; ``version_id`` "12", "3.19.1", …; ``pretty_name`` as written."""

    id: str
    version_id: str = ""
    version_codename: str = ""
    pretty_name: str = ""


@dataclass(frozen=True)
class Package:
    """One installed package.

    ``ecosystem`` is one of the names above; ``name`` and ``version`` are as the
    package database writes them (a dpkg version keeps its epoch and revision);
    ``source_name``/``source_version`` are the source package for distribution
    packages (dpkg's ``Source:``, apk's ``o:`` origin), empty when the same as the
    binary; ``purl`` is its package URL; ``path`` is the file that recorded it (the
    status file, the METADATA, the package.json, the binary); ``layer_digest`` is
    the digest of the (compressed) layer that last wrote that file."""

    ecosystem: str
    name: str
    version: str
    purl: str
    path: str
    layer_digest: str
    source_name: str = ""
    source_version: str = ""
    licenses: tuple[str, ...] = ()


@dataclass
class Inventory:
    """Everything found in one image (one platform's image manifest)."""

    os: OperatingSystem | None = None
    packages: list[Package] = field(default_factory=list)
    # Kinds of package databases seen but not read, with why (e.g. an RPM database
    # when no reader for its format exists): said in the scan's description.
    unsupported: list[str] = field(default_factory=list)
    files_seen: int = 0
    bytes_read: int = 0  # uncompressed tar bytes walked
