"""Go build info read from a real binary built here with the installed toolchain."""

from __future__ import annotations

import shutil
import struct

import pytest

from apps.scanning.inventory import take_inventory
from apps.scanning.inventory.golang import parse_build_info, stdlib_version
from apps.scanning.inventory.packages import GO

from .layers import Hardlink, build_go_binary, layer

GO_TOOL = shutil.which("go")


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory) -> tuple[bytes, str]:
    """A tiny module, built; and the toolchain's version. Its one dependency is
    replaced by a local directory (no network, no module cache)."""
    if GO_TOOL is None:
        pytest.skip("the Go toolchain (go) is not installed")
    return build_go_binary(tmp_path_factory.mktemp("go"), GO_TOOL)


def test_go_binary_reports_stdlib_at_the_toolchain_version(go_binary):
    binary, go_version = go_binary
    image = layer({"usr/local/bin/hello": binary, "usr/bin/hello-again": Hardlink("usr/local/bin/hello")})

    inventory = take_inventory([image])

    packages = [p for p in inventory.packages if p.path == "usr/local/bin/hello"]
    # the main module is "(devel)" (built from a directory) and the dependency is replaced
    # by a directory (no version): neither is a package
    assert [(p.ecosystem, p.name, p.version) for p in packages] == [(GO, "stdlib", stdlib_version(go_version))]
    assert packages[0].version.startswith("v1.")
    assert packages[0].purl == f"pkg:golang/stdlib@{packages[0].version}"
    assert packages[0].layer_digest == image.digest
    assert {p.path for p in inventory.packages} == {"usr/local/bin/hello", "usr/bin/hello-again"}


def test_the_real_build_info_has_the_dependency_and_its_replacement(go_binary):
    binary, go_version = go_binary
    info = parse_build_info(binary)
    assert info.go_version == go_version
    assert info.main is None
    assert info.deps == ()  # example.com/greet v1.2.3 => ./greet (devel): a directory, no version


def test_stdlib_versions():
    assert stdlib_version("go1.19.8") == "v1.19.8"
    assert stdlib_version("go1.20") == "v1.20.0"
    assert stdlib_version("go1.21rc2") == "v1.21.0rc2"
    assert stdlib_version("devel +abc") == ""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_module_lines_with_replacements():
    modinfo = "\n".join(
        [
            "path\texample.com/app/cmd/app",
            "mod\texample.com/app\tv1.2.3\th1:abc=",
            "dep\tgolang.org/x/text\tv0.3.7\th1:x=",
            "dep\tgithub.com/old/lib\tv1.0.0",
            "=>\tgithub.com/fork/lib\tv1.0.1\th1:y=",
            "dep\texample.com/local\tv0.0.0",
            "=>\t../local\t",
            "build\t-compiler=gc",
            "",
        ]
    )
    framed = "0" * 16 + modinfo + "1" * 16
    header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    data = bytes(16) + header + _varint(8) + b"go1.20.5" + _varint(len(framed)) + framed.encode()

    info = parse_build_info(data)

    assert info.go_version == "go1.20.5"
    assert info.main == ("example.com/app", "v1.2.3")
    assert info.deps == (("golang.org/x/text", "v0.3.7"), ("github.com/fork/lib", "v1.0.1"))


def pointer_format_elf(version: str, modinfo: str) -> bytes:
    """A minimal little-endian ELF64 file (one writable PT_LOAD segment, no section
    headers) holding build info in the pre-1.18 pointer format."""
    base = 0x400000
    image = bytearray(64 * 1024)
    struct.pack_into(
        "<4sBBBBB7sHHIQQQIHHHHHH", image, 0, b"\x7fELF", 2, 1, 1, 0, 0, bytes(7),
        2, 0x3E, 1, base, 64, 0, 0, 64, 56, 1, 64, 0, 0,
    )  # fmt: skip
    struct.pack_into("<IIQQQQQQ", image, 64, 1, 6, 0, base, base, len(image), len(image), 0x1000)
    framed = ("0" * 16 + modinfo + "1" * 16).encode()
    image[0x100:0x110] = b"\xff Go buildinf:" + bytes([8, 0])
    struct.pack_into("<QQ", image, 0x110, base + 0x200, base + 0x210)
    struct.pack_into("<QQQQ", image, 0x200, base + 0x300, len(version), base + 0x400, len(framed))
    image[0x300 : 0x300 + len(version)] = version.encode()
    image[0x400 : 0x400 + len(framed)] = framed
    return bytes(image)


def test_pre_1_18_pointer_format():
    modinfo = "path\texample.com/old\nmod\texample.com/old\tv0.9.0\t\ndep\tgithub.com/pkg/errors\tv0.9.1\th1:x=\n"
    binary = pointer_format_elf("go1.16.15", modinfo)

    inventory = take_inventory([layer({"app/old": binary})])

    assert [(p.name, p.version) for p in inventory.packages] == [
        ("stdlib", "v1.16.15"),
        ("example.com/old", "v0.9.0"),
        ("github.com/pkg/errors", "v0.9.1"),
    ]
    assert inventory.packages[2].purl == "pkg:golang/github.com/pkg/errors@v0.9.1"
