"""Sizes as people read them: binary units (1 KiB = 1024 bytes), named so, on every
page of the site and in the staff console; the `berth` CLI (berth_cli.output.size)
says them the same way. A no-break space keeps the figure and its unit on one line."""

from __future__ import annotations

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def binary_size(value: int) -> str:
    amount = float(value)
    for unit in UNITS:
        if amount < 1024 or unit == UNITS[-1]:
            return f"{int(amount)}\xa0{unit}" if unit == "B" else f"{amount:.1f}\xa0{unit}"
        amount /= 1024
    raise AssertionError("unreachable")
