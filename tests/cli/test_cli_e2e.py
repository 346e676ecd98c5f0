"""The real `berth` executable, as a user runs it, against a live `berth serve`.

Each test signs in as a fresh user (HOME is a temporary directory, so the
credentials file and docker's config.json are the test's own) and checks what
the commands print, on which stream, and with which exit status."""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import images as I
from tests.e2e.conftest import BERTH_BIN, CMD_TIMEOUT, REPO_ROOT, Account, BerthServer, need, run_isolated

# The client's side of each command; the server's answers are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]

CLIENT_VARIABLES = (
    "BERTH_ENDPOINT",
    "BERTH_ACCESS_KEY_ID",
    "BERTH_SECRET_ACCESS_KEY",
    "BERTH_PROFILE",
    "XDG_CONFIG_HOME",
    "DOCKER_CONFIG",
)


@dataclass
class Cli:
    """`berth` run as a user with its own HOME."""

    server: BerthServer
    account: Account
    home: Path

    @property
    def env(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in CLIENT_VARIABLES}
        env["HOME"] = str(self.home)
        # The client of this checkout, as the server is (the installed `berth` may be another's).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        return env

    def run(self, *args: str, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BERTH_BIN), *args],
            check=False,
            capture_output=True,
            text=True,
            input=input,
            env={**self.env, **(env or {})},
            timeout=CMD_TIMEOUT,
            cwd=self.home,
        )

    def ok(self, *args: str, input: str | None = None, env: dict | None = None) -> str:
        result = self.run(*args, input=input, env=env)
        assert result.returncode == 0, f"berth {' '.join(args)}: rc={result.returncode}\n{result.stderr}"
        assert result.stderr == "", result.stderr
        return result.stdout

    def json(self, *args: str, env: dict | None = None):
        return json.loads(self.ok(*args, "--output", "json", env=env))

    def fails(self, *args: str, input: str | None = None, env: dict | None = None) -> str:
        result = self.run(*args, input=input, env=env)
        assert result.returncode == 1, f"berth {' '.join(args)}: rc={result.returncode}\n{result.stdout}"
        assert result.stdout == ""
        assert result.stderr.startswith("berth: error: "), result.stderr
        return result.stderr

    def configure(self) -> str:
        return self.ok(
            "configure",
            "--endpoint",
            self.server.url,
            "--username",
            self.account.username,
            "--password-stdin",
            input=self.account.password + "\n",
        )


def _new_user(server: BerthServer, home: Path, company: str) -> Cli:
    home.mkdir()
    return Cli(server, server.create_account(company), home)


@pytest.fixture
def cli(berth, tmp_path) -> Cli:
    user = _new_user(berth, tmp_path / "home", "CLI Co")
    user.configure()
    return user


@pytest.fixture
def unconfigured(berth, tmp_path) -> Cli:
    return _new_user(berth, tmp_path / "new-home", "CLI New Co")


# --------------------------------------------------------------------------- configure


def test_configure_signs_in_once_and_stores_only_the_key(unconfigured):
    said = unconfigured.configure()

    path = unconfigured.home / ".config" / "berth" / "credentials"
    assert f"Signed in as {unconfigured.account.username}" in said and str(path) in said
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = path.read_text()
    assert f"endpoint = {unconfigured.server.url}\n" in stored
    assert "access_key_id = BKIA" in stored and "secret_access_key = " in stored
    assert unconfigured.account.password not in stored
    [key] = unconfigured.json("access-keys", "list")["accessKeys"]
    assert f"access_key_id = {key['accessKeyId']}\n" in stored


def test_configure_refuses_a_wrong_password_and_stores_nothing(unconfigured):
    error = unconfigured.fails(
        "configure",
        "--endpoint",
        unconfigured.server.url,
        "--username",
        unconfigured.account.username,
        "--password-stdin",
        input="wrong\n",
    )

    assert "incorrect username or password" in error
    assert not (unconfigured.home / ".config" / "berth" / "credentials").exists()


def test_every_command_says_how_to_start_before_configure(unconfigured):
    assert "run `berth configure`" in unconfigured.fails("repo", "list")


