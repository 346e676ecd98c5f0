"""Read and parse a whole vulnerability data tree, as an import would, and say what failed.

    .venv/bin/python bench/vulndb_parse.py [PATH]   # default /work/shared/vulndb

By hand only (not part of the test suite; CI has no vulndb). Prints, per top-level
folder: records read and parsed, records that are not OSV (with reasons), input that
could not be read, event versions the ecosystem's order cannot read (each would make
``affects`` raise UnorderableVersion for that advisory), and the time each step took.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from apps.scanning.advisories import osv, sources, versions
from apps.scanning.advisories.versions import UnorderableVersion


def unorderable_events(advisory: osv.Advisory) -> list[str]:
    """Event versions of ``advisory`` its ecosystem cannot order ("0" and "*" aside)."""
    bad = []
    for affected in advisory.affected:
        for rng in affected.ranges:
            if rng.type == "GIT":
                continue
            for kind, value in rng.events:
                if (kind == "introduced" and value == "0") or (kind == "limit" and "*" in value):
                    continue
                try:
                    versions.parse(versions.scheme_for(affected.ecosystem, rng.type), value)
                except UnorderableVersion:
                    bad.append(value)
    return bad


def main(root: Path) -> None:
    errors: list[tuple[str, str]] = []
    parsed: Counter[str] = Counter()
    invalid: list[tuple[str, str]] = []
    advisories: list[tuple[str, osv.Advisory]] = []
    started, cpu = time.perf_counter(), time.process_time()
    for name, record in sources.read(root, errors):
        top = Path(name).relative_to(root).parts[0] if name.startswith(str(root)) else name
        try:
            advisories.append((top, osv.parse(record)))
            parsed[top] += 1
        except osv.InvalidRecord as exc:
            invalid.append((name, exc.reason))
    read_s, read_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    bad: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for top, advisory in advisories:
        for value in unorderable_events(advisory):
            bad[top] += 1
            examples.setdefault(top, [])
            if len(examples[top]) < 5:
                examples[top].append(f"{advisory.id}: {value!r}")
    check_s = time.perf_counter() - started
    print(f"read + parse: {sum(parsed.values())} records in {read_s:.1f} s ({read_cpu:.1f} s CPU)")
    for top, count in sorted(parsed.items()):
        print(f"  {top:10} {count:6} records, {bad[top]:4} unorderable event versions {examples.get(top, [])}")
    print(f"not OSV: {len(invalid)} {invalid[:10]}")
    print(f"unreadable input: {len(errors)} {errors[:10]}")
    print(f"event versions checked in {check_s:.1f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/vulndb"))
