"""The replication configuration's language: ECR's limits and refusals, Berth's
extensions, and filter matching."""

from __future__ import annotations

import pytest

from apps.replication import config
from apps.replication.config import ReplicationConfigurationInvalid

ME = "111111111111"
OTHER = "222222222222"


def parse(document):
    return config.parse(document, account_id=ME, region="local-a")


def rule(*destinations, filters=(), **more):
    return {
        "destinations": list(destinations),
        "repositoryFilters": [{"filter": f, "filterType": "PREFIX_MATCH"} for f in filters],
        **more,
    }


def test_a_valid_configuration_with_berths_extensions():
    parsed = parse(
        {
            "rules": [
                rule({"region": "local-a", "registryId": OTHER}, filters=["prod/", "team-*-api"]),
                rule(
                    {
                        "region": "local-b",
                        "registryId": ME,
                        "endpoint": "https://b.example.com/",
                        "credentials": {"username": "u", "password": "p"},
                    },
                    replicateDeletions=True,
                ),
            ]
        }
    )
    assert parsed.rules[0].filters == ("prod/", "team-*-api")
    remote = parsed.rules[1].destinations[0]
    assert (remote.endpoint, remote.username, remote.password) == ("https://b.example.com", "u", "p")
    assert parsed.rules[1].replicate_deletions and not parsed.rules[0].replicate_deletions
    assert parse({"rules": []}).rules == ()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"rules": [rule({"region": "local-a", "registryId": ME})]}, "this registry itself"),
        ({"rules": [rule({"region": "local-b", "registryId": OTHER})]}, "give its endpoint"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER, "endpoint": "ftp://x"})]}, "http or https"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER, "endpoint": "https://h/?q=1"})]}, "no query"),
        (
            {"rules": [rule({"region": "local-a", "registryId": OTHER, "credentials": {"username": "u", "password": "p"}})]},
            "only a destination with an endpoint",
        ),
        ({"rules": [rule({"region": "local-a", "registryId": "12"})]}, "12-digit"),
        ({"rules": [rule({"region": "A", "registryId": OTHER})]}, "lowercase"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER}, {"region": "local-a", "registryId": OTHER})]},
         "twice"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER}, filters=["a", "a"])]}, "twice"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER}, filters=["UPPER"])]}, "lowercase letters"),
        ({"rules": [rule()]}, "1 to 25"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER})] * 11}, "0 to 10"),
        ({"rules": [rule(*[{"region": "local-a", "registryId": f"{n:012d}"} for n in range(26)])]}, "1 to 25"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER}, filters=[f"f{n}" for n in range(101)])]},
         "0 to 100"),
        ({"rules": [{"destinations": [{"region": "local-a", "registryId": OTHER}],
                     "repositoryFilters": [{"filter": "a", "filterType": "EXACT"}]}]}, "PREFIX_MATCH"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER}, replicateDeletions="yes")]}, "true or false"),
        ({"rules": [rule({"region": "local-a", "registryId": OTHER}, colour="red")]}, "unknown field"),
        ({}, "rules is required"),
        ([], "must be an object"),
    ],
)  # fmt: skip
def test_what_is_refused(document, message):
    with pytest.raises(ReplicationConfigurationInvalid, match=message):
        parse(document)


@pytest.mark.parametrize(
    ("filters", "name", "matches"),
    [
        ((), "anything/at/all", True),
        (("prod",), "prod/api", True),
        (("prod",), "production", True),
        (("prod/",), "production", False),
        (("team-*-api",), "team-a-api/v2", True),
        (("team-*-api",), "team-a-web", False),
        (("*/base",), "x/y/base-images", True),
        (("a", "b"), "b/c", True),
    ],
)
def test_filters_match_by_prefix_with_wildcards(filters, name, matches):
    assert config.Rule(destinations=(), filters=filters).matches(name) is matches


def test_the_described_form_never_shows_a_secret():
    stored = [
        {
            "destinations": [
                {"region": "local-b", "registryId": ME, "endpoint": "https://b", "username": "u",
                 "sealedPassword": "gAAAA-secret"},
            ],
            "repositoryFilters": [],
        }
    ]  # fmt: skip
    described = config.described(stored)
    assert "secret" not in str(described)
    assert described["rules"][0]["destinations"][0] == {
        "region": "local-b", "registryId": ME, "endpoint": "https://b", "credentialsConfigured": True, "username": "u"
    }  # fmt: skip
