import ast
import pathlib
import subprocess
import sys

POLICY_DIR = pathlib.Path(__file__).resolve().parents[1] / "policy"


def test_policy_package_imports_no_django():
    for source in POLICY_DIR.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] in ("django", "rest_framework") for name in names), source


def test_policy_package_loads_without_django():
    code = (
        "import sys; import apps.iam.policy; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')]"
    )
    root = pathlib.Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
