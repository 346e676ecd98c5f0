"""SBOM documents (CycloneDX 1.6 JSON, SPDX 2.3 JSON) from an image's inventory.

Pure functions of their inputs (no database, no clock, no randomness): the same
``ImageRef``, ``Inventory``, ``tool_version`` and ``created`` give the same bytes.
What the specifications want unique per document is derived from the inputs:

* CycloneDX ``serialNumber``: ``urn:uuid:`` + a UUIDv5 of the image (repository,
  digest, platform), the tool version and ``created``;
* SPDX ``documentNamespace``: ``<SPDX_NAMESPACE_BASE>/<digest>/<UUIDv5 of the
  same>``, ``https://berth.invalid/spdx/sha256:…/…`` (SPDX only asks for a URI
  unique to the document, not one that resolves; ``.invalid`` says it does not).

A new scan (a new ``created``) gives a new serial number and namespace; generating
the same scan's document twice gives the same one.

Packages are written sorted (ecosystem, name, version, purl, path, layer), exact
duplicates once. Each package keeps the layer that brought it and the file that
recorded it: CycloneDX properties ``berth:layer_digest`` and ``berth:path`` (and
``berth:ecosystem``, ``berth:source_name``, ``berth:source_version``); in SPDX the
source package is the ``sourceInfo`` and the layer and path are the ``comment``.
A package found twice (one purl, two paths) is two components: the second one's
bom-ref is the purl with a ``package-id`` qualifier (a hash of path and layer), as
syft writes. SPDX ids are ``SPDXRef-Package-<name>-<hash of the package>``.

CycloneDX gets no dependency graph: the inventory knows no edges between
packages, and an entry per package with an empty ``dependsOn`` (what the library
writes for each component it meets in a graph) would say "no dependencies", not
"unknown"; what the image holds is what ``components`` is in a BOM whose
``metadata.component`` is the image. SPDX says it with ``CONTAINS``.

Licences are free text from package databases. A string that is a valid SPDX
expression of SPDX-listed licences ("MIT", "mit", "GPL-2.0+", "MIT OR Apache-2.0")
is written normalised ("MIT", "GPL-2.0-or-later"); anything else ("GPL-2+", "BSD")
is written as it was found: a named licence in CycloneDX, a ``LicenseRef-…`` with
the text as extracted licensing info in SPDX. A package with several licence
strings holds all of them (package databases list the licences of its parts:
SPDX gets them joined with AND, as syft and trivy do; CycloneDX gets a list, or one
AND expression when a string is a compound expression, since CycloneDX cannot mix
expressions and licences). No licence string makes a document fail.

The OCI ``artifactType`` of a referrer carrying these documents is the IANA
registered media type, :data:`CYCLONEDX_MEDIA_TYPE` or :data:`SPDX_MEDIA_TYPE`, as
trivy's referrer plugin writes them.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.spdx import fixup_id as cyclonedx_spdx_id
from license_expression import LicenseExpression as SpdxLicenseExpression
from packageurl import PackageURL
from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    ExtractedLicensingInfo,
    PackagePurpose,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.model import Package as SpdxPackage
from spdx_tools.spdx.writer.json import json_writer

from apps.scanning.inventory.packages import Inventory, OperatingSystem, Package

__all__ = [
    "CYCLONEDX_MEDIA_TYPE",
    "CYCLONEDX_SPEC_VERSION",
    "SPDX_MEDIA_TYPE",
    "SPDX_NAMESPACE_BASE",
    "ImageRef",
    "cyclonedx_json",
    "spdx_json",
]

# IANA registered media types (application/vnd.cyclonedx+json since 2021, with an
# optional ``version`` parameter left out here: an OCI artifactType takes none).
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPDX_MEDIA_TYPE = "application/spdx+json"

# 1.6 rather than the library's newest (1.7, October 2025): what trivy, grype and
# Dependency-Track read today. One constant with the writer class below.
CYCLONEDX_SPEC_VERSION = SchemaVersion.V1_6
_CYCLONEDX_WRITER = JsonV1Dot6

SPDX_NAMESPACE_BASE = "https://berth.invalid/spdx"

TOOL_NAME = "berth"
_PROPERTY = "berth:"
_SPDX_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


@dataclass(frozen=True)
class ImageRef:
    """The image a document describes: one platform's image manifest."""

    repository_uri: str  # e.g. "registry.example.com/123456789012/team/app" (no tag)
    digest: str  # the image manifest digest, "sha256:…"
    tags: tuple[str, ...]
    media_type: str
    platform: str  # "linux/amd64" or ""


