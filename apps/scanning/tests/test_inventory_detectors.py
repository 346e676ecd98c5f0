"""What each detector finds in a layer: the OS, dpkg, distroless, apk, RPM (found,
not read), Python distributions, npm packages and lock files."""

from __future__ import annotations

import json

import pytest

from apps.scanning.inventory import OperatingSystem, take_inventory
from apps.scanning.inventory.packages import ALPINE, DEBIAN, NPM, PYPI

from .layers import (
    ALPINE_OS_RELEASE,
    APK_INSTALLED,
    DEBIAN_OS_RELEASE,
    DPKG_STATUS,
    Dir,
    Symlink,
    dist_info,
    layer,
    package_json,
)


def by_name(inventory, ecosystem):
    return {p.name: p for p in inventory.packages if p.ecosystem == ecosystem}


@pytest.mark.parametrize("compression", ["gzip", "zstd", ""])
def test_debian_rootfs_os_through_symlink_and_installed_dpkg_packages(compression):
    rootfs = layer(
        {
            "./etc/": Dir(),
            "./etc/os-release": Symlink("../usr/lib/os-release"),
            "./usr/lib/os-release": DEBIAN_OS_RELEASE,
            "./var/lib/dpkg/status": DPKG_STATUS,
        },
        compression,
    )

    inventory = take_inventory([rootfs])

    assert inventory.os == OperatingSystem(
        id="debian", version_id="12", version_codename="bookworm", pretty_name="Debian GNU/Linux 12 (bookworm)"
    )
    debs = by_name(inventory, DEBIAN)
    assert set(debs) == {"openssl", "libssl3", "zlib1g", "libgcrypt20"}  # vim-tiny is not installed
    assert debs["openssl"].version == "3.0.11-1~deb12u1"
    assert (debs["openssl"].source_name, debs["openssl"].source_version) == ("", "")
    assert (debs["libssl3"].source_name, debs["libssl3"].source_version) == ("openssl", "")
    zlib = debs["zlib1g"]
    assert (zlib.version, zlib.source_name) == ("1:1.2.13.dfsg-1", "zlib")
    assert zlib.purl == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    assert (zlib.path, zlib.layer_digest) == ("var/lib/dpkg/status", rootfs.digest)
    assert (debs["libgcrypt20"].source_name, debs["libgcrypt20"].source_version) == ("", "1.10.1-3")
    assert inventory.unsupported == []


def test_os_release_falls_back_to_usr_lib():
    inventory = take_inventory([layer({"usr/lib/os-release": b'ID="ubuntu"\nVERSION_ID="22.04"\n'})])
    assert inventory.os == OperatingSystem(id="ubuntu", version_id="22.04")


def test_distroless_status_d():
    entry = b"Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n"
    inventory = take_inventory(
        [
            layer(
                {
                    "etc/os-release": DEBIAN_OS_RELEASE,
                    "var/lib/dpkg/status.d/libc6": entry,
                    "var/lib/dpkg/status.d/libc6.md5sums": b"0123  lib/x86_64-linux-gnu/libc.so.6\n",
                    "var/lib/dpkg/status.d/tzdata": b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
                }
            )
        ]
    )
    debs = by_name(inventory, DEBIAN)
    assert set(debs) == {"libc6", "tzdata"}
    assert debs["libc6"].source_name == "glibc"
    assert debs["libc6"].path == "var/lib/dpkg/status.d/libc6"


def test_alpine_installed_database():
    inventory = take_inventory(
        [layer({"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": APK_INSTALLED}, "zstd")]
    )
    assert inventory.os.id == "alpine"
    apks = by_name(inventory, ALPINE)
    assert set(apks) == {"musl", "libcrypto3"}
    crypto = apks["libcrypto3"]
    assert (crypto.version, crypto.source_name, crypto.licenses) == ("3.1.4-r5", "openssl", ("Apache-2.0",))
    assert crypto.purl == "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1"
    assert apks["musl"].source_name == ""  # origin is itself


def test_rpm_database_is_said_unsupported():
    inventory = take_inventory([layer({"var/lib/rpm/rpmdb.sqlite": b"SQLite format 3\x00"})])
    assert inventory.packages == []
    assert inventory.unsupported == ["RPM database var/lib/rpm/rpmdb.sqlite: no reader for it, packages not listed"]


