"""Taking the inventory of an image: walk its layers in order, as a container
runtime would stack them, and keep only what the detectors need.

Each layer is streamed once (``tarfile`` in stream mode over a decompressing
reader, see ``streams``); nothing but the files of interest is read into memory,
each bounded. What is kept is keyed by normalised path (no leading ``/`` or ``./``)
with the layer that last wrote it: a later layer's file replaces an earlier one at
the same path, and whiteouts remove what lower layers wrote (``.wh.<name>``: the
path and everything under it; ``.wh..wh..opq``: everything under the directory).
The records live in a ``tree.Tree``; once every layer is walked, the surviving
records become the packages (``assemble``)."""

from __future__ import annotations

import struct
import tarfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import zstandard

from . import assemble, distro, golang, java, npm, python_dists, rpm
from . import os_release as os_release_module
from .errors import InventoryError, LimitExceeded
from .kinds import (
    APK,
    DPKG,
    DPKG_DISTROLESS,
    GO_BINARY,
    JAVA_ARCHIVE,
    NOTE,
    NPM_LOCK,
    NPM_PACKAGE,
    OS_RELEASE,
    PYTHON,
    RPM,
)
from .limits import Limits
from .packages import Inventory
from .streams import ImageBudget, LayerStream, check_media_type
from .tree import Record, Tree, normalise

# Package databases: over max_database_bytes is LimitExceeded, not a skipped file.
_DATABASES = frozenset({DPKG, DPKG_DISTROLESS, APK})
# Smaller files cannot be Go binaries; their first bytes are not even looked at.
_MIN_BINARY_BYTES = 64 * 1024
# Symbolic links kept for resolving os-release: short paths (etc, usr/lib, lib64 …)
# and any link named os-release.
_SYMLINK_MAX_DEPTH = 4
_TAR_BUFSIZE = 64 * 1024  # tarfile copies its buffer's rest on each read: larger is slower
_LONG_HEADERS = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK})


@dataclass(frozen=True)
class Layer:
    """One layer as stored: ``open`` returns a fresh readable stream of its stored
    (compressed) bytes, read once from start to end, never seeked."""

    digest: str
    media_type: str
    open: Callable[[], BinaryIO]


def take_inventory(layers: Sequence[Layer], limits: Limits | None = None) -> Inventory:
    """The OS and packages of the file system the layers (lowest first) make.

    Raises InventoryError (or its LimitExceeded, UnsupportedLayer) with a reason;
    nothing else for bad input."""
    limits = limits or Limits()
    tree = Tree(limits)
    budget = ImageBudget(limits)
    for index, layer in enumerate(layers):
        check_media_type(layer.media_type, layer.digest)
        _walk_layer(index, layer, tree, budget)
    inventory = assemble.inventory(tree)
    inventory.bytes_read = budget.bytes
    inventory.files_seen = budget.members
    return inventory


def classify(path: str) -> str | None:
    """Which detector wants the file at ``path`` (a regular file), None if none."""
    base = path.rpartition("/")[2]
    if base == "os-release":
        return OS_RELEASE
    if path == distro.DPKG_STATUS:
        return DPKG
    if distro.is_dpkg_database(path):
        return DPKG_DISTROLESS
    if path in distro.APK_INSTALLED:
        return APK
    if path in rpm.DATABASES:
        return RPM
    if python_dists.is_metadata(path):
        return PYTHON
    if base == "package.json" and npm.is_installed_manifest(path):
        return NPM_PACKAGE
    if base == npm.LOCK_FILE and npm.is_lock_file(path):
        return NPM_LOCK
    if java.is_archive(base):
        return JAVA_ARCHIVE
    return None


# Parsers of the files read into memory, by kind.
_PARSERS: dict[str, Callable[[bytes], Any]] = {
    OS_RELEASE: os_release_module.parse,
    DPKG: lambda data: distro.parse_dpkg(data, distroless=False),
    DPKG_DISTROLESS: lambda data: distro.parse_dpkg(data, distroless=True),
    APK: distro.parse_apk,
    PYTHON: python_dists.parse,
    NPM_PACKAGE: npm.parse_manifest,
    NPM_LOCK: npm.parse_lock,
}


