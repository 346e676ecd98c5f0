"""The replication configuration's language: ECR's PutReplicationConfiguration
JSON, validated as ECR validates it, with Berth's extensions (a destination's
``endpoint`` and ``credentials``, a rule's ``replicateDeletions``, ``*`` in filters),
and the matching of repositories against a rule's filters. Pure: no database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from apps.kernel.errors import DomainError
from apps.kernel.wildcards import wildcard_match

MAX_RULES = 10
MAX_DESTINATIONS = 25
MAX_FILTERS = 100
FILTER_MAX_LENGTH = 256
CREDENTIAL_MAX_LENGTH = 1024
ENDPOINT_MAX_LENGTH = 512
PREFIX_MATCH = "PREFIX_MATCH"

REGION_PATTERN = re.compile(r"^[0-9a-z-]{2,25}$")
REGISTRY_ID_PATTERN = re.compile(r"^[0-9]{12}$")
# A repository name's characters, and `*` for any run of them.
FILTER_PATTERN = re.compile(r"^[a-z0-9*][a-z0-9._/*-]*$")


class ReplicationConfigurationInvalid(DomainError):
    """The configuration breaks a rule of the language; the message says which and where."""


@dataclass(frozen=True)
class Destination:
    region: str
    registry_id: str
    endpoint: str = ""
    username: str = ""
    # Given with the request (to be sealed), or None: keep what was configured.
    password: str | None = None
    sealed_password: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.region, self.registry_id, self.endpoint)

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.password or self.sealed_password)


@dataclass(frozen=True)
class Rule:
    destinations: tuple[Destination, ...]
    filters: tuple[str, ...] = ()
    replicate_deletions: bool = False

    def matches(self, repository_name: str) -> bool:
        """ECR's PREFIX_MATCH: a rule without filters takes every repository; a
        filter takes the names it starts (``*`` in a filter stands for any run of
        characters, ``/`` included)."""
        if not self.filters:
            return True
        return any(filter_matches(pattern, repository_name) for pattern in self.filters)


def filter_matches(pattern: str, name: str) -> bool:
    if "*" not in pattern:
        return name.startswith(pattern)
    return wildcard_match(pattern + "*", name)


@dataclass(frozen=True)
class Configuration:
    rules: tuple[Rule, ...] = field(default_factory=tuple)


def _invalid(where: str, message: str) -> ReplicationConfigurationInvalid:
    return ReplicationConfigurationInvalid(f"{where}: {message}" if where else message)


def _object(value: object, where: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _invalid(where, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    for name in sorted(required):
        if name not in value:
            raise _invalid(where, f"{name} is required")
    return value


def _list(value: object, where: str, *, minimum: int, maximum: int) -> list:
    if not isinstance(value, list):
        raise _invalid(where, "must be an array")
    if not minimum <= len(value) <= maximum:
        raise _invalid(where, f"must have {minimum} to {maximum} items, not {len(value)}")
    return value


def _string(value: object, where: str, *, maximum: int) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(where, "must be a non-empty string")
    if len(value) > maximum:
        raise _invalid(where, f"must be at most {maximum} characters")
    return value


def _endpoint(value: object, where: str) -> str:
    text = _string(value, where, maximum=ENDPOINT_MAX_LENGTH)
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise _invalid(where, f"{text[:200]!r} must be an http or https URL with a host, no query, fragment or user")
    return text.rstrip("/")


def _destination(value: object, where: str, *, account_id: str, region: str) -> Destination:
    value = _object(value, where, {"region", "registryId", "endpoint", "credentials"}, {"region", "registryId"})
    region_given = value["region"]
    if not isinstance(region_given, str) or not REGION_PATTERN.fullmatch(region_given):
        raise _invalid(f"{where}.region", "must be 2 to 25 lowercase letters, digits and '-'")
    registry_id = value["registryId"]
    if not isinstance(registry_id, str) or not REGISTRY_ID_PATTERN.fullmatch(registry_id):
        raise _invalid(f"{where}.registryId", "must be a 12-digit account id")
    endpoint = _endpoint(value["endpoint"], f"{where}.endpoint") if "endpoint" in value else ""
    username, password = "", None
    if "credentials" in value:
        if not endpoint:
            raise _invalid(f"{where}.credentials", "only a destination with an endpoint takes credentials")
        credentials = _object(value["credentials"], f"{where}.credentials", {"username", "password"})
        username = _string(credentials.get("username"), f"{where}.credentials.username", maximum=CREDENTIAL_MAX_LENGTH)
        password = _string(credentials.get("password"), f"{where}.credentials.password", maximum=CREDENTIAL_MAX_LENGTH)
    if not endpoint:
        if region_given != region:
            raise _invalid(
                where,
                f"region {region_given} is another deployment (this one is {region}): give its endpoint",
            )
        if registry_id == account_id:
            raise _invalid(where, "the destination is this registry itself (same region and registry id)")
    return Destination(region=region_given, registry_id=registry_id, endpoint=endpoint, username=username,
                       password=password)  # fmt: skip


def _filter(value: object, where: str) -> str:
    value = _object(value, where, {"filter", "filterType"}, {"filter", "filterType"})
    if value["filterType"] != PREFIX_MATCH:
        raise _invalid(f"{where}.filterType", f"must be {PREFIX_MATCH}")
    text = _string(value["filter"], f"{where}.filter", maximum=FILTER_MAX_LENGTH)
    if not FILTER_PATTERN.fullmatch(text):
        raise _invalid(f"{where}.filter", f"{text[:200]!r}: lowercase letters, digits, '.', '_', '-', '/' and '*'")
    return text


def parse(document: object, *, account_id: str, region: str) -> Configuration:
    """Validate ``document`` (ECR's ``replicationConfiguration`` object) for
    ``account_id`` in ``region`` (this deployment's BERTH_REGION); raise
    ReplicationConfigurationInvalid naming what is wrong and where."""
    document = _object(document, "replicationConfiguration", {"rules"}, {"rules"})
    rules = []
    for number, rule in enumerate(
        _list(document["rules"], "replicationConfiguration.rules", minimum=0, maximum=MAX_RULES)
    ):
        where = f"rules[{number}]"
        rule = _object(rule, where, {"destinations", "repositoryFilters", "replicateDeletions"}, {"destinations"})
        destinations = []
        seen = set()
        for d, value in enumerate(
            _list(rule["destinations"], f"{where}.destinations", minimum=1, maximum=MAX_DESTINATIONS)
        ):
            destination = _destination(value, f"{where}.destinations[{d}]", account_id=account_id, region=region)
            if destination.key in seen:
                raise _invalid(f"{where}.destinations[{d}]", "the same destination is given twice")
            seen.add(destination.key)
            destinations.append(destination)
        filters = []
        for f, value in enumerate(
            _list(rule.get("repositoryFilters", []), f"{where}.repositoryFilters", minimum=0, maximum=MAX_FILTERS)
        ):
            text = _filter(value, f"{where}.repositoryFilters[{f}]")
            if text in filters:
                raise _invalid(f"{where}.repositoryFilters[{f}]", f"filter {text!r} is given twice")
            filters.append(text)
        replicate_deletions = rule.get("replicateDeletions", False)
        if not isinstance(replicate_deletions, bool):
            raise _invalid(f"{where}.replicateDeletions", "must be true or false")
        rules.append(Rule(tuple(destinations), tuple(filters), replicate_deletions))
    return Configuration(tuple(rules))


# -- stored form ------------------------------------------------------------------------


def stored_destination(destination: Destination) -> dict:
    return {
        "region": destination.region,
        "registryId": destination.registry_id,
        **({"endpoint": destination.endpoint} if destination.endpoint else {}),
        **({"username": destination.username} if destination.username else {}),
        **({"sealedPassword": destination.sealed_password} if destination.sealed_password else {}),
    }


def to_stored(configuration: Configuration) -> list[dict]:
    """The rules as ReplicationConfiguration.rules keeps them (passwords sealed already)."""
    return [
        {
            "destinations": [stored_destination(d) for d in rule.destinations],
            "repositoryFilters": [{"filter": f, "filterType": PREFIX_MATCH} for f in rule.filters],
            **({"replicateDeletions": True} if rule.replicate_deletions else {}),
        }
        for rule in configuration.rules
    ]


def from_stored(rules: list[dict]) -> Configuration:
    return Configuration(
        tuple(
            Rule(
                destinations=tuple(
                    Destination(
                        region=d["region"],
                        registry_id=d["registryId"],
                        endpoint=d.get("endpoint", ""),
                        username=d.get("username", ""),
                        sealed_password=d.get("sealedPassword", ""),
                    )
                    for d in rule["destinations"]
                ),
                filters=tuple(f["filter"] for f in rule.get("repositoryFilters", [])),
                replicate_deletions=bool(rule.get("replicateDeletions", False)),
            )
            for rule in rules
        )
    )


def described(rules: list[dict]) -> dict:
    """DescribeRegistry's replicationConfiguration: no secret, only whether there is one."""
    return {
        "rules": [
            {
                "destinations": [
                    {
                        "region": d["region"],
                        "registryId": d["registryId"],
                        **({"endpoint": d["endpoint"]} if d.get("endpoint") else {}),
                        **(
                            {"credentialsConfigured": True, "username": d.get("username", "")}
                            if d.get("sealedPassword") or d.get("username")
                            else {}
                        ),
                    }
                    for d in rule["destinations"]
                ],
                "repositoryFilters": list(rule.get("repositoryFilters", [])),
                **({"replicateDeletions": True} if rule.get("replicateDeletions") else {}),
            }
            for rule in rules
        ]
    }
