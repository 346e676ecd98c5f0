"""The AWS Query protocol (apps/aws/query.py) against botocore's own serializer
and parser: what botocore's QuerySerializer sends, parse_input reads back as the
same parameters; what xml_output and xml_error write, botocore's QueryParser
reads as the same result."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from botocore.model import ServiceModel
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer

from apps.aws import operations, protocol, query
from apps.aws.errors import AwsError, InvalidParameter, InvalidSignature, Serialization, UnrecognizedClient
from apps.aws.protocol import ShapeMismatch

# A model of every way the Query protocol lays out a value.
SHAPES = {
    "Echo": {
        "type": "structure",
        "members": {
            "Name": {"shape": "String"},
            "Count": {"shape": "Integer"},
            "Ratio": {"shape": "Double"},
            "Enabled": {"shape": "Boolean"},
            "When": {"shape": "Timestamp"},
            "Data": {"shape": "Blob"},
            "Items": {"shape": "Items"},
            "Flat": {"shape": "FlatItems"},
            "FlatNamed": {"shape": "FlatNamedItems"},
            "Renamed": {"shape": "String", "locationName": "OtherName"},
            "Labels": {"shape": "Labels"},
            "FlatLabels": {"shape": "FlatLabels"},
            "Nested": {"shape": "Nested"},
            "Empty": {"shape": "Items"},
        },
    },
    "Nested": {
        "type": "structure",
        "members": {"Inner": {"shape": "Nested2"}, "Tags": {"shape": "Pairs"}},
    },
    "Nested2": {"type": "structure", "members": {"Deep": {"shape": "String"}, "Numbers": {"shape": "Numbers"}}},
    "Pair": {"type": "structure", "members": {"Key": {"shape": "String"}, "Value": {"shape": "String"}}},
    "Pairs": {"type": "list", "member": {"shape": "Pair"}},
    "Items": {"type": "list", "member": {"shape": "String"}},
    "Numbers": {"type": "list", "member": {"shape": "Integer", "locationName": "item"}},
    "FlatItems": {"type": "list", "member": {"shape": "String"}, "flattened": True},
    "FlatNamedItems": {"type": "list", "member": {"shape": "String", "locationName": "Element"}, "flattened": True},
    "Labels": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
    "FlatLabels": {
        "type": "map",
        "key": {"shape": "String", "locationName": "Name"},
        "value": {"shape": "String", "locationName": "Text"},
        "flattened": True,
    },
    "String": {"type": "string"},
    "Integer": {"type": "integer"},
    "Double": {"type": "double"},
    "Boolean": {"type": "boolean"},
    "Timestamp": {"type": "timestamp"},
    "Blob": {"type": "blob"},
}
MODEL = ServiceModel(
    {
        "metadata": {
            "apiVersion": "2020-01-01",
            "protocol": "query",
            "endpointPrefix": "echo",
            "serviceId": "Echo",
            "signatureVersion": "v4",
            "xmlNamespace": "https://echo.example/doc/2020-01-01/",
        },
        "operations": {
            "Echo": {
                "name": "Echo",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "Echo"},
                "output": {"shape": "Echo", "resultWrapper": "EchoResult"},
            }
        },
        "shapes": SHAPES,
    },
    service_name="echo",
)
ECHO = MODEL.operation_model("Echo")

EVERYTHING = {
    "Name": "a & b <c> ünïcödé",
    "Count": 7,
    "Ratio": 0.25,
    "Enabled": False,
    "When": datetime(2026, 12, 5, 21, 30, 16, 250000, tzinfo=UTC),
    "Data": b"\x00\x01binary\xff",
    "Items": ["one", "two", "three"],
    "Flat": ["x", "y"],
    "FlatNamed": ["p", "q"],
    "Renamed": "renamed",
    "Labels": {"team": "core", "tier": "1"},
    "FlatLabels": {"k1": "v1", "k2": "v2"},
    "Nested": {
        "Inner": {"Deep": "deep", "Numbers": [1, 2, 3]},
        "Tags": [{"Key": "a", "Value": "b"}, {"Key": "c", "Value": "d"}],
    },
    "Empty": [],
}


def sent_by_botocore(operation, params: dict) -> dict[str, str]:
    """The form fields botocore's QuerySerializer sends for ``params``."""
    body = QuerySerializer().serialize_to_request(params, operation)["body"]
    return query.parse_form(urlencode(body).encode())


