"""Java archives (``.jar``, ``.war``, ``.ear``): the Maven coordinates in their
``META-INF/maven/<groupId>/<artifactId>/pom.properties`` files, and in those of the
archives nested one level inside (``WEB-INF/lib/*.jar``, Spring Boot's
``BOOT-INF/lib/*.jar``).

Packages are named ``groupId:artifactId``, ecosystem Maven, with the path of the
archive in the image (a nested archive's packages carry its outer archive's path).
An archive without pom.properties (built without Maven metadata) yields nothing.
zipfile needs a seekable file: the walker spools the archive to a temporary file
bounded by ``max_file_bytes``; nested archives are spooled the same way, and the
bytes extracted from one archive, all nested ones together, stay within that
limit too."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from packageurl import PackageURL

from .packages import MAVEN, Package

EXTENSIONS = (".jar", ".war", ".ear")
_POM_PROPERTIES_MAX = 64 * 1024
_NESTING = 1


@dataclass(frozen=True)
class Artifact:
    group_id: str
    artifact_id: str
    version: str


class ArchiveTooBig(Exception):
    """The archive's entries to extract add up past the limit."""


def is_archive(path: str) -> bool:
    return path.lower().endswith(EXTENSIONS)


def spool(stream: BinaryIO, head: bytes = b"") -> tempfile.SpooledTemporaryFile:
    """The rest of ``stream`` (after ``head``) in a temporary file, at the start."""
    spooled = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    spooled.write(head)
    shutil.copyfileobj(stream, spooled, 1024 * 1024)
    spooled.seek(0)
    return spooled


def read_artifacts(archive: BinaryIO, max_entries: int, max_bytes: int) -> list[Artifact]:
    """The Maven artifacts an archive (seekable) and its nested archives declare,
    each once, in the order found. Raises zipfile's errors on a malformed archive
    and ArchiveTooBig."""
    found: dict[Artifact, None] = {}
    budget = [max_bytes]
    _walk_archive(archive, found, max_entries, budget, depth=0)
    return list(found)


def _walk_archive(archive: BinaryIO, found: dict, max_entries: int, budget: list[int], depth: int) -> None:
    with zipfile.ZipFile(archive) as zip_file:
        infos = zip_file.infolist()
        if len(infos) > max_entries:
            raise ArchiveTooBig(f"{len(infos)} entries, over max_archive_entries ({max_entries})")
        for info in infos:
            name = info.filename
            if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                if info.file_size <= _POM_PROPERTIES_MAX:
                    artifact = _parse_pom_properties(_take(zip_file, info, budget))
                    if artifact is not None:
                        found.setdefault(artifact, None)
            elif depth < _NESTING and is_archive(name) and not info.is_dir():
                _take_bytes(budget, info.file_size)
                with zip_file.open(info) as inner, spool(inner) as inner_file:
                    _walk_archive(inner_file, found, max_entries, budget, depth + 1)


def _take(zip_file: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int]) -> bytes:
    _take_bytes(budget, info.file_size)
    return zip_file.read(info)


def _take_bytes(budget: list[int], size: int) -> None:
    budget[0] -= size
    if budget[0] < 0:
        raise ArchiveTooBig("its entries add up to more than max_file_bytes")


def _parse_pom_properties(data: bytes) -> Artifact | None:
    properties: dict[str, str] = {}
    for raw_line in data.decode("utf-8", "replace").splitlines():
        line = raw_line.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if sep:
            properties[key.strip()] = value.strip()
    group_id, artifact_id = properties.get("groupId", ""), properties.get("artifactId", "")
    version = properties.get("version", "")
    if not (group_id and artifact_id and version):
        return None
    return Artifact(group_id, artifact_id, version)


def packages(artifacts: list[Artifact], path: str, layer_digest: str) -> list[Package]:
    return [
        Package(
            ecosystem=MAVEN,
            name=f"{a.group_id}:{a.artifact_id}",
            version=a.version,
            purl=PackageURL(type="maven", namespace=a.group_id, name=a.artifact_id, version=a.version).to_string(),
            path=path,
            layer_digest=layer_digest,
        )
        for a in artifacts
    ]
