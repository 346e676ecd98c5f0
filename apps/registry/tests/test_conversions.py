"""Docker v2s2 <-> OCI conversion: pure functions over bytes, no database."""

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.registry.content import media_types as mt
from apps.registry.content.conversions import (
    DOCKER_FOREIGN_LAYER,
    DOCKER_FOREIGN_LAYER_GZIP,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    LAYER_DOCKER_TO_OCI,
    LAYER_OCI_TO_DOCKER,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_NONDISTRIBUTABLE_LAYER,
    OCI_NONDISTRIBUTABLE_LAYER_GZIP,
    ChildRef,
    NotConvertible,
    accepted_conversion,
    docker_to_oci,
    oci_to_docker,
)
from apps.registry.content.manifests import parse_manifest

FIXTURES = Path(__file__).parent / "fixtures" / "conversions"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def ref(body: bytes, media_type: str) -> ChildRef:
    return ChildRef(digest_of(body), len(body), media_type)


def dumps(document: dict) -> bytes:
    return json.dumps(document).encode()


def assert_valid(body: bytes, media_type: str) -> dict:
    parsed = parse_manifest(body, media_type)
    assert parsed.media_type == media_type
    document = json.loads(body)
    assert document["mediaType"] == media_type
    return document


D = "sha256:" + "d" * 64
E = "sha256:" + "e" * 64


def oci_manifest(**extra) -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": D, "size": 10},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": E, "size": 20}],
        **extra,
    }


# --- the layer table -------------------------------------------------------


def test_layer_table_is_the_spec_pairs_and_a_bijection():
    assert LAYER_DOCKER_TO_OCI == {
        DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
        DOCKER_LAYER: OCI_LAYER,
        DOCKER_FOREIGN_LAYER_GZIP: OCI_NONDISTRIBUTABLE_LAYER_GZIP,
        DOCKER_FOREIGN_LAYER: OCI_NONDISTRIBUTABLE_LAYER,
    }
    assert {v: k for k, v in LAYER_OCI_TO_DOCKER.items()} == LAYER_DOCKER_TO_OCI


# --- real manifests --------------------------------------------------------


def test_testpkg_fixtures_are_byte_exact():
    for name, digest in [
        ("testpkg_index.json", "sha256:138fc25e9aaf93251609d23a8a50e91d50462f5dccb53cffde8db7a46385cfec"),
        ("testpkg_image.json", "sha256:0e026e48c72f503a89f1299d8d6a768f1e516740017b8dd29d290c234ec889b4"),
        ("testpkg_attestation.json", "sha256:0b99212f395833227bbb3fdf0e821efd8ce8af3cca65ce9e00fc96c683af7076"),
        ("testpkg_signature.json", "sha256:879fb0d9305cb86cd90433d0a6547a2c721786a597d4c01d006cf0dc423af4a3"),
    ]:
        assert digest_of(fixture(name)) == digest


def test_docker_spec_manifest_to_oci_golden_bytes():
    # Pins the serialization: 3-space indent, OCI descriptor order (digest
    # before size), mediaType set, no trailing newline.
    expected = """{
   "schemaVersion": 2,
   "mediaType": "application/vnd.oci.image.manifest.v1+json",
   "config": {
      "mediaType": "application/vnd.oci.image.config.v1+json",
      "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
      "size": 7023
   },
   "layers": [
      {
         "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
         "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
         "size": 32654
      },
      {
         "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
         "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
         "size": 16724
      },
      {
         "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
         "digest": "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
         "size": 73109
      }
   ]
}"""
    converted = docker_to_oci(fixture("docker_spec_manifest.json"))
    assert converted == expected.encode()
    assert_valid(converted, mt.OCI_MANIFEST)


def test_docker_spec_manifest_round_trips_to_the_same_meaning():
    original = fixture("docker_spec_manifest.json")
    back = oci_to_docker(docker_to_oci(original))
    assert json.loads(back) == json.loads(original)
    assert_valid(back, mt.DOCKER_MANIFEST)
    # distribution's own key order: size before digest.
    assert list(json.loads(back)["config"]) == ["mediaType", "size", "digest"]


