"""Go modules compiled into ELF binaries, from the build information the Go linker
writes in the ``.go.buildinfo`` section.

Go 1.18 and later write the Go version and the module information inline, after a
32-byte header (``\\xff Go buildinf:``, pointer size, flags with bit 2 = inline),
each as a varint-prefixed string. Older binaries (Go 1.13 to 1.17) hold the
addresses of the two Go strings instead, read through the ELF program headers
(with pyelftools).

Reported: ``stdlib`` at the Go version (go1.19.8 → v1.19.8), the main module when it
has a real version (not ``(devel)``), and every ``dep`` with its ``=>`` replacement
applied; a module replaced by a local directory (``=> ./dir (devel)``) has no
version to match and is left out. Versions keep Go's leading ``v``; package URLs are ``pkg:golang/…``."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from elftools.elf.elffile import ELFFile
from packageurl import PackageURL

from .packages import GO, Package

ELF_MAGIC = b"\x7fELF"
BUILDINFO_MAGIC = b"\xff Go buildinf:"
_HEADER_SIZE = 32
_ALIGN = 16
_SEARCH_BYTES = 64 * 1024  # of the data segment, when there is no .go.buildinfo section
_MAX_SECTION_BYTES = 4 * 1024 * 1024
_GO_VERSION = re.compile(r"^go(\d+)\.(\d+)(?:\.(\d+))?(\S*)")


@dataclass(frozen=True)
class BuildInfo:
    go_version: str  # as written: "go1.19.8"
    main: tuple[str, str] | None  # (path, version), None when "(devel)" or missing
    deps: tuple[tuple[str, str], ...]


def spool_if_go(stream: BinaryIO, head: bytes) -> tempfile.SpooledTemporaryFile | None:
    """Copy the rest of an ELF file to a temporary file when the build info magic
    appears in it; None (and nothing kept) when it does not: not a Go binary."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    spool.write(head)
    seen = BUILDINFO_MAGIC in head
    tail = head[-len(BUILDINFO_MAGIC) :]
    while chunk := stream.read(1024 * 1024):
        if not seen:
            seen = BUILDINFO_MAGIC in tail + chunk[: len(BUILDINFO_MAGIC)] or BUILDINFO_MAGIC in chunk
            tail = chunk[-len(BUILDINFO_MAGIC) :]
        spool.write(chunk)
    if not seen:
        spool.close()
        return None
    spool.seek(0)
    return spool


def read_build_info(binary: BinaryIO) -> BuildInfo | None:
    """The build info of an ELF binary (seekable), None when it has none. Raises
    pyelftools' or struct's errors for malformed files."""
    elf = ELFFile(binary)
    data = _buildinfo_bytes(elf, binary)
    if data is None:
        return None
    return parse_build_info(data, _Memory(elf, binary))


def _buildinfo_bytes(elf: ELFFile, binary: BinaryIO) -> bytes | None:
    section = elf.get_section_by_name(".go.buildinfo")
    if section is not None:
        return _read_at(binary, section["sh_offset"], min(section["sh_size"], _MAX_SECTION_BYTES))
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_LOAD" and segment["p_flags"] & 2:  # the first writable one
            return _read_at(binary, segment["p_offset"], min(segment["p_filesz"], _SEARCH_BYTES))
    return None


def _read_at(binary: BinaryIO, offset: int, size: int) -> bytes:
    binary.seek(offset)
    return binary.read(size)


class _Memory:
    """A binary's virtual addresses, read through its PT_LOAD segments (for the
    pointers of the pre-1.18 format)."""

    def __init__(self, elf: ELFFile, binary: BinaryIO) -> None:
        self._binary = binary
        self._segments = [
            (s["p_vaddr"], s["p_filesz"], s["p_offset"]) for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"
        ]

    def read(self, address: int, size: int) -> bytes:
        for vaddr, filesz, offset in self._segments:
            if vaddr <= address < vaddr + filesz:
                return _read_at(self._binary, offset + address - vaddr, min(size, vaddr + filesz - address))
        return b""


