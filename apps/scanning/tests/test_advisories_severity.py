"""Severity: CVSS vectors scored by the cvss library, ECR's levels, database words."""

from __future__ import annotations

import pytest

from apps.scanning.advisories import severity
from apps.scanning.advisories.severity import Severity


def cvss(kind: str, vector: str) -> list[dict[str, str]]:
    return [{"type": kind, "score": vector}]


def test_cvss31_known_score():
    found = severity.from_osv(cvss("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"))
    assert found == Severity("CRITICAL", 9.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")


def test_cvss30_from_npm_record():
    # nodejs/security-wg 1.json states cvss_score 6.5 for this vector
    found = severity.from_osv(cvss("CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N"))
    assert (found.level, found.score) == ("MEDIUM", 6.5)


def test_cvss40_known_score():
    found = severity.from_osv(cvss("CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"))
    assert (found.level, found.score) == ("CRITICAL", 9.3)


def test_highest_cvss_version_preferred():
    entries = cvss("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H") + cvss(
        "CVSS_V4", "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    )  # PYSEC-2026-1472 (Jinja2): V3 8.8, V4 5.4
    assert (severity.from_osv(entries).score, severity.from_osv(entries).level) == (5.4, "MEDIUM")


def test_invalid_vector_falls_back():
    entries = cvss("CVSS_V4", "CVSS:4.0/garbage") + cvss("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N")
    assert severity.from_osv(entries) == Severity("INFORMATIONAL", 0.0, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N")
    assert severity.from_osv(cvss("CVSS_V3", "nonsense"), {"severity": "HIGH"}) == Severity("HIGH")


@pytest.mark.parametrize(
    "score, level",
    [(10.0, "CRITICAL"), (9.0, "CRITICAL"), (8.9, "HIGH"), (7.0, "HIGH"), (6.9, "MEDIUM"), (4.0, "MEDIUM")]
    + [(3.9, "LOW"), (0.1, "LOW"), (0.0, "INFORMATIONAL")],
)
def test_ecr_levels(score, level):
    assert severity.level_for_score(score) == level


@pytest.mark.parametrize(
    "specific, level",
    [
        ({"severity": "HIGH"}, "HIGH"),  # GitHub
        ({"severity": "Moderate"}, "MEDIUM"),
        ({"severity": "critical"}, "CRITICAL"),
        ({"urgency": "unimportant"}, "INFORMATIONAL"),  # Debian
        ({"urgency": "low"}, "LOW"),
        ({"urgency": "not yet assigned"}, "UNDEFINED"),
        ({}, "UNDEFINED"),
        (None, "UNDEFINED"),
    ],
)
def test_database_words(specific, level):
    assert severity.from_osv([], specific).level == level


def test_ubuntu_priority_and_nothing():
    assert severity.from_osv([{"type": "Ubuntu", "score": "negligible"}]) == Severity("INFORMATIONAL")
    assert severity.from_osv(None) == Severity("UNDEFINED", None, "")
