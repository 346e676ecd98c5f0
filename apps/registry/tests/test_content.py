"""Manifest validation, a pure function over bytes."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.kernel.errors import DomainError
from apps.registry.content import media_types as mt
from apps.registry.content.manifests import parse_manifest
from apps.registry.exceptions import ManifestInvalid

DIGEST = "sha256:" + "a" * 64


def descriptor(media_type=mt.OCI_CONFIG, **extra):
    return {"mediaType": media_type, "digest": DIGEST, "size": 10, **extra}


def test_oci_image_manifest():
    parsed = parse_manifest(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": descriptor(),
                "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip")],
            }
        ).encode(),
        "",
    )
    assert parsed.media_type == mt.OCI_MANIFEST
    assert len(parsed.blob_descriptors) == 2
    assert parsed.artifact_type == ""


def test_docker_manifest_needs_docker_config():
    body = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST, "config": descriptor(), "layers": []}
    with pytest.raises(ManifestInvalid, match="Docker image manifest"):
        parse_manifest(json.dumps(body).encode(), mt.DOCKER_MANIFEST)


def test_helm_chart_is_an_artifact_typed_by_its_config():
    body = {
        "schemaVersion": 2,
        "config": descriptor(mt.HELM_CONFIG),
        "layers": [descriptor("application/vnd.cncf.helm.chart.content.v1.tar+gzip")],
    }
    parsed = parse_manifest(json.dumps(body).encode(), mt.OCI_MANIFEST)
    assert parsed.artifact_type == mt.HELM_CONFIG


def test_empty_config_needs_artifact_type():
    body = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": descriptor(mt.OCI_EMPTY), "layers": []}
    with pytest.raises(ManifestInvalid, match="artifactType"):
        parse_manifest(json.dumps(body).encode(), "")
    body["artifactType"] = "application/vnd.example"
    assert parse_manifest(json.dumps(body).encode(), "").artifact_type == "application/vnd.example"


def test_index_with_platforms_and_subject():
    body = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "subject": descriptor(mt.OCI_MANIFEST),
        "manifests": [descriptor(mt.OCI_MANIFEST, platform={"architecture": "arm64", "os": "linux", "variant": "v8"})],
    }
    parsed = parse_manifest(json.dumps(body).encode(), "")
    assert parsed.is_index and parsed.manifests[0].platform["variant"] == "v8"
    assert parsed.subject.digest == DIGEST


@pytest.mark.parametrize(
    "body, message",
    [
        (b"[]", "JSON object"),
        (b'{"schemaVersion": 1}', "schemaVersion"),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.OCI_MANIFEST,
                    "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:zz", "size": 1},
                    "layers": [],
                }
            ).encode(),
            "config.digest",
        ),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.OCI_MANIFEST,
                    "config": {"mediaType": mt.OCI_CONFIG, "digest": DIGEST, "size": -1},
                    "layers": [],
                }
            ).encode(),
            "config.size",
        ),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.OCI_MANIFEST,
                    "config": descriptor(),
                    "layers": [{"digest": DIGEST, "size": 1}],
                }
            ).encode(),
            r"layers\[0\].mediaType",
        ),
        (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": {}}).encode(), "manifests array"),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.OCI_INDEX,
                    "manifests": [descriptor(mt.OCI_MANIFEST, platform={"os": "linux"})],
                }
            ).encode(),
            "platform",
        ),
    ],
)
def test_invalid_manifests_say_what_is_wrong(body, message):
    with pytest.raises(ManifestInvalid, match=message):
        parse_manifest(body, "")


def test_content_type_must_agree_with_media_type():
    body = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": descriptor(), "layers": []}
    with pytest.raises(ManifestInvalid, match="does not match"):
        parse_manifest(json.dumps(body).encode(), mt.DOCKER_MANIFEST)


@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_crash_the_parser(data):
    try:
        parse_manifest(data, mt.OCI_MANIFEST)
    except DomainError as error:
        assert isinstance(error, ManifestInvalid)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=20,
    )
)
def test_arbitrary_json_never_crashes_the_parser(document):
    for wrapper in (
        document,
        {"schemaVersion": 2, "config": document, "layers": document},
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": document},
    ):
        try:
            parse_manifest(json.dumps(wrapper).encode(), mt.OCI_MANIFEST)
        except DomainError as error:
            assert isinstance(error, ManifestInvalid)