# -- shared ------------------------------------------------------------------


def _utc(created: datetime) -> datetime:
    """``created`` in UTC (a naive datetime is taken as UTC)."""
    if created.tzinfo is None:
        return created.replace(tzinfo=UTC)
    return created.astimezone(UTC)


def _document_uuid(kind: str, image: ImageRef, tool_version: str, created: datetime) -> uuid.UUID:
    seed = "\n".join(
        (kind, image.repository_uri, image.digest, image.platform, tool_version, _utc(created).isoformat())
    )
    return uuid.uuid5(uuid.NAMESPACE_URL, seed)


def _sort_key(package: Package) -> tuple[str, ...]:
    return (
        package.ecosystem,
        package.name,
        package.version,
        package.purl,
        package.path,
        package.layer_digest,
        package.source_name,
        package.source_version,
        "\n".join(package.licenses),
    )


def _packages(inventory: Inventory) -> list[Package]:
    """The inventory's packages, sorted, each once."""
    return sorted(set(inventory.packages), key=_sort_key)


def _image_purl(image: ImageRef) -> str:
    """``pkg:oci/<last path segment>@<digest>?arch=…&repository_url=<repository>``."""
    name = image.repository_uri.rstrip("/").rsplit("/", 1)[-1].lower() or "image"
    qualifiers = {"repository_url": image.repository_uri}
    parts = image.platform.split("/") if image.platform else []
    if len(parts) >= 2 and parts[1]:
        qualifiers["arch"] = parts[1]
    return PackageURL(type="oci", name=name, version=image.digest, qualifiers=qualifiers).to_string()


def _image_name(image: ImageRef) -> str:
    return f"{image.repository_uri}@{image.digest}"


def _os_version(os: OperatingSystem) -> str:
    return os.version_id or os.version_codename


@lru_cache(maxsize=8192)
def _spdx_expression(text: str) -> str | None:
    """``text`` normalised when it is a valid SPDX expression of SPDX-listed licences
    ("mit" → "MIT", "GPL-2.0+" → "GPL-2.0-or-later"), else None. Never raises."""
    text = text.strip()
    if not text:
        return None
    try:
        info = spdx_licensing.validate(text, strict=True)
        if info.errors or info.invalid_symbols or not info.normalized_expression:
            return None
        parsed = spdx_licensing.parse(info.normalized_expression, validate=True, strict=True)
        # license-expression also knows ScanCode's LicenseRef-scancode-* keys: not SPDX-listed.
        if parsed is None or any(key.startswith("LicenseRef-") for key in spdx_licensing.license_keys(parsed)):
            return None
    except Exception:  # the parser raises on unexpected characters: then it is not SPDX
        return None
    return str(parsed)


def _is_compound(expression: str) -> bool:
    return " " in expression


def _and(expressions: Sequence[str]) -> str:
    if len(expressions) == 1:
        return expressions[0]
    return " AND ".join(f"({e})" if _is_compound(e) else e for e in expressions)


def _license_texts(package: Package) -> list[str]:
    """The package's licence strings, stripped, blanks dropped, each once, in order."""
    return list(dict.fromkeys(t.strip() for t in package.licenses if t.strip()))


# -- CycloneDX ---------------------------------------------------------------


@lru_cache(maxsize=8192)
def _cyclonedx_licenses(texts: tuple[str, ...]) -> tuple[License, ...]:
    normalised = [_spdx_expression(t) for t in texts]
    if any(n is not None and cyclonedx_spdx_id(n) is None for n in normalised) and len(texts) > 1:
        # An expression among several: CycloneDX takes one expression or a list of
        # licences, not both. One AND expression when all are SPDX, else all named.
        if all(n is not None for n in normalised):
            return (LicenseExpression(_and([n for n in normalised if n is not None])),)
        return tuple(DisjunctiveLicense(name=t) for t in texts)
    licenses: list[License] = []
    for text, norm in zip(texts, normalised):
        if norm is None:
            licenses.append(DisjunctiveLicense(name=text))
        elif (spdx_id := cyclonedx_spdx_id(norm)) is not None:
            licenses.append(DisjunctiveLicense(id=spdx_id))
        else:
            licenses.append(LicenseExpression(norm))
    return tuple(licenses)


