"""Access control and the audit trail against a live server, with skopeo as the client.

- a second account pulls through a repository policy grant, and is refused once the
  grant is removed;
- an aws:SourceIp condition admits one loopback source address and refuses another;
- a new IAM user can do nothing until a managed policy is attached;
- a role session pulls, and the trail names the session;
- a tag move shows the old and the new digest;
- the audit chain verifies, and fails after a row is altered.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from . import images as I
from .conftest import need
from .test_clients import assert_failed_auth, copy, remote_digest

pytestmark = pytest.mark.e2e

PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


# --------------------------------------------------------------------------- helpers


class Api:
    """The management API, signed with an access key (and a session token for a role session)."""

    def __init__(self, berth, key_id: str, secret: str, session_token: str | None = None):
        self.berth = berth
        self.session = requests.Session()
        self.session.auth = (key_id, secret)
        if session_token:
            self.session.headers["X-Berth-Security-Token"] = session_token

    def call(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201, 204), **kwargs):
        response = self.session.request(method, f"{self.berth.url}/api/v1/{path}", timeout=30, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None

    @classmethod
    def for_root(cls, berth, account) -> Api:
        response = requests.post(
            f"{berth.url}/api/v1/auth/access-keys",
            json={"username": account.username, "password": account.password},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return cls(berth, body["accessKeyId"], body["secretAccessKey"])

    def login_password(self) -> str:
        return self.call("POST", "authorization-token")["password"]


def arn(kind: str, account_id: str, rest: str = "") -> str:
    if kind == "root":
        return f"arn:berth:iam::{account_id}:root"
    if kind == "repository":
        return f"arn:berth:ecr:local:{account_id}:repository/{rest}"
    return f"arn:berth:iam::{account_id}:{kind}/{rest}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def push(berth, tmp: Path, image, ref: str, creds: str) -> None:
    copy(tmp, f"oci:{image.path}:{image.tag}", f"docker://{ref}", dest_creds=creds)


def pull(tmp: Path, ref: str, creds: str, check: bool = True):
    dest = tmp / f"pulled-{time.monotonic_ns()}"
    return copy(tmp, f"docker://{ref}", f"oci:{dest}:x", src_creds=creds, check=check)


def wait_for_events(api: Api, *, attempts: int = 40, **filters) -> list[dict]:
    """Pull events reach the trail in batches (about a second): poll for them."""
    for _ in range(attempts):
        events = api.call("GET", "audit/events", params=filters)["events"]
        if events:
            return events
        time.sleep(0.25)
    raise AssertionError(f"no audit events matching {filters}")


class _SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen loopback address: all of 127.0.0.0/8 reaches the server."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def manifest_status_from(berth, source: str, repository: str, tag: str, creds: tuple[str, str]) -> int:
    """Token and manifest GET from ``source``: 200 when admitted."""
    session = requests.Session()
    session.mount("http://", _SourceAddressAdapter(source))
    token = session.get(
        f"{berth.url}/token",
        params={"scope": f"repository:{repository}:pull", "service": "berth-registry"},
        auth=creds,
        timeout=30,
    )
    assert token.status_code == 200, token.text
    response = session.get(
        f"{berth.url}/v2/{repository}/manifests/{tag}",
        timeout=30,
        headers={
            "Authorization": f"Bearer {token.json()['token']}",
            "Accept": "application/vnd.oci.image.manifest.v1+json",
        },
    )
    return response.status_code


def _loopback_alias_works() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 9), timeout=1, source_address=("127.0.0.2", 0)):
            pass
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def owner(berth):
    return berth.create_account("Access Owner Co")


@pytest.fixture(scope="module")
def partner(berth):
    return berth.create_account("Access Partner Co")


@pytest.fixture(scope="module")
def owner_api(berth, owner) -> Api:
    return Api.for_root(berth, owner)


@pytest.fixture(scope="module")
def partner_api(berth, partner) -> Api:
    return Api.for_root(berth, partner)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return I.build_oci_image(tmp_path_factory.mktemp("access-image") / "img", tag="v1")


@pytest.fixture(scope="module")
def shared(berth, owner, image, tmp_path_factory) -> str:
    """A private repository of the owner with one image."""
    need("skopeo")
    ref = f"{berth.host}/{owner.account_id}/shared/app:v1"
    push(berth, tmp_path_factory.mktemp("push-shared"), image, ref, owner.creds)
    return ref


# --------------------------------------------------------------------------- tests


def test_cross_account_pull_through_repository_policy(berth, owner, partner, owner_api, shared, tmp_path):
    assert_failed_auth(pull(tmp_path, shared, partner.creds, check=False), "no grant yet")

    owner_api.call(
        "PUT",
        "repositories/shared/app/-/policy",
        json={
            "policyText": policy(
                {
                    "Sid": "PartnerPulls",
                    "Effect": "Allow",
                    "Principal": {"AWS": arn("root", partner.account_id)},
                    "Action": PULL_ACTIONS,
                }
            )
        },
    )
    pull(tmp_path, shared, partner.creds)
    # A pull grant is not a push grant.
    assert_failed_auth(
        copy(
            tmp_path,
            f"docker://{shared}",
            f"docker://{shared.rsplit(':', 1)[0]}:partner",
            src_creds=partner.creds,
            dest_creds=partner.creds,
            check=False,
        ),
        "push by a puller",
    )

    owner_api.call("DELETE", "repositories/shared/app/-/policy")
    assert_failed_auth(pull(tmp_path, shared, partner.creds, check=False), "grant removed")


def test_policy_naming_a_missing_principal_is_refused(owner_api):
    response = owner_api.session.put(
        f"{owner_api.berth.url}/api/v1/repositories/shared/app/-/policy",
        timeout=30,
        json={
            "policyText": policy(
                {"Effect": "Allow", "Action": PULL_ACTIONS, "Principal": {"AWS": arn("root", "999999999999")}}
            )
        },
    )
    assert response.status_code == 400, response.text
    assert "999999999999" in response.text


@pytest.mark.skipif(not _loopback_alias_works(), reason="this kernel does not route 127.0.0.2")
def test_source_ip_condition_admits_one_address_and_refuses_another(berth, owner, partner, owner_api, shared):
    repository = f"{owner.account_id}/shared/app"
    owner_api.call(
        "PUT",
        "repositories/shared/app/-/policy",
        json={
            "policyText": policy(
                {
                    "Sid": "PartnerFromOneAddress",
                    "Effect": "Allow",
                    "Principal": {"AWS": arn("root", partner.account_id)},
                    "Action": PULL_ACTIONS,
                    "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.2/32"}},
                }
            )
        },
    )
    try:
        creds = (partner.username, partner.password)
        assert manifest_status_from(berth, "127.0.0.2", repository, "v1", creds) == 200
        assert manifest_status_from(berth, "127.0.0.3", repository, "v1", creds) == 401
    finally:
        owner_api.call("DELETE", "repositories/shared/app/-/policy")


def test_new_user_has_no_rights_until_a_policy_is_attached(berth, owner, owner_api, shared, tmp_path):
    owner_api.call("POST", "iam/users", json={"userName": "ci-reader", "password": "a-long-enough-Passw0rd!"})
    reader = f"{owner.account_id}/ci-reader:a-long-enough-Passw0rd!"  # an IAM user names its account
    assert_failed_auth(pull(tmp_path, shared, reader, check=False), "a user without policies")

    owner_api.call("POST", "iam/users/ci-reader/policies", json={"policyArn": "BerthRegistryReadOnly"})
    pull(tmp_path, shared, reader)
    pushed = copy(
        tmp_path,
        f"docker://{shared}",
        f"docker://{shared.rsplit(':', 1)[0]}:by-reader",
        src_creds=reader,
        dest_creds=reader,
        check=False,
    )
    assert_failed_auth(pushed, "read-only user pushing")


def test_role_session_pulls_and_the_trail_names_the_session(berth, owner, owner_api, shared, image, tmp_path):
    owner_api.call(
        "POST",
        "iam/roles",
        json={
            "roleName": "deployer",
            "assumeRolePolicyDocument": policy(
                {"Effect": "Allow", "Principal": {"AWS": arn("root", owner.account_id)}, "Action": "sts:AssumeRole"}
            ),
        },
    )
    owner_api.call("POST", "iam/roles/deployer/policies", json={"policyArn": "BerthRegistryReadOnly"})
    assumed = owner_api.call(
        "POST",
        "sts/assume-role",
        json={
            "roleArn": arn("role", owner.account_id, "deployer"),
            "roleSessionName": "release-42",
            "durationSeconds": 900,
        },
    )
    credentials = assumed["credentials"]
    session_api = Api(berth, credentials["accessKeyId"], credentials["secretAccessKey"], credentials["sessionToken"])
    identity = session_api.call("GET", "sts/caller-identity")
    assert identity["arn"] == f"arn:berth:sts::{owner.account_id}:assumed-role/deployer/release-42"

    # docker login's way: GetAuthorizationToken with the session's credentials, then AWS:<password>.
    pull(tmp_path, shared, f"AWS:{session_api.login_password()}")
    # Or the temporary key id and the session token straight at the token service.
    pull(tmp_path, shared, f"{credentials['accessKeyId']}:{credentials['sessionToken']}")

    events = wait_for_events(owner_api, event_name="BatchGetImage", principal=identity["arn"])
    assert events[0]["userIdentity"]["type"] == "AssumedRole"
    assert events[0]["userIdentity"]["arn"].endswith("assumed-role/deployer/release-42")
    assert events[0]["sourceIPAddress"] == "127.0.0.1"
    assert events[0]["requestParameters"]["repositoryName"] == "shared/app"

    # The session's role may read but not write.
    refused = copy(
        tmp_path,
        f"oci:{image.path}:{image.tag}",
        f"docker://{shared.rsplit(':', 1)[0]}:by-role",
        dest_creds=f"AWS:{session_api.login_password()}",
        check=False,
    )
    assert_failed_auth(refused, "read-only role pushing")
    # Its layers are in the repository already, so skopeo's first write is the manifest.
    denied = wait_for_events(owner_api, event_name="PutImage", principal=identity["arn"])
    assert denied[0]["errorCode"] == "AccessDenied"
    assert denied[0]["requestParameters"]["imageTag"] == "by-role"


def test_tag_move_shows_the_old_and_new_digest(berth, owner, owner_api, tmp_path):
    first = I.build_oci_image(tmp_path / "first", tag="v1")
    second = I.build_oci_image(tmp_path / "second", tag="v1")
    ref = f"{berth.host}/{owner.account_id}/moving:stable"
    copy(tmp_path, f"oci:{first.path}:v1", f"docker://{ref}", dest_creds=owner.creds)
    copy(tmp_path, f"oci:{second.path}:v1", f"docker://{ref}", dest_creds=owner.creds)
    assert remote_digest(tmp_path, ref, owner.creds) == second.manifest_digest

    history = owner_api.call("GET", "audit/tag-history", params={"repository": "moving", "tag": "stable"})
    moves = history["history"]
    assert [m["imageDigest"] for m in moves][:2] == [second.manifest_digest, first.manifest_digest]
    assert moves[0]["previousImageDigest"] == first.manifest_digest
    assert not moves[1].get("previousImageDigest")


def test_audit_chain_verifies_and_breaks_when_a_row_is_altered(berth, owner, owner_api, shared, tmp_path):
    pull(tmp_path, shared, owner.creds)
    wait_for_events(owner_api, event_name="BatchGetImage", repository="shared/app")
    intact = berth.cli("verify_audit_chain")
    assert "intact" in intact.stdout, intact.stdout

    altered = berth.cli(
        "shell",
        "-c",
        (
            "from apps.audit.models import Event; "
            "e = Event.objects.filter(event_name='BatchGetImage').order_by('sequence').first(); "
            "Event.objects.filter(pk=e.pk).update(source_ip='203.0.113.9'); print(e.sequence)"
        ),
    )
    sequence = altered.stdout.strip().splitlines()[-1]
    broken = berth.cli("verify_audit_chain", check=False)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert sequence in broken.stdout + broken.stderr
