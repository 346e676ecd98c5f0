"""Docker Image Manifest V2, Schema 1: parse and verify, sign, and convert from
schema 2 / OCI. Pure functions over bytes; keys are passed in.

Schema 1 is signed with libtrust's "pretty" JWS: the signatures are spliced
into the manifest JSON itself, and each protected header records how to cut
them out again (formatLength, formatTail). What the digest covers is the
manifest without its signatures, so everything here is about reproducing
libtrust's and Go's encoding/json bytes exactly: a conversion or a signature
that is one byte off gives a different digest or a signature no client
accepts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from django.conf import settings

from apps.kernel import json_limits
from apps.kernel.digests import DigestInvalid, parse_digest

from ..exceptions import ManifestInvalid, ManifestUnverified
from . import media_types as mt

EMPTY_LAYER_DIGEST = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
# A gzipped tar of 1024 zero bytes, as distribution's schema1 builder ships it: schema 1 has no
# way to say "no layer", so history entries that changed nothing point at this blob.
EMPTY_LAYER_BYTES = bytes(
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

SCHEMA1_TYPES = frozenset({mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED, "application/json"})
# Layer types a schema 1 client can unpack; schema 1 cannot carry urls (foreign
# layers), annotations or a compression other than gzip.
CONVERTIBLE_LAYER_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
    }
)
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def _invalid(message: str) -> ManifestInvalid:
    return ManifestInvalid(message)


def _unverified(message: str) -> ManifestUnverified:
    return ManifestUnverified(message)


# --- base64url as JOSE (and libtrust) writes it: no padding ------------------------------

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: object, what: str) -> bytes:
    # Python's decoder skips characters outside the alphabet; libtrust's does not.
    if not isinstance(value, str) or not _B64URL.match(value) or len(value) % 4 == 1:
        raise _unverified(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _unverified(f"{what} is not base64url") from exc


# --- Go encoding/json, byte for byte ----------------------------------------------------

_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_NEEDS_ESCAPE = re.compile('["\\\\<>&\u2028\u2029\x00-\x1f\ud800-\udfff]')


def _go_escape_char(match: re.Match) -> str:
    char = match.group()
    if char in _GO_ESCAPES:
        return _GO_ESCAPES[char]
    if "\ud800" <= char <= "\udfff":
        # Go decodes a lone surrogate escape to U+FFFD and writes that rune raw.
        return "\ufffd"
    return f"\\u{ord(char):04x}"


def _go_string(value: str) -> str:
    return '"' + _GO_NEEDS_ESCAPE.sub(_go_escape_char, value) + '"'


def _go_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError("JSON cannot represent NaN or infinity")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    if 1e-6 <= abs(value) < 1e21:
        # Go: shortest digits that round-trip, never an exponent in this range.
        return format(Decimal(repr(value)).normalize(), "f")
    text = repr(value)
    mantissa, exponent = text.split("e")
    sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
    if sign == "+":
        digits = digits.rjust(2, "0")
    return f"{mantissa}e{sign}{digits}"


def _go_json(value: object, indent: str | None = None, prefix: str = "", _depth: int = 0) -> str:
    """What Go's json.Marshal (indent None) or json.MarshalIndent(v, prefix, indent) writes
    for plain data; dicts keep the order given, as a Go struct keeps its field order."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            separator = ":" if indent is None else ": "
            items.append(_go_string(key) + separator + _go_json(item, indent, prefix, _depth + 1))
        return _go_join("{", items, "}", indent, prefix, _depth)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [_go_json(item, indent, prefix, _depth + 1) for item in value]
        return _go_join("[", items, "]", indent, prefix, _depth)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _go_join(open_: str, items: list[str], close: str, indent: str | None, prefix: str, depth: int) -> str:
    if indent is None:
        return open_ + ",".join(items) + close
    inner = "\n" + prefix + indent * (depth + 1)
    return open_ + inner + ("," + inner).join(items) + "\n" + prefix + indent * depth + close


def _go_compact(raw: str) -> str:
    """Go's json.Compact with HTML escaping, as Marshal applies it to a json.RawMessage:
    whitespace between tokens goes, string contents stay as written except <, >, &,
    U+2028 and U+2029."""
    out: list[str] = []
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            elif char in "<>&\u2028\u2029":
                out.append(_GO_ESCAPES[char])
                continue
            out.append(char)
        elif char in " \t\n\r":
            continue
        else:
            in_string = char == '"'
            out.append(char)
    return "".join(out)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WS = " \t\n\r"


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WS:
        index += 1
    return index


