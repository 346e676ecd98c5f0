"""The SBOM writers: CycloneDX and SPDX documents of an inventory, validated with the
libraries' own validators (the CycloneDX JSON schema, spdx-tools' full validation)."""

from __future__ import annotations

import json
import random
import re
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from spdx_tools.spdx.parser.json import json_parser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from apps.scanning.inventory.packages import DEBIAN, GO, NPM, PYPI, Inventory, OperatingSystem, Package
from apps.scanning.sbom import (
    CYCLONEDX_MEDIA_TYPE,
    CYCLONEDX_SPEC_VERSION,
    SPDX_MEDIA_TYPE,
    ImageRef,
    cyclonedx_json,
    spdx_document,
    spdx_json,
)

pytestmark = pytest.mark.database_independent

DIGEST = "sha256:" + "ab" * 32
LAYER_1 = "sha256:" + "11" * 32
LAYER_2 = "sha256:" + "22" * 32
CREATED = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
IMAGE = ImageRef(
    repository_uri="registry.example.com/123456789012/team/app",
    digest=DIGEST,
    tags=("v1", "latest"),
    media_type="application/vnd.oci.image.manifest.v1+json",
    platform="linux/amd64",
)
DPKG_STATUS = "var/lib/dpkg/status"
SPDX_ID = re.compile(r"^SPDXRef-[a-zA-Z0-9.-]+$")


def deb(name: str, version: str, source: str = "", source_version: str = "", licenses=()) -> Package:
    purl = PackageURL(
        type="deb",
        namespace="debian",
        name=name,
        version=version,
        qualifiers={"arch": "amd64", "distro": "debian-12"},
    ).to_string()
    return Package(DEBIAN, name, version, purl, DPKG_STATUS, LAYER_1, source, source_version, tuple(licenses))


PACKAGES = [
    deb("libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4", ["LGPL-2.1+", "GPL-2.0+"]),
    deb("libssl3", "3.0.11-1~deb12u2", "openssl", licenses=["Apache-2.0"]),
    deb("base-files", "12.4+deb12u5", licenses=["GPL-2+", "BSD"]),  # not SPDX: as written
    deb("perl-base", "5.36.0-7+deb12u1", "perl", licenses=["GPL-1+ or Artistic"]),
    deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1.2.13.dfsg-1", ["mit"]),  # lower case, an epoch
    Package(PYPI, "requests", "2.31.0", "pkg:pypi/requests@2.31.0", "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", LAYER_2, licenses=("Apache-2.0",)),
    # The same package twice, at two paths: one purl, two components
    Package(PYPI, "pip", "23.0.1", "pkg:pypi/pip@23.0.1", "usr/lib/python3/dist-packages/pip-23.0.1.dist-info/METADATA", LAYER_1, licenses=("MIT",)),
    Package(PYPI, "pip", "23.0.1", "pkg:pypi/pip@23.0.1", "usr/local/lib/python3.11/site-packages/pip-23.0.1.dist-info/METADATA", LAYER_2, licenses=("MIT",)),
    Package(NPM, "@babel/core", "7.24.0", "pkg:npm/%40babel/core@7.24.0", "app/node_modules/@babel/core/package.json", LAYER_2, licenses=("MIT OR Apache-2.0", "BSD-3-Clause")),
    Package(GO, "stdlib", "v1.22.1", "pkg:golang/stdlib@v1.22.1", "usr/local/bin/app", LAYER_2, licenses=("BSD-3-Clause",)),
    Package(GO, "github.com/spf13/cobra", "v1.8.0", "pkg:golang/github.com/spf13/cobra@v1.8.0", "usr/local/bin/app", LAYER_2),
]  # fmt: skip
DEBIAN_12 = OperatingSystem(id="debian", version_id="12", version_codename="bookworm", pretty_name="Debian GNU/Linux 12 (bookworm)")  # fmt: skip


def inventory(packages=PACKAGES, os: OperatingSystem | None = DEBIAN_12) -> Inventory:
    return Inventory(os=os, packages=list(packages))


def make_cyclonedx(inv: Inventory, image: ImageRef = IMAGE, created: datetime = CREATED) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the library warns of what it finds incomplete
        return cyclonedx_json(image, inv, tool_version="1.2.3", created=created)


def make_spdx(inv: Inventory, image: ImageRef = IMAGE, created: datetime = CREATED) -> bytes:
    return spdx_json(image, inv, tool_version="1.2.3", created=created)


