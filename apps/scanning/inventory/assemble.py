"""From the records the walk kept to an Inventory: the OS first (distribution
packages' URLs name it), then each record's packages, in path order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import distro, golang, java, npm, python_dists, rpm
from . import os_release as os_release_module
from .kinds import (
    APK,
    DPKG,
    DPKG_DISTROLESS,
    GO_BINARY,
    JAVA_ARCHIVE,
    NOTE,
    NPM_LOCK,
    NPM_PACKAGE,
    OS_RELEASE,
    PYTHON,
    RPM,
)
from .packages import NPM, Inventory, OperatingSystem, Package

if TYPE_CHECKING:
    from .tree import Record, Tree


def inventory(tree: Tree) -> Inventory:
    result = Inventory(os=operating_system(tree))
    lock_packages: list[Package] = []
    for path in sorted(tree.records):
        record = tree.records[path]
        if record.kind == NOTE:
            result.unsupported.append(record.data)
        elif record.kind == RPM:
            result.unsupported.append(rpm.unsupported_line(path))
        elif record.kind == NPM_LOCK:
            lock_packages.extend(npm.packages(record.data, path, record.layer_digest))
        else:
            result.packages.extend(_packages(record, path, result.os))
    installed_npm = [p for p in result.packages if p.ecosystem == NPM]
    result.packages.extend(npm.without_installed(lock_packages, installed_npm))
    return result


def operating_system(tree: Tree) -> OperatingSystem | None:
    """From the first os-release path that resolves, through symbolic links, to an
    os-release file the walk read."""
    for candidate in os_release_module.PATHS:
        record = tree.records.get(tree.resolve(candidate))
        if record is not None and record.kind == OS_RELEASE:
            found = os_release_module.operating_system(record.data)
            if found is not None:
                return found
    return None


def _packages(record: Record, path: str, os: OperatingSystem | None) -> list[Package]:
    digest = record.layer_digest
    if record.kind in (DPKG, DPKG_DISTROLESS):
        return distro.dpkg_packages(record.data, path, digest, os)
    if record.kind == APK:
        return distro.apk_packages(record.data, path, digest, os)
    if record.kind == PYTHON:
        return python_dists.packages(record.data, path, digest)
    if record.kind == NPM_PACKAGE:
        return npm.packages([record.data], path, digest)
    if record.kind == GO_BINARY:
        return golang.packages(record.data, path, digest)
    if record.kind == JAVA_ARCHIVE:
        return java.packages(record.data, path, digest)
    return []  # OS_RELEASE: read above
