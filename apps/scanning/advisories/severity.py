"""Severity of an advisory, on Amazon ECR's scale.

Levels are ECR's finding severities (``INFORMATIONAL``, ``LOW``, ``MEDIUM``, ``HIGH``,
``CRITICAL``, ``UNDEFINED``). A CVSS base score maps to them as Amazon Inspector
documents for its severity labels: 0.0 informational, 0.1–3.9 low, 4.0–6.9 medium,
7.0–8.9 high, 9.0–10.0 critical.

Where the score comes from, first found wins:

1. a CVSS vector in the OSV ``severity`` list, scored by the ``cvss`` library; when
   several are present the **highest CVSS version** is used (``CVSS_V4``, then
   ``CVSS_V3``, then ``CVSS_V2``), being the one the publisher wrote last; an invalid
   vector is skipped;
2. an ``Ubuntu`` priority entry in that list;
3. the database's own word (no score): ``database_specific.severity`` as GitHub,
   PyPA or Alpine write it ("HIGH", "Moderate" …), or Debian's ``urgency``
   ("unimportant", "low", "medium", "high").

Nothing usable gives ``UNDEFINED`` with no score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cvss import CVSS2, CVSS3, CVSS4

CRITICAL = "CRITICAL"
HIGH = "HIGH"
MEDIUM = "MEDIUM"
LOW = "LOW"
INFORMATIONAL = "INFORMATIONAL"
UNDEFINED = "UNDEFINED"

LEVELS = (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED)

# The OSV severity types, in order of preference, with their scorer.
_CVSS_TYPES = (("CVSS_V4", CVSS4), ("CVSS_V3", CVSS3), ("CVSS_V2", CVSS2))

# Words databases use for a severity (lower-cased) → ECR level.
_WORDS: dict[str, str] = {
    "critical": CRITICAL,
    "high": HIGH,
    "important": HIGH,  # Red Hat
    "moderate": MEDIUM,  # GitHub, Red Hat
    "medium": MEDIUM,
    "low": LOW,
    "negligible": INFORMATIONAL,  # Ubuntu priority
    "unimportant": INFORMATIONAL,  # Debian urgency
    "informational": INFORMATIONAL,
    "info": INFORMATIONAL,
    "none": INFORMATIONAL,
}


@dataclass(frozen=True)
class Severity:
    """``level`` one of LEVELS; ``score`` the CVSS base score when a vector gave it;
    ``vector`` that vector ("" otherwise)."""

    level: str = UNDEFINED
    score: float | None = None
    vector: str = ""


UNKNOWN = Severity()


def level_for_score(score: float) -> str:
    """A CVSS base score (0.0–10.0) → ECR level."""
    if score >= 9.0:
        return CRITICAL
    if score >= 7.0:
        return HIGH
    if score >= 4.0:
        return MEDIUM
    if score >= 0.1:
        return LOW
    return INFORMATIONAL


def level_for_word(word: object) -> str:
    """A database's severity word → ECR level (UNDEFINED when not known)."""
    if not isinstance(word, str):
        return UNDEFINED
    return _WORDS.get(word.strip().lower(), UNDEFINED)


def score_vector(severity_type: str, vector: str) -> Severity | None:
    """Score one OSV severity entry; None when the type is not CVSS or the vector invalid."""
    for name, scorer in _CVSS_TYPES:
        if name == severity_type:
            try:
                score = float(scorer(vector.strip()).base_score)
            except Exception:  # cvss raises CVSSError and friends for a bad vector
                return None
            return Severity(level_for_score(score), score, vector.strip())
    return None


def _entries(entries: object) -> list[tuple[str, str]]:
    """The well-formed (type, score) pairs of an OSV severity list."""
    if not isinstance(entries, list):
        return []
    return [
        (e["type"], e["score"])
        for e in entries
        if isinstance(e, Mapping) and isinstance(e.get("type"), str) and isinstance(e.get("score"), str)
    ]


def from_vectors(entries: object) -> Severity | None:
    """The best severity from an OSV ``severity`` list, None if none is usable."""
    pairs = _entries(entries)
    for name, _scorer in _CVSS_TYPES:
        for severity_type, vector in pairs:
            if severity_type == name and (found := score_vector(severity_type, vector)):
                return found
    for severity_type, word in pairs:
        if severity_type == "Ubuntu" and (level := level_for_word(word)) != UNDEFINED:
            return Severity(level)
    return None


def from_database(*specifics: object) -> Severity | None:
    """A severity word in ``database_specific``-like mappings (first found wins)."""
    for specific in specifics:
        if not isinstance(specific, Mapping):
            continue
        for key in ("severity", "urgency"):
            level = level_for_word(specific.get(key))
            if level != UNDEFINED:
                return Severity(level)
    return None


def from_osv(entries: object, database_specific: object = None, *more: object) -> Severity:
    """The severity of an OSV record (or affected entry): vectors, else the database's word."""
    return from_vectors(entries) or from_database(database_specific, *more) or UNKNOWN


def highest(severities: Iterable[Severity]) -> Severity:
    """The most severe of several (UNKNOWN for none); used to fold affected entries."""
    rank = {level: i for i, level in enumerate(LEVELS)}
    ordered = sorted(severities, key=lambda s: (rank[s.level], -(s.score or 0.0)))
    return ordered[0] if ordered else UNKNOWN
