"""Where the instructions between two callgrind runs went, per function and per unit
of work: (I_b(f) - I_a(f)) / N for every function f, the largest first.

    python bench/callgrind_diff.py A B N [--inclusive] [--top 40]

A and B are callgrind output files, or globs of them (the files of one run's
processes, summed), made by runs that differ only in how much work they did:
N more requests, say, as bench/pull_instructions.py --keep leaves them
(callgrind-on-gets20-put1mib.* and callgrind-on-gets220-put1mib.*, N = 200).
Start-up and shutdown cancel out. Self cost by default; --inclusive counts what each function called too
(C functions only: Python functions show as the interpreter's)."""

from __future__ import annotations

import argparse
import collections
import glob
import re
import subprocess

LINE = re.compile(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)")


def costs(pattern: str, inclusive: bool) -> collections.Counter:
    total: collections.Counter = collections.Counter()
    paths = sorted(glob.glob(pattern)) or [pattern]
    for path in paths:
        output = subprocess.run(
            ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100", path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in output.splitlines():
            found = LINE.fullmatch(line)
            if found and ":" in found.group(2):
                total[found.group(2).strip()] += int(found.group(1).replace(",", ""))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("n", type=float, help="units of work B did more than A")
    parser.add_argument("--inclusive", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--width", type=int, default=140, help="characters of each function's name shown")
    args = parser.parse_args()
    a, b = costs(args.a, args.inclusive), costs(args.b, args.inclusive)
    change = {name: (b[name] - a[name]) / args.n for name in a.keys() | b.keys()}
    if not args.inclusive:
        print(f"{sum(change.values()):12,.0f}  in all")
    for name, value in sorted(change.items(), key=lambda item: -abs(item[1]))[: args.top]:
        print(f"{value:12,.0f}  {name[: args.width]}")


if __name__ == "__main__":
    main()
