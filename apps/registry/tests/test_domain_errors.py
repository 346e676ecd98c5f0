"""The domain speaks in DomainError subclasses; only /v2/ speaks OCI error codes."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import apps
from apps.kernel.errors import DomainError
from apps.registry.v2.errors import OCI_ERRORS, STATUS_BY_CODE, oci_error_of

ROOT = Path(apps.__file__).resolve().parent.parent
V2 = ROOT / "apps" / "registry" / "v2"
OCI_CODES = frozenset(STATUS_BY_CODE)
WIRE_NAMES = frozenset({"RegistryError", "STATUS_BY_CODE", "DEFAULT_MESSAGES"})
# Where the domain's errors are defined: they carry data, and know nothing of HTTP.
DOMAIN_ERROR_MODULES = ("apps/kernel/errors.py", "apps/kernel/digests.py", "apps/registry/exceptions.py")


def _is_test(path: Path) -> bool:
    return "tests" in path.parts or path.name == "conftest.py"


def _production_modules() -> list[Path]:
    paths = [*(ROOT / "apps").rglob("*.py"), *(ROOT / "registry_project").rglob("*.py")]
    return sorted(path for path in paths if not _is_test(path.relative_to(ROOT)))


def _speaks_oci(path: Path) -> list[str]:
    """Where a module names the envelope or an OCI error code: `line: what`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in OCI_CODES:
            found.append(f"{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.ImportFrom) and any(alias.name in WIRE_NAMES for alias in node.names):
            found.append(f"{node.lineno}: imports {', '.join(alias.name for alias in node.names)}")
        elif isinstance(node, ast.Name) and node.id in WIRE_NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in WIRE_NAMES:
            found.append(f"{node.lineno}: {node.attr}")
    return found


def test_the_scan_finds_what_v2_says():
    assert any("'NAME_INVALID'" in hit for hit in _speaks_oci(V2 / "base.py"))
    assert any("imports RegistryError" in hit for hit in _speaks_oci(V2 / "base.py"))


# The outbound client reads the envelopes other registries answer (replication's
# destinations, the pull-through cache's upstreams) and turns them into its own errors.
READS_OTHER_REGISTRIES = ("apps/replication/client.py",)


def test_no_code_outside_v2_constructs_or_inspects_oci_error_codes():
    speaking = {
        str(path.relative_to(ROOT)): hits
        for path in _production_modules()
        if V2 not in path.parents
        and str(path.relative_to(ROOT)) not in READS_OTHER_REGISTRIES
        and (hits := _speaks_oci(path))
    }
    assert speaking == {}


@pytest.mark.parametrize("module", DOMAIN_ERROR_MODULES)
def test_domain_errors_know_nothing_of_http(module):
    tree = ast.parse((ROOT / module).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
    }
    assert not {name for name in imported if name.split(".")[0] in ("django", "rest_framework")}


def _domain_error_classes() -> set[type[DomainError]]:
    for module in pkgutil.walk_packages(apps.__path__, "apps."):
        if ".tests" not in module.name and ".migrations" not in module.name:
            importlib.import_module(module.name)
    classes, pending = set(), [DomainError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            if subclass.__module__.startswith("apps.") and subclass not in classes:
                classes.add(subclass)
                pending.append(subclass)
    return classes


# /v2/ calls the registry and what lies below it; the consumers above (the scanner's
# refusals) never reach it, and it cannot import them (tests/test_floors.py).
BELOW_V2 = ("kernel", "events", "audit", "accounts", "repositories", "iam", "registry")
# Refusals of management operations only (creation templates' and registry policies'
# writes and reads), which no /v2/ request runs.
MANAGEMENT_ONLY = frozenset(
    {"CreationTemplateExists", "CreationTemplateNotFound", "RegistryPolicyInvalid", "RegistryPolicyNotFound"}
)


def test_v2_has_a_code_for_every_domain_error():
    classes = {
        cls
        for cls in _domain_error_classes()
        if cls.__module__.split(".")[1] in BELOW_V2 and cls.__qualname__ not in MANAGEMENT_ONLY
    }
    assert {cls.__name__ for cls in classes} >= {"DigestInvalid", "ManifestInvalid", "TokenRequired"}
    unsaid = []
    for cls in classes:
        try:
            oci = oci_error_of(cls)
        except LookupError:
            unsaid.append(cls.__qualname__)
        else:
            assert oci.code in OCI_CODES, cls
            assert 400 <= oci.status < 600, cls
    assert unsaid == []
    assert DomainError not in OCI_ERRORS  # each error says what it is: no catch-all code
