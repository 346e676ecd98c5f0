"""Inventory speed and memory on one big gzip layer.

Builds (in a child process, so that its memory is not counted) a single-layer
image of about 512 MiB of compressed gzip: large files of incompressible random
bytes, some thousands of small files, a dpkg status, Python and npm metadata;
then runs ``take_inventory`` over it from a file stream and prints the compressed
MiB/s and the peak RSS of the process that took the inventory.

    .venv/bin/python bench/scan_inventory.py [--size-mib 512] [--small-files 5000] [--zstd]

(``--zstd`` builds a zstd layer instead, for comparison.)
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHUNK = 8 * 1024 * 1024


def _compressor(raw, zstd: bool):
    if zstd:
        import zstandard

        return zstandard.ZstdCompressor(level=1).stream_writer(raw, closefd=False)
    return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1)


def build(path: Path, size_mib: int, small_files: int, zstd: bool) -> None:
    """Write the layer: random big files until size_mib, plus small files."""
    rng = random.Random(42)
    with open(path, "wb") as raw, contextlib.closing(_compressor(raw, zstd)) as compressed:
        with tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add(
                tar, "var/lib/dpkg/status", b"Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n"
            )
            _add(tar, "etc/os-release", b"ID=debian\nVERSION_ID=12\n")
            for i in range(small_files):
                name = f"usr/share/doc/pkg{i % 300}/file{i}.txt"
                if i % 10 == 0:
                    name = f"usr/lib/python3/dist-packages/p{i}-1.0.dist-info/METADATA"
                    _add(tar, name, f"Metadata-Version: 2.1\nName: p{i}\nVersion: 1.0\n\n".encode())
                elif i % 10 == 1:
                    _add(tar, f"app/node_modules/m{i}/package.json", f'{{"name":"m{i}","version":"1.0.{i}"}}'.encode())
                else:
                    _add(tar, name, rng.randbytes(rng.randint(100, 4000)))
            big = 0
            while raw.tell() < size_mib * 1024 * 1024:
                _add_random(tar, f"opt/data/blob{big}.bin", 64 * 1024 * 1024)
                big += 1


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_random(tar: tarfile.TarFile, name: str, size: int) -> None:
    class RandomReader:
        def __init__(self) -> None:
            self.left = size

        def read(self, n: int) -> bytes:
            n = min(n, self.left, CHUNK)
            self.left -= n
            return os.urandom(n)

    info = tarfile.TarInfo(name)
    info.size = size
    tar.addfile(info, RandomReader())


def measure(path: Path, zstd: bool) -> None:
    from apps.scanning.inventory import Layer, take_inventory

    size = path.stat().st_size
    media_type = "application/vnd.oci.image.layer.v1.tar+" + ("zstd" if zstd else "gzip")
    layer = Layer(digest="sha256:bench", media_type=media_type, open=lambda: open(path, "rb"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    start = time.perf_counter()
    inventory = take_inventory([layer])
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mib = size / 1024 / 1024
    print(
        f"layer: {mib:.0f} MiB {'zstd' if zstd else 'gzip'}, {inventory.bytes_read / 1024 / 1024:.0f} MiB tar, {inventory.files_seen} members"
    )
    print(f"found: {len(inventory.packages)} packages, os {inventory.os.id if inventory.os else None}")
    print(f"time: {elapsed:.2f} s wall, {cpu:.2f} s CPU -> {mib / elapsed:.0f} MiB/s of compressed layer (wall)")
    print(f"peak RSS: {rss / 1024:.0f} MiB (before the walk: {rss_before / 1024:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--small-files", type=int, default=5000)
    parser.add_argument("--zstd", action="store_true")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.build:
        build(args.build, args.size_mib, args.small_files, args.zstd)
        return
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        path = Path(tmp) / "layer.tar"
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--build",
                str(path),
                "--size-mib",
                str(args.size_mib),
                "--small-files",
                str(args.small_files),
                *(["--zstd"] if args.zstd else []),
            ],
            check=True,
        )
        print(f"built in {time.perf_counter() - started:.1f} s")
        measure(path, args.zstd)


if __name__ == "__main__":
    main()