def _parse_purl(purl: str) -> PackageURL | None:
    if not purl:
        return None
    try:
        return PackageURL.from_string(purl)
    except ValueError:
        return None


def _properties(pairs: Iterable[tuple[str, str]]) -> list[Property]:
    return [Property(name=_PROPERTY + name, value=value) for name, value in pairs if value]


def _cyclonedx_package(package: Package, bom_ref: str) -> Component:
    purl = _parse_purl(package.purl)
    pairs = [
        ("ecosystem", package.ecosystem),
        ("layer_digest", package.layer_digest),
        ("path", package.path),
        ("source_name", package.source_name),
        ("source_version", package.source_version),
    ]
    if purl is None and package.purl:
        pairs.append(("purl", package.purl))  # kept, though not a package URL the library reads
    return Component(
        type=ComponentType.LIBRARY,
        name=package.name,
        version=package.version or None,
        purl=purl,
        bom_ref=bom_ref,
        licenses=_cyclonedx_licenses(tuple(_license_texts(package))),
        properties=_properties(pairs),
    )


def _bom_refs(packages: Sequence[Package]) -> list[str]:
    """Unique bom-refs: the purl, and for a further package with the same purl (the
    same package at another path) the purl with ``package-id=<hash of path and
    layer>`` as a qualifier, as syft does; ``berth:<ecosystem>/<name>@<version>``
    stands in for a missing purl."""
    refs: list[str] = []
    used: set[str] = set()
    for package in packages:
        ref = package.purl or f"berth:{package.ecosystem}/{package.name}@{package.version}"
        if ref in used:
            base, hash_, subpath = ref.partition("#")
            where = hashlib.sha256(f"{package.path}\n{package.layer_digest}".encode()).hexdigest()[:16]
            base += f"{'&' if '?' in base else '?'}package-id={where}"
            ref = candidate = base + hash_ + subpath
            n = 1
            while ref in used:
                n += 1
                ref = f"{candidate}-{n}"
        used.add(ref)
        refs.append(ref)
    return refs


def _component_order(component: Component) -> tuple[str, str, str, bool, str, str]:
    return (
        component.type.value,
        component.group or "",
        component.name,
        component.version is None,
        component.version or "",
        component.bom_ref.value or "",
    )


def cyclonedx_bom(image: ImageRef, inventory: Inventory, *, tool_version: str, created: datetime) -> Bom:
    """The CycloneDX model of the image's inventory (see :func:`cyclonedx_json`)."""
    image_purl = _image_purl(image)
    root = Component(
        type=ComponentType.CONTAINER,
        name=image.repository_uri,
        version=image.digest,
        purl=PackageURL.from_string(image_purl),
        bom_ref=image_purl,
        properties=_properties(
            [("media_type", image.media_type), ("platform", image.platform)] + [("tag", t) for t in sorted(image.tags)]
        ),
    )
    tool = Component(type=ComponentType.APPLICATION, name=TOOL_NAME, version=tool_version, bom_ref="berth:tool")
    bom = Bom(
        serial_number=_document_uuid("cyclonedx", image, tool_version, created),
        metadata=BomMetaData(component=root, timestamp=_utc(created)),
    )
    bom.metadata.tools.components.add(tool)

    components: list[Component] = []
    if inventory.os is not None:
        os = inventory.os
        components.append(
            Component(
                type=ComponentType.OPERATING_SYSTEM,
                name=os.id,
                version=_os_version(os) or None,
                description=os.pretty_name or None,
                bom_ref=f"berth:os:{os.id}@{_os_version(os)}",
                properties=_properties([("os_codename", os.version_codename)]),
            )
        )
    packages = _packages(inventory)
    components.extend(_cyclonedx_package(p, ref) for p, ref in zip(packages, _bom_refs(packages)))
    # Added one by one in the library's order (its comparison starts with type,
    # group, name, version, bom-ref): each add then compares with the last item
    # only, where update() sorts afresh: n log n comparisons that build a tuple of
    # every field each, 60 % of the time building the model for 5,000 packages.
    for component in sorted(components, key=_component_order):
        bom.components.add(component)
    # No dependency graph: the inventory knows no edges between packages, and the
    # library writes an entry with an empty dependsOn for each component it meets
    # in one, which CycloneDX reads as "has no dependencies" (not "unknown"). What
    # the image holds is what "components" says of a BOM describing the image.
    return bom