def test_oci_spec_manifest_without_media_type_to_docker():
    converted = oci_to_docker(fixture("oci_spec_manifest.json"))
    document = assert_valid(converted, mt.DOCKER_MANIFEST)
    assert document["config"]["mediaType"] == mt.DOCKER_CONFIG
    assert {layer["mediaType"] for layer in document["layers"]} == {DOCKER_LAYER_GZIP}
    source = json.loads(fixture("oci_spec_manifest.json"))
    assert [(layer["digest"], layer["size"]) for layer in document["layers"]] == [
        (layer["digest"], layer["size"]) for layer in source["layers"]
    ]
    # The documented rule: Docker v2s2 has no top-level annotations.
    assert "annotations" not in document


def test_real_buildx_image_manifest_to_docker_drops_only_top_level_annotations():
    original = fixture("testpkg_image.json")
    converted = oci_to_docker(original)
    assert_valid(converted, mt.DOCKER_MANIFEST)
    back = json.loads(docker_to_oci(converted))
    expected = json.loads(original)
    del expected["annotations"]
    assert back == expected


def test_oci_spec_index_to_docker_with_children():
    index = fixture("oci_spec_index.json")
    source = json.loads(index)
    # Stand-ins for the children's converted bytes.
    converted_children = {
        entry["digest"]: f"docker child of {entry['digest']}".encode() for entry in source["manifests"]
    }
    children = {d: ref(body, mt.DOCKER_MANIFEST) for d, body in converted_children.items()}
    document = assert_valid(oci_to_docker(index, children=children), mt.DOCKER_MANIFEST_LIST)
    assert "annotations" not in document
    for entry, original in zip(document["manifests"], source["manifests"], strict=True):
        child = children[original["digest"]]
        assert (entry["mediaType"], entry["digest"], entry["size"]) == (child.media_type, child.digest, child.size)
        assert entry["platform"] == original["platform"]
        assert list(entry) == ["mediaType", "size", "digest", "platform"]


def test_docker_spec_list_to_oci_keeps_platform_features():
    body = fixture("docker_spec_manifest_list.json")
    entries = json.loads(body)["manifests"]
    children = {e["digest"]: ChildRef(E, 5, mt.OCI_MANIFEST) for e in entries}
    document = assert_valid(docker_to_oci(body, children=children), mt.OCI_INDEX)
    assert document["manifests"][1]["platform"] == {"architecture": "amd64", "os": "linux", "features": ["sse4"]}


def test_real_multi_arch_windows_list_to_oci_and_back():
    body = fixture("volume_ownership_2.1_list.json")
    entries = json.loads(body)["manifests"]
    # Convert "children" first, as the caller does, then point the index at them.
    oci_children = {e["digest"]: f"oci {e['digest']}".encode() for e in entries}
    to_oci = {d: ref(b, mt.OCI_MANIFEST) for d, b in oci_children.items()}
    converted = docker_to_oci(body, children=to_oci)
    document = assert_valid(converted, mt.OCI_INDEX)
    assert [e["platform"] for e in document["manifests"]] == [e["platform"] for e in entries]
    assert [e["platform"].get("os.version") for e in document["manifests"]][3:] == [
        "10.0.17763.4377",
        "10.0.19042.1889",
        "10.0.20348.1726",
    ]
    to_docker = {to_oci[d].digest: ChildRef(d, e["size"], e["mediaType"]) for e in entries for d in [e["digest"]]}
    assert json.loads(oci_to_docker(converted, children=to_docker)) == json.loads(body)


def test_entry_already_in_the_target_family_needs_no_child():
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "digest": D,
                "size": 3,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
        ],
    }
    document = assert_valid(oci_to_docker(dumps(index)), mt.DOCKER_MANIFEST_LIST)
    assert document["manifests"][0]["digest"] == D


