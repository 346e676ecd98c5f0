"""A conformance sweep over botocore's models: every operation of `ecr` and
`ecr-public` is either exercised by a test here (its boto3 method, its AWS CLI
command or its in-process call appears in a test) or answers
UnsupportedOperationException, with a reason, to a real boto3 client."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from apps.aws import operations, protocol

# The table of operations does not depend on the database: one pass runs it.
pytestmark = pytest.mark.database_independent

TEST_SOURCES = [
    *Path(__file__).parent.glob("test_*.py"),
    *(Path(__file__).parents[2] / "apps" / "aws" / "tests").glob("test_*.py"),
]
SERVICES = (protocol.ECR, protocol.ECR_PUBLIC)


def sample(shape, depth: int = 0):
    """The smallest value botocore's client-side validation accepts for ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        required = shape.metadata.get("required", [])
        return {name: sample(shape.members[name], depth + 1) for name in required}
    if kind == "list":
        return [sample(shape.member, depth + 1) for _ in range(max(1, shape.metadata.get("min", 1)))]
    if kind == "map":
        return {"k": sample(shape.value, depth + 1)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        return "a" * max(2, shape.metadata.get("min", 1))
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"x"
    if kind == "timestamp":
        return datetime.now(UTC)
    raise AssertionError(f"no sample for {kind}")


def _services_of(text: str) -> set[str]:
    """Which of the services a test file calls: ECR Public when it names it, ECR when
    it names `ecr` on its own (a client, a fixture, a CLI command)."""
    services = set()
    if re.search(r"ecr[-_]public|ECR_PUBLIC", text):
        services.add(protocol.ECR_PUBLIC)
    if re.search(r"\becr\b(?![-_]public)|protocol\.ECR\b", text):
        services.add(protocol.ECR)
    return services


def _calls(text: str, service: str, name: str) -> bool:
    """Does ``text`` call ``name``: its boto3 method, its AWS CLI command, or an
    in-process call naming the operation (``call("Name", …)``, ``ecr.ok("Name", …)``)?"""
    return (
        re.search(rf"\.{xform_name(name)}\(", text) is not None
        or f"aws {service} {xform_name(name, '-')}" in text
        or re.search(rf'\(\s*"{name}"', text) is not None
    )


def test_every_supported_operation_is_exercised_by_a_test():
    files = [path.read_text() for path in TEST_SOURCES if path.name != Path(__file__).name]
    missing = [
        f"{service} {name}"
        for (service, name) in sorted(operations.OPERATIONS)
        if service in SERVICES
        and not any(service in _services_of(text) and _calls(text, service, name) for text in files)
    ]
    assert not missing, f"supported operations no test calls: {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_unsupported_operation_answers_unsupported_with_its_reason(aws_account, service):
    client = aws_account.client(service)
    model = protocol.service_model(service)
    unsupported = sorted(name for (svc, name) in operations.UNSUPPORTED if svc == service)
    assert unsupported, f"{service}: the table declares nothing unsupported"
    for name in unsupported:
        params = sample(model.operation_model(name).input_shape) if model.operation_model(name).input_shape else {}
        with pytest.raises(ClientError) as refused:
            getattr(client, xform_name(name))(**params)
        error = refused.value.response["Error"]
        assert error["Code"] == "UnsupportedOperationException", (name, error)
        assert f"{service}:{name}" in error["Message"] and operations.UNSUPPORTED[(service, name)] in error["Message"]