def cyclonedx_json(image: ImageRef, inventory: Inventory, *, tool_version: str, created: datetime) -> bytes:
    """A CycloneDX 1.6 JSON SBOM (UTF-8) of the image: the image is the metadata
    component (type container, purl ``pkg:oci/…``), the OS an operating-system
    component, each package a library component with its purl and licences."""
    bom = cyclonedx_bom(image, inventory, tool_version=tool_version, created=created)
    # The writer first calls the deprecated Bom.validate(), which registers an empty
    # dependency entry per component (see above) with a linear lookup each:
    # quadratic, most of the 31 s 5,000 packages took with it. Its other check (that
    # dependencies name components of this BOM) holds: there are none.
    bom.validate = lambda: True  # type: ignore[method-assign]  # this instance only
    return _CYCLONEDX_WRITER(bom).output_as_string(indent=2).encode()


# -- SPDX --------------------------------------------------------------------


def _spdx_id(prefix: str, name: str, identity: str, used: set[str]) -> str:
    slug = _SPDX_ID_UNSAFE.sub("-", name).strip("-")[:60] or "package"
    digest = hashlib.sha256(identity.encode()).hexdigest()
    spdx_id = f"SPDXRef-{prefix}-{slug}-{digest[:12]}"
    n = 1
    while spdx_id in used:
        n += 1
        spdx_id = f"SPDXRef-{prefix}-{slug}-{digest[:12]}-{n}"
    used.add(spdx_id)
    return spdx_id


def _known_licence(key: str) -> bool:
    """Whether license-expression reads ``key`` as a licence it knows (its keys and
    aliases, any case: "LicenseRef-Apache" is Apache-2.0 to it)."""
    try:
        return not spdx_licensing.validate(key).invalid_symbols
    except Exception:
        return True


class _LicenseRefs:
    """Licence strings that are not SPDX, as ``LicenseRef-…`` with their text."""

    def __init__(self) -> None:
        self.by_text: dict[str, str] = {}
        self._lower: set[str] = set()

    def ref(self, text: str) -> str:
        if text in self.by_text:
            return self.by_text[text]
        slug = _SPDX_ID_UNSAFE.sub("-", text).strip("-")[:60] or "unnamed"
        ref = f"LicenseRef-{slug}"
        # Licence ids compare case-insensitively; license-expression knows aliases
        # such as LicenseRef-Apache (= Apache-2.0): a ref must be neither.
        if slug != text or ref.lower() in self._lower or _known_licence(ref):
            ref = f"{ref}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
        self.by_text[text] = ref
        self._lower.add(ref.lower())
        return ref

    def infos(self) -> list[ExtractedLicensingInfo]:
        return [
            ExtractedLicensingInfo(
                license_id=ref,
                extracted_text=text,
                license_name=text,
                comment="Licence as written in the package database; not an SPDX license expression.",
            )
            for text, ref in sorted(self.by_text.items(), key=lambda item: item[1])
        ]


def _spdx_declared(texts: list[str], refs: _LicenseRefs) -> SpdxLicenseExpression | SpdxNoAssertion:
    if not texts:
        return SpdxNoAssertion()
    return _parsed(_and([_spdx_expression(t) or refs.ref(t) for t in texts]))


@lru_cache(maxsize=8192)
def _parsed(expression: str) -> SpdxLicenseExpression | SpdxNoAssertion:
    """The model of ``expression`` (shared between packages: never modified)."""
    try:
        return spdx_licensing.parse(expression)
    except Exception:  # cannot happen with the ids above; a licence never fails the document
        return SpdxNoAssertion()


def _purl_ref(purl: str) -> list[ExternalPackageRef]:
    if _parse_purl(purl) is None:  # SPDX wants a package URL there (see the comment)
        return []
    return [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl)]


