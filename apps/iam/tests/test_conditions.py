"""Each condition operator, with IfExists, Null and the set operators."""

from datetime import UTC, datetime

import pytest

from apps.iam.policy.conditions import conditions_hold, parse_condition_block

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
KEYS = {
    "aws:username": ("alice",),
    "aws:sourceip": ("203.0.113.7",),
    "aws:currenttime": (NOW,),
    "aws:epochtime": (int(NOW.timestamp()),),
    "aws:securetransport": (True,),
    "aws:principalarn": ("arn:berth:iam::111122223333:role/ci",),
    "ecr:resourcetag/team": ("Platform",),
    "aws:tagkeys": ("team", "env"),
    "ecr:layercount": ("7",),
}


def holds(block, keys=KEYS):
    return conditions_hold(parse_condition_block(block), keys)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"StringEquals": {"aws:username": "alice"}}, True),
        ({"StringEquals": {"aws:username": "Alice"}}, False),
        ({"StringEquals": {"AWS:UserName": ["bob", "alice"]}}, True),  # key case-insensitive, values OR
        ({"StringNotEquals": {"aws:username": ["bob", "carol"]}}, True),
        ({"StringNotEquals": {"aws:username": ["bob", "alice"]}}, False),  # matches none of them
        ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, True),
        ({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, False),
        ({"StringLike": {"aws:username": "al*"}}, True),
        ({"StringLike": {"aws:username": "al?ce"}}, True),
        ({"StringLike": {"aws:username": "al?"}}, False),
        ({"StringNotLike": {"aws:username": "b*"}}, True),
        ({"StringEquals": {"ecr:ResourceTag/team": "Platform"}}, True),
        ({"NumericLessThan": {"ecr:LayerCount": "10"}}, True),
        ({"NumericLessThanEquals": {"ecr:LayerCount": 7}}, True),
        ({"NumericGreaterThan": {"ecr:LayerCount": "7"}}, False),
        ({"NumericGreaterThanEquals": {"ecr:LayerCount": "7.0"}}, True),
        ({"NumericEquals": {"ecr:LayerCount": "7"}}, True),
        ({"NumericNotEquals": {"ecr:LayerCount": "7"}}, False),
        ({"NumericEquals": {"aws:username": "7"}}, False),  # request value not numeric: no match
        ({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2024-05-01T11:59:59Z"}}, False),
        ({"DateLessThanEquals": {"aws:CurrentTime": "2024-05-01T12:00:00Z"}}, True),
        ({"DateGreaterThanEquals": {"aws:CurrentTime": "2024-05-01"}}, True),
        ({"DateEquals": {"aws:CurrentTime": str(int(NOW.timestamp()))}}, True),  # epoch seconds
        ({"DateNotEquals": {"aws:CurrentTime": "2024-05-01T12:00:00+00:00"}}, False),
        ({"DateLessThan": {"aws:EpochTime": "2030-01-01T00:00:00Z"}}, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, True),
        ({"Bool": {"aws:SecureTransport": False}}, False),
        ({"BinaryEquals": {"aws:username": "alice"}}, True),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, True),
        ({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "203.0.113.7"]}}, True),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, False),
        ({"NotIpAddress": {"aws:SourceIp": "198.51.100.0/24"}}, True),
        ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, False),
        ({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci"}}, True),  # aws alias
        ({"ArnLike": {"aws:PrincipalArn": "arn:berth:iam::*:role/*"}}, True),
        ({"ArnLike": {"aws:PrincipalArn": "arn:berth:iam::*:user/*"}}, False),
        ({"ArnLike": {"aws:PrincipalArn": "arn:berth:iam:*:role/ci"}}, False),  # * stays in its segment
        ({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}}, False),
        ({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/other"}}, True),
        ({"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci"}}, True),
        # several keys and several operators must all hold
        ({"StringEquals": {"aws:username": "alice", "ecr:ResourceTag/team": "Other"}}, False),
        ({"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "false"}}, False),
    ],
)
def test_operators(block, expected):
    assert holds(block) is expected


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        # a missing key: positive operators fail, negated ones hold
        ({"StringEquals": {"aws:UserAgent": "docker"}}, False),
        ({"StringNotEquals": {"aws:UserAgent": "docker"}}, True),
        ({"StringNotLike": {"aws:UserAgent": "curl*"}}, True),
        ({"NotIpAddress": {"aws:VpcSourceIp": "10.0.0.0/8"}}, True),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:ecr:*"}}, True),
        # ...IfExists: a missing key holds, a present one is tested
        ({"StringEqualsIfExists": {"aws:UserAgent": "docker"}}, True),
        ({"StringEqualsIfExists": {"aws:username": "bob"}}, False),
        ({"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}}, True),
        ({"NumericLessThanIfExists": {"ecr:Missing": "1"}}, True),
        ({"DateGreaterThanIfExists": {"aws:TokenIssueTime": "2030-01-01"}}, True),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, True),
        # Null tests presence
        ({"Null": {"aws:UserAgent": "true"}}, True),
        ({"Null": {"aws:UserAgent": "false"}}, False),
        ({"Null": {"aws:username": "false"}}, True),
        ({"Null": {"aws:username": True}}, False),
    ],
)
def test_missing_keys_if_exists_and_null(block, expected):
    assert holds(block) is expected


@pytest.mark.parametrize(
    ("block", "keys", "expected"),
    [
        (
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env", "owner"]}},
            {"aws:tagkeys": ("team", "env")},
            True,
        ),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}, {"aws:tagkeys": ("team", "env")}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}, {}, True),  # missing: vacuously true
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}, {"aws:tagkeys": ()}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {"aws:tagkeys": ("team", "env")}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}}, {"aws:tagkeys": ("team", "env")}, False),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}}, {}, False),  # missing: false
        ({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["owner"]}}, {}, True),
        ({"ForAnyValue:StringLike": {"aws:TagKeys": ["t*"]}}, {"aws:tagkeys": ("team", "env")}, True),
        ({"ForAllValues:StringLike": {"aws:TagKeys": ["t*"]}}, {"aws:tagkeys": ("team", "env")}, False),
        # negated operators test each value against all policy values
        ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["owner"]}}, {"aws:tagkeys": ("team", "env")}, True),
        ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["env"]}}, {"aws:tagkeys": ("team", "env")}, False),
        ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}}, {"aws:tagkeys": ("team", "env")}, True),
        ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:tagkeys": ("team", "env")}, False),
        # a multi-valued key under a plain operator: any value (positive), no value (negated)
        ({"StringEquals": {"aws:TagKeys": "env"}}, {"aws:tagkeys": ("team", "env")}, True),
        ({"StringNotEquals": {"aws:TagKeys": "env"}}, {"aws:tagkeys": ("team", "env")}, False),
        ({"ForAnyValue:IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:sourceip": ("192.0.2.1", "10.1.1.1")}, True),
        ({"ForAllValues:NumericLessThan": {"ecr:Sizes": "5"}}, {"ecr:sizes": (1, 2, 9)}, False),
    ],
)
def test_set_operators(block, keys, expected):
    assert holds(block, keys) is expected