def test_configure_with_an_existing_key(cli, unconfigured):
    key = cli.json("access-keys", "create")

    unconfigured.ok(
        "configure",
        "--endpoint",
        cli.server.url,
        "--access-key-id",
        key["accessKeyId"],
        "--secret-access-key-stdin",
        input=key["secretAccessKey"] + "\n",
    )

    assert unconfigured.json("access-keys", "list") == cli.json("access-keys", "list")


# --------------------------------------------------------------------------- repositories


def test_repository_commands(cli):
    created = cli.json(
        "repo",
        "create",
        "team/app",
        "--image-tag-mutability",
        "IMMUTABLE_WITH_EXCLUSION",
        "--exclusion-filter",
        "latest",
        "--tag",
        "env=prod",
        "--encryption",
        "AES256",
    )
    assert created["name"] == "team/app"
    assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert created["uri"] == f"{cli.server.host}/{cli.account.account_id}/team/app"
    assert created["imageTagMutabilityExclusionFilters"] == ["latest"]
    assert created["tags"] == [{"key": "env", "value": "prod"}]

    table = cli.ok("repo", "list").splitlines()
    assert table[0].split() == [
        "NAME", "VISIBILITY", "TAG", "MUTABILITY", "IMAGES", "SIZE", "REFERENCED", "EXCLUSIVE", "CREATED"
    ]  # fmt: skip
    # Sizes print as "0 B": two words each.
    assert table[1].split()[:10] == ["team/app", "private", "IMMUTABLE_WITH_EXCLUSION", "0"] + ["0", "B"] * 3

    described = cli.ok("repo", "describe", "team/app")
    assert f"URI:                {created['uri']}\n" in described
    assert "Resource tags:      env=prod\n" in described
    assert "Encryption:         AES256\n" in described
    assert cli.json("repo", "describe", "team/app") == created

    cli.ok("repo", "set-tag-mutability", "team/app", "MUTABLE")
    assert cli.json("repo", "set-scan-on-push", "team/app", "true")["scanOnPush"] is True
    settings = cli.json("repo", "describe", "team/app")
    assert (settings["imageTagMutability"], settings["imageTagMutabilityExclusionFilters"]) == ("MUTABLE", [])

    assert cli.ok("repo", "delete", "team/app") == "Deleted repository team/app.\n"
    assert cli.json("repo", "list") == {"repositories": []}


def test_listing_pages_through_every_repository(cli):
    names = [f"svc-{number:02}" for number in range(7)]
    for name in names:
        cli.ok("repo", "create", name, "-o", "json")
    cli.ok("repo", "create", "other", "-o", "json")

    listed = cli.json("repo", "list", "--page-size", "2")["repositories"]
    assert [repository["name"] for repository in listed] == [*sorted(["other", *names])]
    prefixed = cli.json("repo", "list", "--page-size", "3", "--prefix", "svc-")["repositories"]
    assert [repository["name"] for repository in prefixed] == names
    assert len(cli.ok("repo", "list", "--page-size", "2").splitlines()) == 1 + len(names) + 1


def test_errors_go_to_stderr_with_the_apis_message(cli):
    error = cli.fails("repo", "describe", "missing/repo")
    assert f"repository missing/repo does not exist in account {cli.account.account_id}" in error
    assert "(not_found, HTTP 404)" in error

    assert "name: lowercase letters" in cli.fails("repo", "create", "Not_Valid")
    cli.ok("repo", "create", "dup", "-o", "json")
    assert "repository_already_exists" in cli.fails("repo", "create", "dup")
    assert "imageTagMutabilityExclusionFilters" in cli.fails(
        "repo", "set-tag-mutability", "dup", "IMMUTABLE_WITH_EXCLUSION"
    )

    usage = cli.run("repo", "set-scan-on-push", "dup", "perhaps")
    assert usage.returncode == 2 and "not a valid boolean" in usage.stderr


def test_the_environment_overrides_the_file(cli):
    unreachable = cli.fails("repo", "list", env={"BERTH_ENDPOINT": "http://127.0.0.1:9"})
    assert "cannot reach http://127.0.0.1:9" in unreachable

    wrong = cli.fails(
        "repo", "list", env={"BERTH_ACCESS_KEY_ID": "BKIA0000000000000000", "BERTH_SECRET_ACCESS_KEY": "nope"}
    )
    assert "authentication_failed" in wrong


# --------------------------------------------------------------------------- access keys


