"""Walking layers in order: replacement by later layers, whiteouts, opaque
directories, compression told by magic bytes, media types that are not layers."""

from __future__ import annotations

import pytest

from apps.scanning.inventory import UnsupportedLayer, take_inventory
from apps.scanning.inventory.packages import PYPI
from apps.scanning.inventory.tree import normalise

from .layers import DOCKER_GZIP, OCI_GZIP, Dir, Hardlink, Symlink, blob_layer, compress, dist_info, layer, tar_bytes

SITE = "usr/lib/python3.11/site-packages"


def names(inventory):
    return sorted((p.name, p.version) for p in inventory.packages)


def test_a_later_layer_replaces_a_file_and_reports_its_digest():
    lower = layer({f"{SITE}/urllib3-1.26.4.dist-info/METADATA": dist_info("urllib3", "1.26.4")})
    upper = layer({f"/{SITE}/urllib3-1.26.4.dist-info/METADATA": dist_info("urllib3", "1.26.5")})

    inventory = take_inventory([lower, upper])

    (package,) = inventory.packages
    assert (package.version, package.layer_digest) == ("1.26.5", upper.digest)
    assert package.path == f"{SITE}/urllib3-1.26.4.dist-info/METADATA"


def test_a_whiteout_in_a_later_layer_removes_a_package():
    lower = layer(
        {
            f"{SITE}/requests-2.25.1.dist-info/METADATA": dist_info("requests", "2.25.1"),
            f"{SITE}/urllib3-1.26.4.dist-info/METADATA": dist_info("urllib3", "1.26.4"),
        }
    )
    upper = layer({f"{SITE}/.wh.requests-2.25.1.dist-info": b""})

    assert names(take_inventory([lower, upper])) == [("urllib3", "1.26.4")]


def test_a_whiteout_removes_only_lower_layers_files():
    path = f"{SITE}/requests-2.25.1.dist-info/METADATA"
    lower = layer({path: dist_info("requests", "2.25.1")})
    upper = layer({f"{SITE}/.wh.requests-2.25.1.dist-info": b"", path: dist_info("requests", "2.26.0")})

    assert names(take_inventory([lower, upper])) == [("requests", "2.26.0")]


def test_an_opaque_directory_hides_everything_below_it_from_lower_layers():
    lower = layer(
        {
            f"{SITE}/requests-2.25.1.dist-info/METADATA": dist_info("requests", "2.25.1"),
            "opt/other/x.dist-info/METADATA": dist_info("x", "1.0"),
        }
    )
    upper = layer(
        {
            f"{SITE}/": Dir(),
            f"{SITE}/.wh..wh..opq": b"",
            f"{SITE}/jinja2-2.11.2.dist-info/METADATA": dist_info("Jinja2", "2.11.2"),
        }
    )

    assert names(take_inventory([lower, upper])) == [("jinja2", "2.11.2"), ("x", "1.0")]


def test_a_whiteout_in_a_middle_layer_does_not_hide_a_later_layers_file():
    path = f"{SITE}/pyyaml-5.3.dist-info/METADATA"
    layers = [layer({path: dist_info("PyYAML", "5.3")}), layer({f"{SITE}/.wh.pyyaml-5.3.dist-info": b""})]
    layers.append(layer({path: dist_info("PyYAML", "5.4")}))

    inventory = take_inventory(layers)

    assert names(inventory) == [("pyyaml", "5.4")]
    assert inventory.packages[0].layer_digest == layers[2].digest


def test_a_hardlink_to_a_package_database_counts_where_the_database_is():
    inventory = take_inventory(
        [
            layer(
                {
                    "tmp/status": b"Package: a\nStatus: install ok installed\nVersion: 1\n",
                    "var/lib/dpkg/status": Hardlink("tmp/status"),
                }
            )
        ]
    )
    assert names(inventory) == []  # tmp/status is not a database, its link has nothing to copy

    inventory = take_inventory(
        [
            layer(
                {
                    "var/lib/dpkg/status": b"Package: a\nStatus: install ok installed\nVersion: 1\n",
                    "var/lib/dpkg/status-old": Hardlink("var/lib/dpkg/status"),
                }
            )
        ]
    )
    assert names(inventory) == [("a", "1")]


def test_compression_is_told_by_magic_bytes_not_only_the_media_type():
    entries = {f"{SITE}/six-1.16.0.dist-info/METADATA": dist_info("six", "1.16.0")}
    tar = tar_bytes(entries)
    for blob in (compress(tar, "zstd"), tar, compress(tar, "gzip")):
        assert names(take_inventory([blob_layer(blob, DOCKER_GZIP)])) == [("six", "1.16.0")]


def test_counts_and_empty_layers():
    entries = {"a/": Dir(), "a/b": b"x" * 1000, f"{SITE}/six-1.16.0.dist-info/METADATA": dist_info("six", "1.16.0")}
    inventory = take_inventory([layer(entries), blob_layer(b""), layer({})])
    assert inventory.files_seen == 3
    assert inventory.bytes_read >= 1000 + 3 * 512
    assert [p.ecosystem for p in inventory.packages] == [PYPI]


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
    ],
)
def test_media_types_that_are_not_file_system_layers(media_type):
    with pytest.raises(UnsupportedLayer) as raised:
        take_inventory([layer({}, media_type=media_type)])
    assert media_type in raised.value.reason


def test_accepted_layer_media_types():
    for media_type in (OCI_GZIP, DOCKER_GZIP, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", ""):
        take_inventory([layer({}, media_type=media_type)])


@pytest.mark.parametrize(
    ("name", "path"),
    [("./etc/os-release", "etc/os-release"), ("/usr//lib/./x", "usr/lib/x"), ("../../etc/x", "etc/x"), ("./", "")],
)
def test_paths_are_normalised(name, path):
    assert normalise(name) == path


def test_a_gzip_layer_of_several_members_with_padding():
    import gzip

    tar = tar_bytes({f"{SITE}/six-1.16.0.dist-info/METADATA": dist_info("six", "1.16.0"), "big": bytes(200_000)})
    blob = gzip.compress(tar[:70_000]) + gzip.compress(tar[70_000:]) + bytes(100)
    assert names(take_inventory([blob_layer(blob)])) == [("six", "1.16.0")]


def test_a_symlink_replacing_a_directory_hides_the_lower_layers_files():
    lower = layer({f"{SITE}/six-1.16.0.dist-info/METADATA": dist_info("six", "1.16.0")})
    upper = layer({"usr/lib/python3.11": Symlink("/opt/python")})
    assert names(take_inventory([lower, upper])) == []


def test_a_file_replacing_a_directory_hides_the_lower_layers_files():
    lower = layer({"app/node_modules/lodash/package.json": b'{"name": "lodash", "version": "4.17.20"}'})
    upper = layer({"app/node_modules": b"not a directory any more"})
    assert names(take_inventory([lower, upper])) == []