def test_real_buildx_index_with_attestation_is_not_convertible_to_docker():
    index = fixture("testpkg_index.json")
    image = fixture("testpkg_image.json")
    children = {digest_of(image): ref(oci_to_docker(image), mt.DOCKER_MANIFEST)}
    # The attestation manifest itself has no Docker form...
    with pytest.raises(NotConvertible, match="application/vnd.in-toto\\+json"):
        oci_to_docker(fixture("testpkg_attestation.json"))
    # ...so the index entry pointing at it keeps the whole index OCI-only.
    with pytest.raises(NotConvertible, match="Index entry 1 .*unknown/unknown"):
        oci_to_docker(index, children=children)


def test_foreign_layers_keep_their_urls_both_ways():
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": 1, "digest": D},
        "layers": [
            {
                "mediaType": DOCKER_FOREIGN_LAYER_GZIP,
                "size": 252691002,
                "digest": E,
                "urls": ["https://mcr.microsoft.com/v2/windows/nanoserver/blobs/" + E],
            },
            {"mediaType": DOCKER_LAYER, "size": 7, "digest": D},
        ],
    }
    converted = json.loads(docker_to_oci(dumps(manifest)))
    assert converted["layers"][0]["mediaType"] == OCI_NONDISTRIBUTABLE_LAYER_GZIP
    assert converted["layers"][0]["urls"] == manifest["layers"][0]["urls"]
    assert converted["layers"][1]["mediaType"] == OCI_LAYER
    assert json.loads(oci_to_docker(json.dumps(converted).encode())) == manifest


def test_descriptor_annotations_survive_and_data_is_dropped():
    manifest = oci_manifest()
    manifest["config"]["data"] = "e30="
    manifest["layers"][0]["annotations"] = {"org.opencontainers.image.title": "rootfs"}
    converted = json.loads(oci_to_docker(dumps(manifest)))
    assert converted["layers"][0]["annotations"] == {"org.opencontainers.image.title": "rootfs"}
    assert "data" not in converted["config"]


def test_annotations_on_a_docker_manifest_are_carried_into_oci():
    manifest = json.loads(fixture("docker_spec_manifest.json"))
    manifest["annotations"] = {"b": "2", "a": "1"}
    converted = docker_to_oci(dumps(manifest))
    assert list(json.loads(converted)["annotations"].items()) == [("a", "1"), ("b", "2")]


def test_non_ascii_is_written_as_utf8():
    manifest = oci_manifest()
    manifest["layers"][0]["annotations"] = {"org.opencontainers.image.title": "größe ✓"}
    converted = oci_to_docker(dumps(manifest))
    assert "größe ✓".encode() in converted


# --- not convertible -------------------------------------------------------


