"""The limits that keep a hostile image from exhausting the scanner: every one has a
default sized for real images, and every one can be overridden."""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Going past any of these ends the inventory with ``LimitExceeded``, except
    ``max_file_bytes`` and ``max_metadata_bytes``: a binary, archive or metadata file
    over them is skipped and said in ``Inventory.unsupported``."""

    # Uncompressed tar bytes walked, in one layer and in the whole image.
    max_layer_bytes: int = 8 * GiB
    max_image_bytes: int = 16 * GiB
    # Uncompressed bytes per compressed byte of a layer; checked only once a layer has
    # produced ratio_check_after_bytes, so small layers of zeros pass.
    max_compression_ratio: float = 200.0
    ratio_check_after_bytes: int = 64 * MiB
    # Tar members (files, directories, links, whiteouts) in the whole image.
    max_members: int = 1_000_000
    # Components and characters of a member's path (and of a link's target).
    max_path_depth: int = 128
    max_path_length: int = 4096
    # Pax and GNU long-name headers, which tarfile reads into memory.
    max_header_bytes: int = 1 * MiB
    # A package database (dpkg status, a status.d entry, apk's installed) read into memory.
    max_database_bytes: int = 64 * MiB
    # Other small files read into memory: os-release, METADATA, package.json, lock files.
    max_metadata_bytes: int = 8 * MiB
    # An executable or archive spooled to a temporary file to be inspected.
    max_file_bytes: int = 512 * MiB
    # Symbolic links followed to resolve one path (os-release).
    max_symlink_hops: int = 16
    # Entries of a Java archive looked at.
    max_archive_entries: int = 100_000