def _bounded_tarinfo(limits: Limits, digest: str) -> type[tarfile.TarInfo]:
    """A TarInfo that refuses pax and GNU long-name headers over max_header_bytes
    (tarfile reads those whole into memory)."""

    class BoundedTarInfo(tarfile.TarInfo):
        def _proc_member(self, tar):  # noqa: ANN001 - tarfile's own hook
            if self.type in _LONG_HEADERS and self.size > limits.max_header_bytes:
                raise LimitExceeded(
                    f"layer {digest}: a tar header of {self.size} bytes, over {limits.max_header_bytes} "
                    "(limit max_header_bytes)"
                )
            return super()._proc_member(tar)

    return BoundedTarInfo


def _walk_layer(index: int, layer: Layer, tree: Tree, budget: ImageBudget) -> None:
    try:
        raw = layer.open()
    except Exception as error:
        raise InventoryError(f"layer {layer.digest}: could not be opened ({error})") from error
    stream: LayerStream | None = None
    walker = _LayerWalker(index, layer.digest, tree, budget)
    try:
        stream = LayerStream(raw, layer.digest, budget)
        if stream.empty:
            return
        tar = tarfile.open(
            fileobj=stream,
            mode="r|",
            bufsize=_TAR_BUFSIZE,
            tarinfo=_bounded_tarinfo(budget.limits, layer.digest),
        )
        with tar:
            for member in tar:
                walker.take(member, tar)
    except InventoryError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, zstandard.ZstdError) as error:
        raise InventoryError(f"layer {layer.digest}: not a readable tar archive ({error})") from error
    except (ValueError, UnicodeError, struct.error, OverflowError, IndexError, KeyError) as error:
        raise InventoryError(
            f"layer {layer.digest}: malformed tar archive ({type(error).__name__}: {error})"
        ) from error
    finally:
        if stream is not None:
            stream.close()
        else:
            _close(raw)
    tree.apply_whiteouts(index, walker.deleted, walker.opaque)


def _close(raw: BinaryIO) -> None:
    close = getattr(raw, "close", None)
    if close is not None:
        close()