def read_by_botocore(operation, body: bytes, status: int = 200) -> dict:
    response = {"body": body, "headers": {}, "status_code": status}
    return QueryParser().parse(response, operation.output_shape if status == 200 else None)


def test_input_every_layout_round_trips_through_botocores_serializer():
    fields = sent_by_botocore(ECHO, EVERYTHING)
    assert fields["Action"] == "Echo" and fields["Version"] == "2020-01-01"
    assert fields["Items.member.2"] == "two"
    assert fields["Flat.1"] == "x" and fields["Element.2"] == "q"
    assert fields["Labels.entry.1.key"] == "team"
    assert fields["FlatLabels.2.Text"] == "v2"
    assert fields["Nested.Inner.Numbers.item.3"] == "3"
    assert fields["Empty"] == ""
    assert query.parse_input(ECHO, fields) == EVERYTHING


def test_input_of_sts_operations():
    model = protocol.service_model(protocol.STS)
    assume_role = model.operation_model("AssumeRole")
    params = {
        "RoleArn": "arn:berth:iam::123456789012:role/deployer",
        "RoleSessionName": "release-42",
        "DurationSeconds": 900,
        "PolicyArns": [{"arn": "arn:berth:iam::aws:policy/BerthRegistryReadOnly"}],
        "Tags": [{"Key": "team", "Value": "core"}],
        "TransitiveTagKeys": ["team"],
        "ProvidedContexts": [
            {"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter", "ContextAssertion": "assertion"}
        ],
    }
    assert query.parse_input(assume_role, sent_by_botocore(assume_role, params)) == params
    caller_identity = model.operation_model("GetCallerIdentity")
    assert query.parse_input(caller_identity, sent_by_botocore(caller_identity, {})) == {}


def test_input_is_checked_by_botocores_validator():
    assume_role = protocol.operation_model(protocol.STS, "AssumeRole")
    with pytest.raises(InvalidParameter, match="RoleSessionName"):
        query.parse_input(assume_role, {"RoleArn": "arn:berth:iam::123456789012:role/deployer"})
    with pytest.raises(InvalidParameter, match="DurationSeconds"):
        query.parse_input(
            assume_role,
            {"RoleArn": "arn:berth:iam::123456789012:role/x", "RoleSessionName": "s1", "DurationSeconds": "60"},
        )
    with pytest.raises(InvalidParameter, match="must be an integer"):
        query.parse_input(
            assume_role,
            {"RoleArn": "arn:berth:iam::123456789012:role/x", "RoleSessionName": "s1", "DurationSeconds": "ninety"},
        )
    with pytest.raises(InvalidParameter, match="true or false"):
        query.parse_input(ECHO, {"Enabled": "yes"})
    with pytest.raises(InvalidParameter, match="base64"):
        query.parse_input(ECHO, {"Data": "not base64!"})
    with pytest.raises(InvalidParameter, match="more than"):
        query.parse_input(ECHO, {f"Flat.{i}": "x" for i in range(1, query.MAX_ELEMENTS + 2)})


def test_form_refusals():
    assert query.parse_form(b"") == {}
    assert query.parse_form(b"Action=GetCallerIdentity&Version=2011-06-15&Empty=") == {
        "Action": "GetCallerIdentity",
        "Version": "2011-06-15",
        "Empty": "",
    }
    with pytest.raises(Serialization, match="twice"):
        query.parse_form(b"Action=A&Action=B")
    with pytest.raises(Serialization, match="UTF-8"):
        query.parse_form(b"Action=\xff")
    with pytest.raises(Serialization, match="UTF-8"):
        query.parse_form(b"Action=%FF")
    with pytest.raises(query.Missing, match="Action"):
        query.service_for({"Version": "2011-06-15"})
    with pytest.raises(query.Missing, match="Version"):
        query.service_for({"Action": "GetCallerIdentity"})
    with pytest.raises(query.NoSuchVersion, match="2011-06-15"):
        query.service_for({"Action": "GetCallerIdentity", "Version": "2010-05-08"})
    assert query.service_for({"Action": "AssumeRole", "Version": "2011-06-15"}) == (protocol.STS, "AssumeRole")


