import json

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.iam.policy import (
    ALL_ACTIONS,
    Arn,
    PolicyKind,
    Principal,
    RequestContext,
    evaluate,
    parse_policy,
    repository_arn,
)
from apps.kernel.wildcards import wildcard_match

from .helpers import NOW, OTHER, OWNER, REGION

actions = st.sampled_from(ALL_ACTIONS)
action_patterns = st.one_of(actions, st.sampled_from(["*", "ecr:*", "ecr:Batch*", "ecr:Get*", "ecr:*Image", "sts:*"]))
repo_names = st.from_regex(r"[a-z][a-z0-9]{0,6}(/[a-z0-9]{1,5})?", fullmatch=True)
principals = st.sampled_from(
    [
        Principal.user(OWNER, "alice"),
        Principal.user(OTHER, "bob"),
        Principal.root(OWNER),
        Principal.root(OTHER),
        Principal.assumed_role(OTHER, "ci", "s1"),
    ]
)
principal_values = st.sampled_from(
    ["*", OWNER, OTHER, f"arn:aws:iam::{OTHER}:role/ci", f"arn:aws:iam::{OWNER}:user/alice"]
)
ips = st.sampled_from(["192.0.2.5", "198.51.100.9", None])
conditions = st.sampled_from(
    [
        None,
        {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        {"StringEquals": {"aws:PrincipalAccount": OTHER}},
    ]
)


@st.composite
def statements(draw, *, kind, effect=None):
    statement = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        "Action": draw(st.lists(action_patterns, min_size=1, max_size=3)),
    }
    if kind is PolicyKind.RESOURCE:
        statement["Principal"] = {"AWS": draw(principal_values)}
    else:
        statement["Resource"] = draw(
            st.sampled_from(
                ["*", f"arn:aws:ecr:*:{OWNER}:repository/*", f"arn:berth:ecr:{REGION}:{OTHER}:repository/*"]
            )
        )
    condition = draw(conditions)
    if condition:
        statement["Condition"] = condition
    return statement


def policy(kind, statement_list):
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": statement_list}), kind=kind)


@settings(max_examples=200, deadline=None)
@given(
    identity_statements=st.lists(statements(kind=PolicyKind.IDENTITY), min_size=1, max_size=4),
    resource_statements=st.lists(statements(kind=PolicyKind.RESOURCE), min_size=1, max_size=4),
    deny=st.one_of(
        statements(kind=PolicyKind.IDENTITY, effect="Deny"), statements(kind=PolicyKind.RESOURCE, effect="Deny")
    ),
    principal=principals,
    action=actions,
    ip=ips,
    account=st.sampled_from([OWNER, OTHER]),
    name=repo_names,
)
def test_adding_a_deny_never_grants(
    identity_statements, resource_statements, deny, principal, action, ip, account, name
):
    context = RequestContext(principal, action, repository_arn(account, REGION, name), source_ip=ip, current_time=NOW)
    before = evaluate(
        context,
        identity_policies=[policy(PolicyKind.IDENTITY, identity_statements)],
        resource_policy=policy(PolicyKind.RESOURCE, resource_statements),
    )
    if "Principal" in deny:
        resource_statements = [*resource_statements, deny]
    else:
        identity_statements = [*identity_statements, deny]
    after = evaluate(
        context,
        identity_policies=[policy(PolicyKind.IDENTITY, identity_statements)],
        resource_policy=policy(PolicyKind.RESOURCE, resource_statements),
    )
    assert after.allowed <= before.allowed


@given(action=actions, name=repo_names, casing=st.sampled_from([str.lower, str.upper, str]))
def test_star_allows_every_known_action(action, name, casing):
    allow_all = policy(PolicyKind.IDENTITY, [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    context = RequestContext(Principal.user(OWNER, "alice"), casing(action), repository_arn(OWNER, REGION, name))
    assert evaluate(context, identity_policies=[allow_all]).allowed


@given(action=actions)
def test_service_wildcard_matches_exactly_its_service(action):
    ecr_all = policy(PolicyKind.IDENTITY, [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}])
    context = RequestContext(Principal.user(OWNER, "alice"), action)
    assert evaluate(context, identity_policies=[ecr_all]).allowed is action.startswith("ecr:")


@given(
    statement_list=st.lists(statements(kind=PolicyKind.RESOURCE), min_size=1, max_size=4),
    principal=principals,
    action=actions,
    ip=ips,
    name=repo_names,
)
def test_aws_partition_reads_the_same(statement_list, principal, action, ip, name):
    as_berth = json.loads(json.dumps(statement_list).replace("arn:aws:", "arn:berth:"))
    context = RequestContext(principal, action, repository_arn(OWNER, REGION, name), source_ip=ip, current_time=NOW)
    one = evaluate(context, resource_policy=policy(PolicyKind.RESOURCE, statement_list))
    two = evaluate(context, resource_policy=policy(PolicyKind.RESOURCE, as_berth))
    assert (one.allowed, one.reason) == (two.allowed, two.reason)


@given(
    account=st.from_regex(r"\d{12}", fullmatch=True),
    name=repo_names,
    region=st.from_regex(r"[a-z]{2}-[a-z]{4,9}-\d", fullmatch=True),
)
def test_arn_round_trip(account, name, region):
    text = repository_arn(account, region, name)
    assert str(Arn.parse(text)) == text
    assert Arn.parse(text.replace("arn:berth:", "arn:aws:")) == Arn.parse(text)


@given(value=st.text(alphabet="ab*?./", max_size=8))
def test_star_matches_anything_and_literal_matches_itself(value):
    assert wildcard_match("*", value)
    literal = value.replace("*", "").replace("?", "")
    assert wildcard_match(literal, literal)
    assert wildcard_match("?" * len(value), value)