def assert_cyclonedx_valid(document: bytes) -> dict:
    errors = JsonStrictValidator(CYCLONEDX_SPEC_VERSION).validate_str(document.decode(), all_errors=True)
    assert errors is None, errors
    bom = json.loads(document)
    refs = [c["bom-ref"] for c in bom.get("components", [])] + [bom["metadata"]["component"]["bom-ref"]]
    assert len(refs) == len(set(refs)), "bom-refs are unique"
    return bom


def assert_spdx_valid(document: bytes, tmp_path: Path) -> dict:
    """Valid as written: the JSON read back with spdx-tools' parser validates in full."""
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(document)
    messages = validate_full_spdx_document(json_parser.parse_from_file(str(path)))
    assert messages == [], [m.validation_message for m in messages]
    data = json.loads(document)
    for spdx_id in [data["SPDXID"]] + [p["SPDXID"] for p in data["packages"]]:
        assert SPDX_ID.match(spdx_id), spdx_id
    return data


def by_purl(bom: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for component in bom["components"]:
        if "purl" in component:
            found.setdefault(component["purl"], []).append(component)
    return found


def properties(component: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for prop in component.get("properties", []):
        found.setdefault(prop["name"], []).append(prop["value"])
    return found


def test_media_types_are_the_registered_ones():
    assert CYCLONEDX_MEDIA_TYPE == "application/vnd.cyclonedx+json"
    assert SPDX_MEDIA_TYPE == "application/spdx+json"


def test_cyclonedx_document_validates_and_describes_the_image():
    bom = assert_cyclonedx_valid(make_cyclonedx(inventory()))

    assert bom["bomFormat"] == "CycloneDX"
    assert bom["specVersion"] == "1.6"
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", bom["serialNumber"])
    assert bom["metadata"]["timestamp"].startswith("2025-03-04T05:06:07")
    assert bom["metadata"]["tools"]["components"] == [
        {"bom-ref": "berth:tool", "name": "berth", "type": "application", "version": "1.2.3"}
    ]
    image = bom["metadata"]["component"]
    assert image["type"] == "container"
    assert image["name"] == "registry.example.com/123456789012/team/app"
    assert image["version"] == DIGEST
    purl = PackageURL.from_string(image["purl"])
    assert (purl.type, purl.name, purl.version) == ("oci", "app", DIGEST)
    assert purl.qualifiers == {"repository_url": "registry.example.com/123456789012/team/app", "arch": "amd64"}
    assert properties(image) == {
        "berth:media_type": ["application/vnd.oci.image.manifest.v1+json"],
        "berth:platform": ["linux/amd64"],
        "berth:tag": ["latest", "v1"],
    }

    (os,) = [c for c in bom["components"] if c["type"] == "operating-system"]
    assert (os["name"], os["version"], os["description"]) == ("debian", "12", "Debian GNU/Linux 12 (bookworm)")

    components = by_purl(bom)
    assert set(components) == {p.purl for p in PACKAGES}
    assert all(c["type"] == "library" for cs in components.values() for c in cs)
    assert len(bom["components"]) == len(PACKAGES) + 1  # and the OS


def test_cyclonedx_components_keep_layer_path_and_source():
    bom = assert_cyclonedx_valid(make_cyclonedx(inventory()))
    components = by_purl(bom)

    (libc6,) = components[PACKAGES[0].purl]
    assert (libc6["name"], libc6["version"]) == ("libc6", "2.36-9+deb12u4")
    assert properties(libc6) == {
        "berth:ecosystem": ["Debian"],
        "berth:layer_digest": [LAYER_1],
        "berth:path": [DPKG_STATUS],
        "berth:source_name": ["glibc"],
        "berth:source_version": ["2.36-9+deb12u4"],
    }
    (babel,) = components["pkg:npm/%40babel/core@7.24.0"]
    assert babel["name"] == "@babel/core"
    assert properties(babel)["berth:path"] == ["app/node_modules/@babel/core/package.json"]
    assert "berth:source_name" not in properties(babel)

    # pip at two paths: one purl, two components, told apart by their bom-refs
    pips = components["pkg:pypi/pip@23.0.1"]
    assert sorted(properties(c)["berth:path"][0] for c in pips) == sorted(p.path for p in PACKAGES[6:8])
    refs = sorted(c["bom-ref"] for c in pips)
    assert refs[0] == "pkg:pypi/pip@23.0.1"
    assert re.fullmatch(r"pkg:pypi/pip@23\.0\.1\?package-id=[0-9a-f]{16}", refs[1])


def test_cyclonedx_licences():
    bom = assert_cyclonedx_valid(make_cyclonedx(inventory()))
    licences = {c["name"]: c.get("licenses") for c in bom["components"] if c["type"] == "library"}

    assert licences["requests"] == [{"license": {"id": "Apache-2.0"}}]
    assert licences["zlib1g"] == [{"license": {"id": "MIT"}}]  # "mit", normalised
    # deprecated "LGPL-2.1+", "GPL-2.0+": the current ids
    assert sorted(li["license"]["id"] for li in licences["libc6"]) == ["GPL-2.0-or-later", "LGPL-2.1-or-later"]
    # not SPDX: kept as written, as names
    assert sorted(li["license"]["name"] for li in licences["base-files"]) == ["BSD", "GPL-2+"]
    assert licences["perl-base"] == [{"license": {"name": "GPL-1+ or Artistic"}}]
    # an expression among several: one expression (CycloneDX takes no mix)
    assert licences["@babel/core"] == [{"expression": "(MIT OR Apache-2.0) AND BSD-3-Clause"}]
    assert licences["github.com/spf13/cobra"] is None


def test_spdx_document_validates_and_describes_the_image(tmp_path):
    data = assert_spdx_valid(make_spdx(inventory()), tmp_path)

    assert data["spdxVersion"] == "SPDX-2.3"
    assert data["dataLicense"] == "CC0-1.0"
    assert data["name"] == f"registry.example.com/123456789012/team/app@{DIGEST}"
    assert re.fullmatch(rf"https://berth\.invalid/spdx/{DIGEST}/[0-9a-f-]{{36}}", data["documentNamespace"])
    assert data["creationInfo"] == {"created": "2025-03-04T05:06:07Z", "creators": ["Tool: berth-1.2.3"]}

    packages = {p["SPDXID"]: p for p in data["packages"]}
    image = packages["SPDXRef-Image"]
    assert (image["name"], image["versionInfo"], image["primaryPackagePurpose"]) == (
        "registry.example.com/123456789012/team/app",
        DIGEST,
        "CONTAINER",
    )
    assert image["externalRefs"][0]["referenceLocator"].startswith(f"pkg:oci/app@{DIGEST}?")

    (os,) = [p for p in data["packages"] if p.get("primaryPackagePurpose") == "OPERATING_SYSTEM"]
    assert (os["name"], os["versionInfo"]) == ("debian", "12")

    purls = [
        ref["referenceLocator"]
        for p in data["packages"]
        if p["SPDXID"] != "SPDXRef-Image"
        for ref in p.get("externalRefs", [])
        if ref["referenceCategory"] == "PACKAGE_MANAGER" and ref["referenceType"] == "purl"
    ]
    assert sorted(purls) == sorted(p.purl for p in PACKAGES)  # pip twice

    relationships = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in data["relationships"]
    }
    assert relationships == {("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image")} | {
        ("SPDXRef-Image", "CONTAINS", spdx_id) for spdx_id in packages if spdx_id != "SPDXRef-Image"
    }
    assert len(data["relationships"]) == len(relationships)

    (libc6,) = [p for p in data["packages"] if p["name"] == "libc6"]
    assert libc6["sourceInfo"] == "built from source package glibc 2.36-9+deb12u4"
    assert LAYER_1 in libc6["comment"] and DPKG_STATUS in libc6["comment"]
    assert libc6["filesAnalyzed"] is False


def test_spdx_licences(tmp_path):
    data = assert_spdx_valid(make_spdx(inventory()), tmp_path)
    declared = {p["name"]: p["licenseDeclared"] for p in data["packages"]}
    extracted = {e["licenseId"]: e["extractedText"] for e in data["hasExtractedLicensingInfos"]}

    assert declared["requests"] == "Apache-2.0"
    assert declared["zlib1g"] == "MIT"
    assert declared["libc6"] == "LGPL-2.1-or-later AND GPL-2.0-or-later"
    assert declared["@babel/core"] == "(MIT OR Apache-2.0) AND BSD-3-Clause"
    assert declared["github.com/spf13/cobra"] == "NOASSERTION"
    assert declared["registry.example.com/123456789012/team/app"] == "NOASSERTION"
    # not SPDX: LicenseRefs with the text as found
    assert sorted(extracted.values()) == ["BSD", "GPL-1+ or Artistic", "GPL-2+"]
    refs = {text: ref for ref, text in extracted.items()}
    assert declared["base-files"] == f"{refs['GPL-2+']} AND {refs['BSD']}"
    assert declared["perl-base"] == refs["GPL-1+ or Artistic"]
    assert refs["BSD"] == "LicenseRef-BSD"


def test_the_same_input_gives_the_same_bytes():
    shuffled = PACKAGES + [PACKAGES[3]]  # an exact duplicate is written once
    random.Random(7).shuffle(shuffled)
    for make in (make_cyclonedx, make_spdx):
        first = make(inventory())
        assert make(inventory()) == first
        assert make(inventory(shuffled)) == first


def test_serial_number_and_namespace_change_with_the_scan(tmp_path):
    later = CREATED + timedelta(hours=1)
    other_image = replace(IMAGE, digest="sha256:" + "cd" * 32)

    serials = {
        json.loads(make_cyclonedx(inventory(), image, created))["serialNumber"]
        for image, created in [(IMAGE, CREATED), (IMAGE, later), (other_image, CREATED)]
    }
    namespaces = {
        json.loads(make_spdx(inventory(), image, created))["documentNamespace"]
        for image, created in [(IMAGE, CREATED), (IMAGE, later), (other_image, CREATED)]
    }
    assert len(serials) == 3
    assert len(namespaces) == 3


def test_an_empty_inventory_gives_valid_documents(tmp_path):
    image = ImageRef("registry.example.com/1/scratch", DIGEST, (), "application/vnd.oci.image.manifest.v1+json", "")
    empty = Inventory()

    bom = assert_cyclonedx_valid(make_cyclonedx(empty, image))
    assert bom["metadata"]["component"]["version"] == DIGEST
    assert "arch" not in PackageURL.from_string(bom["metadata"]["component"]["purl"]).qualifiers
    assert "components" not in bom or bom["components"] == []

    data = assert_spdx_valid(make_spdx(empty, image), tmp_path)
    assert [p["SPDXID"] for p in data["packages"]] == ["SPDXRef-Image"]
    assert [r["relationshipType"] for r in data["relationships"]] == ["DESCRIBES"]


@pytest.mark.parametrize(
    "licence",
    ["MIT AND (", "(", ")", "GPL-2+ or", "WITH", "LicenseRef-", "DocumentRef-x:LicenseRef-y", "Licença Pública",
     "LicenseRef-Apache", "Apache", "bsd", "BSD", "a:b:c", "MIT OR OR MIT", "Classpath-exception-2.0", "  ", "",
     "x" * 300, "GPL-2.0-only WITH Classpath-exception-2.0", "\x00\n\t"],
)  # fmt: skip
def test_no_licence_string_makes_a_document_fail(licence, tmp_path):
    package = Package(
        PYPI, "odd", "1.0", "pkg:pypi/odd@1.0", "odd.dist-info/METADATA", LAYER_1, licenses=(licence, "BSD")
    )
    inv = inventory([package])

    assert_cyclonedx_valid(make_cyclonedx(inv))
    assert_spdx_valid(make_spdx(inv), tmp_path)


def test_licence_refs_differ_where_spdx_compares_without_case(tmp_path):
    packages = [
        Package(PYPI, name, "1", f"pkg:pypi/{name}@1", "x", LAYER_1, licenses=(licence,))
        for name, licence in [("a", "BSD"), ("b", "bsd"), ("c", "Apache")]
    ]
    data = assert_spdx_valid(make_spdx(inventory(packages)), tmp_path)
    ids = [e["licenseId"] for e in data["hasExtractedLicensingInfos"]]
    assert len({i.lower() for i in ids}) == 3
    # license-expression reads LicenseRef-Apache as Apache-2.0: not a ref of ours
    assert "LicenseRef-Apache" not in ids


def test_the_spdx_model_validates_too():
    """What the writer is given (it does not validate: the checks are quadratic)."""
    document = spdx_document(IMAGE, inventory(), tool_version="1.2.3", created=CREATED)
    assert validate_full_spdx_document(document) == []


def test_a_package_without_a_purl_or_with_one_the_library_cannot_read(tmp_path):
    packages = [
        Package(GO, "example.com/nopurl", "v0.1.0", "", "usr/local/bin/app", LAYER_2),
        Package(GO, "example.com/badpurl", "v0.1.0", "not a purl", "usr/local/bin/app", LAYER_2),
    ]
    bom = assert_cyclonedx_valid(make_cyclonedx(inventory(packages)))
    refs = {c["name"]: c for c in bom["components"]}
    assert refs["example.com/nopurl"]["bom-ref"] == "berth:Go/example.com/nopurl@v0.1.0"
    assert "purl" not in refs["example.com/badpurl"]
    assert properties(refs["example.com/badpurl"])["berth:purl"] == ["not a purl"]
    data = assert_spdx_valid(make_spdx(inventory(packages)), tmp_path)
    (bad,) = [p for p in data["packages"] if p["name"] == "example.com/badpurl"]
    assert "externalRefs" not in bad
    assert bad["comment"].endswith("package URL as found (not one): not a purl")