def test_output_every_layout_round_trips_through_botocores_parser():
    body = query.xml_output(ECHO, EVERYTHING, request_id="req-1")
    assert body.startswith(b'<EchoResponse xmlns="https://echo.example/doc/2020-01-01/"><EchoResult>')
    parsed = read_by_botocore(ECHO, body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == EVERYTHING


def test_output_of_sts_operations():
    assume_role = protocol.operation_model(protocol.STS, "AssumeRole")
    result = {
        "Credentials": {
            "AccessKeyId": "BSIAEXAMPLE000000000",
            "SecretAccessKey": "secret/with+chars=",
            "SessionToken": "token.with.dots",
            "Expiration": datetime(2026, 12, 5, 22, 0, tzinfo=UTC),
        },
        "AssumedRoleUser": {"AssumedRoleId": "4:release-42", "Arn": "arn:berth:sts::123456789012:assumed-role/x/y"},
        "PackedPolicySize": None,  # None is left out
    }
    body = query.xml_output(assume_role, result, request_id="req-2")
    assert b"<Expiration>2026-12-05T22:00:00Z</Expiration>" in body
    parsed = read_by_botocore(assume_role, body)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-2"
    assert parsed["Credentials"] == result["Credentials"]
    assert parsed["AssumedRoleUser"] == result["AssumedRoleUser"]
    assert "PackedPolicySize" not in parsed


def test_output_refuses_what_the_shape_lacks():
    caller_identity = protocol.operation_model(protocol.STS, "GetCallerIdentity")
    with pytest.raises(ShapeMismatch, match="UserName"):
        query.xml_output(caller_identity, {"UserName": "x"}, request_id="r")
    with pytest.raises(ShapeMismatch, match="list"):
        query.xml_output(ECHO, {"Items": "not a list"}, request_id="r")


@pytest.mark.parametrize(
    ("raised", "code", "status"),
    [
        (InvalidSignature("wrong"), "SignatureDoesNotMatch", 403),
        (UnrecognizedClient("who?"), "InvalidClientTokenId", 403),
        (InvalidParameter("bad"), "ValidationError", 400),
        (AwsError("gone", code="ExpiredTokenException", status=403), "ExpiredTokenException", 400),
        (AwsError("own code", code="NoSuchVersion", status=400), "NoSuchVersion", 400),
    ],
)
def test_errors_in_the_query_protocols_words(raised, code, status):
    translated = query.query_error(raised)
    assert (translated.code, translated.status) == (code, status)
    body = query.xml_error(translated, request_id="req-3", namespace="https://sts.amazonaws.com/doc/2011-06-15/")
    parsed = read_by_botocore(protocol.operation_model(protocol.STS, "GetCallerIdentity"), body, status=status)
    assert parsed["Error"] == {"Type": "Sender", "Code": code, "Message": raised.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-3"


def test_error_messages_stay_xml():
    body = query.xml_error(AwsError("a \x00 nul and a \x1b escape <tag>"), request_id="r")
    parsed = read_by_botocore(protocol.operation_model(protocol.STS, "GetCallerIdentity"), body, status=400)
    assert parsed["Error"]["Message"] == "a \N{REPLACEMENT CHARACTER} nul and a \N{REPLACEMENT CHARACTER} escape <tag>"


def test_every_sts_operation_is_handled_or_declared_unsupported():
    handled = {name for service, name in operations.OPERATIONS if service == protocol.STS}
    declared = {name for service, name in operations.UNSUPPORTED if service == protocol.STS}
    assert handled == {"AssumeRole", "GetCallerIdentity"}
    assert handled | declared == set(protocol.operation_names(protocol.STS))
    assert not handled & declared
