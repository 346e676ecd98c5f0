"""Decisions as IAM makes them, with cases from the Amazon ECR and IAM guides."""

import pytest

from apps.iam.policy import (
    Principal,
    Reason,
    RequestContext,
    StatementRef,
    evaluate,
    repository_arn,
    simulate,
)

from .helpers import NOW, OTHER, OWNER, REGION, REPO, identity, resource

PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
ALICE = Principal.user(OWNER, "alice")
BOB_ELSEWHERE = Principal.user(OTHER, "bob")
CI_ROLE = Principal.assumed_role(OTHER, "ci", "build-42")
ALLOW_ALL_IDENTITY = identity({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}, name="admin")


def decide(principal, action="ecr:BatchGetImage", *, identities=(), repository=None, **context):
    context.setdefault("current_time", NOW)
    return evaluate(
        RequestContext(principal=principal, action=action, resource=REPO, **context),
        identity_policies=identities,
        resource_policy=repository,
    )


def test_no_policies_is_implicit_deny():
    decision = decide(ALICE)
    assert (decision.allowed, decision.reason, decision.statement) == (False, Reason.IMPLICIT_DENY, None)


def test_same_account_identity_allow_suffices():
    policy = identity({"Sid": "Pull", "Effect": "Allow", "Action": PULL, "Resource": REPO}, name="pullers")
    decision = decide(ALICE, identities=[policy])
    assert decision.allowed and decision.reason is Reason.ALLOW
    assert decision.statement == StatementRef("pullers", 0, "Pull")
    assert not decide(ALICE, "ecr:PutImage", identities=[policy]).allowed


