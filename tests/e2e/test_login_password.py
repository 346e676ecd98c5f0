"""Login passwords against `berth serve`, the way Amazon ECR's are used:

    aws ecr get-login-password | docker login --username AWS --password-stdin <host>

An access key minted with the user's password signs GetAuthorizationToken; the login
password it returns goes to a real `skopeo login` (user name `berth`, and `AWS`),
whose stored credentials then push and pull an image. A tampered or expired login
password is refused at login."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
import requests

from . import images as I
from .conftest import need, run_isolated

pytestmark = pytest.mark.e2e


def skopeo(tmp: Path, *args: str, input: str | None = None, check: bool = True):
    need("skopeo")
    return run_isolated(["skopeo", *args], tmp, input=input, check=check)


def login(berth, tmp: Path, username: str, password: str, check: bool = True):
    return skopeo(
        tmp,
        "login",
        "--tls-verify=false",
        "--username",
        username,
        "--password-stdin",
        berth.host,
        input=password + "\n",
        check=check,
    )


def assert_refused_at_login(result, what: str) -> None:
    assert result.returncode != 0, f"{what}: login succeeded:\n{result.stdout}"
    error = (result.stderr + result.stdout).lower()
    assert "internal server error" not in error, error
    assert re.search(r"unauthori[sz]ed|invalid username/password|401", error), f"{what}:\n{result.stderr}"


@pytest.fixture(scope="module")
def account(berth):
    return berth.create_account("Login Password Co")


@pytest.fixture(scope="module")
def access_key(berth, account) -> tuple[str, str]:
    response = requests.post(
        f"{berth.url}/api/v1/auth/access-keys",
        json={"username": account.username, "password": account.password},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["accessKeyId"], body["secretAccessKey"]


@pytest.fixture(scope="module")
def authorization(berth, access_key) -> dict:
    response = requests.post(f"{berth.url}/api/v1/authorization-token", auth=access_key, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_get_authorization_token(berth, authorization):
    assert authorization["username"] == "berth"
    assert authorization["proxyEndpoint"] == berth.url
    assert base64.b64decode(authorization["authorizationToken"]).decode() == f"berth:{authorization['password']}"


@pytest.mark.parametrize("username", ["berth", "AWS"])
def test_skopeo_logs_in_with_it_then_pushes_and_pulls(berth, account, authorization, tmp_path, username):
    password = authorization["password"]
    login(berth, tmp_path, username, password)
    authfile = tmp_path / "auth.json"
    stored = json.loads(authfile.read_text())["auths"][berth.host]["auth"]
    assert base64.b64decode(stored).decode() == f"{username}:{password}"

    image = I.build_oci_image(tmp_path / "image", tag="v1")
    ref = f"{berth.host}/{account.account_id}/login-password/{username.lower()}:v1"
    skopeo(
        tmp_path,
        "copy",
        "--authfile",
        str(authfile),
        "--dest-tls-verify=false",
        f"oci:{image.path}:v1",
        f"docker://{ref}",
    )
    pulled = tmp_path / "pulled"
    skopeo(
        tmp_path, "copy", "--authfile", str(authfile), "--src-tls-verify=false", f"docker://{ref}", f"oci:{pulled}:v1"
    )
    descriptor, manifest = I.read_oci_layout(pulled, "v1")
    assert descriptor["digest"] == image.manifest_digest
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == image.manifest_digest
    for digest in image.blob_digests:
        assert I.layout_blob(pulled, digest).read_bytes() == I.layout_blob(image.path, digest).read_bytes()

    # The same password signs the management API as a Bearer token.
    listed = requests.get(
        f"{berth.url}/api/v1/repositories", headers={"Authorization": f"Bearer {password}"}, timeout=30
    )
    assert listed.status_code == 200, listed.text
    assert f"login-password/{username.lower()}" in [r["name"] for r in listed.json()["repositories"]]


def test_a_tampered_or_expired_password_is_refused(berth, account, authorization, tmp_path):
    password = authorization["password"]
    prefix, payload, mac = password.split(".")
    tampered = f"{prefix}.{payload}.{mac[::-1]}"
    assert_refused_at_login(login(berth, tmp_path / "tampered", "berth", tampered, check=False), "tampered")

    # One the server itself signed twelve hours and a minute ago, with its own key.
    minted = berth.cli(
        "shell",
        "-c",
        "import time\n"
        "from django.contrib.auth import get_user_model\n"
        "from apps.accounts import login_passwords\n"
        f"user = get_user_model().objects.get(username={account.username!r})\n"
        "issued = login_passwords.issue(user_id=user.pk, password_hash=user.password,\n"
        "                               now=time.time() - 12 * 3600 - 60)\n"
        "print(issued.password)\n",
    )
    expired = minted.stdout.strip().splitlines()[-1]
    assert expired.startswith("blp1.")
    result = login(berth, tmp_path / "expired", "AWS", expired, check=False)
    assert_refused_at_login(result, "expired")
    # The token service says why (skopeo shows only the status).
    challenge = requests.get(
        f"{berth.url}/token", params={"service": "berth-registry"}, auth=("AWS", expired), timeout=30
    )
    assert challenge.status_code == 401
    assert "expired" in challenge.json()["errors"][0]["message"]
    # ... while a current one from the same server works.
    login(berth, tmp_path / "current", "AWS", password)