@pytest.mark.parametrize(
    "body, reason",
    [
        (fixture("oci_spec_artifact_empty_config.json"), "artifactType 'application/vnd.example\\+type'"),
        (dumps(oci_manifest(artifactType="application/vnd.example+type")), "OCI artifact"),
        (
            dumps({**oci_manifest(), "config": {"mediaType": mt.HELM_CONFIG, "digest": D, "size": 1}}),
            "application/vnd.cncf.helm.config.v1\\+json",
        ),
        (dumps({**oci_manifest(), "config": {"mediaType": mt.OCI_EMPTY, "digest": D, "size": 2}}), "empty descriptor"),
        (fixture("testpkg_signature.json"), "subject"),
        (dumps(oci_manifest(subject={"mediaType": mt.OCI_MANIFEST, "digest": D, "size": 5})), "subject"),
        (
            dumps(
                {
                    **oci_manifest(),
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": E, "size": 1}],
                }
            ),
            "zstd",
        ),
        (
            dumps(
                {
                    **oci_manifest(),
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
                            "digest": E,
                            "size": 1,
                        }
                    ],
                }
            ),
            "zstd",
        ),
        (
            dumps(
                {
                    **oci_manifest(),
                    "layers": [
                        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "digest": E, "size": 1}
                    ],
                }
            ),
            "Layer 0",
        ),
        (fixture("testpkg_attestation.json"), "in-toto"),
        (
            dumps(
                {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "artifactType": "application/x.sbom", "manifests": []}
            ),
            "OCI artifact",
        ),
        (
            dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.OCI_INDEX,
                    "manifests": [
                        {
                            "mediaType": mt.OCI_MANIFEST,
                            "digest": D,
                            "size": 1,
                            "artifactType": "application/vnd.cncf.notary.signature",
                        },
                    ],
                }
            ),
            "Index entry 0 .*artifact",
        ),
        (
            dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.OCI_INDEX,
                    "manifests": [
                        {
                            "mediaType": mt.OCI_MANIFEST,
                            "digest": D,
                            "size": 1,
                            "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
                        },
                    ],
                }
            ),
            "Index entry 0 .*linux/arm/v7",
        ),
        (fixture("docker_spec_manifest.json"), "cannot be converted to Docker"),
        (dumps({"schemaVersion": 1, "mediaType": mt.OCI_MANIFEST}), "schemaVersion 2"),
        (
            dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.artifact.manifest.v1+json"}),
            "cannot be converted",
        ),
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (dumps({**oci_manifest(), "layers": None}), "layers"),
        (dumps({**oci_manifest(), "config": {"mediaType": mt.OCI_CONFIG, "digest": D, "size": -1}}), "size"),
        (
            b'{"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "'
            + D.encode()
            + b'", "size": 1, "annotations": {"k": "\\ud800"}}, "layers": []}',
            "Unicode",
        ),
    ],
)
def test_oci_to_docker_refuses(body, reason):
    with pytest.raises(NotConvertible, match=reason):
        oci_to_docker(body)


@pytest.mark.parametrize(
    "body, reason",
    [
        (dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_SCHEMA1_SIGNED}), "cannot be converted to OCI"),
        (fixture("oci_spec_index.json"), "does not declare its mediaType"),
        (fixture("docker_spec_manifest_list.json"), "Index entry 0 .*linux/ppc64le"),
        (
            dumps(
                {
                    **json.loads(fixture("docker_spec_manifest.json")),
                    "layers": [
                        {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.zstd", "size": 1, "digest": E}
                    ],
                }
            ),
            "Layer 0",
        ),
        (
            dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.DOCKER_MANIFEST_LIST,
                    "manifests": [
                        {
                            "mediaType": mt.DOCKER_SCHEMA1_SIGNED,
                            "size": 1,
                            "digest": D,
                            "platform": {"architecture": "amd64", "os": "linux"},
                        }
                    ],
                }
            ),
            "prettyjws",
        ),
    ],
)
def test_docker_to_oci_refuses(body, reason):
    with pytest.raises(NotConvertible, match=reason):
        docker_to_oci(body)


def test_not_convertible_reason_is_a_sentence():
    with pytest.raises(NotConvertible) as caught:
        oci_to_docker(fixture("oci_spec_artifact_empty_config.json"))
    reason = str(caught.value)
    assert reason[0].isupper() and reason.endswith(".")


def test_child_ref_of_the_wrong_family_is_a_caller_bug():
    body = fixture("oci_spec_index.json")
    digest = json.loads(body)["manifests"][0]["digest"]
    with pytest.raises(ValueError):
        oci_to_docker(body, children={digest: ChildRef(E, 1, mt.OCI_MANIFEST)})


# --- accepted_conversion ---------------------------------------------------


