"""RPM databases (Red Hat, Fedora, Rocky, SUSE …): found, not read.

rpm keeps its database as SQLite (``rpmdb.sqlite``, rpm ≥ 4.16), Berkeley DB
(``Packages``) or NDB (``Packages.db``), under ``var/lib/rpm`` or
``usr/lib/sysimage/rpm``. Each package is an RPM header blob. ``rpmfile`` (the
pure-Python RPM reader) parses headers only inside a whole .rpm file (lead,
signature, header with its magic) through private functions that assert on bad
input, so there is no well-kept reader for a bare header: the database is reported
in ``Inventory.unsupported`` and its packages are not listed."""

from __future__ import annotations

DATABASES = frozenset(
    f"{root}/{name}"
    for root in ("var/lib/rpm", "usr/lib/sysimage/rpm")
    for name in ("rpmdb.sqlite", "Packages", "Packages.db")
)


def unsupported_line(path: str) -> str:
    return f"RPM database {path}: no reader for it, packages not listed"
