"""Requests and responses as botocore's service models define them.

The models ship with botocore (`botocore/data/<service>/<version>/service-2.json`):
reading input and writing output walk an operation's shapes, so that a new
operation needs a handler and nothing else, and what Berth sends is what the
AWS CLI and boto3 parse. Input is checked with botocore's own ParamValidator (the
checks a client makes before it sends: required members, types, lengths, ranges).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from functools import cache

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

from .errors import InvalidParameter, Serialization

# The services Berth answers, by the name botocore knows them under.
ECR = "ecr"
ECR_PUBLIC = "ecr-public"
STS = "sts"

# X-Amz-Target's prefix (the model's metadata.targetPrefix) -> service.
TARGET_PREFIXES = {
    "AmazonEC2ContainerRegistry_V20150921": ECR,
    "SpencerFrontendService": ECR_PUBLIC,
}
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


@cache
def service_model(service: str) -> ServiceModel:
    return ServiceModel(Loader().load_service_model(service, "service-2"), service_name=service)


def signing_name(service: str) -> str:
    """The service name a client puts in its credential scope (`ecr`, `ecr-public`, `sts`)."""
    metadata = service_model(service).metadata
    return metadata.get("signingName") or metadata["endpointPrefix"]


def operation_names(service: str) -> list[str]:
    return list(service_model(service).operation_names)


def operation_model(service: str, name: str) -> OperationModel | None:
    model = service_model(service)
    return model.operation_model(name) if name in model.operation_names else None


# -- input ---------------------------------------------------------------------------


def _member_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _from_wire(shape: Shape, value, path: str):
    """A decoded JSON value as the Python value the shape means: blobs from base64
    into bytes, timestamps from epoch seconds (or ISO 8601) into datetimes; members
    the shape does not have are dropped, as AWS's services ignore them."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        if not isinstance(value, dict):
            return value  # the validator reports the type
        return {
            name: _from_wire(shape.members[name], member, _member_path(path, name))
            for name, member in value.items()
            if name in shape.members and member is not None
        }
    if kind == "list":
        return (
            [_from_wire(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
            if isinstance(value, list)
            else value
        )
    if kind == "map":
        return (
            {key: _from_wire(shape.value, item, f"{path}.{key}") for key, item in value.items()}
            if isinstance(value, dict)
            else value
        )
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise Serialization(f"{path or 'the request'} is not valid base64") from None
    if kind == "timestamp":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            try:
                return datetime.fromtimestamp(value, tz=UTC)
            except (OverflowError, OSError, ValueError):
                raise Serialization(f"{path} is not a time: {value!r}") from None
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise Serialization(f"{path} is not a time: {value[:64]!r}") from None
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_json_input(operation: OperationModel, body: bytes) -> dict:
    """The operation's parameters from an AWS JSON 1.1 body. An empty body is `{}`
    (operations without parameters). Raises Serialization for a body that is not a
    JSON object and InvalidParameter (with botocore's report) for parameters its
    model refuses."""
    if not body.strip():
        raw = {}
    else:
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Serialization(f"the request body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise Serialization("the request body must be a JSON object")
    shape = operation.input_shape
    if shape is None:
        return {}
    params = _from_wire(shape, raw, "")
    validate(shape, params)
    return params


def validate(shape: Shape, params: dict) -> None:
    """botocore's client-side checks (required members, types, minimums), then the
    maximums a service checks and botocore's validator leaves to it."""
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise InvalidParameter(report.generate_report().replace("\n", " "))
    _check_maximums(shape, params, "")


def _check_maximums(shape: Shape, value, path: str) -> None:
    kind = shape.type_name
    limit = shape.metadata.get("max")
    if limit is not None:
        size = (
            value if kind in ("integer", "long") else len(value) if kind in ("string", "list", "map", "blob") else None
        )
        if size is not None and size > limit:
            what = "value" if kind in ("integer", "long") else "length"
            raise InvalidParameter(f"Invalid {what} for parameter {path}: {size}, valid max {what}: {limit}")
    if kind == "structure":
        for name, member in value.items():
            _check_maximums(shape.members[name], member, _member_path(path, name))
    elif kind == "list":
        for i, item in enumerate(value):
            _check_maximums(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        for key, item in value.items():
            _check_maximums(shape.value, item, f"{path}.{key}")


# -- output --------------------------------------------------------------------------


class ShapeMismatch(TypeError):
    """A handler returned what the operation's output shape does not have (a bug)."""


def _epoch_seconds(value) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise ShapeMismatch(f"a timestamp must be a datetime or epoch seconds, not {type(value).__name__}")


def to_wire(shape: Shape, value, path: str = ""):
    """``value`` as AWS JSON 1.1 writes the shape: timestamps as epoch seconds,
    blobs as base64, members the handler left None omitted. A member the shape
    does not have raises ShapeMismatch: a handler never sends what clients do not
    expect."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ShapeMismatch(f"{path or shape.name} must be a structure (dict)")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ShapeMismatch(f"{shape.name} has no member(s) {sorted(unknown)} (at {path or 'the top'})")
        return {
            name: to_wire(shape.members[name], member, _member_path(path, name))
            for name, member in value.items()
            if member is not None
        }
    if kind == "list":
        return [to_wire(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        return {str(key): to_wire(shape.value, item, f"{path}.{key}") for key, item in value.items()}
    if kind == "timestamp":
        return _epoch_seconds(value)
    if kind == "blob":
        if isinstance(value, str):
            value = value.encode()
        return base64.b64encode(value).decode("ascii")
    if kind == "string":
        return str(value)
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    return value


def json_output(operation: OperationModel, result: dict | None) -> dict:
    shape = operation.output_shape
    if shape is None:
        if result:
            raise ShapeMismatch(f"{operation.name} has no output, but its handler returned {sorted(result)}")
        return {}
    return to_wire(shape, result or {})