def test_access_key_commands(cli):
    [first] = cli.json("access-keys", "list")["accessKeys"]
    created = cli.ok("access-keys", "create")
    assert "Secret access key:" in created and "shown only now" in created
    second_id = created.split("Access key id:", 1)[1].split()[0]
    second_secret = created.split("Secret access key:", 1)[1].split()[0]
    as_second = {"BERTH_ACCESS_KEY_ID": second_id, "BERTH_SECRET_ACCESS_KEY": second_secret}
    assert cli.json("repo", "list", env=as_second) == {"repositories": []}

    assert "access_key_limit_exceeded" in cli.fails("access-keys", "create")

    assert cli.json("access-keys", "deactivate", second_id)["status"] == "INACTIVE"
    listing = cli.ok("access-keys", "list")
    assert listing.splitlines()[0].split() == ["ACCESS", "KEY", "ID", "STATUS", "CREATED", "LAST", "USED"]
    assert {line.split()[0]: line.split()[1] for line in listing.splitlines()[1:]} == {
        first["accessKeyId"]: "ACTIVE",
        second_id: "INACTIVE",
    }
    assert "authentication_failed" in cli.fails("repo", "list", env=as_second)

    assert cli.ok("access-keys", "delete", second_id) == f"Deleted access key {second_id}.\n"
    assert [key["accessKeyId"] for key in cli.json("access-keys", "list")["accessKeys"]] == [first["accessKeyId"]]
    assert "you have no access key" in cli.fails("access-keys", "delete", second_id)


# --------------------------------------------------------------------------- registry login and images


def test_login_password_and_docker_config_work_for_skopeo(cli, tmp_path):
    need("skopeo")
    image = I.build_oci_image(tmp_path / "oci", tag="v1")
    repository = f"{cli.server.host}/{cli.account.account_id}/cli/app"

    skopeo_dir = tmp_path / "skopeo"
    run_isolated(
        [
            "sh",
            "-c",
            (
                f'"{BERTH_BIN}" get-login-password | skopeo login --tls-verify=false '
                f"--username berth --password-stdin {cli.server.host}"
            ),
        ],
        skopeo_dir,
        env=cli.env,
    )
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{image.path}:v1", f"docker://{repository}:v1"],
        skopeo_dir,
        env=cli.env,
    )

    said = cli.ok("login")
    config = cli.home / ".docker" / "config.json"
    assert said.startswith(f"Logged in to {cli.server.host} as berth until ")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    auth = base64.b64decode(json.loads(config.read_text())["auths"][cli.server.host]["auth"]).decode()
    assert auth.startswith("berth:blp1.")
    run_isolated(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            "--authfile",
            str(config),
            f"oci:{image.path}:v1",
            f"docker://{repository}:v2",
        ],
        tmp_path / "skopeo-docker-config",
        env=cli.env,
    )

    described = cli.json("repo", "describe", "cli/app")
    assert described["imageCount"] == 1


def _png(side: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes([40, 90, 200]) * side for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_catalog_data_from_markdown_files(cli, tmp_path):
    about = tmp_path / "ABOUT.md"
    about.write_text("# Tools\n\nEverything *we* use, in one image.\n")
    usage = tmp_path / "USAGE.md"
    usage.write_text("```sh\ndocker run tools --help\n```\n")
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png(64))
    cli.ok("repo", "create", "tools", "--public", "-o", "json")
    cli.ok("repo", "create", "secret", "-o", "json")

    put = cli.json(
        "repo",
        "catalog-data",
        "put",
        "tools",
        "--description",
        "Our tools",
        "--about",
        str(about),
        "--usage",
        str(usage),
        "--architecture",
        "x86-64",
        "--architecture",
        "ARM 64",
        "--operating-system",
        "Linux",
        "--logo",
        str(logo),
    )
    assert (put["aboutText"], put["usageText"]) == (about.read_text(), usage.read_text())
    assert put["logo"]["width"] == 64 and put["logoUrl"]

    got = cli.json("repo", "catalog-data", "get", "tools")
    assert got == put
    assert (got["description"], got["architectures"], got["operatingSystems"]) == (
        "Our tools",
        ["x86-64", "ARM 64"],
        ["Linux"],
    )
    shown = cli.ok("repo", "catalog-data", "get", "tools")
    assert "Description:        Our tools\n" in shown
    assert f"--- About ---\n{about.read_text().rstrip()}" in shown

    changed = cli.json("repo", "catalog-data", "put", "tools", "--description", "Still ours", "--remove-logo")
    assert (changed["description"], changed["aboutText"], changed["logoUrl"]) == ("Still ours", about.read_text(), None)

    assert "repository_not_public" in cli.fails("repo", "catalog-data", "put", "secret", "--about", str(about))