def _package_comment(package: Package) -> str:
    comment = f"{package.ecosystem} package recorded in {package.path or '?'}, layer {package.layer_digest or '?'}"
    if package.purl and _parse_purl(package.purl) is None:
        comment += f"; package URL as found (not one): {package.purl}"
    return comment


def spdx_document(image: ImageRef, inventory: Inventory, *, tool_version: str, created: datetime) -> Document:
    """The SPDX 2.3 model of the image's inventory (see :func:`spdx_json`)."""
    doc_uuid = _document_uuid("spdx", image, tool_version, created)
    creation_info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=_image_name(image),
        document_namespace=f"{SPDX_NAMESPACE_BASE}/{image.digest}/{doc_uuid}",
        creators=[Actor(ActorType.TOOL, f"{TOOL_NAME}-{tool_version}")],
        created=_utc(created).replace(microsecond=0),
    )
    image_comment = "; ".join(
        part
        for part in (
            f"media type {image.media_type}" if image.media_type else "",
            f"platform {image.platform}" if image.platform else "",
            f"tags {', '.join(sorted(image.tags))}" if image.tags else "",
        )
        if part
    )
    image_package = SpdxPackage(
        spdx_id="SPDXRef-Image",
        name=image.repository_uri,
        version=image.digest,
        download_location=SpdxNoAssertion(),
        files_analyzed=False,
        license_concluded=SpdxNoAssertion(),
        license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        external_references=_purl_ref(_image_purl(image)),
        primary_package_purpose=PackagePurpose.CONTAINER,
        comment=image_comment or None,
    )
    packages = [image_package]
    used = {"SPDXRef-DOCUMENT", "SPDXRef-Image"}
    if inventory.os is not None:
        os = inventory.os
        packages.append(
            SpdxPackage(
                spdx_id=_spdx_id("OperatingSystem", os.id, f"{os.id}\n{_os_version(os)}", used),
                name=os.id,
                version=_os_version(os) or None,
                download_location=SpdxNoAssertion(),
                files_analyzed=False,
                license_concluded=SpdxNoAssertion(),
                license_declared=SpdxNoAssertion(),
                copyright_text=SpdxNoAssertion(),
                description=os.pretty_name or None,
                primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
            )
        )
    refs = _LicenseRefs()
    for package in _packages(inventory):
        source = ""
        if package.source_name or package.source_version:
            source = f"built from source package {package.source_name or package.name}"
            if package.source_version:
                source += f" {package.source_version}"
        packages.append(
            SpdxPackage(
                spdx_id=_spdx_id("Package", package.name, "\n".join(_sort_key(package)), used),
                name=package.name,
                version=package.version or None,
                download_location=SpdxNoAssertion(),
                files_analyzed=False,
                source_info=source or None,
                license_concluded=SpdxNoAssertion(),
                license_declared=_spdx_declared(_license_texts(package), refs),
                copyright_text=SpdxNoAssertion(),
                external_references=_purl_ref(package.purl),
                primary_package_purpose=PackagePurpose.LIBRARY,
                comment=_package_comment(package),
            )
        )
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-Image")]
    relationships.extend(Relationship("SPDXRef-Image", RelationshipType.CONTAINS, p.spdx_id) for p in packages[1:])
    return Document(
        creation_info=creation_info,
        packages=packages,
        relationships=relationships,
        extracted_licensing_info=refs.infos(),
    )


def spdx_json(image: ImageRef, inventory: Inventory, *, tool_version: str, created: datetime) -> bytes:
    """An SPDX 2.3 JSON document (UTF-8) of the image: a package for the image
    (purpose CONTAINER, purl ``pkg:oci/…``) that the document DESCRIBES and that
    CONTAINS the OS (purpose OPERATING_SYSTEM) and each package (purl external ref)."""
    document = spdx_document(image, inventory, tool_version=tool_version, created=created)
    stream = io.StringIO()
    # Neither validated here (the tests validate these documents with
    # validate_full_spdx_document, whose reference checks are quadratic: 70 s for
    # 5,000 packages) nor deduplicated (a deep copy of the document, 1/3 of the
    # time; packages are made unique above and relationships are one per package).
    json_writer.write_document_to_stream(document, stream, validate=False, drop_duplicates=False)
    return stream.getvalue().encode()
