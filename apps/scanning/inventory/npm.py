"""npm packages: the ``package.json`` of each package installed under a
``node_modules`` directory, and ``package-lock.json`` files outside ``node_modules``
(lock file versions 1, ``dependencies``, and 2/3, ``packages``).

Reported twice? An installed package.json is what is there; a lock file says what
an install would put there, and an image often holds both for the same
application. So a lock file's entry is reported only when no installed package.json
anywhere in the image has the same name and version (``without_installed``): a lock
file adds the packages an image did not install beside it (a copied application
without its node_modules), never a second copy of one found installed; and a
name@version in several lock files is reported once (for the first, by path). Lock
entries marked ``dev`` (development only) and links to local directories are
left out, as are versions that are not registry versions (``file:``, git URLs)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from packageurl import PackageURL

from .packages import NPM, Package

LOCK_FILE = "package-lock.json"


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    licenses: tuple[str, ...] = ()


def is_installed_manifest(path: str) -> bool:
    """``…/node_modules/<name>/package.json`` or ``…/node_modules/@scope/<name>/package.json``
    (not the package.json files some packages keep in their subdirectories)."""
    parts = path.split("/")
    if parts[-1] != "package.json" or "node_modules" not in parts[:-1]:
        return False
    last = len(parts) - 1 - parts[::-1].index("node_modules")
    rest = parts[last + 1 : -1]
    if len(rest) == 1:
        return not rest[0].startswith((".", "@"))
    return len(rest) == 2 and rest[0].startswith("@") and not rest[1].startswith(".")


def is_lock_file(path: str) -> bool:
    parts = path.split("/")
    return parts[-1] == LOCK_FILE and "node_modules" not in parts


def parse_manifest(data: bytes) -> NpmPackage | None:
    document = json.loads(data)
    if not isinstance(document, dict):
        return None
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return NpmPackage(name, version, _licenses(document))


def _licenses(document: dict) -> tuple[str, ...]:
    license_ = document.get("license")
    if isinstance(license_, dict):
        license_ = license_.get("type")
    if isinstance(license_, str) and license_:
        return (license_,)
    licenses = document.get("licenses")
    if isinstance(licenses, list):
        return tuple(item["type"] for item in licenses if isinstance(item, dict) and isinstance(item.get("type"), str))
    return ()


def parse_lock(data: bytes) -> list[NpmPackage]:
    document = json.loads(data)
    if not isinstance(document, dict):
        return []
    found: dict[tuple[str, str], NpmPackage] = {}
    packages = document.get("packages")
    if isinstance(packages, dict):
        _lock_packages(packages, found)
    else:
        dependencies = document.get("dependencies")
        if isinstance(dependencies, dict):
            _lock_dependencies(dependencies, found, depth=0)
    return list(found.values())


def _lock_packages(packages: dict, found: dict) -> None:
    """Lock file v2/v3: keys are install paths ("node_modules/a/node_modules/@s/b")."""
    for key, entry in packages.items():
        if not key or not isinstance(entry, dict) or entry.get("link") or entry.get("dev"):
            continue
        name = entry.get("name") or _name_from_install_path(key)
        _add(found, name, entry.get("version"))


def _name_from_install_path(key: str) -> str:
    _, _, tail = key.rpartition("node_modules/")
    return tail


def _lock_dependencies(dependencies: dict, found: dict, depth: int) -> None:
    """Lock file v1: ``dependencies`` nested by install location."""
    if depth > 64:
        return
    for name, entry in dependencies.items():
        if not isinstance(entry, dict) or entry.get("dev"):
            continue
        _add(found, name, entry.get("version"))
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            _lock_dependencies(nested, found, depth + 1)


def _add(found: dict, name: object, version: object) -> None:
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return
    if ":" in version or "/" in version:
        return  # file:, git+https:, a tarball URL: not a registry version
    found.setdefault((name, version), NpmPackage(name, version))


def purl(name: str, version: str) -> str:
    namespace, _, bare = name.rpartition("/")
    return PackageURL(type="npm", namespace=namespace or None, name=bare, version=version).to_string()


def packages(found: list[NpmPackage], path: str, layer_digest: str) -> list[Package]:
    return [
        Package(
            ecosystem=NPM,
            name=p.name,
            version=p.version,
            purl=purl(p.name, p.version),
            path=path,
            layer_digest=layer_digest,
            licenses=p.licenses,
        )
        for p in found
    ]


def without_installed(lock_packages: list[Package], installed: list[Package]) -> list[Package]:
    """The lock files' packages that no installed package.json already reports."""
    seen = {(p.name, p.version) for p in installed}
    kept = []
    for package in lock_packages:
        if (package.name, package.version) not in seen:
            seen.add((package.name, package.version))
            kept.append(package)
    return kept
