"""Hostile and corrupt layers end in LimitExceeded or InventoryError with a reason
naming the limit and the layer, never in another exception."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.scanning.inventory import InventoryError, Layer, LimitExceeded, Limits, take_inventory

from .layers import DEBIAN_OS_RELEASE, OCI_GZIP, OCI_TAR, Symlink, blob_layer, compress, layer, tar_bytes

MiB = 1024 * 1024


def zeros_tar(size: int) -> bytes:
    """A tar holding one file of ``size`` zeros, written without holding it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    return out.getvalue()


def reason_of(layers, limits=None) -> str:
    with pytest.raises(LimitExceeded) as raised:
        take_inventory(layers, limits)
    return raised.value.reason


def test_gzip_bomb_past_the_compression_ratio():
    bomb = blob_layer(gzip.compress(zeros_tar(24 * MiB), compresslevel=9))
    reason = reason_of([bomb], Limits(ratio_check_after_bytes=4 * MiB, max_compression_ratio=100))
    assert "max_compression_ratio" in reason and bomb.digest in reason


def test_a_small_layer_of_zeros_passes_the_ratio_check():
    small = blob_layer(gzip.compress(zeros_tar(2 * MiB)))
    take_inventory([small], Limits(ratio_check_after_bytes=4 * MiB, max_compression_ratio=100))


def test_zstd_bomb_past_the_layer_size():
    bomb = blob_layer(zstandard.ZstdCompressor().compress(zeros_tar(16 * MiB)))
    reason = reason_of([bomb], Limits(max_layer_bytes=8 * MiB, max_compression_ratio=1e9))
    assert "max_layer_bytes" in reason and bomb.digest in reason


def test_image_size_across_layers():
    layers = [blob_layer(zeros_tar(3 * MiB), OCI_TAR), blob_layer(zeros_tar(3 * MiB) + b"\0", OCI_TAR)]
    assert "max_image_bytes" in reason_of(layers, Limits(max_image_bytes=5 * MiB))


def test_too_many_files():
    many = layer({f"f{i}": b"" for i in range(200)})
    reason = reason_of([many], Limits(max_members=100))
    assert "max_members" in reason and many.digest in reason


def test_too_deep_a_path():
    deep = layer({"/".join(["d"] * 50) + "/file": b""})
    reason = reason_of([deep], Limits(max_path_depth=32))
    assert "max_path_depth" in reason and deep.digest in reason


def test_too_long_a_path():
    assert "max_path_length" in reason_of([layer({"x" * 300: b""})], Limits(max_path_length=255))


def test_too_long_a_pax_header():
    assert "max_header_bytes" in reason_of([layer({"p" * 5000: b""})], Limits(max_header_bytes=1024))


def test_os_release_symlink_loop():
    loop = layer({"etc/os-release": Symlink("os-release.d"), "etc/os-release.d": Symlink("os-release")})
    reason = reason_of([loop])
    assert "max_symlink_hops" in reason and loop.digest in reason


def test_oversize_package_database():
    big = layer({"var/lib/dpkg/status": b"Package: a\n" * 20000})
    reason = reason_of([big], Limits(max_database_bytes=64 * 1024))
    assert "max_database_bytes" in reason and "var/lib/dpkg/status" in reason and big.digest in reason


def test_oversize_metadata_is_skipped_and_said():
    os_release = DEBIAN_OS_RELEASE + b"#" * 5000
    inventory = take_inventory([layer({"etc/os-release": os_release})], Limits(max_metadata_bytes=1024))
    assert inventory.os is None
    assert inventory.unsupported == [
        f"etc/os-release: {len(os_release)} bytes, over max_metadata_bytes (1024); not read"
    ]


def test_corrupt_gzip():
    blob = bytearray(compress(tar_bytes({"a": b"hello" * 1000}), "gzip"))
    blob[20:40] = b"\xff" * 20
    with pytest.raises(InventoryError) as raised:
        take_inventory([blob_layer(bytes(blob))])
    assert "corrupt gzip" in raised.value.reason


def test_truncated_gzip():
    blob = compress(tar_bytes({"a": b"hello" * 1000}), "gzip")
    with pytest.raises(InventoryError):
        take_inventory([blob_layer(blob[: len(blob) // 2])])


def test_corrupt_zstd():
    blob = bytearray(compress(tar_bytes({"a": bytes(range(256)) * 100}), "zstd"))
    blob[10:30] = b"\x00" * 20
    with pytest.raises(InventoryError) as raised:
        take_inventory([blob_layer(bytes(blob))])
    assert raised.value.reason


def test_not_a_tar():
    with pytest.raises(InventoryError) as raised:
        take_inventory([blob_layer(gzip.compress(b"not a tar archive at all" * 100), OCI_GZIP)])
    assert "tar" in raised.value.reason


def test_a_layer_that_cannot_be_opened():
    def fail():
        raise OSError("no such blob")

    with pytest.raises(InventoryError) as raised:
        take_inventory([Layer("sha256:x", OCI_GZIP, fail)])
    assert "no such blob" in raised.value.reason


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), compression=st.sampled_from(["gzip", "zstd", ""]))
def test_fuzz_random_bytes_raise_only_inventory_errors(data, compression):
    try:
        take_inventory([blob_layer(compress(data, compression))], Limits(max_members=1000))
    except InventoryError as error:
        assert error.reason


_VALID = tar_bytes(
    {
        "etc/os-release": DEBIAN_OS_RELEASE,
        "var/lib/dpkg/status": b"Package: a\nStatus: install ok installed\nVersion: 1\n",
        "lib/apk/db/installed": b"P:x\nV:1\n",
        "app/package-lock.json": b'{"packages": {"node_modules/a": {"version": "1"}}}',
    }
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(0, len(_VALID) - 1), value=st.binary(min_size=1, max_size=64))
def test_fuzz_damaged_tar_raises_only_inventory_errors(position, value):
    damaged = _VALID[:position] + value + _VALID[position + len(value) :]
    try:
        take_inventory([blob_layer(damaged, OCI_TAR)])
    except InventoryError as error:
        assert error.reason


def test_a_storage_failure_mid_layer_is_not_called_corrupt_data():
    blob = compress(tar_bytes({"a": bytes(range(256)) * 2000}), "gzip")

    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = False

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if self.sent:
                raise ConnectionError("connection reset by peer")
            self.sent = True
            return blob[:100]

    with pytest.raises(InventoryError) as raised:
        take_inventory([Layer("sha256:x", OCI_GZIP, Failing)])
    assert raised.value.reason == (
        "layer sha256:x: reading the stored blob failed (ConnectionError: connection reset by peer)"
    )
