""".env.example lists every setting the product reads from the environment: each
variable named in an `os.environ` read (or one of settings.py's `env_*` helpers)
in the server's code has a `NAME=` line there (commented out when it has no
sensible example value)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SERVER_CODE = [REPOSITORY / "registry_project", REPOSITORY / "apps"]
# Not settings: Django's pointer to the settings module, and what the test run sets for itself.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}
TEST_SUPPORT = {REPOSITORY / "registry_project" / "pytest_environment.py"}


def _is_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _variable_read(node: ast.AST) -> str | None:
    """The variable's name when ``node`` reads one from the environment."""
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        key = node.slice
    elif isinstance(node, ast.Call) and node.args:
        function = node.func
        reads = (
            (
                isinstance(function, ast.Attribute)
                and _is_environ(function.value)
                and function.attr in ("get", "setdefault", "pop")
            )
            or (isinstance(function, ast.Attribute) and function.attr == "getenv")
            or (isinstance(function, ast.Name) and function.id.startswith("env_"))
        )
        if not reads:
            return None
        key = node.args[0]
    else:
        return None
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def variables_read() -> dict[str, str]:
    """Each variable the server reads -> the first file that reads it."""
    found: dict[str, str] = {}
    for root in SERVER_CODE:
        for path in sorted(root.rglob("*.py")):
            if "tests" in path.relative_to(REPOSITORY).parts or path in TEST_SUPPORT:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                name = _variable_read(node)
                if name and name not in NOT_SETTINGS:
                    found.setdefault(name, str(path.relative_to(REPOSITORY)))
    return found


def listed() -> set[str]:
    text = (REPOSITORY / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def test_the_scan_finds_the_reads_it_should():
    read = variables_read()
    assert {"SECRET_KEY", "DATABASE_URL", "BERTH_BIND", "BERTH_AUDIT_WRITER", "BERTH_UPLOAD_SWEEP_SECONDS"} <= set(read)


def test_every_setting_the_server_reads_is_listed_in_env_example():
    missing = {name: where for name, where in variables_read().items() if name not in listed()}
    assert not missing, f".env.example lacks (variable: where it is read): {missing}"
