"""Installed Python distributions: ``*.dist-info/METADATA`` (wheels, pip),
``*.egg-info/PKG-INFO`` and single-file ``*.egg-info`` (setuptools, Debian's
python3-* packages). Only the headers are read (the description after them is not
needed, so a truncated file still names its package). Names are canonicalised
(``PyYAML`` → ``pyyaml``), versions kept as written."""

from __future__ import annotations

from dataclasses import dataclass

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from .packages import PYPI, Package


def is_metadata(path: str) -> bool:
    return path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info"))


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    licenses: tuple[str, ...]


def parse(data: bytes) -> Distribution | None:
    headers = _headers(data.decode("utf-8", "replace"))
    name, version = headers.get("name", "").strip(), headers.get("version", "").strip()
    if not name or not version:
        return None
    return Distribution(canonicalize_name(name), version, _licenses(headers))


def _headers(text: str) -> dict[str, str]:
    """The email-style header fields (lower-cased keys, first occurrence kept,
    continuation lines dropped), up to the first blank line."""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if sep:
            headers.setdefault(key.strip().lower(), value.strip())
    return headers


def _licenses(headers: dict[str, str]) -> tuple[str, ...]:
    expression = headers.get("license-expression", "")
    if expression:
        return (expression,)
    license_ = headers.get("license", "")
    if license_ and license_.lower() != "unknown" and len(license_) <= 100:
        return (license_,)
    return ()


def packages(dist: Distribution, path: str, layer_digest: str) -> list[Package]:
    purl = PackageURL(type="pypi", name=dist.name, version=dist.version).to_string()
    return [
        Package(
            ecosystem=PYPI,
            name=dist.name,
            version=dist.version,
            purl=purl,
            path=path,
            layer_digest=layer_digest,
            licenses=dist.licenses,
        )
    ]
