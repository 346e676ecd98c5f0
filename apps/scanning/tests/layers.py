"""Layers for the inventory's tests, built in memory with tarfile: entries are
``path: content`` (bytes), ``Symlink``, ``Hardlink`` or ``Dir``; layers are served
through a stream that cannot seek, as an S3 body."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import zstandard

from apps.scanning.inventory import Layer

OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hardlink:
    target: str


@dataclass(frozen=True)
class Dir:
    pass


Entry = bytes | Symlink | Hardlink | Dir


class Unseekable(io.RawIOBase):
    """A read-only stream over bytes that refuses to seek."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._data.readinto(buffer)

    def seekable(self) -> bool:
        return False


def tar_bytes(entries: dict[str, Entry], mode: int = 0o644) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, entry in entries.items():
            info = tarfile.TarInfo(name)
            if isinstance(entry, Symlink):
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
                tar.addfile(info)
            elif isinstance(entry, Hardlink):
                info.type, info.linkname = tarfile.LNKTYPE, entry.target
                tar.addfile(info)
            elif isinstance(entry, Dir):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(entry), mode
                tar.addfile(info, io.BytesIO(entry))
    return out.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=1)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def blob_layer(blob: bytes, media_type: str = OCI_GZIP) -> Layer:
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    return Layer(digest=digest, media_type=media_type, open=lambda: Unseekable(blob))


def layer(entries: dict[str, Entry], compression: str = "gzip", media_type: str | None = None) -> Layer:
    types = {"gzip": OCI_GZIP, "zstd": OCI_ZSTD, "": OCI_TAR}
    return blob_layer(compress(tar_bytes(entries), compression), media_type or types[compression])


DEBIAN_OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

DPKG_STATUS = b"""Package: openssl
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2238
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Version: 3.0.11-1~deb12u1
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.9)
Description: Secure Sockets Layer toolkit - cryptographic utility
 This package is part of the OpenSSL project's implementation of the SSL and TLS
 cryptographic protocols for secure communication over the Internet.

Package: libssl3
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit - shared libraries

Package: zlib1g
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime

Package: libgcrypt20
Status: install ok installed
Architecture: amd64
Source: libgcrypt20 (1.10.1-3)
Version: 1.10.1-3+b1
Description: LGPL Crypto library - runtime library

Package: vim-tiny
Status: deinstall ok config-files
Architecture: amd64
Source: vim
Version: 2:9.0.1378-2
Description: Vi IMproved - enhanced vi editor - compact version
"""

ALPINE_OS_RELEASE = b"""NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
"""

APK_INSTALLED = b"""C:Q1dLFmZUbnnl+T+3GGKAH/V0dUP7E=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Ter\xc3\xa4s <timo.teras@iki.fi>
F:lib
R:ld-musl-x86_64.so.1

C:Q1SBv1zFaB1nq7Fr5JBhXsEgQlFYU=
P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl
F:lib
R:libcrypto.so.3
"""


def dist_info(name: str, version: str, license_: str = "") -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Summary: a package"]
    if license_:
        lines.append(f"License: {license_}")
    return ("\n".join(lines) + "\n\nThe long description.\nName: not-a-header\n").encode()


def package_json(name: str, version: str, **extra) -> bytes:
    import json

    return json.dumps({"name": name, "version": version, **extra}).encode()


def build_go_binary(directory: Path, go: str) -> tuple[bytes, str]:
    """A tiny Go program built in ``directory`` with the toolchain ``go``, offline: its
    one dependency is replaced by a local directory (no network, no module cache).
    Its bytes and the toolchain's version (``go1.19.8``)."""
    source = directory / "src"
    source.mkdir()
    (source / "go.mod").write_text(
        "module example.com/hello\n\ngo 1.19\n\n"
        "require example.com/greet v1.2.3\n\nreplace example.com/greet => ./greet\n"
    )
    (source / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greet"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n'
    )
    (source / "greet").mkdir()
    (source / "greet" / "go.mod").write_text("module example.com/greet\n\ngo 1.19\n")
    (source / "greet" / "greet.go").write_text('package greet\n\nfunc Hello() string { return "hello" }\n')
    env = {
        **os.environ,
        "HOME": str(directory),
        "GOCACHE": str(directory / "cache"),
        "GOPATH": str(directory / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    subprocess.run([go, "build", "-o", str(directory / "hello"), "."], cwd=source, env=env, check=True, timeout=240)
    version = subprocess.run([go, "env", "GOVERSION"], env=env, check=True, capture_output=True, text=True, timeout=60)
    return (directory / "hello").read_bytes(), version.stdout.strip()
