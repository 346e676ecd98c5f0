import json

import pytest

from apps.iam.policy import (
    MAX_POLICY_CHARACTERS,
    Arn,
    ArnError,
    PolicyError,
    PolicyKind,
    account_root_arn,
    expand_action_pattern,
    parse_policy,
)

from .helpers import OTHER, OWNER


def doc(*statements, **top):
    return json.dumps({"Version": "2012-10-17", **top, "Statement": list(statements)})


ALLOW_PULL = {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "*"}


def test_ecr_documentation_repository_policy_parses():
    # ECR user guide: allow another account to pull (2008-10-17, no Resource).
    text = json.dumps(
        {
            "Version": "2008-10-17",
            "Statement": [
                {
                    "Sid": "AllowPull",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                }
            ],
        }
    )
    policy = parse_policy(text, kind=PolicyKind.RESOURCE)
    (statement,) = policy.statements
    assert statement.sid == "AllowPull"
    assert statement.resources is None
    assert statement.principal.arns == {f"arn:berth:iam::{OTHER}:root"}


def test_single_statement_object_and_account_id_principal():
    text = json.dumps({"Statement": {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "ecr:*"}})
    policy = parse_policy(text, kind=PolicyKind.RESOURCE)
    assert policy.version == "2008-10-17"
    assert policy.statements[0].principal.arns == {account_root_arn(OTHER)}


def test_resource_arns_in_aws_partition_read_as_configured():
    policy = parse_policy(doc({**ALLOW_PULL, "Resource": f"arn:aws:ecr:*:{OWNER}:repository/*"}), partition="berth")
    assert policy.statements[0].resources == (f"arn:berth:ecr:*:{OWNER}:repository/*",)
    custom = parse_policy(doc({**ALLOW_PULL, "Resource": "arn:aws:ecr:*"}), partition="acme")
    assert custom.statements[0].resources == ("arn:acme:ecr:*",)