def parse_build_info(data: bytes, memory: _Memory | None = None) -> BuildInfo | None:
    """Parse the build info found at a 16-byte aligned magic in ``data``; the
    pointer format needs the binary's ``memory`` (None without it)."""
    start = _find_header(data)
    if start is None:
        return None
    header = data[start:]
    if header[15] & 2:
        version, pos = _varint_string(header, _HEADER_SIZE)
        modinfo, _ = _varint_string(header, pos)
    elif memory is not None:
        version, modinfo = _pointed_strings(header, memory)
    else:
        return None
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        modinfo = modinfo[16:-16]  # the sentinels framing the module information
    else:
        modinfo = ""
    if not version.startswith("go"):
        return None
    main, deps = _modules(modinfo)
    return BuildInfo(version, main, deps)


def _pointed_strings(header: bytes, memory: _Memory) -> tuple[str, str]:
    """Go before 1.18: the header holds the addresses of two Go string headers
    (data pointer, length), for the version and the module information."""
    ptr_size = header[14]
    if ptr_size not in (4, 8) or len(header) < 16 + 2 * ptr_size:
        return "", ""
    order = "big" if header[15] & 1 else "little"
    version_at = int.from_bytes(header[16 : 16 + ptr_size], order)
    modinfo_at = int.from_bytes(header[16 + ptr_size : 16 + 2 * ptr_size], order)
    return _pointed_string(memory, version_at, ptr_size, order), _pointed_string(memory, modinfo_at, ptr_size, order)


def _pointed_string(memory: _Memory, address: int, ptr_size: int, order: str) -> str:
    string_header = memory.read(address, 2 * ptr_size)
    if len(string_header) < 2 * ptr_size:
        return ""
    data_at = int.from_bytes(string_header[:ptr_size], order)
    length = int.from_bytes(string_header[ptr_size:], order)
    if length > _MAX_SECTION_BYTES:
        return ""
    data = memory.read(data_at, length)
    return data.decode("utf-8", "replace") if len(data) == length else ""


def _find_header(data: bytes) -> int | None:
    start = data.find(BUILDINFO_MAGIC)
    while start >= 0:
        if start % _ALIGN == 0 and len(data) - start >= _HEADER_SIZE:
            return start
        start = data.find(BUILDINFO_MAGIC, start + 1)
    return None


def _varint_string(data: bytes, pos: int) -> tuple[str, int]:
    length, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated build info")
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if pos + length > len(data):
        raise ValueError("truncated build info")
    return data[pos : pos + length].decode("utf-8", "replace"), pos + length


def _modules(modinfo: str) -> tuple[tuple[str, str] | None, tuple[tuple[str, str], ...]]:
    """The main module and the dependencies, ``=>`` replacements applied."""
    main: tuple[str, str] | None = None
    deps: list[tuple[str, str]] = []
    last: str | None = None  # which the next "=>" replaces: "mod" or "dep"
    for line in modinfo.splitlines():
        fields = line.split("\t")
        kind, module = fields[0], tuple((fields[1:3] + ["", ""])[:2])
        if kind == "mod":
            main, last = module, "mod"
        elif kind == "dep":
            deps.append(module)
            last = "dep"
        elif kind == "=>" and last == "dep" and deps:
            deps[-1] = module
        elif kind == "=>" and last == "mod":
            main = module
    if main is not None and not _versioned(main):
        main = None
    return main, tuple(dep for dep in deps if _versioned(dep))


def _versioned(module: tuple[str, str]) -> bool:
    """A module with a version to match: not a local directory ("(devel)", or none)."""
    path, version = module
    return bool(path) and version not in ("", "(devel)")


def stdlib_version(go_version: str) -> str:
    """go1.19.8 → v1.19.8; go1.20 → v1.20.0; an experiment suffix (" X:…") dropped."""
    match = _GO_VERSION.match(go_version)
    if not match:
        return ""
    major, minor, patch, rest = match.groups()
    return f"v{major}.{minor}.{patch or 0}{rest}"


def packages(info: BuildInfo, path: str, layer_digest: str) -> list[Package]:
    modules: list[tuple[str, str]] = []
    go = stdlib_version(info.go_version)
    if go:
        modules.append(("stdlib", go))
    if info.main:
        modules.append(info.main)
    modules.extend(info.deps)
    return [
        Package(
            ecosystem=GO, name=name, version=version, purl=_purl(name, version), path=path, layer_digest=layer_digest
        )
        for name, version in modules
    ]


def _purl(module: str, version: str) -> str:
    namespace, _, name = module.rpartition("/")
    return PackageURL(type="golang", namespace=namespace or None, name=name, version=version).to_string()
