"""Which repositories are scanned, and how: the registry scanning configuration
(PutRegistryScanningConfiguration) and each repository's scanOnPush.

As in Amazon ECR: with BASIC scanning, rules of frequency SCAN_ON_PUSH name the
repositories scanned on push (besides those whose own scanOnPush is on); with
ENHANCED scanning, SCAN_ON_PUSH rules scan on push, and CONTINUOUS_SCAN rules scan
on push and again whenever the advisory database changes (a re-match of the stored
inventory, no layer read). Every other repository is MANUAL: StartImageScan only."""

from __future__ import annotations

import re

from apps.accounts.models import Account
from apps.kernel.wildcards import wildcard_match
from apps.repositories.models import Repository

from .exceptions import ScanningConfigurationInvalid
from .models import ScanFrequency, ScanningConfiguration, ScanType

MAX_RULES = 2
MAX_FILTERS = 100
FILTER_MAX_LENGTH = 256
# ECR's ScanningRepositoryFilter.filter: a repository name in which * stands for any run of characters.
FILTER_PATTERN = re.compile(r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$")
FREQUENCIES_OF = {
    ScanType.BASIC: {ScanFrequency.SCAN_ON_PUSH, ScanFrequency.MANUAL},
    ScanType.ENHANCED: {ScanFrequency.SCAN_ON_PUSH, ScanFrequency.CONTINUOUS_SCAN},
}


def validate(scan_type: str, rules: list) -> list[dict]:
    """The rules in ECR's shape, or ScanningConfigurationInvalid saying what is wrong."""
    if scan_type not in ScanType.values:
        raise ScanningConfigurationInvalid(f"scanType must be one of {', '.join(ScanType.values)}, not {scan_type!r}")
    if not isinstance(rules, list):
        raise ScanningConfigurationInvalid("rules must be a list")
    if len(rules) > MAX_RULES:
        raise ScanningConfigurationInvalid(f"at most {MAX_RULES} rules, not {len(rules)}")
    cleaned = []
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict) or set(rule) - {"scanFrequency", "repositoryFilters"}:
            raise ScanningConfigurationInvalid(f"{where} must be an object of scanFrequency and repositoryFilters")
        frequency = rule.get("scanFrequency")
        if frequency not in FREQUENCIES_OF[ScanType(scan_type)]:
            allowed = " or ".join(sorted(FREQUENCIES_OF[ScanType(scan_type)]))
            raise ScanningConfigurationInvalid(
                f"{where}.scanFrequency must be {allowed} with {scan_type} scanning, not {frequency!r}"
            )
        filters = rule.get("repositoryFilters")
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
            raise ScanningConfigurationInvalid(f"{where}.repositoryFilters must be a list of at most {MAX_FILTERS}")
        cleaned_filters = []
        for number, given in enumerate(filters):
            here = f"{where}.repositoryFilters[{number}]"
            if not isinstance(given, dict) or given.get("filterType", "WILDCARD") != "WILDCARD":
                raise ScanningConfigurationInvalid(f"{here} must be an object with filterType WILDCARD")
            text = given.get("filter")
            if not isinstance(text, str) or not 1 <= len(text) <= FILTER_MAX_LENGTH or not FILTER_PATTERN.match(text):
                raise ScanningConfigurationInvalid(
                    f"{here}.filter must be a repository name of 1 to {FILTER_MAX_LENGTH} characters in which "
                    "* stands for any characters, e.g. prod-* or team/*"
                )
            cleaned_filters.append({"filter": text, "filterType": "WILDCARD"})
        cleaned.append({"scanFrequency": frequency, "repositoryFilters": cleaned_filters})
    return cleaned


def of_account(account: Account | str) -> ScanningConfiguration:
    """The account's configuration, unsaved defaults (BASIC, no rules) when it has set none."""
    account_id = account if isinstance(account, str) else account.pk
    found = ScanningConfiguration.objects.filter(account_id=account_id).first()
    return found or ScanningConfiguration(account_id=account_id)


def frequency(repository: Repository, configuration: ScanningConfiguration | None = None) -> str:
    """How ``repository`` is scanned: CONTINUOUS_SCAN, SCAN_ON_PUSH or MANUAL."""
    configuration = configuration or of_account(repository.account_id)
    matched = {
        rule["scanFrequency"]
        for rule in configuration.rules
        if any(wildcard_match(f["filter"], repository.name) for f in rule["repositoryFilters"])
    }
    if configuration.scan_type == ScanType.ENHANCED and ScanFrequency.CONTINUOUS_SCAN in matched:
        return ScanFrequency.CONTINUOUS_SCAN
    if ScanFrequency.SCAN_ON_PUSH in matched or repository.scan_on_push:
        return ScanFrequency.SCAN_ON_PUSH
    return ScanFrequency.MANUAL


def applied_filters(repository: Repository, configuration: ScanningConfiguration | None = None) -> list[dict]:
    """The filters of the configuration that name ``repository`` (BatchGetRepositoryScanningConfiguration)."""
    configuration = configuration or of_account(repository.account_id)
    return [
        f
        for rule in configuration.rules
        for f in rule["repositoryFilters"]
        if wildcard_match(f["filter"], repository.name)
    ]
