"""The merged file system as far as the detectors care: records keyed by normalised
path, each with the layer that last wrote it, and the symbolic links needed to
resolve os-release. Whiteouts remove only what lower layers wrote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import LimitExceeded
from .limits import Limits


@dataclass(frozen=True)
class Record:
    """What the walk keeps of one path: the detector's parse of the file (or a
    symbolic link's target), and the layer that wrote it."""

    kind: str
    layer_index: int
    layer_digest: str
    data: Any = None


class Tree:
    """The records of the merged file system so far."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.records: dict[str, Record] = {}
        self.symlinks: dict[str, Record] = {}
        # the directories above the paths kept (never shrinks: one too many only costs
        # a needless whiteout)
        self._directories: set[str] = set()

    def put(self, path: str, record: Record) -> None:
        self.records[path] = record
        self._add_directories(path)

    def put_symlink(self, path: str, record: Record) -> None:
        self.symlinks[path] = record
        self._add_directories(path)

    def _add_directories(self, path: str) -> None:
        parent = path.rpartition("/")[0]
        while parent and parent not in self._directories:
            self._directories.add(parent)
            parent = parent.rpartition("/")[0]

    def holds_under(self, path: str) -> bool:
        """Whether something kept may be under ``path`` (a directory of a lower layer
        that a file or link at ``path`` hides)."""
        return path in self._directories

    def forget(self, path: str) -> None:
        self.records.pop(path, None)
        self.symlinks.pop(path, None)

    def apply_whiteouts(self, layer_index: int, deleted: set[str], opaque: set[str]) -> None:
        """Remove what layers below ``layer_index`` wrote at or under ``deleted`` paths,
        and under ``opaque`` directories ("" is the root)."""
        if not deleted and not opaque:
            return
        for table in (self.records, self.symlinks):
            hidden = [
                path
                for path, record in table.items()
                if record.layer_index < layer_index and _hidden(path, deleted, opaque)
            ]
            for path in hidden:
                del table[path]

    def resolve(self, path: str) -> str:
        """``path`` with the symbolic links kept followed (relative targets from the
        link's directory, absolute ones from the root)."""
        hops = 0
        pending = path.split("/")
        resolved: list[str] = []
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            link = self.symlinks.get("/".join([*resolved, part]))
            if link is None:
                resolved.append(part)
                continue
            hops += 1
            if hops > self.limits.max_symlink_hops:
                raise LimitExceeded(
                    f"{path}: more than {self.limits.max_symlink_hops} symbolic links to follow "
                    f"(limit max_symlink_hops; {'/'.join([*resolved, part])} from layer {link.layer_digest})"
                )
            target: str = link.data
            if target.startswith("/"):
                resolved = []
            pending = target.split("/") + pending
        return "/".join(resolved)


def _hidden(path: str, deleted: set[str], opaque: set[str]) -> bool:
    if path in deleted or "" in opaque:
        return True
    parent = path
    while "/" in parent:
        parent = parent.rpartition("/")[0]
        if parent in deleted or parent in opaque:
            return True
    return False


def normalise(name: str) -> str:
    """A tar member's name as a path from the root: no leading "/" or "./", no "."
    components, ".." resolved lexically (never above the root)."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)
