"""The floors of docs/architecture.md, read from the code: an app imports only apps on
floors below its own, and never from inside a function (an import moved into a
function to dodge a cycle is a cycle all the same). AppConfig.ready() is where Django
wants start-up imports, so apps.py may import its own app's modules late."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_independent

APPS = Path(__file__).resolve().parent.parent / "apps"

# Lowest first. An app may import the apps of lower floors only.
FLOORS = [
    {"kernel"},
    {"events"},
    {"audit"},
    {"accounts"},
    {"repositories"},
    {"iam"},
    {"registry"},
    {"gallery", "scanning", "usage", "lifecycle", "replication", "webhooks"},
    {"api", "console", "aws"},
]
FLOOR_OF = {app: level for level, apps in enumerate(FLOORS) for app in apps}


def _production_modules():
    for path in sorted(APPS.rglob("*.py")):
        parts = path.relative_to(APPS).parts
        if len(parts) < 2 or "tests" in parts or "migrations" in parts or parts[-1] == "conftest.py":
            continue
        yield parts[0], path


def _imported_apps(tree: ast.AST):
    """(app, line, inside a function) for each import of another module of apps."""
    local = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "apps" and len(parts) > 1:
                yield parts[1], node.lineno, id(node) in local


def test_every_app_has_a_floor():
    apps = {path.name for path in APPS.iterdir() if (path / "__init__.py").exists()}
    assert apps == set(FLOOR_OF), "add the app to FLOORS here and to docs/architecture.md"


def test_apps_import_only_lower_floors():
    upward, local = [], []
    for app, path in _production_modules():
        for imported, line, in_function in _imported_apps(ast.parse(path.read_text())):
            if imported == app:
                continue
            where = f"{path.relative_to(APPS.parent)}:{line} imports apps.{imported}"
            if FLOOR_OF[imported] >= FLOOR_OF[app]:
                upward.append(where)
            if in_function and path.name != "apps.py":
                local.append(where)
    assert not upward, "imports of an app on the same floor or above:\n" + "\n".join(upward)
    assert not local, "imports of another app inside a function:\n" + "\n".join(local)


def test_the_guard_sees_an_upward_import():
    tree = ast.parse("def f():\n    from apps.gallery import services\nfrom apps.kernel import names\n")
    assert sorted(_imported_apps(tree)) == [("gallery", 2, True), ("kernel", 3, False)]
