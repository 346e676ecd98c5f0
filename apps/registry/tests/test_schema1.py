"""Schema 1: verification against real signed manifests, libtrust-compatible signing
(checked with PyJWT too), and schema 2 -> schema 1 conversion checked against Docker's
own output. No database."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.registry.content import media_types as mt
from apps.registry.content.schema1 import (
    EMPTY_LAYER_BYTES,
    EMPTY_LAYER_DIGEST,
    _go_json,
    libtrust_key_id,
    parse_schema1,
    schema1_payload,
    schema2_to_schema1,
    sign_schema1,
)
from apps.registry.exceptions import ManifestInvalid, ManifestUnverified

FIXTURES = Path(__file__).parent / "fixtures" / "schema1"
SIGNED = mt.DOCKER_SCHEMA1_SIGNED
UNSIGNED = mt.DOCKER_SCHEMA1
HELLO_WORLD_DIGEST = "sha256:02fee8c3220ba806531f606525eceb83f4feb654f62b207191b1c9209188dedd"
BUSYBOX_DIGEST = "sha256:2780635f864cc66c7a5c74aca8047970b95cb91b6d5c135964d984ffe07a2024"
CONTAINERS_V2S1_DIGEST = "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def error_of(body: bytes, content_type: str = SIGNED) -> ManifestInvalid:
    with pytest.raises(ManifestInvalid) as caught:
        parse_schema1(body, content_type)
    return caught.value


def unsigned_part(body: bytes) -> bytes:
    """A pretty-signed body with its signatures cut out, as libtrust would leave it."""
    return body[: body.index(b',\n   "signatures"')] + b"\n}"


def docker_manifest(config_type: str = mt.DOCKER_CONFIG) -> bytes:
    raw = fixture("schema2.json")
    return raw.replace(b'"application/octet-stream"', json.dumps(config_type).encode())


EC_KEYS = {
    curve: ec.generate_private_key(cls())
    for curve, cls in {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}.items()
}
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALL_KEYS = [*EC_KEYS.values(), RSA_KEY]
KEY_IDS = ["P-256", "P-384", "P-521", "RSA-2048"]

SAMPLE = {
    "schemaVersion": 1,
    "name": "team/app",
    "tag": "v1",
    "architecture": "amd64",
    "fsLayers": [{"blobSum": EMPTY_LAYER_DIGEST}, {"blobSum": "sha256:" + "ab" * 32}],
    "history": [
        {
            "v1Compatibility": json.dumps(
                {"id": "b" * 64, "parent": "a" * 64, "os": "linux", "created": "2024-05-06T07:08:09.123456789Z"}
            )
        },
        {"v1Compatibility": json.dumps({"id": "a" * 64})},
    ],
}


# --- the empty layer ----------------------------------------------------------------


def test_empty_layer_bytes_are_the_gzipped_empty_tar_the_digest_names():
    assert len(EMPTY_LAYER_BYTES) == 32
    assert "sha256:" + sha256(EMPTY_LAYER_BYTES) == EMPTY_LAYER_DIGEST
    assert gzip.decompress(EMPTY_LAYER_BYTES) == bytes(1024)


# --- real signed manifests -----------------------------------------------------------


@pytest.mark.parametrize("content_type", [SIGNED, UNSIGNED, "application/json"])
def test_docker_hub_hello_world_verifies_with_the_digest_moby_states(content_type):
    body = fixture("hello-world-good_manifest.json")
    parsed = parse_schema1(body, content_type)
    assert parsed.signed
    assert parsed.digest == HELLO_WORLD_DIGEST
    assert parsed.payload == body[:3197] + b"\n}"
    assert (parsed.name, parsed.tag, parsed.architecture) == ("library/hello-world", "latest", "amd64")
    assert parsed.fs_layers == (
        EMPTY_LAYER_DIGEST,
        "sha256:03f4658f8b782e12230c1783426bd3bacce651ce582a4ffb6fbbfa2079428ecb",
    )
    assert len(parsed.history) == 2
    assert json.loads(parsed.history[0])["id"].startswith("af340544ed62")
    assert parsed.details() == {
        "architecture": "amd64",
        "os": "linux",
        "created": datetime(2015, 8, 6, 23, 53, 22, 608577, tzinfo=UTC),
    }


def test_busybox_from_docker_hub_verifies_with_the_digest_openshift_states():
    parsed = parse_schema1(fixture("busybox-1.23.json"), SIGNED)
    assert parsed.signed and parsed.digest == BUSYBOX_DIGEST
    assert (parsed.name, parsed.tag) == ("library/busybox", "1.23")
    assert parsed.fs_layers[1] == "sha256:9d7588d3c0635b53bd9a7dcd40bdf5d2d32cd3fb919c3a29ec2febbc2449eb19"
    assert parsed.details()["created"] == datetime(2015, 9, 21, 20, 15, 47, 866196, tzinfo=UTC)


@pytest.mark.parametrize(
    "name", ["hello-world-good_manifest.json", "busybox-1.23.json", "spec-example.json", "v2s1.manifest.json"]
)
def test_key_ids_follow_libtrusts_rule_in_every_real_manifest(name):
    # The spec example is not valid JSON (a trailing comma), so find its JWK by pattern.
    text = fixture(name).decode()
    x = re.search(r'"x": "([^"]+)"', text).group(1)
    y = re.search(r'"y": "([^"]+)"', text).group(1)
    kid = re.search(r'"kid": "([^"]+)"', text).group(1)
    key = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(x), "big"), int.from_bytes(b64url_decode(y), "big"), ec.SECP256R1()
    ).public_key()
    assert libtrust_key_id(key) == kid


def test_the_spec_example_is_not_json_and_is_refused_as_invalid():
    error = error_of(fixture("spec-example.json"))
    assert type(error) is ManifestInvalid and "not valid JSON" in error.message


def test_content_after_the_signed_part_is_refused_though_the_signature_verifies():
    # moby's extra_data_manifest: a second fsLayers after formatLength, which a reader of
    # the whole body would take instead of the signed one.
    body = fixture("hello-world-extra_data_manifest.json")
    assert body[:3197] == fixture("hello-world-good_manifest.json")[:3197]
    error = error_of(body)
    assert isinstance(error, ManifestUnverified) and "outside its signed payload" in error.message


def test_a_change_inside_the_signed_part_fails_verification():
    error = error_of(fixture("hello-world-bad_manifest.json"))
    assert isinstance(error, ManifestUnverified) and "does not verify" in error.message


def test_containers_image_fixture_edited_after_signing_fails_but_its_payload_has_the_stated_digest():
    body = fixture("v2s1.manifest.json")
    assert isinstance(error_of(body), ManifestUnverified)
    payload = unsigned_part(body)
    assert payload == body[:5478] + b"\n}"  # where its own protected header puts the cut
    parsed = parse_schema1(payload, UNSIGNED)
    assert not parsed.signed and parsed.payload == payload
    assert parsed.digest == CONTAINERS_V2S1_DIGEST
    assert (parsed.name, parsed.tag, len(parsed.fs_layers)) == ("mitr/busybox", "latest", 3)


def test_a_signatures_member_that_is_not_an_array_is_unverified():
    error = error_of(fixture("v2s1-invalid-signatures.manifest.json"))
    assert isinstance(error, ManifestUnverified) and "signatures" in error.message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"03f4658f8b78", b"03f4658f8b79"),  # a layer digest
        (b'\\"Size\\":960', b'\\"Size\\":961'),  # inside v1Compatibility
        (b'"tag": "latest"', b'"tag": "latesT"'),
        (b'"Y6xaFz9Sy-Otc', b'"Y6xaFz9Sy-Ptc'),  # the signature
        (b'"alg": "ES256"', b'"alg": "ES384"'),
        (b'"kid": "OIH7:', b'"kid": "OIH8:'),
        (b'"x": "Cu_UyxwLgHzE', b'"x": "Cu_UyxwLgHzF'),  # the key: off the curve
        # formatLength 3197 -> 3196
        (b"eyJmb3JtYXRMZW5ndGgiOjMxOTcs", b"eyJmb3JtYXRMZW5ndGgiOjMxOTYs"),
    ],
)
def test_one_changed_byte_anywhere_signed_is_unverified(old, new):
    body = fixture("hello-world-good_manifest.json")
    assert body.count(old) == 1
    assert isinstance(error_of(body.replace(old, new)), ManifestUnverified)


def test_every_single_byte_flip_in_the_payload_is_caught():
    body = fixture("hello-world-good_manifest.json")
    for position in range(0, 3197, 97):
        tampered = bytearray(body)
        tampered[position] ^= 0x01
        # A flip can break the JSON itself (ManifestInvalid); it can never be accepted.
        with pytest.raises(ManifestInvalid):
            parse_schema1(bytes(tampered), SIGNED)


# --- unsigned and invalid ------------------------------------------------------------


def test_unsigned_manifests_are_accepted_and_named_by_their_bytes():
    body = _go_json(SAMPLE, "   ").encode()
    parsed = parse_schema1(body, UNSIGNED + "; charset=utf-8")
    assert not parsed.signed and parsed.payload == body
    assert parsed.digest == "sha256:" + sha256(body)
    assert parsed.details() == {
        "architecture": "amd64",
        "os": "linux",
        "created": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    }


def test_a_prettyjws_manifest_without_signatures_is_unverified():
    error = error_of(_go_json(SAMPLE, "   ").encode(), SIGNED)
    assert isinstance(error, ManifestUnverified)


def _with(**changes) -> bytes:
    document = copy.deepcopy(SAMPLE)
    for key, value in changes.items():
        if value is None:
            document.pop(key)
        else:
            document[key] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (_with(schemaVersion=2), "schemaVersion"),
        (_with(schemaVersion="1"), "schemaVersion"),
        (_with(schemaVersion=True), "schemaVersion"),
        (_with(schemaVersion=None), "schemaVersion"),
        (_with(name=None), "name"),
        (_with(name=""), "name"),
        (_with(tag=None), "tag"),
        (_with(tag=7), "tag"),
        (_with(architecture=["amd64"]), "architecture"),
        (_with(fsLayers=None), "fsLayers"),
        (_with(fsLayers=[], history=[]), "fsLayers"),
        (_with(history=None), "history"),
        (_with(fsLayers=SAMPLE["fsLayers"][:1]), "fsLayers has 1 entries but history has 2"),
        (_with(fsLayers=[{"blobSum": "sha256:xyz"}, {"blobSum": EMPTY_LAYER_DIGEST}]), "fsLayers[0].blobSum"),
        (_with(fsLayers=[{"blobSum": "md5:" + "0" * 32}, {"blobSum": EMPTY_LAYER_DIGEST}]), "not supported"),
        (_with(fsLayers=["sha256:" + "0" * 64, {"blobSum": EMPTY_LAYER_DIGEST}]), "fsLayers[0].blobSum"),
        (_with(history=[{"v1Compatibility": {}}, {"v1Compatibility": "{}"}]), "history[0].v1Compatibility"),
        (_with(history=[{"v1Compatibility": "{}"}, {"v1Compatibility": "nope"}]), "history[1].v1Compatibility"),
        (_with(history=[{"v1Compatibility": "{}"}, {"v1Compatibility": "[]"}]), "history[1].v1Compatibility"),
        (json.dumps(SAMPLE)[:-1].encode() + b', "name": "other"}', "repeats a member name"),
        (json.dumps(SAMPLE).replace("1,", "NaN,", 1).encode(), "not valid JSON"),
    ],
)
def test_invalid_manifests_say_what_is_wrong(body, says):
    error = error_of(body, UNSIGNED)
    assert type(error) is ManifestInvalid
    assert says in error.message


def test_other_media_types_are_not_schema_1():
    error = error_of(_go_json(SAMPLE, "   ").encode(), mt.DOCKER_MANIFEST)
    assert type(error) is ManifestInvalid and "schema 1" in error.message


# --- signing -------------------------------------------------------------------------


def _signature_block(body: bytes) -> dict:
    return json.loads(body)["signatures"][0]


@pytest.mark.parametrize("key", ALL_KEYS, ids=KEY_IDS)
def test_sign_then_parse_round_trips(key):
    body = sign_schema1(SAMPLE, key)
    parsed = parse_schema1(body, SIGNED)
    expected_payload = _go_json(SAMPLE, "   ").encode()
    assert parsed.signed and parsed.payload == expected_payload
    assert parsed.digest == "sha256:" + sha256(expected_payload)
    assert parsed.fs_layers == tuple(layer["blobSum"] for layer in SAMPLE["fsLayers"])
    assert parsed.history == tuple(entry["v1Compatibility"] for entry in SAMPLE["history"])

    block = _signature_block(body)
    assert block["header"]["jwk"]["kid"] == libtrust_key_id(key.public_key())
    protected = json.loads(b64url_decode(block["protected"]))
    assert list(protected) == ["formatLength", "formatTail", "time"]
    assert protected["formatLength"] == len(expected_payload) - 2
    # Every real manifest carries this tail: the closing "\n}".
    assert protected["formatTail"] == "Cn0"


def test_signing_input_and_layout_match_libtrust():
    now = datetime(2020, 1, 2, 3, 4, 5, 999, tzinfo=UTC)
    body = sign_schema1(SAMPLE, EC_KEYS["P-256"], now=now)
    payload = _go_json(SAMPLE, "   ").encode()
    block = _signature_block(body)
    assert json.loads(b64url_decode(block["protected"]))["time"] == "2020-01-02T03:04:05Z"
    assert list(block) == ["header", "signature", "protected"]
    assert list(block["header"]) == ["jwk", "alg"]
    assert list(block["header"]["jwk"]) == ["crv", "kid", "kty", "x", "y"]
    assert list(_signature_block(sign_schema1(SAMPLE, RSA_KEY))["header"]["jwk"]) == ["e", "kid", "kty", "n"]
    assert body.startswith(payload[:-2] + b',\n   "signatures": [\n      {\n         "header": {\n')
    assert body.endswith(b'"\n      }\n   ]\n}')


def test_re_signing_docker_hubs_payload_reproduces_its_bytes_and_layout():
    original = fixture("hello-world-good_manifest.json")
    document = json.loads(parse_schema1(original, SIGNED).payload)  # dicts keep Docker's field order
    assert _go_json(document, "   ").encode() == original[:3197] + b"\n}"
    ours = sign_schema1(document, EC_KEYS["P-256"])
    assert ours[:3197] == original[:3197]
    assert parse_schema1(ours, SIGNED).digest == HELLO_WORLD_DIGEST

    def shape(body: bytes) -> list[str]:
        # Lines of the signatures section with the values blanked: indentation and keys.
        return [re.sub(r'": ".*"', '": ""', line) for line in body[3197:].decode().splitlines()]

    assert shape(ours) == shape(original)


def test_signatures_from_several_keys_all_have_to_verify():
    bodies = [sign_schema1(SAMPLE, key) for key in (EC_KEYS["P-256"], RSA_KEY)]
    cut = len(_go_json(SAMPLE, "   ").encode()) - 2
    blocks = [_signature_block(body) for body in bodies]

    def assemble(signatures: list[dict]) -> bytes:
        spliced = _go_json(signatures, "   ", prefix="   ")
        return bodies[0][:cut] + f',\n   "signatures": {spliced}\n}}'.encode()

    assert parse_schema1(assemble(blocks), SIGNED).signed
    broken = copy.deepcopy(blocks)
    broken[1]["signature"] = b64url(b"\x00" * 256)
    assert isinstance(error_of(assemble(broken)), ManifestUnverified)
    moved = copy.deepcopy(blocks)
    moved[1]["protected"] = b64url(json.dumps({"formatLength": cut - 1, "formatTail": "Cn0"}).encode())
    error = error_of(assemble(moved))
    assert isinstance(error, ManifestUnverified) and "disagrees" in error.message


def test_strings_are_escaped_as_go_does():
    manifest = copy.deepcopy(SAMPLE)
    manifest["tag"] = 'a<b>&c\u2028é\x01\b"\\'
    body = sign_schema1(manifest, EC_KEYS["P-256"])
    assert b'"tag": "a\\u003cb\\u003e\\u0026c\\u2028\xc3\xa9\\u0001\\b\\"\\\\"' in body
    assert parse_schema1(body, SIGNED).tag == manifest["tag"]


@pytest.mark.parametrize(
    ("number", "go"),
    [
        (1.0, "1"),
        (0.1, "0.1"),
        (123456789.0, "123456789"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-2.5, "-2.5"),
        (12, "12"),
    ],
)
def test_numbers_are_written_as_go_does(number, go):
    assert _go_json(number) == go


def test_signing_refuses_what_libtrust_cannot_sign():
    with pytest.raises(ValueError):
        sign_schema1({}, EC_KEYS["P-256"])
    with pytest.raises(TypeError):
        sign_schema1(SAMPLE, object())


# --- independent verification with PyJWT --------------------------------------------


def _pyjwt_verify(body: bytes) -> None:
    """Verify every signature with PyJWT's own key loading and algorithms. libtrust puts
    alg in the unprotected header (JWS JSON serialization: the JOSE header is protected
    and unprotected together), so the header PyJWT checks is that union."""
    document = json.loads(body)
    for block in document["signatures"]:
        protected = json.loads(b64url_decode(block["protected"]))
        payload = body[: protected["formatLength"]] + b64url_decode(protected["formatTail"])
        signing_input = f"{block['protected']}.{b64url(payload)}".encode()
        signature = b64url_decode(block["signature"])
        key = jwt.PyJWK(block["header"]["jwk"])
        alg = block["header"]["alg"]
        assert key.algorithm_name == alg
        # Raises InvalidSignatureError when the signature does not hold.
        jwt.api_jws.PyJWS()._verify_signature(
            signing_input, {**protected, "alg": alg}, signature, key, algorithms=[alg]
        )
        assert key.Algorithm.verify(signing_input, key.key, signature)


@pytest.mark.parametrize("key", ALL_KEYS, ids=KEY_IDS)
def test_pyjwt_verifies_what_we_sign(key):
    _pyjwt_verify(sign_schema1(SAMPLE, key))


def test_pyjwt_agrees_about_docker_hubs_signatures():
    _pyjwt_verify(fixture("hello-world-good_manifest.json"))
    _pyjwt_verify(fixture("busybox-1.23.json"))
    with pytest.raises(jwt.exceptions.InvalidSignatureError):
        _pyjwt_verify(fixture("hello-world-bad_manifest.json"))


def test_the_compact_form_lacks_alg_so_pyjwt_decode_alone_cannot_check_it():
    # Why the helper above passes the unprotected alg: the protected header has none.
    body = sign_schema1(SAMPLE, EC_KEYS["P-256"])
    block = _signature_block(body)
    compact = f"{block['protected']}.{b64url(_go_json(SAMPLE, '   ').encode())}.{block['signature']}"
    with pytest.raises(jwt.exceptions.InvalidAlgorithmError):
        jwt.api_jws.PyJWS().decode_complete(compact, jwt.PyJWK(block["header"]["jwk"]), algorithms=["ES256"])


# --- schema 2 -> schema 1 ------------------------------------------------------------


def test_conversion_matches_dockers_own_byte_for_byte():
    converted, uses_empty_layer = schema2_to_schema1(
        manifest=docker_manifest(), config=fixture("schema2-config.json"), name="library/httpd-copy", tag="latest"
    )
    by_docker = fixture("schema2-to-schema1-by-docker.json")
    assert schema1_payload(converted) == unsigned_part(by_docker)
    assert uses_empty_layer
    # Docker's file was edited after it was signed, so its own signature fails...
    assert isinstance(error_of(by_docker), ManifestUnverified)
    # ...while ours over the same content verifies.
    parsed = parse_schema1(sign_schema1(converted, EC_KEYS["P-256"]), SIGNED)
    assert parsed.payload == schema1_payload(converted)
    assert parsed.details()["created"] == datetime(2016, 9, 23, 23, 20, 45, 789764, tzinfo=UTC)


def _layer(i: int) -> str:
    return "sha256:" + sha256(f"layer {i}".encode())


def _image(history: list[dict] | None, layers: int, **config) -> tuple[bytes, bytes]:
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:" + "c" * 64, "size": 1},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _layer(i), "size": 1}
            for i in range(layers)
        ],
    }
    body = {
        "architecture": "arm64",
        "os": "linux",
        "created": "2024-02-03T04:05:06Z",
        "config": {"Env": ["A=1"], "Cmd": ["/app"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "d" * 64] * layers},
        **config,
    }
    if history is not None:
        body["history"] = history
    return json.dumps(manifest).encode(), json.dumps(body, indent=2).encode()


DOCKERFILE_HISTORY = [
    {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created": "2024-01-01T00:00:01.500000000Z", "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
    {"created": "2024-01-02T00:00:00+00:00", "created_by": "ENV A=1", "empty_layer": True, "author": "me <me@x>"},
    {"created": "2024-01-03T00:00:00+02:00", "created_by": "RUN make", "comment": "buildkit"},
    {"created_by": 'CMD ["/app"]', "empty_layer": True},
]


def test_conversion_with_empty_layers_orders_flags_and_chains_ids():
    manifest, config = _image(DOCKERFILE_HISTORY, 2)
    converted, uses_empty_layer = schema2_to_schema1(manifest=manifest, config=config, name="team/app", tag="v1")
    assert list(converted) == ["schemaVersion", "name", "tag", "architecture", "fsLayers", "history"]
    assert (converted["schemaVersion"], converted["name"], converted["tag"]) == (1, "team/app", "v1")
    assert converted["architecture"] == "arm64" and uses_empty_layer
    # Top layer first: CMD, RUN, ENV, CMD, ADD.
    assert [layer["blobSum"] for layer in converted["fsLayers"]] == [
        EMPTY_LAYER_DIGEST,
        _layer(1),
        EMPTY_LAYER_DIGEST,
        EMPTY_LAYER_DIGEST,
        _layer(0),
    ]
    v1 = [json.loads(entry["v1Compatibility"]) for entry in converted["history"]]
    assert [entry.get("throwaway", False) for entry in v1] == [True, False, True, True, False]

    # Recompute distribution's ids independently, oldest first.
    blob_sums = [layer["blobSum"] for layer in reversed(converted["fsLayers"])]
    ids, parent = [], ""
    for blob_sum in blob_sums[:-1]:
        ids.append(sha256(f"{blob_sum.split(':')[1]} {parent}".encode()))
        parent = ids[-1]
    ids.append(sha256(f"{blob_sums[-1].split(':')[1]} {parent} ".encode() + config))
    assert [entry["id"] for entry in reversed(v1)] == ids
    assert "parent" not in v1[-1]
    assert [entry["parent"] for entry in reversed(v1[:-1])] == ids[:-1]

    base, cmd, env, run = (converted["history"][i]["v1Compatibility"] for i in (4, 3, 2, 1))
    assert base == _go_json(
        {
            "id": ids[0],
            "created": "2024-01-01T00:00:00Z",
            "container_config": {"Cmd": ["/bin/sh -c #(nop) ADD file:abc in / "]},
        }
    )
    assert json.loads(cmd)["created"] == "2024-01-01T00:00:01.5Z"
    assert '"author":"me \\u003cme@x\\u003e","throwaway":true}' in env
    assert json.loads(env)["created"] == "2024-01-02T00:00:00Z"
    assert json.loads(run)["comment"] == "buildkit" and json.loads(run)["created"] == "2024-01-03T00:00:00+02:00"

    top = converted["history"][0]["v1Compatibility"]
    assert list(json.loads(top)) == sorted(json.loads(top))
    assert "history" not in json.loads(top) and "rootfs" not in json.loads(top)
    assert json.loads(top)["os"] == "linux" and json.loads(top)["throwaway"] is True
    assert " " not in top.replace("/bin/sh -c", "")  # compacted, the indented config notwithstanding


def test_conversion_is_deterministic():
    manifest, config = _image(DOCKERFILE_HISTORY, 2)
    first = schema2_to_schema1(manifest=manifest, config=config, name="team/app", tag="v1")
    second = schema2_to_schema1(manifest=manifest, config=config, name="team/app", tag="v1")
    assert first == second
    assert _go_json(first[0], "   ") == _go_json(second[0], "   ")


def test_conversion_without_empty_layers_or_history():
    manifest, config = _image(None, 3)
    converted, uses_empty_layer = schema2_to_schema1(manifest=manifest, config=config, name="a", tag="b")
    assert not uses_empty_layer
    assert [layer["blobSum"] for layer in converted["fsLayers"]] == [_layer(2), _layer(1), _layer(0)]
    oldest = json.loads(converted["history"][-1]["v1Compatibility"])
    assert oldest["created"] == "0001-01-01T00:00:00Z" and oldest["container_config"] == {"Cmd": [""]}
    assert parse_schema1(sign_schema1(converted, RSA_KEY), SIGNED).fs_layers == (_layer(2), _layer(1), _layer(0))


def test_windows_base_layer_becomes_the_first_parent():
    history = [{"created_by": "base"}, {"created_by": "top"}]
    manifest, config = _image(
        history, 2, rootfs={"type": "layers", "diff_ids": ["sha256:" + "d" * 64] * 2, "base_layer": "windows-base"}
    )
    converted, _ = schema2_to_schema1(manifest=manifest, config=config, name="a", tag="b")
    first = json.loads(converted["history"][1]["v1Compatibility"])
    assert first["id"] == sha256(f"{_layer(0).split(':')[1]} ".encode())
    assert first["parent"] == hashlib.sha384(b"windows-base").hexdigest()[:64]
    assert json.loads(converted["history"][0]["v1Compatibility"])["parent"] == first["id"]


@pytest.mark.parametrize(
    ("manifest", "config", "says"),
    [
        (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}).encode(), b"{}", "index"),
        (
            json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": []}).encode(),
            b"{}",
            "index",
        ),
        (json.dumps({"schemaVersion": 2, "manifests": []}).encode(), b"{}", "index"),
        (docker_manifest(mt.HELM_CONFIG), b"{}", "not an image config"),
        (docker_manifest("application/octet-stream"), b"{}", "not an image config"),
        (
            _image([], 1)[0].replace(
                b'"schemaVersion": 2', b'"schemaVersion": 2, "artifactType": "application/x-sbom"'
            ),
            b"{}",
            "artifact",
        ),
        (_image([], 1)[0].replace(b"v1.tar+gzip", b"v1.tar+zstd"), b"{}", "cannot unpack"),
        (_image([], 1)[0].replace(b'"size": 1}]', b'"size": 1, "urls": ["https://x"]}]'), b"{}", "foreign"),
        (_image([], 1)[0].replace(b'"schemaVersion": 2', b'"schemaVersion": 1'), b"{}", "schemaVersion 2"),
        (b"not json", b"{}", "not valid JSON"),
        (docker_manifest(), b"not json", "config is not valid JSON"),
        (docker_manifest(), b"[]", "config is not valid JSON"),
        (docker_manifest(), b'{"history": [{"created_by": "x"}]}', "1 non-empty layers but the manifest has 5"),
        (docker_manifest(), b'{"rootfs": {"diff_ids": []}}', "0 diff_ids"),
        (docker_manifest(), b'{"architecture": 1}', "architecture"),
        (_image([], 1)[0], b'{"history": [{"created": "yesterday"}]}', "history[0].created"),
        (_image([], 1)[0], b'{"history": [{"created_by": 5}]}', "history[0].created_by"),
        (_image([], 0)[0], b"{}", "neither layers nor history"),
    ],
)
def test_conversion_refuses_what_schema_1_cannot_express(manifest, config, says):
    with pytest.raises(ManifestInvalid) as caught:
        schema2_to_schema1(manifest=manifest, config=config, name="a", tag="b")
    assert type(caught.value) is ManifestInvalid
    assert says in caught.value.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=st.lists(st.booleans(), min_size=1, max_size=25), with_created=st.booleans())
def test_conversion_keeps_every_history_entry_and_every_layer(pattern, with_created):
    # pattern[i] is True when history entry i (oldest first) made no layer.
    layers = pattern.count(False)
    history = [
        {
            "created_by": f"step {i}",
            "empty_layer": empty,
            **({"created": "2024-01-01T00:00:00Z"} if with_created else {}),
        }
        for i, empty in enumerate(pattern)
    ]
    manifest, config = _image(history, layers)
    converted, uses_empty_layer = schema2_to_schema1(manifest=manifest, config=config, name="p", tag="t")

    blob_sums = [layer["blobSum"] for layer in converted["fsLayers"]]
    assert len(blob_sums) == len(converted["history"]) == len(history)
    assert [b for b, empty in zip(blob_sums, reversed(pattern)) if not empty] == [
        _layer(i) for i in reversed(range(layers))
    ]
    assert all(b == EMPTY_LAYER_DIGEST for b, empty in zip(blob_sums, reversed(pattern)) if empty)
    assert uses_empty_layer == any(pattern)
    v1 = [json.loads(entry["v1Compatibility"]) for entry in converted["history"]]
    assert [entry.get("throwaway", False) for entry in v1] == list(reversed(pattern))
    for newer, older in itertools.pairwise(v1):
        assert newer["parent"] == older["id"]
    assert "parent" not in v1[-1]


# --- keys ----------------------------------------------------------------------------


def _certificate(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(moment)
        .not_valid_after(moment.replace(year=2034))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _replace_header(body: bytes, header: dict) -> bytes:
    document = json.loads(body)
    block = document["signatures"][0]
    cut = json.loads(b64url_decode(block["protected"]))["formatLength"]
    block["header"] = header
    return body[:cut] + f',\n   "signatures": {_go_json([block], "   ", prefix="   ")}\n}}'.encode()


def test_a_certificate_chain_names_the_key_as_libtrust_allows():
    key = EC_KEYS["P-256"]
    body = sign_schema1(SAMPLE, key)
    assert parse_schema1(_replace_header(body, {"x5c": [_certificate(key)], "alg": "ES256"}), SIGNED).signed
    other = EC_KEYS["P-384"]
    error = error_of(_replace_header(body, {"x5c": [_certificate(other)], "alg": "ES384"}))
    assert isinstance(error, ManifestUnverified)


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ({"alg": "ES256"}, "no key"),
        ({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "alg": "EdDSA"}, "not supported"),
        ({"jwk": {"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}, "alg": "ES256"}, "not supported"),
        ({"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "alg": "ES256"}, "octets"),
        ({"jwk": {"kty": "EC", "crv": "P-256", "x": "A+/", "y": "AA"}, "alg": "ES256"}, "base64url"),
        ({"jwk": {"kty": "RSA", "n": b64url(b"\xff" * 64), "e": "AQAB"}, "alg": "RS256"}, "too small"),
        ({"x5c": ["bm90IGEgY2VydA=="], "alg": "ES256"}, "certificate"),
    ],
)
def test_unusable_keys_are_unverified(header, says):
    error = error_of(_replace_header(sign_schema1(SAMPLE, EC_KEYS["P-256"]), header))
    assert isinstance(error, ManifestUnverified) and says in error.message


def test_a_key_without_kid_still_verifies_and_a_wrong_kid_does_not():
    body = sign_schema1(SAMPLE, RSA_KEY)
    header = json.loads(body)["signatures"][0]["header"]
    anonymous = {"jwk": {k: v for k, v in header["jwk"].items() if k != "kid"}, "alg": "RS256"}
    assert parse_schema1(_replace_header(body, anonymous), SIGNED).signed
    misnamed = {"jwk": {**header["jwk"], "kid": libtrust_key_id(EC_KEYS["P-256"].public_key())}, "alg": "RS256"}
    assert "does not match" in error_of(_replace_header(body, misnamed)).message
    assert "RS256, RS384 or RS512" in error_of(_replace_header(body, {**header, "alg": "PS256"})).message
