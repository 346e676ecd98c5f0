"""The AWS JSON 1.1 endpoint in process: reading and writing by botocore's models,
the errors a client expects, and that a refused write stores nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rest_framework.throttling import SimpleRateThrottle

from apps.audit.models import Event
from apps.aws import operations, protocol, views
from apps.aws.errors import InvalidParameter, Serialization
from apps.repositories.models import Repository


def _shape(service: str, name: str):
    return protocol.service_model(service).shape_for(name)


def test_output_by_shape_epoch_seconds_base64_and_no_nones():
    image = _shape("ecr", "Image")
    wire = protocol.to_wire(
        image,
        {"registryId": "123456789012", "repositoryName": "a", "imageId": {"imageTag": "v1", "imageDigest": None}},
    )
    assert wire == {"registryId": "123456789012", "repositoryName": "a", "imageId": {"imageTag": "v1"}}
    repository = protocol.to_wire(_shape("ecr", "Repository"), {"createdAt": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)})
    assert repository == {"createdAt": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()}
    part = protocol.to_wire(_shape("ecr", "AuthorizationData"), {"authorizationToken": "QVdTOng="})
    assert part == {"authorizationToken": "QVdTOng="}


def test_output_refuses_a_member_the_shape_does_not_have():
    with pytest.raises(protocol.ShapeMismatch, match="secret"):
        protocol.to_wire(_shape("ecr", "Repository"), {"repositoryName": "a", "secret": "x"})


def test_input_by_shape_blobs_timestamps_and_botocore_validation():
    put = protocol.operation_model("ecr", "UploadLayerPart")
    params = protocol.parse_json_input(
        put,
        json.dumps(
            {"repositoryName": "ab", "uploadId": "u", "partFirstByte": 0, "partLastByte": 2, "layerPartBlob": "YWJj"}
        ).encode(),
    )
    assert params["layerPartBlob"] == b"abc"
    with pytest.raises(Serialization, match="base64"):
        protocol.parse_json_input(put, b'{"repositoryName": "ab", "layerPartBlob": "not base64!"}')
    with pytest.raises(InvalidParameter, match="Missing required parameter"):
        protocol.parse_json_input(protocol.operation_model("ecr", "CreateRepository"), b"{}")
    with pytest.raises(InvalidParameter, match="Invalid type"):
        protocol.parse_json_input(protocol.operation_model("ecr", "CreateRepository"), b'{"repositoryName": 5}')
    with pytest.raises(InvalidParameter, match="valid max value: 1000"):
        protocol.parse_json_input(protocol.operation_model("ecr", "DescribeRepositories"), b'{"maxResults": 1001}')
    with pytest.raises(InvalidParameter, match=r"repositoryName: 257, valid max length: 256"):
        protocol.parse_json_input(
            protocol.operation_model("ecr", "CreateRepository"), json.dumps({"repositoryName": "a" * 257}).encode()
        )
    with pytest.raises(Serialization):
        protocol.parse_json_input(protocol.operation_model("ecr", "CreateRepository"), b"[1]")
    with pytest.raises(Serialization):
        protocol.parse_json_input(protocol.operation_model("ecr", "CreateRepository"), b"{not json")
    filters = protocol.parse_json_input(
        protocol.operation_model("ecr", "DescribeImages"),
        b'{"repositoryName": "ab", "unknownMember": 1, "filter": {"tagStatus": "TAGGED"}}',
    )
    assert filters == {"repositoryName": "ab", "filter": {"tagStatus": "TAGGED"}}


def test_every_operation_of_the_models_is_handled_or_declared_unsupported():
    for service in (protocol.ECR, protocol.ECR_PUBLIC, protocol.STS):
        for name in protocol.operation_names(service):
            handled = (service, name) in operations.OPERATIONS
            declared = (service, name) in operations.UNSUPPORTED
            assert handled != declared, f"{service} {name}: handled={handled}, declared unsupported={declared}"


@pytest.mark.django_db
def test_create_describe_and_errors_in_process(tenant, make_tenant, aws_client):
    client = aws_client(tenant)
    created = client.call("CreateRepository", {"repositoryName": "team/app"})
    assert created.status == 200, created.body
    assert created.headers["Content-Type"] == protocol.JSON_CONTENT_TYPE
    assert created.body["repository"]["repositoryUri"].endswith(f"/{tenant.id}/team/app")
    assert isinstance(created.body["repository"]["createdAt"], float)

    again = client.call("CreateRepository", {"repositoryName": "team/app"})
    assert (again.status, again.error_type) == (400, "RepositoryAlreadyExistsException")
    assert again.headers["x-amzn-ErrorType"] == "RepositoryAlreadyExistsException"

    missing = client.call("DescribeRepositories", {"repositoryNames": ["nope"]})
    assert missing.error_type == "RepositoryNotFoundException"
    assert "nope" in missing.body["message"]

    other = make_tenant("bob")
    foreign = client.call("DescribeRepositories", {"registryId": other.id})
    assert foreign.error_type == "InvalidParameterException"


@pytest.mark.django_db
def test_a_refused_write_stores_nothing_and_its_audit_event_names_the_error(tenant, aws_client, settings):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    client = aws_client(tenant)
    bad = client.call("CreateRepository", {"repositoryName": "Bad_Name"})
    assert bad.error_type == "InvalidParameterException", bad.body
    assert not Repository.objects.filter(account=tenant.account).exists()

    client.call("DeleteRepository", {"repositoryName": "absent"})
    event = Event.objects.filter(event_name="DeleteRepository").latest("event_time")
    assert event.error_code == "RepositoryNotFoundException"
    assert event.event_source == "ecr"


@pytest.mark.django_db
def test_unknown_targets_and_unsigned_requests(tenant, aws_client):
    client = aws_client(tenant)
    body = b"{}"
    unknown_service = client.post(
        body,
        {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": protocol.JSON_CONTENT_TYPE},
        service="ecr",
    )
    assert unknown_service.error_type == "UnknownOperationException"
    unknown_operation = client.call("MakeCoffee")
    assert unknown_operation.error_type == "UnknownOperationException"

    unsigned = client.send(
        body,
        {"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", "Content-Type": "x"},
    )
    assert (unsigned.status, unsigned.error_type) == (403, "MissingAuthenticationTokenException")


@pytest.mark.django_db
def test_a_body_over_the_limit_is_refused_before_it_is_read(tenant, aws_client, monkeypatch):
    monkeypatch.setattr(views, "MAX_BODY_BYTES", 64)
    answer = aws_client(tenant).call("CreateRepository", {"repositoryName": "x" * 100})
    assert answer.error_type == "SerializationException"
    assert not Repository.objects.exists()


@pytest.mark.django_db
def test_a_principal_has_one_request_budget_whichever_api_it_calls(tenant, make_tenant, aws_client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"})
    client = aws_client(tenant)
    for _ in range(3):
        assert client.call("DescribeRepositories").status == 200
    refused = client.call("DescribeRepositories")
    assert (refused.status, refused.error_type) == (400, "ThrottlingException")
    assert "Rate exceeded" in refused.body["message"]
    assert aws_client(make_tenant("bob")).call("DescribeRepositories").status == 200