@pytest.mark.parametrize(
    "stored, accepted, expected",
    [
        (mt.OCI_MANIFEST, {mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST}, mt.DOCKER_MANIFEST),
        (mt.OCI_INDEX, {mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST}, mt.DOCKER_MANIFEST_LIST),
        (mt.DOCKER_MANIFEST, {mt.OCI_MANIFEST, mt.OCI_INDEX}, mt.OCI_MANIFEST),
        (mt.DOCKER_MANIFEST_LIST, {mt.OCI_INDEX}, mt.OCI_INDEX),
        (mt.DOCKER_MANIFEST, {"Application/VND.OCI.image.manifest.v1+json; q=0.5"}, mt.OCI_MANIFEST),
        # Accepts what is stored: no conversion.
        (mt.OCI_MANIFEST, {mt.OCI_MANIFEST, mt.DOCKER_MANIFEST}, None),
        (mt.OCI_MANIFEST, {"*/*"}, None),
        (mt.OCI_MANIFEST, {"application/*", mt.DOCKER_MANIFEST}, None),
        # Accepts neither, or only a list when a manifest is stored.
        (mt.OCI_MANIFEST, {mt.DOCKER_SCHEMA1_SIGNED}, None),
        (mt.OCI_MANIFEST, {mt.DOCKER_MANIFEST_LIST}, None),
        (mt.OCI_INDEX, {mt.DOCKER_MANIFEST}, None),
        (mt.OCI_MANIFEST, set(), None),
        (mt.DOCKER_SCHEMA1_SIGNED, {mt.OCI_MANIFEST}, None),
        ("application/vnd.oci.artifact.manifest.v1+json", {mt.DOCKER_MANIFEST}, None),
    ],
)
def test_accepted_conversion(stored, accepted, expected):
    assert accepted_conversion(stored, accepted) == expected


# --- properties ------------------------------------------------------------

hex_digest = st.one_of(
    st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h),
    st.text("0123456789abcdef", min_size=128, max_size=128).map(lambda h: "sha512:" + h),
)
sizes = st.integers(min_value=0, max_value=2**53)
annotation_maps = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=20), min_size=1, max_size=3)
url_lists = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=2)


@st.composite
def descriptors(draw, media_types, *, platform=False):
    descriptor = {
        "mediaType": draw(st.sampled_from(sorted(media_types))),
        "digest": draw(hex_digest),
        "size": draw(sizes),
    }
    if draw(st.booleans()):
        descriptor["urls"] = draw(url_lists)
    if draw(st.booleans()):
        descriptor["annotations"] = draw(annotation_maps)
    if platform:
        descriptor["platform"] = draw(platforms())
    return descriptor


@st.composite
def platforms(draw):
    platform = {
        "architecture": draw(st.sampled_from(["amd64", "arm64", "arm", "ppc64le", "s390x", "386", "riscv64"])),
        "os": draw(st.sampled_from(["linux", "windows", "freebsd"])),
    }
    optional = {
        "os.version": st.text(min_size=1, max_size=20),
        "os.features": st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3),
        "variant": st.sampled_from(["v5", "v6", "v7", "v8"]),
        "features": st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            platform[key] = draw(strategy)
    return platform


@st.composite
def docker_manifests(draw):
    return {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": draw(descriptors({mt.DOCKER_CONFIG})),
        "layers": draw(st.lists(descriptors(LAYER_DOCKER_TO_OCI.keys()), max_size=8)),
    }


@st.composite
def oci_manifests(draw):
    manifest = {
        "schemaVersion": 2,
        "config": draw(descriptors({mt.OCI_CONFIG})),
        "layers": draw(st.lists(descriptors(LAYER_OCI_TO_DOCKER.keys()), max_size=8)),
    }
    # OCI lets mediaType be omitted; the converter must still know what it holds.
    if draw(st.booleans()):
        manifest["mediaType"] = mt.OCI_MANIFEST
    if draw(st.booleans()):
        manifest["annotations"] = draw(annotation_maps)
    return manifest


@st.composite
def indexes(draw, index_type, child_type):
    entries = draw(st.lists(descriptors({child_type}, platform=True), max_size=6))
    # One manifest may serve several platforms, but a digest has one size.
    size_of = {}
    for entry in entries:
        entry["size"] = size_of.setdefault(entry["digest"], entry["size"])
    document = {"schemaVersion": 2, "mediaType": index_type, "manifests": entries}
    if index_type == mt.OCI_INDEX and draw(st.booleans()):
        document["annotations"] = draw(annotation_maps)
    return document


def renamed(digest: str) -> str:
    return "sha256:" + hashlib.sha256(digest.encode()).hexdigest()


