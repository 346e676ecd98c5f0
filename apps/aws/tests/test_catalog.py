"""The README's list of supported and unsupported AWS operations is the table's."""

from pathlib import Path

from apps.aws import catalog

README = Path(__file__).resolve().parents[3] / "README.md"
START, END = "<!-- aws-operations:start -->\n", "<!-- aws-operations:end -->"


def test_the_readme_lists_the_operations_as_the_table_has_them():
    text = README.read_text()
    listed = text[text.index(START) + len(START) : text.index(END)].strip()
    assert listed == catalog.markdown().strip(), (
        "README's AWS operation list is out of date: put the output of `berth aws_operations` between its markers"
    )
