"""Which repositories are scanned, and how (apps.scanning.configuration)."""

from __future__ import annotations

import pytest

from apps.repositories.models import Repository
from apps.scanning import configuration
from apps.scanning.exceptions import ScanningConfigurationInvalid
from apps.scanning.models import ScanningConfiguration


def rule(frequency: str, *filters: str) -> dict:
    return {"scanFrequency": frequency, "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters]}


@pytest.mark.parametrize(
    ("scan_type", "rules", "message"),
    [
        ("FULL", [], "scanType must be one of"),
        ("BASIC", [rule("CONTINUOUS_SCAN", "*")], "must be MANUAL or SCAN_ON_PUSH with BASIC"),
        ("ENHANCED", [rule("MANUAL", "*")], "must be CONTINUOUS_SCAN or SCAN_ON_PUSH with ENHANCED"),
        ("BASIC", [rule("SCAN_ON_PUSH", "*")] * 3, "at most 2 rules"),
        ("BASIC", [rule("SCAN_ON_PUSH", "Prod-*")], "filter must be a repository name"),
        ("BASIC", [rule("SCAN_ON_PUSH", "")], "filter must be a repository name"),
        ("BASIC", [rule("SCAN_ON_PUSH", *["a"] * 101)], "at most 100"),
        (
            "BASIC",
            [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "a", "filterType": "PREFIX"}]}],
            "WILDCARD",
        ),
        ("BASIC", [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [], "extra": 1}], "must be an object"),
    ],
)
def test_configurations_ecr_refuses_are_refused_with_the_reason(scan_type, rules, message):
    with pytest.raises(ScanningConfigurationInvalid, match=message):
        configuration.validate(scan_type, rules)


def test_a_valid_configuration_comes_back_in_ecr_shape():
    given = [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "team/*"}]}]
    assert configuration.validate("ENHANCED", given) == [rule("CONTINUOUS_SCAN", "team/*")]


def frequency(name: str, *, scan_on_push: bool = False, scan_type: str = "BASIC", rules=()) -> str:
    repository = Repository(account_id="111122223333", name=name, scan_on_push=scan_on_push)
    config = ScanningConfiguration(account_id="111122223333", scan_type=scan_type, rules=list(rules))
    return configuration.frequency(repository, config)


def test_the_frequency_of_a_repository():
    assert frequency("app") == "MANUAL"
    assert frequency("app", scan_on_push=True) == "SCAN_ON_PUSH"
    assert frequency("prod-app", rules=[rule("SCAN_ON_PUSH", "prod-*")]) == "SCAN_ON_PUSH"
    assert frequency("dev-app", rules=[rule("SCAN_ON_PUSH", "prod-*")]) == "MANUAL"
    continuous = [rule("CONTINUOUS_SCAN", "team/*"), rule("SCAN_ON_PUSH", "*")]
    assert frequency("team/api", scan_type="ENHANCED", rules=continuous) == "CONTINUOUS_SCAN"
    assert frequency("other", scan_type="ENHANCED", rules=continuous) == "SCAN_ON_PUSH"
    # CONTINUOUS_SCAN rules mean nothing under BASIC (validate refuses them; a stored one is ignored)
    assert frequency("team/api", rules=[rule("CONTINUOUS_SCAN", "team/*")]) == "MANUAL"