def child_maps(index: dict, there: str, back: str) -> tuple[dict, dict]:
    """ChildRefs for converting each entry's child, and for converting it back."""
    forward = {e["digest"]: ChildRef(renamed(e["digest"]), e["size"] + 1, there) for e in index["manifests"]}
    backward = {renamed(e["digest"]): ChildRef(e["digest"], e["size"], back) for e in index["manifests"]}
    return forward, backward


def without_top_level_annotations(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "annotations"}


@settings(max_examples=200)
@given(docker_manifests())
def test_docker_manifest_round_trip(manifest):
    body = dumps(manifest)
    oci = docker_to_oci(body)
    assert_valid(oci, mt.OCI_MANIFEST)
    back = oci_to_docker(oci)
    assert_valid(back, mt.DOCKER_MANIFEST)
    assert json.loads(back) == manifest


@settings(max_examples=200)
@given(oci_manifests())
def test_oci_manifest_round_trip(manifest):
    docker = oci_to_docker(dumps(manifest))
    assert_valid(docker, mt.DOCKER_MANIFEST)
    back = docker_to_oci(docker)
    assert_valid(back, mt.OCI_MANIFEST)
    expected = without_top_level_annotations({"mediaType": mt.OCI_MANIFEST, **manifest})
    assert json.loads(back) == expected


@settings(max_examples=100)
@given(indexes(mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST))
def test_docker_list_round_trip(index):
    forward, backward = child_maps(index, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST)
    oci = docker_to_oci(dumps(index), children=forward)
    assert_valid(oci, mt.OCI_INDEX)
    back = oci_to_docker(oci, children=backward)
    assert_valid(back, mt.DOCKER_MANIFEST_LIST)
    assert json.loads(back) == index


@settings(max_examples=100)
@given(indexes(mt.OCI_INDEX, mt.OCI_MANIFEST))
def test_oci_index_round_trip(index):
    forward, backward = child_maps(index, mt.DOCKER_MANIFEST, mt.OCI_MANIFEST)
    docker = oci_to_docker(dumps(index), children=forward)
    document = assert_valid(docker, mt.DOCKER_MANIFEST_LIST)
    for entry, original in zip(document["manifests"], index["manifests"], strict=True):
        assert entry["platform"] == original["platform"]
        assert entry["digest"] == forward[original["digest"]].digest
    back = docker_to_oci(docker, children=backward)
    assert json.loads(back) == without_top_level_annotations(index)


@st.composite
def reshuffled(draw, document):
    """The same JSON meaning with keys in another order."""
    if isinstance(document, dict):
        keys = draw(st.permutations(list(document)))
        return {key: draw(reshuffled(document[key])) for key in keys}
    if isinstance(document, list):
        return [draw(reshuffled(item)) for item in document]
    return document


@settings(max_examples=100)
@given(st.data())
def test_same_meaning_gives_same_bytes(data):
    manifest = data.draw(st.one_of(docker_manifests(), oci_manifests()))
    convert = docker_to_oci if manifest.get("mediaType") == mt.DOCKER_MANIFEST else oci_to_docker
    first = convert(dumps(manifest))
    assert convert(dumps(manifest)) == first
    shuffled = data.draw(reshuffled(manifest))
    indent = data.draw(st.sampled_from([None, 2, 3, "\t"]))
    assert convert(json.dumps(shuffled, indent=indent, ensure_ascii=data.draw(st.booleans())).encode()) == first
    # Converted output is already canonical: going there and back is a fixed point.
    reverse = oci_to_docker if convert is docker_to_oci else docker_to_oci
    assert convert(reverse(first)) == first


@settings(max_examples=100)
@given(docker_manifests())
def test_blobs_are_untouched(manifest):
    converted = json.loads(docker_to_oci(dumps(manifest)))
    pairs = [(manifest["config"], converted["config"])] + list(
        zip(manifest["layers"], converted["layers"], strict=True)
    )
    for before, after in pairs:
        assert (after["digest"], after["size"]) == (before["digest"], before["size"])
        assert after["mediaType"] == LAYER_DOCKER_TO_OCI.get(before["mediaType"], mt.OCI_CONFIG)