def test_image_commands(cli, tmp_path):
    need("skopeo")
    image = I.build_oci_image(tmp_path / "oci", tag="v1")
    index = I.build_multiarch_index(tmp_path / "multi", tag="v1")
    repository = f"{cli.server.host}/{cli.account.account_id}/cli/images"
    auth = tmp_path / "auth.json"
    cli.ok("login", "--config-file", str(auth))
    push = ["skopeo", "copy", "--dest-tls-verify=false", "--authfile", str(auth)]
    run_isolated([*push, f"oci:{image.path}:v1", f"docker://{repository}:v1"], tmp_path / "skopeo", env=cli.env)
    run_isolated(
        [*push, "--all", f"oci:{index.path}:v1", f"docker://{repository}:multi"], tmp_path / "skopeo", env=cli.env
    )
    platform_digests = {entry.manifest_digest for entry in index.images}

    listed = cli.json("images", "list", "cli/images", "--page-size", "1")["imageIds"]
    assert {"imageTag": "v1", "imageDigest": image.manifest_digest} in listed
    assert {"imageTag": "multi", "imageDigest": index.index_digest} in listed
    assert {item["imageDigest"] for item in listed if "imageTag" not in item} == platform_digests
    untagged = cli.json("images", "list", "cli/images", "--tag-status", "untagged")["imageIds"]
    assert {item["imageDigest"] for item in untagged} == platform_digests
    table = cli.ok("images", "list", "cli/images").splitlines()
    assert table[0].split() == ["TAG", "DIGEST"] and f"v1     {image.manifest_digest}" in table

    cli.ok("images", "tag", "cli/images", "v1", "latest", "stable")
    assert cli.ok("images", "tag", "cli/images", image.manifest_digest, "1.0") == (
        f"Tagged {image.manifest_digest} as 1.0.\n"
    )
    assert "image_already_exists" in cli.fails("images", "tag", "cli/images", "v1", "latest")
    assert "ImageNotFound" in cli.fails("images", "tag", "cli/images", "missing", "latest")

    details = cli.json("images", "describe", "cli/images", "--page-size", "1")["imageDetails"]
    by_digest = {detail["imageDigest"]: detail for detail in details}
    assert len(details) == 2 + len(platform_digests)
    assert by_digest[image.manifest_digest]["imageTags"] == ["1.0", "latest", "stable", "v1"]
    [named] = cli.json("images", "describe", "cli/images", "stable")["imageDetails"]
    assert named == by_digest[image.manifest_digest]
    described = cli.ok("images", "describe", "cli/images", "multi")
    assert described.splitlines()[0].split()[:4] == ["DIGEST", "TAGS", "TYPE", "PLATFORMS"]
    assert "OCI index" in described and "linux/amd64, linux/arm64/v8" in described

    deleted = cli.json("images", "delete", "cli/images", "stable", "latest")
    assert deleted == {
        "imageIds": [
            {"imageDigest": image.manifest_digest, "imageTag": "stable"},
            {"imageDigest": image.manifest_digest, "imageTag": "latest"},
        ],
        "failures": [],
    }
    error = cli.run("images", "delete", "cli/images", image.manifest_digest, "gone")
    assert error.returncode == 1
    assert {tuple(line.split()) for line in error.stdout.splitlines()[1:]} == {
        ("1.0", image.manifest_digest),
        ("v1", image.manifest_digest),
    }
    assert error.stderr.splitlines() == [
        "berth: error: 1 of 2 could not be deleted",
        "  gone: no image is tagged gone in the repository (ImageNotFound)",
    ]
    remaining = cli.json("images", "list", "cli/images", "--tag-status", "tagged")["imageIds"]
    assert remaining == [{"imageTag": "multi", "imageDigest": index.index_digest}]
