"""Names an alias request could be mistaken for: what staff weigh before approving
one (the alias request page in the staff console). An alias that differs from a
taken or reserved one by a character or two, or only by look-alike characters
(`0`/`o`, `1`/`l`/`i`, `5`/`s`, `-`/`_`), lets one publisher pass for another."""

from __future__ import annotations

import difflib

from django.db.models.functions import Length

from .models import Alias, ReservedName
from .services import BUILT_IN_RESERVED_NAMES

# How alike two skeletons must be (difflib's ratio) to be named: "acme" and "acrne", "nginx" and "ngnix".
CUTOFF = 0.8
MOST = 8
_LOOK_ALIKES = str.maketrans({"0": "o", "1": "l", "i": "l", "5": "s", "3": "e", "-": "", "_": "", ".": ""})


def skeleton(name: str) -> str:
    """The name as a quick reader sees it."""
    return name.lower().translate(_LOOK_ALIKES).replace("rn", "m").replace("vv", "w")


def similar_names(name: str, *, account_id: str) -> list[tuple[str, str]]:
    """(name, what it is) for taken aliases of other accounts and reserved names that
    look like ``name``: the same skeleton, or one within CUTOFF of it."""
    wanted = skeleton(name)
    # Names much longer or shorter cannot be within the cutoff: leave them in the database.
    near = (max(1, len(name) - 3), len(name) + 3)
    candidates: dict[str, str] = {}
    aliases = (
        Alias.objects.annotate(length=Length("name"))
        .filter(length__range=near)
        .exclude(account_id=account_id)
        .values_list("name", "account_id")
    )
    for other, owner in aliases.iterator(chunk_size=2000):
        candidates[other] = f"alias of account {owner}"
    for reserved, reason in (
        ReservedName.objects.annotate(length=Length("name")).filter(length__range=near).values_list("name", "reason")
    ):
        candidates[reserved] = f"reserved: {reason}"
    for reserved in BUILT_IN_RESERVED_NAMES:
        candidates.setdefault(reserved, "reserved by Berth")
    found = []
    for other, what in candidates.items():
        if other == name:
            continue
        ratio = difflib.SequenceMatcher(None, wanted, skeleton(other)).ratio()
        if ratio >= CUTOFF:
            found.append((ratio, other, what))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [(other, what) for _, other, what in found[:MOST]]