def test_python_distributions():
    site = "usr/local/lib/python3.11/site-packages"
    inventory = take_inventory(
        [
            layer(
                {
                    f"{site}/urllib3-1.26.4.dist-info/METADATA": dist_info("urllib3", "1.26.4", "MIT"),
                    f"{site}/requests-2.25.1.dist-info/METADATA": dist_info("requests", "2.25.1", "Apache 2.0"),
                    f"{site}/Jinja2-2.11.2.dist-info/METADATA": dist_info("Jinja2", "2.11.2", "BSD-3-Clause"),
                    f"{site}/PyYAML-5.3.egg-info/PKG-INFO": dist_info("PyYAML", "5.3"),
                    "usr/lib/python3/dist-packages/six-1.16.0.egg-info": dist_info("six", "1.16.0"),
                    f"{site}/broken.dist-info/METADATA": b"no headers here",
                }
            )
        ]
    )
    pythons = by_name(inventory, PYPI)
    assert {(p.name, p.version) for p in pythons.values()} == {
        ("urllib3", "1.26.4"),
        ("requests", "2.25.1"),
        ("jinja2", "2.11.2"),
        ("pyyaml", "5.3"),
        ("six", "1.16.0"),
    }
    assert pythons["jinja2"].purl == "pkg:pypi/jinja2@2.11.2"
    assert pythons["jinja2"].licenses == ("BSD-3-Clause",)
    assert pythons["pyyaml"].path == f"{site}/PyYAML-5.3.egg-info/PKG-INFO"


def test_npm_installed_packages_scoped_and_nested():
    app = "usr/src/app/node_modules"
    inventory = take_inventory(
        [
            layer(
                {
                    f"{app}/lodash/package.json": package_json("lodash", "4.17.20", license="MIT"),
                    f"{app}/@babel/core/package.json": package_json("@babel/core", "7.12.3"),
                    f"{app}/a/node_modules/minimist/package.json": package_json("minimist", "1.2.5"),
                    f"{app}/lodash/fp/package.json": package_json("lodash-fp-internal", "0.0.0"),
                    f"{app}/.bin/package.json": package_json("bin", "1.0.0"),
                }
            )
        ]
    )
    npms = by_name(inventory, NPM)
    assert set(npms) == {"lodash", "@babel/core", "minimist"}
    assert npms["@babel/core"].purl == "pkg:npm/%40babel/core@7.12.3"
    assert npms["lodash"].licenses == ("MIT",)


def test_npm_lock_files_add_only_what_is_not_installed():
    lock_v3 = {
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "app", "version": "1.0.0"},
            "node_modules/lodash": {"version": "4.17.20"},
            "node_modules/@types/node": {"version": "20.1.0", "dev": True},
            "node_modules/express": {"version": "4.17.1"},
            "node_modules/express/node_modules/qs": {"version": "6.7.0"},
            "../local": {"link": True},
        },
    }
    lock_v1 = {
        "lockfileVersion": 1,
        "dependencies": {
            "ms": {"version": "2.0.0", "dependencies": {"debug": {"version": "2.6.9"}}},
            "local-thing": {"version": "file:../thing"},
        },
    }
    inventory = take_inventory(
        [
            layer(
                {
                    "app/package-lock.json": json.dumps(lock_v3).encode(),
                    "app/node_modules/lodash/package.json": package_json("lodash", "4.17.20"),
                    "old/package-lock.json": json.dumps(lock_v1).encode(),
                }
            )
        ]
    )
    found = sorted((p.name, p.version, p.path) for p in inventory.packages)
    assert found == [
        ("debug", "2.6.9", "old/package-lock.json"),
        ("express", "4.17.1", "app/package-lock.json"),
        ("lodash", "4.17.20", "app/node_modules/lodash/package.json"),
        ("ms", "2.0.0", "old/package-lock.json"),
        ("qs", "6.7.0", "app/package-lock.json"),
    ]


def test_malformed_metadata_is_noted_not_fatal():
    inventory = take_inventory([layer({"app/node_modules/x/package.json": b"{not json"})])
    assert inventory.packages == []
    assert inventory.unsupported == ["app/node_modules/x/package.json: could not be parsed (JSONDecodeError)"]
