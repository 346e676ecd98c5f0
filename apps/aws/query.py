"""The AWS Query protocol (STS), as botocore's models define it.

A request is `POST /` with a form body: `Action=<Operation>&Version=<API version>`
and the operation's input flattened into dotted names by its input shape
(botocore.serialize.QuerySerializer): a structure's members as `Name.Member`, a
list as `Name.member.N` (`Name.N` when flattened, N from 1; `Name=` alone is an
empty list), a map as `Name.entry.N.key` / `.value`, booleans as `true`/`false`,
timestamps in ISO 8601, blobs in base64. The answer is XML written by the output
shape (what botocore.parsers.QueryParser reads):

    <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
      <AssumeRoleResult>...the output shape's members...</AssumeRoleResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </AssumeRoleResponse>

and an error is `<ErrorResponse><Error><Type>Sender</Type><Code>...</Code>
<Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>` with the
codes of the Query services (`SignatureDoesNotMatch`, `InvalidClientTokenId`,
`ValidationError`, ...): `query_error` translates the AWS JSON names the rest of
apps.aws raises. As in protocol.py, reading and writing walk the shapes, so a new
operation is a handler and nothing else."""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from botocore.model import OperationModel, Shape

from . import protocol
from .errors import AwsError, InvalidParameter, Serialization
from .protocol import ShapeMismatch

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
XML_CONTENT_TYPE = "text/xml"

# A Query request's `Version` -> the service (botocore's name) whose API it is.
VERSIONS = {protocol.service_model(protocol.STS).api_version: protocol.STS}

# The most elements one list or map of a request may have (STS's longest lists
# hold 50); it bounds the parser's walk over `Name.member.N`.
MAX_ELEMENTS = 1000

# apps.aws raises AWS JSON 1.1's error names; the Query services answer the same
# refusals under these codes (AWS's common errors), with these statuses. Others
# keep their name (UnsupportedOperationException: as for ECR, so one name says it).
QUERY_CODES: dict[str, tuple[str, int]] = {
    "MissingAuthenticationTokenException": ("MissingAuthenticationToken", 403),
    "IncompleteSignatureException": ("IncompleteSignature", 400),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
    "UnrecognizedClientException": ("InvalidClientTokenId", 403),
    # botocore's sts model names it so: sts.exceptions.ExpiredTokenException.
    "ExpiredTokenException": ("ExpiredTokenException", 400),
    "AccessDeniedException": ("AccessDenied", 403),
    "ThrottlingException": ("Throttling", 400),
    "SerializationException": ("MalformedQueryString", 400),
    "InvalidParameterException": ("ValidationError", 400),
    "UnknownOperationException": ("InvalidAction", 400),
    "ServerException": ("InternalFailure", 500),
}


# What XML 1.0 cannot hold (a message may echo what a client sent).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)


class Missing(AwsError):
    code = "MissingParameter"


class NoSuchVersion(AwsError):
    code = "NoSuchVersion"


def query_error(exc: AwsError) -> AwsError:
    """``exc`` under the code and status a Query service answers it with."""
    code, status = QUERY_CODES.get(exc.code, (exc.code, exc.status))
    translated = AwsError(exc.message, code=code, status=status)
    translated.sender = exc.sender
    return translated


# -- input ---------------------------------------------------------------------------


def parse_form(body: bytes) -> dict[str, str]:
    """The fields of a form body (UTF-8, as the Query protocol always is); a name
    given twice is refused, since the shapes never repeat one."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise Serialization(f"the request body is not a URL-encoded UTF-8 form: {exc}") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise Serialization(f"the form gives {name[:100]!r} twice")
        fields[name] = value
    return fields


def service_for(fields: dict[str, str]) -> tuple[str, str]:
    """(service, operation name) of a Query request's `Version` and `Action`."""
    action = fields.get("Action", "")
    if not action:
        raise Missing("The request must contain the parameter Action")
    version = fields.get("Version", "")
    if not version:
        raise Missing("The request must contain the parameter Version")
    service = VERSIONS.get(version)
    if service is None:
        raise NoSuchVersion(
            f"Version {version[:40]!r} is no API Berth answers over the Query protocol: "
            + " or ".join(f"{v} ({s})" for v, s in VERSIONS.items())
        )
    return service, action