def _raw_members(text: str) -> list[tuple[str, str]]:
    """The members of a JSON object as (decoded key, raw value text), in document order."""
    index = _skip_ws(text, 0)
    if index >= len(text) or text[index] != "{":
        raise ValueError("not a JSON object")
    index = _skip_ws(text, index + 1)
    members: list[tuple[str, str]] = []
    if index < len(text) and text[index] == "}":
        index += 1
    else:
        while True:
            if index >= len(text) or text[index] != '"':
                raise ValueError("expected a member name")
            key, index = json.decoder.scanstring(text, index + 1)
            index = _skip_ws(text, index)
            if index >= len(text) or text[index] != ":":
                raise ValueError("expected ':'")
            index = _skip_ws(text, index + 1)
            _, end = _STRICT_DECODER.raw_decode(text, index)
            members.append((key, text[index:end]))
            index = _skip_ws(text, end)
            if index < len(text) and text[index] == ",":
                index = _skip_ws(text, index + 1)
                continue
            if index < len(text) and text[index] == "}":
                index += 1
                break
            raise ValueError("expected ',' or '}'")
    if _skip_ws(text, index) != len(text):
        raise ValueError("data after the JSON object")
    return members


class _Object(dict):
    """A decoded JSON object that remembers whether a member name was repeated."""

    duplicated = False