def test_same_account_repository_policy_naming_the_user_suffices():
    policy = resource({"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "ecr:*"})
    decision = decide(ALICE, "ecr:PutImage", repository=policy)
    assert decision.allowed
    assert decision.statement == StatementRef("repository", 0, None)


def test_same_account_repository_policy_naming_the_account_delegates_to_identity_policies():
    policy = resource({"Effect": "Allow", "Principal": {"AWS": OWNER}, "Action": "ecr:*"})
    denied = decide(ALICE, repository=policy)
    assert not denied.allowed and "names the account" in denied.explanation
    assert decide(ALICE, repository=policy, identities=[ALLOW_ALL_IDENTITY]).allowed


def test_explicit_deny_wins_over_any_allow():
    deny = resource(
        {"Sid": "NoDelete", "Effect": "Deny", "Principal": "*", "Action": "ecr:BatchDeleteImage"},
        {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"},
    )
    decision = decide(ALICE, "ecr:BatchDeleteImage", identities=[ALLOW_ALL_IDENTITY], repository=deny)
    assert decision.reason is Reason.EXPLICIT_DENY
    assert decision.statement == StatementRef("repository", 0, "NoDelete")
    identity_deny = identity({"Effect": "Deny", "Action": "ecr:Put*", "Resource": "*"}, name="guard")
    decision = decide(ALICE, "ecr:PutImage", identities=[ALLOW_ALL_IDENTITY, identity_deny])
    assert decision.reason is Reason.EXPLICIT_DENY and decision.statement.policy == "guard"


def test_root_user_has_every_right_in_its_own_account_but_not_against_a_deny():
    root = Principal.root(OWNER)
    decision = decide(root, "ecr:DeleteRepository")
    assert decision.allowed and decision.statement is None
    deny = resource({"Effect": "Deny", "Principal": {"AWS": OWNER}, "Action": "ecr:DeleteRepository"})
    assert decide(root, "ecr:DeleteRepository", repository=deny).reason is Reason.EXPLICIT_DENY


# ECR user guide: "allow another account" to pull.
CROSS_ACCOUNT_PULL = resource(
    {
        "Sid": "AllowCrossAccountPull",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": PULL,
    }
)


def test_cross_account_needs_repository_policy_and_identity_policy():
    pull_anywhere = identity({"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}, name="pull")
    both = decide(BOB_ELSEWHERE, identities=[pull_anywhere], repository=CROSS_ACCOUNT_PULL)
    assert both.allowed
    assert both.statements == (StatementRef("repository", 0, "AllowCrossAccountPull"), StatementRef("pull", 0, None))
    only_repository = decide(BOB_ELSEWHERE, repository=CROSS_ACCOUNT_PULL)
    assert not only_repository.allowed and "identity policies" in only_repository.explanation
    only_identity = decide(BOB_ELSEWHERE, identities=[pull_anywhere])
    assert not only_identity.allowed and "resource policy" in only_identity.explanation
    assert not decide(
        BOB_ELSEWHERE, "ecr:PutImage", identities=[ALLOW_ALL_IDENTITY], repository=CROSS_ACCOUNT_PULL
    ).allowed


def test_cross_account_root_needs_only_the_repository_policy():
    assert decide(Principal.root(OTHER), repository=CROSS_ACCOUNT_PULL).allowed
    assert not decide(Principal.root("999988887777"), repository=CROSS_ACCOUNT_PULL).allowed


def test_role_arn_in_principal_matches_its_sessions():
    policy = resource({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/ci"}, "Action": PULL})
    assert decide(CI_ROLE, identities=[ALLOW_ALL_IDENTITY], repository=policy).allowed
    other_role = Principal.assumed_role(OTHER, "deploy", "s1")
    assert not decide(other_role, identities=[ALLOW_ALL_IDENTITY], repository=policy).allowed


def test_principal_star_means_any_authenticated_principal_never_anonymous():
    public_read = resource({"Effect": "Allow", "Principal": "*", "Action": PULL})
    assert decide(ALICE, repository=public_read).allowed
    assert decide(BOB_ELSEWHERE, identities=[ALLOW_ALL_IDENTITY], repository=public_read).allowed
    anonymous = decide(Principal.anonymous(), repository=public_read)
    assert not anonymous.allowed and anonymous.reason is Reason.IMPLICIT_DENY


def test_deny_unless_from_corporate_ip_range():
    policy = resource(
        {
            "Sid": "DenyOutside",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "ecr:*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}},
        },
        {"Sid": "Team", "Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "ecr:*"},
    )
    assert decide(ALICE, repository=policy, source_ip="192.0.2.10").allowed
    assert decide(ALICE, repository=policy, source_ip="2001:db8::1").allowed
    outside = decide(ALICE, repository=policy, source_ip="198.51.100.1")
    assert outside.reason is Reason.EXPLICIT_DENY and outside.statement.sid == "DenyOutside"


def test_deny_insecure_transport_and_time_window():
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "ecr:*",
            "Resource": "*",
            "Condition": {
                "DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
                "DateLessThan": {"aws:CurrentTime": "2024-12-31T23:59:59Z"},
            },
        },
        {"Effect": "Deny", "Action": "ecr:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )
    assert decide(ALICE, identities=[policy], secure_transport=True).allowed
    assert decide(ALICE, identities=[policy], secure_transport=False).reason is Reason.EXPLICIT_DENY
    late = decide(ALICE, identities=[policy], secure_transport=True, current_time=NOW.replace(year=2025))
    assert late.reason is Reason.IMPLICIT_DENY


def test_resource_tags_principal_keys_and_user_agent():
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "ecr:PutImage",
            "Resource": "*",
            "Condition": {"StringEquals": {"ecr:ResourceTag/team": "${placeholder}", "aws:PrincipalAccount": OWNER}},
        }
    )
    assert not decide(ALICE, "ecr:PutImage", identities=[policy], resource_tags={"team": "web"}).allowed
    tagged = identity(
        {
            "Effect": "Allow",
            "Action": "ecr:PutImage",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:ResourceTag/team": "web", "aws:PrincipalType": "User", "aws:username": "alice"},
                "StringLike": {"aws:UserAgent": "docker/*"},
            },
        }
    )
    assert decide(
        ALICE, "ecr:PutImage", identities=[tagged], resource_tags={"team": "web"}, user_agent="docker/24.0"
    ).allowed
    assert not decide(
        ALICE, "ecr:PutImage", identities=[tagged], resource_tags={"team": "ops"}, user_agent="docker/24.0"
    ).allowed
    session = Principal.assumed_role(OWNER, "ci", "s")  # aws:username is absent for role sessions
    assert not decide(
        session, "ecr:PutImage", identities=[tagged], resource_tags={"team": "web"}, user_agent="docker/24.0"
    ).allowed


def test_not_action_not_resource_and_not_principal():
    everything_but_delete = identity({"Effect": "Allow", "NotAction": "ecr:Delete*", "Resource": "*"})
    assert decide(ALICE, "ecr:PutImage", identities=[everything_but_delete]).allowed
    assert not decide(ALICE, "ecr:DeleteRepository", identities=[everything_but_delete]).allowed

    other_repo = repository_arn(OWNER, REGION, "secret")
    not_secret = identity({"Effect": "Allow", "Action": "ecr:*", "NotResource": other_repo})
    assert decide(ALICE, identities=[not_secret]).allowed
    assert not evaluate(RequestContext(ALICE, "ecr:BatchGetImage", other_repo), identity_policies=[not_secret]).allowed

    only_alice = resource(
        {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "ecr:PutImage"},
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:*"},
    )
    assert decide(ALICE, "ecr:PutImage", repository=only_alice).allowed
    carol = Principal.user(OWNER, "carol")
    assert decide(carol, "ecr:PutImage", repository=only_alice).reason is Reason.EXPLICIT_DENY
    assert decide(carol, "ecr:BatchGetImage", repository=only_alice).allowed


@pytest.mark.parametrize(
    ("pattern", "allowed"),
    [
        ("*", True),
        (f"arn:aws:ecr:*:{OWNER}:repository/*", True),
        (f"arn:berth:ecr:{REGION}:{OWNER}:repository/team/*", True),
        (f"arn:aws:ecr:{REGION}:{OWNER}:repository/team/ap?", True),
        ("arn:aws:ecr:*", True),
        (f"arn:aws:ecr:{REGION}:{OWNER}:repository/Team/app", False),  # ARNs are case-sensitive
        (f"arn:aws:ecr:{REGION}:{OTHER}:repository/*", False),
        (f"arn:aws:ecr:us-east-1:{OWNER}:repository/team/app", False),
    ],
)
def test_resource_patterns(pattern, allowed):
    policy = identity({"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": pattern})
    assert decide(ALICE, identities=[policy]).allowed is allowed


def test_actions_are_case_insensitive_and_wildcards_work():
    policy = identity({"Effect": "Allow", "Action": "ECR:batch*", "Resource": "*"})
    assert decide(ALICE, "ecr:BatchGetImage", identities=[policy]).allowed
    assert not decide(ALICE, "ecr:PutImage", identities=[policy]).allowed


def test_account_level_action_needs_resource_star():
    token_any = identity({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})
    token_repo = identity({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": REPO})
    assert simulate(ALICE, "ecr:GetAuthorizationToken", identity_policies=[token_any]).allowed
    assert not simulate(ALICE, "ecr:GetAuthorizationToken", identity_policies=[token_repo]).allowed


def test_simulator_reports_decision_and_statement():
    policy = resource(
        {
            "Sid": "Office",
            "Effect": "Allow",
            "Principal": {"AWS": ALICE.arn},
            "Action": PULL,
            "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        }
    )
    inside = simulate(ALICE, "ecr:BatchGetImage", REPO, source_ip="192.0.2.5", resource_policy=policy, current_time=NOW)
    assert inside.allowed and str(inside.statement) == 'repository: Sid "Office"'
    outside = simulate(ALICE, "ecr:BatchGetImage", REPO, source_ip="10.0.0.1", resource_policy=policy)
    assert not outside.allowed and outside.statement is None


def test_policies_must_be_passed_in_their_role():
    with pytest.raises(ValueError):
        decide(ALICE, identities=[CROSS_ACCOUNT_PULL])
    with pytest.raises(ValueError):
        decide(ALICE, repository=ALLOW_ALL_IDENTITY)