class _Absent:
    """A member the form does not give."""


ABSENT = _Absent()


def _serialized_name(shape: Shape, default: str) -> str:
    return shape.serialization.get("name") or default


def _member_key(shape: Shape, name: str) -> str:
    """The name of a structure's member on the wire: a flattened list whose
    elements have a name of their own is named after its elements (as botocore's
    serializer and parser both do)."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        element_name = shape.member.serialization.get("name")
        if element_name:
            return element_name
    return _serialized_name(shape, name)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Form:
    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        # Every dotted prefix a field has, so that "is anything under X given?" is one look-up.
        self.prefixes: set[str] = set()
        for name in fields:
            parts = name.split(".")
            for end in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:end]))

    def has(self, prefix: str) -> bool:
        return prefix in self.fields or prefix in self.prefixes

    def read(self, shape: Shape, prefix: str):
        kind = shape.type_name
        if kind == "structure":
            if prefix and prefix not in self.prefixes:
                return ABSENT
            values = {}
            for name, member in shape.members.items():
                value = self.read(member, _join(prefix, _member_key(member, name)))
                if value is not ABSENT:
                    values[name] = value
            return values
        if kind == "list":
            if self.fields.get(prefix) == "" and prefix not in self.prefixes:
                return []
            if shape.serialization.get("flattened"):
                elements = prefix
            else:
                elements = _join(prefix, _serialized_name(shape.member, "member"))
            return self._sequence(elements, lambda at: self.read(shape.member, at))
        if kind == "map":
            entries = prefix if shape.serialization.get("flattened") else _join(prefix, "entry")
            key_name = _serialized_name(shape.key, "key")
            value_name = _serialized_name(shape.value, "value")
            pairs = self._sequence(
                entries,
                lambda at: (self.read(shape.key, f"{at}.{key_name}"), self.read(shape.value, f"{at}.{value_name}")),
            )
            if pairs is ABSENT:
                return ABSENT
            return {key: value for key, value in pairs if key is not ABSENT and value is not ABSENT}
        if prefix not in self.fields:
            return ABSENT
        return _scalar(shape, self.fields[prefix], prefix)

    def _sequence(self, prefix: str, read_one):
        """Elements `<prefix>.1`, `<prefix>.2`, ... up to the first one not given."""
        if not self.has(f"{prefix}.1"):
            return ABSENT
        found = []
        for index in range(1, MAX_ELEMENTS + 2):
            at = f"{prefix}.{index}"
            if not self.has(at):
                return found
            if index > MAX_ELEMENTS:
                raise InvalidParameter(f"{prefix} has more than {MAX_ELEMENTS} elements")
            found.append(read_one(at))
        return found


def _scalar(shape: Shape, text: str, name: str):
    kind = shape.type_name
    if kind in ("string", "character"):
        return text
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise InvalidParameter(f"{name} must be an integer, not {text[:40]!r}") from None
    if kind in ("float", "double"):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InvalidParameter(f"{name} must be a number, not {text[:40]!r}")
        return value
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise InvalidParameter(f"{name} must be true or false, not {text[:40]!r}")
        return text.lower() == "true"
    if kind == "timestamp":
        try:
            if text.replace(".", "", 1).isdigit():
                return datetime.fromtimestamp(float(text), tz=UTC)
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (OverflowError, OSError, ValueError):
            raise InvalidParameter(f"{name} is not a time: {text[:64]!r}") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameter(f"{name} is not valid base64") from None
    return text


def parse_input(operation: OperationModel, fields: dict[str, str]) -> dict:
    """The operation's parameters from a Query request's fields (Action and Version
    aside), checked by botocore's validator as protocol.parse_json_input does;
    fields the input shape does not have are ignored."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params = _Form({name: value for name, value in fields.items() if name not in ("Action", "Version")}).read(shape, "")
    protocol.validate(shape, params)
    return params


# -- output --------------------------------------------------------------------------