def _object_hook(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    obj.duplicated = len(obj) != len(pairs)
    return obj


def _has_duplicates(value: object) -> bool:
    if isinstance(value, _Object):
        return value.duplicated or any(_has_duplicates(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_duplicates(item) for item in value)
    return False


def _loads(data: bytes | str) -> object:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return json_limits.loads(
        text, max_depth=settings.BERTH_MAX_JSON_DEPTH, object_pairs_hook=_object_hook, parse_constant=_reject_constant
    )


def _strict_loads(text: bytes | str) -> object:
    return json_limits.loads(text, max_depth=settings.BERTH_MAX_JSON_DEPTH, parse_constant=_reject_constant)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


# --- times as Go's time.Time reads and writes them in JSON ------------------------------

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def _parse_rfc3339(value: str) -> tuple[datetime, str, str]:
    """(datetime to the microsecond, nanosecond digits, zone as Go writes it)."""
    match = _RFC3339.match(value)
    if not match:
        raise ValueError(f"{value!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    nanos = (match.group(7) or "")[:9].ljust(9, "0")
    zone = match.group(8)
    if zone == "Z":
        offset = timedelta(0)
    else:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} has an impossible zone offset")
        offset = (1 if zone[0] == "+" else -1) * timedelta(hours=hours, minutes=minutes)
    moment = datetime(year, month, day, hour, minute, second, int(nanos[:6]), timezone(offset))
    return moment, nanos, "Z" if offset == timedelta(0) else zone


def _go_time(value: object) -> str:
    """A JSON time re-encoded as Go's time.Time does (RFC 3339, nanoseconds without trailing
    zeros, Z for a zero offset); absent or null is Go's zero time."""
    if value is None:
        return _GO_ZERO_TIME
    if not isinstance(value, str):
        raise TypeError("a time must be a string")
    _, nanos, zone = _parse_rfc3339(value)
    fraction = nanos.rstrip("0")
    # The date and clock fields are fixed-width, so they are written back as read.
    return value[:19] + (f".{fraction}" if fraction else "") + zone


def _created(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _parse_rfc3339(value)[0]
    except ValueError:
        return None


# --- keys: libtrust key ids and JWKs ----------------------------------------------------

_CURVES = {
    "P-256": (ec.SECP256R1, "ES256", hashes.SHA256),
    "P-384": (ec.SECP384R1, "ES384", hashes.SHA384),
    "P-521": (ec.SECP521R1, "ES512", hashes.SHA512),
}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_RSA_ALGORITHMS = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}


def libtrust_key_id(public_key) -> str:
    """libtrust's key id: the first 240 bits of sha256 over the DER SubjectPublicKeyInfo,
    base32 in twelve groups of four joined by ':'."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _octets(curve: ec.EllipticCurve) -> int:
    return (curve.key_size + 7) // 8


def _public_jwk(public_key) -> tuple[dict, str]:
    """(JWK as libtrust writes it, JWS alg libtrust signs with). Members sorted, since
    libtrust marshals the JWK from a Go map."""
    kid = libtrust_key_id(public_key)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        crv = _CURVE_NAMES.get(public_key.curve.name)
        if crv is None:
            raise ValueError(f"libtrust cannot sign with curve {public_key.curve.name}")
        numbers, size = public_key.public_numbers(), _octets(public_key.curve)
        jwk = {
            "crv": crv,
            "kid": kid,
            "kty": "EC",
            "x": _b64url_encode(numbers.x.to_bytes(size, "big")),
            "y": _b64url_encode(numbers.y.to_bytes(size, "big")),
        }
        return jwk, _CURVES[crv][1]
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        jwk = {
            "e": _b64url_encode(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "kid": kid,
            "kty": "RSA",
            "n": _b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        }
        # libtrust's RSA key signs with the hash it is asked for, and JSONSignature asks for SHA-256.
        return jwk, "RS256"
    raise TypeError(f"cannot sign with a {type(public_key).__name__}")


def _jwk_string(jwk: dict, name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise _unverified(f"signature key (jwk) has no {name!r} string")
    return value


def _key_from_jwk(jwk: object):
    if not isinstance(jwk, dict):
        raise _unverified("signature header has no key (jwk or x5c)")
    kty = jwk.get("kty")
    try:
        if kty == "EC":
            crv = _jwk_string(jwk, "crv")
            if crv not in _CURVES:
                raise _unverified(f"signature key curve {crv!r} is not supported")
            curve = _CURVES[crv][0]()
            coordinates = []
            for name in ("x", "y"):
                octets = _b64url_decode(_jwk_string(jwk, name), f"jwk {name}")
                if len(octets) != _octets(curve):
                    raise _unverified(f"jwk {name} has {len(octets)} octets, {crv} needs {_octets(curve)}")
                coordinates.append(int.from_bytes(octets, "big"))
            key = ec.EllipticCurvePublicNumbers(coordinates[0], coordinates[1], curve).public_key()
        elif kty == "RSA":
            n = int.from_bytes(_b64url_decode(_jwk_string(jwk, "n"), "jwk n"), "big")
            e_octets = _b64url_decode(_jwk_string(jwk, "e"), "jwk e")
            if not 0 < len(e_octets) <= 4:
                raise _unverified("jwk e must be 1 to 4 octets")
            key = rsa.RSAPublicNumbers(int.from_bytes(e_octets, "big"), n).public_key()
            if key.key_size < 1024:
                raise _unverified(f"RSA signature key of {key.key_size} bits is too small")
        else:
            raise _unverified(f"signature key type {kty!r} is not supported")
    except ValueError as exc:
        # cryptography refuses points off the curve and malformed RSA numbers.
        raise _unverified(f"signature key (jwk) is not a valid public key: {exc}") from exc
    if "kid" in jwk and jwk["kid"] != libtrust_key_id(key):
        # libtrust refuses a JWK whose kid is not the key's own fingerprint.
        raise _unverified(f"signature key id {jwk['kid']!r} does not match its key")
    return key


def _key_from_chain(chain: object):
    # libtrust takes the key from the first certificate and, like here, does not check the chain.
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise _unverified("signature x5c must be a non-empty array of certificates")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (binascii.Error, ValueError) as exc:
        raise _unverified(f"signature x5c certificate is unreadable: {exc}") from exc
    key = certificate.public_key()
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise _unverified("signature x5c certificate has neither an EC nor an RSA key")
    return key


def _verify(key, alg: object, signature: bytes, signed: bytes) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        crv = _CURVE_NAMES.get(key.curve.name)
        if crv is None:
            raise _unverified(f"signature key curve {key.curve.name} is not supported")
        expected_alg, hash_type = _CURVES[crv][1], _CURVES[crv][2]
        if alg != expected_alg:
            raise _unverified(f"an {crv} key signs with {expected_alg}, not {alg!r}")
        size = _octets(key.curve)
        if len(signature) != 2 * size:
            raise _unverified(f"{alg} signature is {len(signature)} octets, should be {2 * size}")
        der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
        key.verify(der, signed, ec.ECDSA(hash_type()))
    else:
        if alg not in _RSA_ALGORITHMS:
            raise _unverified(f"an RSA key signs with RS256, RS384 or RS512, not {alg!r}")
        key.verify(signature, signed, padding.PKCS1v15(), _RSA_ALGORITHMS[alg]())


# --- parse and verify -------------------------------------------------------------------


@dataclass(frozen=True)
class Schema1Manifest:
    name: str
    tag: str
    architecture: str
    fs_layers: tuple[str, ...]
    history: tuple[str, ...]
    signed: bool
    payload: bytes

    @property
    def digest(self) -> str:
        # distribution names a signed manifest by its payload, so re-signing keeps the digest.
        return "sha256:" + hashlib.sha256(self.payload).hexdigest()

    def details(self) -> dict:
        top = json.loads(self.history[0]) if self.history else {}
        architecture = self.architecture or top.get("architecture")
        return {
            "architecture": architecture if isinstance(architecture, str) and architecture else None,
            "os": top.get("os") if isinstance(top.get("os"), str) else None,
            "created": _created(top.get("created")),
        }


def _format_of(protected: str) -> tuple[int, bytes]:
    try:
        header = _strict_loads(_b64url_decode(protected, "protected header"))
    except json_limits.JSONTooDeep as exc:
        raise _invalid(f"protected header {exc}") from exc
    except ValueError as exc:
        raise _unverified(f"protected header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise _unverified("protected header is not a JSON object")
    length = header.get("formatLength")
    if isinstance(length, float) and length.is_integer():
        length = int(length)
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise _unverified("protected header has no formatLength")
    if not isinstance(header.get("formatTail"), str):
        raise _unverified("protected header has no formatTail")
    return length, _b64url_decode(header["formatTail"], "formatTail")


def _verified_payload(body: bytes, signatures: object) -> bytes:
    """Check every signature as libtrust's ParsePrettySignature + Verify would, and return
    the payload they sign: the body cut at formatLength, plus formatTail."""
    if not isinstance(signatures, list) or not signatures:
        raise _unverified("signatures must be a non-empty array")
    layout: tuple[int, bytes] | None = None
    checks = []
    for i, entry in enumerate(signatures):
        where = f"signatures[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("header"), dict):
            raise _unverified(f"{where} has no header")
        protected, signature = entry.get("protected"), entry.get("signature")
        if not isinstance(protected, str) or not isinstance(signature, str):
            raise _unverified(f"{where} needs protected and signature strings")
        this_layout = _format_of(protected)
        if layout is not None and this_layout != layout:
            raise _unverified(f"{where} disagrees with the others on where the signatures go")
        layout = this_layout
        header = entry["header"]
        key = _key_from_chain(header["x5c"]) if header.get("x5c") else _key_from_jwk(header.get("jwk"))
        checks.append((where, key, header.get("alg"), _b64url_decode(signature, f"{where}.signature"), protected))
    length, tail = layout
    if length > len(body):
        raise _unverified(f"formatLength {length} is past the end of the manifest")
    payload = body[:length] + tail
    encoded = _b64url_encode(payload)
    for where, key, alg, signature, protected in checks:
        try:
            _verify(key, alg, signature, f"{protected}.{encoded}".encode("ascii"))
        except InvalidSignature as exc:
            raise _unverified(f"{where} does not verify: the manifest or its signature was altered") from exc
    return payload


def _string_member(document: dict, name: str, *, required: bool) -> str:
    value = document.get(name, "")
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if required and not value:
        raise _invalid(f"{name} is missing")
    return value


def parse_schema1(body: bytes, content_type: str) -> Schema1Manifest:
    """Validate a pushed schema 1 manifest and verify its signatures. A bad or unverifiable
    signature is ManifestUnverified; anything else wrong is ManifestInvalid."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in SCHEMA1_TYPES:
        raise _invalid(f"{content_type!r} is not a schema 1 manifest media type")
    try:
        document = _loads(body)
    except json_limits.JSONTooDeep as exc:
        raise _invalid(f"manifest {exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _invalid("manifest must be a JSON object")

    signed = "signatures" in document
    if signed:
        payload = _verified_payload(body, document["signatures"])
        try:
            manifest = _loads(payload)
        except json_limits.JSONTooDeep as exc:
            raise _invalid(f"the signed payload {exc}") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise _invalid(f"the signed payload is not valid JSON: {exc}") from exc
        if not isinstance(manifest, dict):
            raise _invalid("the signed payload must be a JSON object")
        # The signatures cover only the payload; refuse anything outside it (a second
        # fsLayers after the signed part, say) that a reader of the whole body would see.
        unsigned = {k: v for k, v in document.items() if k != "signatures"}
        if document.duplicated or _canonical(unsigned) != _canonical(manifest):
            raise _unverified("the manifest has content outside its signed payload")
    elif media_type == mt.DOCKER_SCHEMA1_SIGNED:
        raise _unverified(f"a {mt.DOCKER_SCHEMA1_SIGNED} manifest must carry signatures")
    else:
        payload, manifest = body, document
    if _has_duplicates(manifest):
        raise _invalid("manifest repeats a member name")

    version = manifest.get("schemaVersion")
    if version != 1 or not isinstance(version, int) or isinstance(version, bool):
        raise _invalid("schemaVersion must be 1")
    name = _string_member(manifest, "name", required=True)
    tag = _string_member(manifest, "tag", required=True)
    architecture = _string_member(manifest, "architecture", required=False)

    fs_layers, history = manifest.get("fsLayers"), manifest.get("history")
    if not isinstance(fs_layers, list) or not fs_layers:
        raise _invalid("fsLayers must be a non-empty array")
    if not isinstance(history, list):
        raise _invalid("history must be an array")
    if len(history) != len(fs_layers):
        raise _invalid(f"fsLayers has {len(fs_layers)} entries but history has {len(history)}")
    blob_sums = []
    for i, layer in enumerate(fs_layers):
        blob_sum = layer.get("blobSum") if isinstance(layer, dict) else None
        if not isinstance(blob_sum, str):
            raise _invalid(f"fsLayers[{i}].blobSum is missing")
        try:
            parse_digest(blob_sum)
        except DigestInvalid as exc:
            raise _invalid(f"fsLayers[{i}].blobSum: {exc.message}") from exc
        blob_sums.append(blob_sum)
    v1_compatibility = []
    for i, entry in enumerate(history):
        text = entry.get("v1Compatibility") if isinstance(entry, dict) else None
        if not isinstance(text, str):
            raise _invalid(f"history[{i}].v1Compatibility must be a string")
        try:
            image = _strict_loads(text)
        except json_limits.JSONTooDeep as exc:
            raise _invalid(f"history[{i}].v1Compatibility {exc}") from exc
        except ValueError as exc:
            raise _invalid(f"history[{i}].v1Compatibility is not JSON: {exc}") from exc
        if not isinstance(image, dict):
            raise _invalid(f"history[{i}].v1Compatibility must be a JSON object")
        v1_compatibility.append(text)

    return Schema1Manifest(
        name=name,
        tag=tag,
        architecture=architecture,
        fs_layers=tuple(blob_sums),
        history=tuple(v1_compatibility),
        signed=signed,
        payload=payload,
    )


# --- sign -------------------------------------------------------------------------------


def schema1_payload(manifest: dict) -> bytes:
    """The manifest as distribution marshals it (Go's MarshalIndent, three spaces): what
    sign_schema1 signs, what the signed manifest's digest covers, and the body to serve
    as an unsigned schema 1 manifest."""
    return _go_json(manifest, "   ").encode()


def sign_schema1(manifest: dict, private_key, *, now: datetime | None = None) -> bytes:
    """Sign `manifest` as distribution's schema1.Sign does (libtrust JSONSignature +
    PrettySignature): the payload is Go's MarshalIndent with three spaces, and the
    signatures array is spliced in before its closing brace."""
    if not isinstance(private_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise TypeError(f"cannot sign with a {type(private_key).__name__}")
    if not isinstance(manifest, dict) or not manifest:
        # libtrust would splice the signatures in as "{," for an empty object.
        raise ValueError("only a non-empty JSON object can be signed")
    payload = schema1_payload(manifest)
    indent = "   "
    # libtrust keeps the closing "\n}" out of the signed layout; the rest is signed as is.
    format_length = len(payload) - 2
    format_tail = payload[format_length:]

    moment = (now or datetime.now(UTC)).astimezone(UTC)
    protected_header = {
        "formatLength": format_length,
        "formatTail": _b64url_encode(format_tail),
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    protected = _b64url_encode(_go_json(protected_header).encode("utf-8"))
    signing_input = f"{protected}.{_b64url_encode(payload)}".encode("ascii")

    jwk, alg = _public_jwk(private_key.public_key())
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        der = private_key.sign(signing_input, ec.ECDSA(_CURVES[jwk["crv"]][2]()))
        r, s = decode_dss_signature(der)
        size = _octets(private_key.curve)
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())

    signatures = [{"header": {"jwk": jwk, "alg": alg}, "signature": _b64url_encode(signature), "protected": protected}]
    spliced = _go_json(signatures, indent, prefix=indent)
    return payload[:format_length] + f',\n{indent}"signatures": {spliced}\n}}'.encode()


# --- convert from schema 2 / OCI --------------------------------------------------------


def _history_entry(entry: object, i: int) -> dict:
    if not isinstance(entry, dict):
        raise _invalid(f"config history[{i}] must be an object")
    for name in ("author", "created_by", "comment"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            raise _invalid(f"config history[{i}].{name} must be a string")
    if entry.get("empty_layer") is not None and not isinstance(entry["empty_layer"], bool):
        raise _invalid(f"config history[{i}].empty_layer must be a boolean")
    try:
        created = _go_time(entry.get("created"))
    except (TypeError, ValueError) as exc:
        raise _invalid(f"config history[{i}].created: {exc}") from exc
    return {
        "created": created,
        "author": entry.get("author") or "",
        "created_by": entry.get("created_by") or "",
        "comment": entry.get("comment") or "",
        "empty_layer": bool(entry.get("empty_layer")),
    }


def _image_manifest(manifest: bytes) -> list[str]:
    """The layer digests of a schema 2 or OCI image manifest, refusing what schema 1
    cannot express."""
    try:
        document = json.loads(manifest.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("schemaVersion") != 2:
        raise _invalid("only a schemaVersion 2 image manifest converts to schema 1")
    media_type = document.get("mediaType") or (mt.OCI_INDEX if "manifests" in document else mt.OCI_MANIFEST)
    if media_type in mt.INDEXES or "manifests" in document:
        raise _invalid("an image index has no schema 1 form; convert one of its images")
    if media_type not in mt.IMAGE_MANIFESTS:
        raise _invalid(f"{media_type!r} is not an image manifest")
    if document.get("artifactType"):
        raise _invalid(f"an artifact ({document['artifactType']}) has no schema 1 form")
    config = document.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if config_type not in (mt.DOCKER_CONFIG, mt.OCI_CONFIG):
        raise _invalid(f"config media type {config_type!r} is not an image config; only images convert to schema 1")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise _invalid("layers must be an array")
    digests = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str):
            raise _invalid(f"layers[{i}] has no digest")
        if layer.get("mediaType") not in CONVERTIBLE_LAYER_TYPES:
            raise _invalid(f"layers[{i}] is {layer.get('mediaType')!r}, which schema 1 clients cannot unpack")
        if layer.get("urls"):
            raise _invalid(f"layers[{i}] is a foreign layer; schema 1 cannot carry its urls")
        try:
            parse_digest(layer["digest"])
        except DigestInvalid as exc:
            raise _invalid(f"layers[{i}].digest: {exc.message}") from exc
        digests.append(layer["digest"])
    return digests


def _top_v1_compatibility(members: list[tuple[str, str]], v1_id: str, parent: str, throwaway: bool) -> str:
    # distribution's MakeV1ConfigFromConfig: the config through a Go map of raw values, so
    # members come out sorted, compacted, the last of a repeated name winning.
    values = {key: _go_compact(raw) for key, raw in members if key not in ("rootfs", "history")}
    values["id"] = _go_string(v1_id)
    if parent:
        values["parent"] = _go_string(parent)
    if throwaway:
        values["throwaway"] = "true"
    return "{" + ",".join(f"{_go_string(key)}:{values[key]}" for key in sorted(values)) + "}"


def schema2_to_schema1(*, manifest: bytes, config: bytes, name: str, tag: str) -> tuple[dict, bool]:
    """The unsigned schema 1 manifest distribution's configManifestBuilder would build for
    this image, and whether it uses the empty layer blob (which must then exist in the
    repository). Deterministic: the same input gives the same dict."""
    if not isinstance(name, str) or not name:
        raise _invalid("a schema 1 manifest needs a repository name")
    layers = _image_manifest(manifest)
    try:
        config_text = config.decode("utf-8")
        image = _strict_loads(config_text)
        members = _raw_members(config_text)
    except json_limits.JSONTooDeep as exc:
        raise _invalid(f"image config {exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid(f"image config is not valid JSON: {exc}") from exc
    if not isinstance(image, dict):
        raise _invalid("image config must be a JSON object")

    architecture = image.get("architecture") or ""
    if not isinstance(architecture, str):
        raise _invalid("config architecture must be a string")
    rootfs = image.get("rootfs")
    if rootfs is not None and not isinstance(rootfs, dict):
        raise _invalid("config rootfs must be an object")
    rootfs = rootfs or {}
    diff_ids = rootfs.get("diff_ids")
    if diff_ids is not None and (not isinstance(diff_ids, list) or len(diff_ids) != len(layers)):
        count = len(diff_ids) if isinstance(diff_ids, list) else "no"
        raise _invalid(f"config rootfs lists {count} diff_ids but the manifest has {len(layers)} layers")
    base_layer = rootfs.get("base_layer") or ""
    if not isinstance(base_layer, str):
        raise _invalid("config rootfs.base_layer must be a string")

    raw_history = image.get("history")
    if raw_history is not None and not isinstance(raw_history, list):
        raise _invalid("config history must be an array")
    if raw_history:
        history = [_history_entry(entry, i) for i, entry in enumerate(raw_history)]
    else:
        # No build history (some builders omit it): one plain entry per layer.
        history = [_history_entry({}, i) for i in range(len(layers))]
    if not history:
        raise _invalid("an image with neither layers nor history has no schema 1 form")
    non_empty = sum(1 for entry in history if not entry["empty_layer"])
    if non_empty != len(layers):
        raise _invalid(f"config history has {non_empty} non-empty layers but the manifest has {len(layers)} layers")

    count = len(history)
    fs_layers: list[dict] = [{}] * count
    v1_history: list[dict] = [{}] * count
    uses_empty_layer = False
    remaining = iter(layers)
    parent = ""
    for i, entry in enumerate(history[:-1]):
        if entry["empty_layer"]:
            blob_sum, uses_empty_layer = EMPTY_LAYER_DIGEST, True
        else:
            blob_sum = next(remaining)
        v1_id = hashlib.sha256(f"{blob_sum.split(':', 1)[1]} {parent}".encode()).hexdigest()
        if i == 0 and base_layer:
            # Windows images: the first layer's parent stands for the base layer they need.
            parent = hashlib.sha384(base_layer.encode()).hexdigest()[:64]
        v1 = {"id": v1_id}
        if parent:
            v1["parent"] = parent
        if entry["comment"]:
            v1["comment"] = entry["comment"]
        v1["created"] = entry["created"]
        v1["container_config"] = {"Cmd": [entry["created_by"]]}
        if entry["author"]:
            v1["author"] = entry["author"]
        if entry["empty_layer"]:
            v1["throwaway"] = True
        fs_layers[count - 1 - i] = {"blobSum": blob_sum}
        v1_history[count - 1 - i] = {"v1Compatibility": _go_json(v1)}
        parent = v1_id

    top = history[-1]
    if top["empty_layer"]:
        blob_sum, uses_empty_layer = EMPTY_LAYER_DIGEST, True
    else:
        blob_sum = next(remaining)
    # The top id covers the whole config, so images differing only in config differ here.
    top_id = hashlib.sha256(f"{blob_sum.split(':', 1)[1]} {parent} ".encode() + config).hexdigest()
    fs_layers[0] = {"blobSum": blob_sum}
    v1_history[0] = {"v1Compatibility": _top_v1_compatibility(members, top_id, parent, top["empty_layer"])}

    converted = {
        "schemaVersion": 1,
        "name": name,
        "tag": tag,
        "architecture": architecture,
        "fsLayers": fs_layers,
        "history": v1_history,
    }
    return converted, uses_empty_layer