class _LayerWalker:
    """Takes one layer's members into the tree; collects its whiteouts, applied to the
    lower layers once the layer is walked."""

    def __init__(self, index: int, digest: str, tree: Tree, budget: ImageBudget) -> None:
        self.index = index
        self.digest = digest
        self.tree = tree
        self.budget = budget
        self.limits = budget.limits
        self.deleted: set[str] = set()
        self.opaque: set[str] = set()

    def take(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        self.budget.members += 1
        if self.budget.members > self.limits.max_members:
            raise LimitExceeded(
                f"layer {self.digest}: the image has more than {self.limits.max_members} files (limit max_members)"
            )
        self._check_path(member.name)
        path = normalise(member.name)
        if not path:
            return
        parent, _, base = path.rpartition("/")
        if base.startswith(".wh."):
            self._whiteout(parent, base)
            return
        self.tree.forget(path)
        if not member.isdir() and self.tree.holds_under(path):
            self.deleted.add(path)  # a file or link where a lower layer had a directory hides its files
        if member.issym():
            self._check_path(member.linkname)
            self._symlink(path, member.linkname)
        elif member.islnk():
            self._check_path(member.linkname)
            self._hardlink(path, normalise(member.linkname))
        elif member.isreg():
            self._file(path, member, tar)

    def _check_path(self, name: str) -> None:
        limits = self.limits
        if len(name) > limits.max_path_length:
            raise LimitExceeded(
                f"layer {self.digest}: a path of {len(name)} characters, over {limits.max_path_length} "
                f"(limit max_path_length): {name[:80]}…"
            )
        # count("/") is an upper bound of the depth: split only when it may be over
        if name.count("/") >= limits.max_path_depth and len(normalise(name).split("/")) > limits.max_path_depth:
            raise LimitExceeded(
                f"layer {self.digest}: a path more than {limits.max_path_depth} directories deep "
                f"(limit max_path_depth): {name[:80]}…"
            )

    def _whiteout(self, parent: str, base: str) -> None:
        if base == ".wh..wh..opq":
            self.opaque.add(parent)
        else:
            self.deleted.add(f"{parent}/{base[4:]}" if parent else base[4:])

    def _put(self, path: str, kind: str, data: Any = None) -> None:
        self.tree.put(path, Record(kind, self.index, self.digest, data))

    def _note(self, path: str, text: str) -> None:
        self._put(path, NOTE, text)

    def _symlink(self, path: str, target: str) -> None:
        if path.count("/") < _SYMLINK_MAX_DEPTH or path.endswith("/os-release") or path == "os-release":
            self.tree.put_symlink(path, Record("symlink", self.index, self.digest, target))

    def _hardlink(self, path: str, target: str) -> None:
        record = self.tree.records.get(target)
        if record is None or record.kind == NOTE:
            return
        if record.kind == GO_BINARY or classify(path) == record.kind:
            self.tree.put(path, replace(record, layer_index=self.index, layer_digest=self.digest))

    def _file(self, path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        kind = classify(path)
        if kind == RPM:
            self._put(path, RPM)
        elif kind == JAVA_ARCHIVE:
            self._archive(path, member, tar)
        elif kind is not None:
            self._small_file(path, kind, member, tar)
        elif member.size >= _MIN_BINARY_BYTES:
            self._maybe_binary(path, member, tar)

    def _small_file(self, path: str, kind: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        limit = self.limits.max_database_bytes if kind in _DATABASES else self.limits.max_metadata_bytes
        if member.size > limit:
            if kind in _DATABASES:
                raise LimitExceeded(
                    f"layer {self.digest}: package database {path} has {member.size} bytes, over {limit} "
                    "(limit max_database_bytes)"
                )
            if kind != PYTHON:  # METADATA's headers come first: a truncated read names the package
                self._note(path, f"{path}: {member.size} bytes, over max_metadata_bytes ({limit}); not read")
                return
        data = _read(tar, member, limit)
        try:
            parsed = _PARSERS[kind](data)
        except Exception as error:  # a malformed file is skipped, not the image
            self._note(path, f"{path}: could not be parsed ({type(error).__name__})")
            return
        if parsed:
            self._put(path, kind, parsed)

    def _maybe_binary(self, path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        stream = tar.extractfile(member)
        if stream is None:
            return
        head = stream.read(len(golang.ELF_MAGIC))
        if head != golang.ELF_MAGIC:
            return
        if member.size > self.limits.max_file_bytes:
            self._note(
                path,
                f"{path}: executable of {member.size} bytes, over max_file_bytes ({self.limits.max_file_bytes}); not inspected",
            )
            return
        spool = golang.spool_if_go(stream, head)
        if spool is None:
            return
        with spool:
            try:
                info = golang.read_build_info(spool)
            except Exception as error:  # a malformed ELF file is skipped, not the image
                self._note(
                    path, f"{path}: ELF binary with Go build info that could not be read ({type(error).__name__})"
                )
                return
        if info is not None:
            self._put(path, GO_BINARY, info)

    def _archive(self, path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        limits = self.limits
        if member.size > limits.max_file_bytes:
            self._note(
                path,
                f"{path}: archive of {member.size} bytes, over max_file_bytes ({limits.max_file_bytes}); not inspected",
            )
            return
        stream = tar.extractfile(member)
        if stream is None:
            return
        with java.spool(stream) as spooled:
            try:
                artifacts = java.read_artifacts(spooled, limits.max_archive_entries, limits.max_file_bytes)
            except java.ArchiveTooBig as error:
                self._note(path, f"{path}: Java archive not inspected: {error}")
                return
            except Exception as error:  # a malformed archive is skipped, not the image
                self._note(path, f"{path}: Java archive that could not be read ({type(error).__name__})")
                return
        if artifacts:
            self._put(path, JAVA_ARCHIVE, artifacts)


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    stream = tar.extractfile(member)
    if stream is None:
        return b""
    return stream.read(min(member.size, limit))