def _timestamp(value, path: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, datetime):
        raise ShapeMismatch(f"{path}: a timestamp must be a datetime or epoch seconds, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    fraction = f".{value.microsecond // 1000:03d}" if value.microsecond else ""
    return value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _text(shape: Shape, value, path: str) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        return _timestamp(value, path)
    if kind == "blob":
        return base64.b64encode(value.encode() if isinstance(value, str) else value).decode("ascii")
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("integer", "long"):
        return str(int(value))
    if kind in ("float", "double"):
        return repr(float(value))
    return str(value)


def _write(parent: ElementTree.Element, tag: str, shape: Shape, value, path: str) -> None:
    """Append ``value``, as ``shape`` writes it, to ``parent`` under ``tag``."""
    kind = shape.type_name
    if kind == "list":
        if not isinstance(value, list | tuple):
            raise ShapeMismatch(f"{path} must be a list")
        if shape.serialization.get("flattened"):
            for index, item in enumerate(value):
                _write(parent, tag, shape.member, item, f"{path}[{index}]")
            return
        holder = ElementTree.SubElement(parent, tag)
        element_tag = _serialized_name(shape.member, "member")
        for index, item in enumerate(value):
            _write(holder, element_tag, shape.member, item, f"{path}[{index}]")
        return
    if kind == "map":
        if not isinstance(value, dict):
            raise ShapeMismatch(f"{path} must be a map (dict)")
        flattened = shape.serialization.get("flattened")
        holder = None if flattened else ElementTree.SubElement(parent, tag)
        for key, item in value.items():
            entry = ElementTree.SubElement(parent, tag) if flattened else ElementTree.SubElement(holder, "entry")
            _write(entry, _serialized_name(shape.key, "key"), shape.key, key, f"{path}.{key}")
            _write(entry, _serialized_name(shape.value, "value"), shape.value, item, f"{path}.{key}")
        return
    element = ElementTree.SubElement(parent, tag)
    if kind == "structure":
        _write_members(element, shape, value, path)
    else:
        element.text = _xml_text(_text(shape, value, path))


def _write_members(element: ElementTree.Element, shape: Shape, value, path: str) -> None:
    if not isinstance(value, dict):
        raise ShapeMismatch(f"{path or shape.name} must be a structure (dict)")
    unknown = set(value) - set(shape.members)
    if unknown:
        raise ShapeMismatch(f"{shape.name} has no member(s) {sorted(unknown)} (at {path or 'the top'})")
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _write(element, _member_key(member, name), member, value[name], _join(path, name))


def _namespace(operation: OperationModel) -> str:
    return operation.metadata.get("xmlNamespace", "")


def _document(root: ElementTree.Element) -> bytes:
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)


def xml_output(operation: OperationModel, result: dict | None, *, request_id: str) -> bytes:
    """The `<Operation>Response` document of ``result``, written by the output shape."""
    root = ElementTree.Element(f"{operation.name}Response", xmlns=_namespace(operation))
    shape = operation.output_shape
    if shape is None:
        if result:
            raise ShapeMismatch(f"{operation.name} has no output, but its handler returned {sorted(result)}")
    else:
        wrapper = shape.serialization.get("resultWrapper")
        holder = ElementTree.SubElement(root, wrapper) if wrapper else root
        _write_members(holder, shape, result or {}, "")
    metadata = ElementTree.SubElement(root, "ResponseMetadata")
    ElementTree.SubElement(metadata, "RequestId").text = request_id
    return _document(root)


def xml_error(exc: AwsError, *, request_id: str, namespace: str = "") -> bytes:
    """The `<ErrorResponse>` document of ``exc`` (already in the Query's codes)."""
    root = ElementTree.Element("ErrorResponse", xmlns=namespace) if namespace else ElementTree.Element("ErrorResponse")
    error = ElementTree.SubElement(root, "Error")
    ElementTree.SubElement(error, "Type").text = "Sender" if exc.sender else "Receiver"
    ElementTree.SubElement(error, "Code").text = _xml_text(exc.code)
    ElementTree.SubElement(error, "Message").text = _xml_text(exc.message)
    ElementTree.SubElement(root, "RequestId").text = request_id
    return _document(root)
