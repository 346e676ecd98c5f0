"""Tables, fields, JSON and the progress display."""

import io
import json
import time

from rich.console import Console

from berth_cli import output
from berth_cli.output import Column


def test_table_aligns_columns_under_upper_case_headers():
    rows = [
        {"name": "team/app", "imageCount": 3, "scanOnPush": True, "tags": []},
        {"name": "a", "imageCount": 12, "scanOnPush": False, "tags": ["x", "y"]},
    ]
    columns = [
        Column("Name", "name"),
        Column("Images", "imageCount"),
        Column("Scan", "scanOnPush"),
        Column("Tags", "tags"),
    ]

    assert output.table(rows, columns).splitlines() == [
        "NAME      IMAGES  SCAN   TAGS",
        "team/app  3       true   -",
        "a         12      false  x, y",
    ]


def test_an_empty_table_still_has_its_headers():
    assert output.table([], [Column("Name", "name"), Column("Size", "size")]) == "NAME  SIZE"


def test_columns_reach_into_nested_objects_and_format_what_is_there():
    row = {"catalogData": {"description": "tools"}, "size": 2_500_000, "missing": None}
    columns = [
        Column("Description", "catalogData.description"),
        Column("Size", "size", output.size),
        Column("Missing", "missing", output.size),
        Column("Computed", lambda row: len(row)),
    ]

    assert output.fields(row, columns).splitlines() == [
        "Description:  tools",
        "Size:         2.4 MiB",
        "Missing:      -",
        "Computed:     3",
    ]


def test_formats():
    assert output.when("2026-05-01T12:34:56.789012Z") == "2026-05-01 12:34:56Z"
    assert output.when("not a time") == "not a time"
    assert output.size(999) == "999 B"
    assert output.size(1_023) == "1023 B"
    assert output.size(1_024) == "1.0 KiB"
    assert output.size(3 * 2**40) == "3.0 TiB"
    assert output.short_digest("sha256:" + "ab" * 32) == "sha256:abababababab"
    assert output.plain({"env": "prod"}) == "env=prod"


def test_json_is_the_data_as_it_came(capsys):
    data = {"repositories": [{"name": "é", "imageCount": 1}]}
    output.emit(data, output.JSON, lambda _: "not this")

    assert json.loads(capsys.readouterr().out) == data


def test_no_progress_display_off_a_terminal():
    stream = io.StringIO()
    with output.Activity("Listing", console=Console(file=stream, force_terminal=False)) as activity:
        activity.advance(5)
        time.sleep(output.PROGRESS_DELAY + 0.2)
    assert stream.getvalue() == ""


def test_progress_display_appears_only_when_the_work_takes_a_while(monkeypatch):
    monkeypatch.setattr(output, "PROGRESS_DELAY", 0.05)
    quick = io.StringIO()
    with output.Activity("Quick", console=Console(file=quick, force_terminal=True)):
        pass
    assert "Quick" not in quick.getvalue()

    slow = io.StringIO()
    with output.Activity("Listing images", unit="images", console=Console(file=slow, force_terminal=True)) as activity:
        activity.advance(100)
        time.sleep(0.5)
    assert "Listing images" in slow.getvalue()
    assert "100 images" in slow.getvalue()
