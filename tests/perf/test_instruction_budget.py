"""The instruction budget: a manifest GET and a MiB of blob PUT may cost at most
10 % more instructions than the baseline committed in
bench/instruction_baseline.json. They are counted under callgrind
(bench/pull_instructions.py, which says how), which nothing else running on the
host changes. A commit that raises them on purpose re-records the baseline, with
its reason:

    python bench/pull_instructions.py --record-baseline --reason "..."
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import warnings
from pathlib import Path

import pytest

from bench import pull_instructions
from tests.e2e.conftest import SERVER_MARK_VARIABLE, in_ci, processes_marked, tracebacks_in

# No database of the suite's: the server runs on SQLite in a directory of its own.
pytestmark = pytest.mark.database_independent


class BaselineSlack(UserWarning):
    """A figure fell well under its baseline: a regression could use the room."""


def skip_unless_comparable(baseline: dict) -> None:
    """Counts made under other conditions (another interpreter build, valgrind,
    CPU) say nothing against the baseline: the test skips, or fails in CI."""
    reason = None
    if shutil.which("valgrind") is None:
        reason = "valgrind is not installed (apt-get install valgrind; scripts/test installs it as root)"
    else:
        here = pull_instructions.conditions(Path(sys.executable))
        differing = {
            name: f"{baseline['conditions'].get(name)!r} there, {value!r} here"
            for name, value in here.items()
            if baseline["conditions"].get(name) != value
        }
        if differing:
            reason = (
                f"the instruction baseline was recorded under other conditions ({differing}):"
                f" record one for these with {pull_instructions.RECORD_COMMAND}"
            )
    if reason and in_ci():
        pytest.fail(reason + " (CI is set: the budget must run)")
    if reason:
        pytest.skip(reason)


def test_manifest_get_and_blob_put_stay_within_their_instruction_budget(tmp_path):
    here = pull_instructions.conditions(Path(sys.executable)) if shutil.which("valgrind") else None
    baseline = pull_instructions.read_baseline(measured_under=here)
    skip_unless_comparable(baseline)
    mark = secrets.token_hex(8)
    try:
        figures = pull_instructions.measure(tmp_path, env={SERVER_MARK_VARIABLE: mark})
    finally:
        left_behind = processes_marked(mark)
        for pid in left_behind:
            os.kill(pid, signal.SIGKILL)
    assert not left_behind, f"the measured server left processes behind: {left_behind}"
    tracebacks = tracebacks_in((tmp_path / "server.log").read_text(errors="replace"))
    assert not tracebacks, "the measured server logged tracebacks:\n" + "\n".join(tracebacks[:5])
    print(figures)

    over, under = pull_instructions.compare(figures, baseline)
    for said in under:
        warnings.warn(
            BaselineSlack(f"{said}: lower the baseline with {pull_instructions.RECORD_COMMAND}"), stacklevel=1
        )
    assert not over, (
        f"over the instruction budget (+{pull_instructions.TOLERANCE:.0%} on the baseline):\n"
        + "\n".join(over)
        + f"\nIf the cost is meant, re-record the baseline with its reason: {pull_instructions.RECORD_COMMAND}"
    )


BASELINE = {
    "recorded": "2026-12-03",
    "commit": "abc1234",
    "reason": "initial",
    "instructions_per_manifest_get": 1_000_000,
    "instructions_per_blob_put_mib": 10_000_000,
}


def test_a_figure_past_the_tolerance_fails_and_one_well_under_says_the_baseline_has_room():
    within = pull_instructions.Figures(instructions_per_manifest_get=1_099_000, instructions_per_blob_put_mib=9_600_000)
    assert pull_instructions.compare(within, BASELINE) == ([], [])

    moved = pull_instructions.Figures(instructions_per_manifest_get=1_101_000, instructions_per_blob_put_mib=9_400_000)
    over, under = pull_instructions.compare(moved, BASELINE)
    assert over == [
        "instructions per manifest get: 1,101,000, +10.1% against the baseline's 1,000,000"
        " (recorded 2026-12-03 at abc1234: 'initial')"
    ]
    assert under == [
        "instructions per blob put mib: 9,400,000, -6.0% against the baseline's 10,000,000"
        " (recorded 2026-12-03 at abc1234: 'initial')"
    ]


def test_recording_keeps_the_earlier_baselines_and_the_last_is_in_force(tmp_path):
    path = tmp_path / "baseline.json"
    measured_under = {"python": "3.11"}
    pull_instructions.record_baseline(
        pull_instructions.Figures(1_000_000.4, 10_000_000.6), measured_under, "initial", path
    )
    pull_instructions.record_baseline(
        pull_instructions.Figures(1_050_000, 10_000_000),
        measured_under,
        "the manifest GET checks its Accept header",
        path,
    )

    assert [entry["reason"] for entry in json.loads(path.read_text())["baselines"]] == [
        "initial",
        "the manifest GET checks its Accept header",
    ]
    in_force = pull_instructions.read_baseline(path)
    assert in_force["instructions_per_manifest_get"] == 1_050_000
    assert in_force["conditions"] == measured_under


def test_each_host_is_held_to_the_last_baseline_recorded_under_its_own_conditions(tmp_path):
    path = tmp_path / "baseline.json"
    with_rdseed, without = {"cpu": "x86_64: rdrand rdseed"}, {"cpu": "x86_64: rdrand"}
    pull_instructions.record_baseline(pull_instructions.Figures(1_000_000, 10_000_000), with_rdseed, "first", path)
    pull_instructions.record_baseline(pull_instructions.Figures(1_100_000, 11_000_000), without, "other host", path)
    assert pull_instructions.read_baseline(path, measured_under=with_rdseed)["reason"] == "first"
    assert pull_instructions.read_baseline(path, measured_under=without)["reason"] == "other host"
    # a host none was recorded on gets the last, whose conditions then say why it cannot compare
    assert pull_instructions.read_baseline(path, measured_under={"cpu": "arm64"})["reason"] == "other host"