@pytest.mark.parametrize(
    ("text", "fragment", "index"),
    [
        ("{not json", "malformed JSON", None),
        ("[]", "must be a JSON object", None),
        (json.dumps({"Version": "2012-10-17"}), "no Statement", None),
        (json.dumps({"Version": "2020-01-01", "Statement": [ALLOW_PULL]}), "Version must be", None),
        (json.dumps({"Statement": [ALLOW_PULL], "Extra": 1}), "unknown policy element", None),
        (doc(), "at least one statement", None),
        (doc(ALLOW_PULL, {**ALLOW_PULL, "Action": "ecr:GetImage"}), "unknown action 'ecr:GetImage'", 1),
        (doc({**ALLOW_PULL, "Action": "ecr:Frob*"}), "matches no known ecr action", 0),
        (doc({**ALLOW_PULL, "Action": "s4:GetObject"}), "unknown service 's4'", 0),
        (doc({**ALLOW_PULL, "Action": "BatchGetImage"}), "service:ActionName", 0),
        (doc({**ALLOW_PULL, "Action": []}), "must not be empty", 0),
        (doc({**ALLOW_PULL, "Effect": "allow"}), "Effect must be", 0),
        (doc({**ALLOW_PULL, "Resource": "repository/app"}), "is not an ARN", 0),
        (doc({**ALLOW_PULL, "Resource": "arn:aws-cn:ecr:r:111122223333:repository/a"}), "partition", 0),
        (doc({**ALLOW_PULL, "NotAction": "ecr:PutImage"}), "not both", 0),
        (doc({"Effect": "Allow", "Resource": "*"}), "no Action", 0),
        (doc({"Effect": "Allow", "Action": "ecr:PutImage"}), "no Resource", 0),
        (doc({**ALLOW_PULL, "Principal": "*"}), "cannot name a Principal", 0),
        (doc({**ALLOW_PULL, "Condition": {"StringFrobs": {"aws:username": "x"}}}), "unknown condition operator", 0),
        (doc({**ALLOW_PULL, "Condition": {"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}}}), "CIDR", 0),
        (doc({**ALLOW_PULL, "Condition": {"NumericLessThan": {"ecr:x": "ten"}}}), "not a number", 0),
        (doc({**ALLOW_PULL, "Condition": {"DateLessThan": {"aws:CurrentTime": "tomorrow"}}}), "ISO 8601", 0),
        (doc({**ALLOW_PULL, "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}), "true or false", 0),
        (doc({**ALLOW_PULL, "Condition": {"NullIfExists": {"aws:SourceIp": "true"}}}), "Null takes", 0),
        (doc({**ALLOW_PULL, "Condition": {"ForSomeValues:StringLike": {"aws:username": "a"}}}), "set operator", 0),
        (doc({**ALLOW_PULL, "Condition": {"StringLike": {"username": "a"}}}), "service:Key", 0),
        (doc({**ALLOW_PULL, "Sid": "A"}, {**ALLOW_PULL, "Sid": "A"}), "Sid 'A' is used", 1),
        (doc({**ALLOW_PULL, "Colour": "red"}), "unknown statement element", 0),
        ('{"Statement": [], "Statement": []}', "duplicate element 'Statement'", None),
    ],
)
def test_identity_policy_validation(text, fragment, index):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert fragment in str(caught.value)
    assert caught.value.statement_index == index


RESOURCE_STATEMENT = {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "ecr:BatchGetImage"}


@pytest.mark.parametrize(
    ("statement", "fragment"),
    [
        ({k: v for k, v in RESOURCE_STATEMENT.items() if k != "Principal"}, "no Principal"),
        ({**RESOURCE_STATEMENT, "Principal": {"AWS": "12345"}}, "not an ARN"),
        ({**RESOURCE_STATEMENT, "Principal": {"AWS": f"arn:aws:iam::{OTHER}:group/devs"}}, "invalid principal"),
        ({**RESOURCE_STATEMENT, "Principal": {"AWS": f"arn:aws:iam::{OTHER}:user/*"}}, "wildcards"),
        ({**RESOURCE_STATEMENT, "Principal": {"AWS": f"arn:aws:s3::{OTHER}:root"}}, "invalid principal"),
        ({**RESOURCE_STATEMENT, "Principal": {"Service": "ecs.amazonaws.com"}}, "unsupported principal type"),
        ({**RESOURCE_STATEMENT, "Principal": "everyone"}, 'Principal must be "*"'),
        ({**RESOURCE_STATEMENT, "Principal": {"AWS": ["*", OTHER]}}, "cannot be combined"),
        ({**RESOURCE_STATEMENT, "NotPrincipal": "*", "Principal": None}, "NotPrincipal cannot be"),
        ({**RESOURCE_STATEMENT, "NotPrincipal": {"AWS": OWNER}}, "not both"),
    ],
)
def test_resource_policy_validation_points_at_statement(statement, fragment):
    statement = {k: v for k, v in statement.items() if v is not None}
    text = doc({**RESOURCE_STATEMENT, "Sid": "First"}, {**statement, "Sid": "Second"})
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, kind=PolicyKind.RESOURCE)
    assert fragment in str(caught.value)
    assert caught.value.statement_index == 1
    assert caught.value.sid == "Second"
    assert str(caught.value).startswith('Statement 2 (Sid "Second"): ')


def test_principal_existence_is_checked_through_callback():
    known = {f"arn:berth:iam::{OTHER}:user/alice", account_root_arn(OTHER)}
    ok = {**RESOURCE_STATEMENT, "Principal": {"AWS": [OTHER, f"arn:aws:iam::{OTHER}:user/alice"]}}
    parse_policy(doc(ok), kind=PolicyKind.RESOURCE, principal_exists=known.__contains__)
    missing = {**RESOURCE_STATEMENT, "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/ghost"}}
    with pytest.raises(PolicyError, match="does not exist"):
        parse_policy(doc(missing), kind=PolicyKind.RESOURCE, principal_exists=known.__contains__)


def test_size_limit_is_10240_characters():
    base = doc(ALLOW_PULL)
    padded = base[:-1] + " " * (MAX_POLICY_CHARACTERS - len(base)) + "}"
    assert len(padded) == MAX_POLICY_CHARACTERS
    parse_policy(padded)
    with pytest.raises(PolicyError, match="limit is 10240"):
        parse_policy(padded + " ")


def test_wildcard_actions_expand_to_known_actions():
    assert set(expand_action_pattern("ecr:Batch*")) == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchDeleteImage",
        "ecr:BatchGetImage",
        "ecr:BatchGetRepositoryScanningConfiguration",
        "ecr:BatchImportUpstreamImage",
    }
    assert expand_action_pattern("ECR:batchgetimage") == ("ecr:BatchGetImage",)
    assert "ecr-public:PutRepositoryCatalogData" in expand_action_pattern("ecr-public:*")
    assert not any(a.startswith("ecr-public") for a in expand_action_pattern("ecr:*"))


def test_arn_parse_and_alias():
    arn = Arn.parse(f"arn:aws:ecr:eu-west-1:{OWNER}:repository/team/app")
    assert str(arn) == f"arn:berth:ecr:eu-west-1:{OWNER}:repository/team/app"
    assert arn.resource == "repository/team/app"
    with pytest.raises(ArnError):
        Arn.parse("arn:berth:ecr:eu-west-1:12:repository/a")
    with pytest.raises(ArnError):
        Arn.parse("arn:other:ecr:eu-west-1:111122223333:repository/a")
