"""IAM and STS through the management API: repository policies, users, policies,
roles, AssumeRole and its temporary credentials (API, /token), GetCallerIdentity
and the simulator."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.conftest import basic_auth
from apps.iam import services
from apps.iam.models import RoleSession
from apps.repositories import services as repository_services

pytestmark = pytest.mark.django_db


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def signed(access_key_id: str, secret: str, session_token: str | None = None) -> APIClient:
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": basic_auth(access_key_id, secret)}
    if session_token is not None:
        headers["HTTP_X_BERTH_SECURITY_TOKEN"] = session_token
    client.credentials(**headers)
    return client


def user_client(user_name: str) -> APIClient:
    new_key = account_services.create_access_key(
        actor=Actor.system("test"), user=get_user_model().objects.get(membership__user_name=user_name)
    )
    return signed(new_key.access_key.access_key_id, new_key.secret)


@pytest.fixture
def root(api_client, tenant):
    return api_client(tenant)


def _role(root, name="Deployer", trust=None, **extra):
    response = root.post(
        "/api/v1/iam/roles",
        {
            "roleName": name,
            "assumeRolePolicyDocument": trust
            or document({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
            **extra,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def _assume(client, role_arn, **extra):
    return client.post(
        "/api/v1/sts/assume-role", {"roleArn": role_arn, "roleSessionName": "ci-run", **extra}, format="json"
    )


# -- repository policies -----------------------------------------------------------


def test_repository_policy_set_get_delete(root, tenant, other_tenant):
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="team/app")
    url = "/api/v1/repositories/team/app/-/policy"
    missing = root.get(url)
    assert missing.status_code == 404 and missing.json()["code"] == "repository_policy_not_found"
    text = document(
        {
            "Sid": "CrossAccountPull",
            "Effect": "Allow",
            "Principal": {"AWS": other_tenant.id},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    )
    response = root.put(url, {"policyText": text}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"registryId": tenant.id, "repositoryName": "team/app", "policyText": text}
    assert root.get(url).json()["policyText"] == text
    assert root.delete(url).json()["policyText"] == text
    assert root.get(url).status_code == 404
    assert root.delete(url).status_code == 404


def test_a_refused_repository_policy_names_the_statement(root, tenant):
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="app")
    text = document(
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"},
        {"Sid": "Ghost", "Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "ecr:BatchGetImage"},
    )
    response = root.put("/api/v1/repositories/app/-/policy", {"policyText": text}, format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "policyText" and error["code"] == "policy_invalid"
    assert error["message"] == "Statement 2 (Sid \"Ghost\"): principal '123456789012' does not exist"


def test_another_accounts_repository_policy_is_not_found(api_client, tenant, other_tenant):
    repository_services.create_repository(actor=Actor.system("test"), account=other_tenant.account, name="secret")
    assert api_client(tenant).get("/api/v1/repositories/secret/-/policy").status_code == 404


# -- users and policies --------------------------------------------------------------


def test_users_lifecycle(root, tenant):
    created = root.post("/api/v1/iam/users", {"userName": "builder"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["arn"] == f"arn:berth:iam::{tenant.id}:user/builder" and not created.json()["isRoot"]
    listed = root.get("/api/v1/iam/users").json()["users"]
    assert {(u["userName"], u["isRoot"]) for u in listed} == {(tenant.username, True), ("builder", False)}
    assert (
        root.post("/api/v1/iam/users", {"userName": "builder"}, format="json").json()["code"] == "entity_already_exists"
    )
    bad = root.post("/api/v1/iam/users", {"userName": "bad name"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "userName"
    key = root.post("/api/v1/iam/users/builder/access-keys")
    assert key.status_code == 201 and key.json()["accessKeyId"].startswith("BKIA")
    root_delete = root.delete(f"/api/v1/iam/users/{tenant.username}")
    assert root_delete.status_code == 409 and root_delete.json()["code"] == "delete_conflict"
    assert root.delete("/api/v1/iam/users/builder").status_code == 204
    assert root.get("/api/v1/iam/users/builder").status_code == 404


def test_a_new_user_may_do_nothing_until_a_policy_is_attached(root, tenant):
    root.post("/api/v1/iam/users", {"userName": "dev"}, format="json")
    dev = user_client("dev")
    refused = dev.get("/api/v1/iam/users")
    assert refused.status_code == 403 and refused.json()["code"] == "access_denied"
    assert "iam:ListUsers" in refused.json()["detail"]
    policy_text = document({"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"})
    created = root.post("/api/v1/iam/policies", {"policyName": "IamRead", "policyDocument": policy_text}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["arn"] == f"arn:berth:iam::{tenant.id}:policy/IamRead"
    attached = root.post("/api/v1/iam/users/dev/policies", {"policyArn": created.json()["arn"]}, format="json")
    assert attached.status_code == 201
    assert [p["policyName"] for p in attached.json()["attachedPolicies"]] == ["IamRead"]
    assert dev.get("/api/v1/iam/users").status_code == 200
    assert dev.post("/api/v1/iam/users", {"userName": "sneaky"}, format="json").status_code == 403


def test_policies_list_get_delete(root, tenant):
    names = [p["policyName"] for p in root.get("/api/v1/iam/policies").json()["policies"]]
    assert names[:3] == ["BerthRegistryFullAccess", "BerthRegistryPowerUser", "BerthRegistryReadOnly"]
    builtin = root.get("/api/v1/iam/policies/BerthRegistryReadOnly").json()
    assert builtin["isBuiltin"] and "ecr:BatchGetImage" in builtin["policyDocument"]
    bad = root.post(
        "/api/v1/iam/policies",
        {
            "policyName": "Bad",
            "policyDocument": document({"Sid": "Oops", "Effect": "Allow", "Action": "ecr:Teleport", "Resource": "*"}),
        },
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["message"] == "Statement 1 (Sid \"Oops\"): unknown action 'ecr:Teleport'"
    root.post(
        "/api/v1/iam/policies",
        {"policyName": "Mine", "policyDocument": document({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"})},
        format="json",
    )
    root.post("/api/v1/iam/users", {"userName": "dev"}, format="json")
    root.post("/api/v1/iam/users/dev/policies", {"policyArn": "Mine"}, format="json")
    in_use = root.delete("/api/v1/iam/policies/Mine")
    assert in_use.status_code == 409 and "still attached" in in_use.json()["detail"]
    assert root.delete("/api/v1/iam/users/dev/policies/Mine").status_code == 204
    assert root.delete("/api/v1/iam/users/dev/policies/Mine").status_code == 404
    assert root.delete("/api/v1/iam/policies/Mine").status_code == 204
    assert root.delete("/api/v1/iam/policies/BerthRegistryReadOnly").status_code == 409


def test_attach_by_aws_name_and_detach_by_arn(root, tenant, other_tenant):
    root.post("/api/v1/iam/users", {"userName": "dev"}, format="json")
    attached = root.post(
        "/api/v1/iam/users/dev/policies",
        {"policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"},
        format="json",
    )
    assert attached.json()["attachedPolicies"] == [
        {"policyName": "BerthRegistryReadOnly", "policyArn": "arn:berth:iam::berth:policy/BerthRegistryReadOnly"}
    ]
    foreign = root.post(
        "/api/v1/iam/users/dev/policies",
        {"policyArn": f"arn:berth:iam::{other_tenant.id}:policy/Theirs"},
        format="json",
    )
    assert foreign.status_code == 400 and "another account" in foreign.json()["detail"]
    detached = root.delete("/api/v1/iam/users/dev/policies/arn:berth:iam::berth:policy/BerthRegistryReadOnly")
    assert detached.status_code == 204
    assert root.get("/api/v1/iam/users/dev/policies").json()["attachedPolicies"] == []


# -- roles, AssumeRole and temporary credentials ------------------------------------------


def test_roles_lifecycle(root, tenant):
    role = _role(root, maxSessionDuration=7200)
    assert role["arn"] == f"arn:berth:iam::{tenant.id}:role/Deployer" and role["maxSessionDuration"] == 7200
    assert [r["roleName"] for r in root.get("/api/v1/iam/roles").json()["roles"]] == ["Deployer"]
    bad_trust = root.put(
        "/api/v1/iam/roles/Deployer/trust-policy",
        {
            "policyDocument": document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:berth:iam::{tenant.id}:user/ghost"},
                    "Action": "sts:AssumeRole",
                }
            )
        },
        format="json",
    )
    assert bad_trust.status_code == 400 and "user/ghost' does not exist" in bad_trust.json()["detail"]
    new_trust = document({"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"})
    updated = root.put("/api/v1/iam/roles/Deployer/trust-policy", {"policyDocument": new_trust}, format="json")
    assert (
        updated.status_code == 200
        and root.get("/api/v1/iam/roles/Deployer").json()["assumeRolePolicyDocument"] == new_trust
    )
    assert (
        root.post(
            "/api/v1/iam/roles/Deployer/policies", {"policyArn": "BerthRegistryPowerUser"}, format="json"
        ).status_code
        == 201
    )
    assert (
        root.get("/api/v1/iam/roles/Deployer/policies").json()["attachedPolicies"][0]["policyName"]
        == "BerthRegistryPowerUser"
    )
    assert root.delete("/api/v1/iam/roles/Deployer/policies/BerthRegistryPowerUser").status_code == 204
    assert root.delete("/api/v1/iam/roles/Deployer").status_code == 204
    assert root.get("/api/v1/iam/roles/Deployer").status_code == 404


def test_temporary_credentials_sign_api_requests(root, tenant):
    role = _role(root)
    root.post("/api/v1/iam/roles/Deployer/policies", {"policyArn": "BerthRegistryReadOnly"}, format="json")
    assumed = _assume(root, role["arn"], durationSeconds=900)
    assert assumed.status_code == 200, assumed.content
    credentials = assumed.json()["credentials"]
    assert assumed.json()["assumedRoleUser"]["arn"] == f"arn:berth:sts::{tenant.id}:assumed-role/Deployer/ci-run"
    session = signed(credentials["accessKeyId"], credentials["secretAccessKey"], credentials["sessionToken"])
    identity = session.get("/api/v1/sts/caller-identity")
    assert identity.status_code == 200, identity.content
    assert identity.json()["arn"] == f"arn:berth:sts::{tenant.id}:assumed-role/Deployer/ci-run"
    assert identity.json()["account"] == tenant.id
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="app")
    assert session.get("/api/v1/repositories/app/-/policy").status_code == 404  # allowed, and there is none
    assert session.put("/api/v1/repositories/app/-/policy", {"policyText": "{}"}, format="json").status_code == 403

    no_token = signed(credentials["accessKeyId"], credentials["secretAccessKey"]).get("/api/v1/sts/caller-identity")
    assert no_token.status_code == 401 and "X-Berth-Security-Token" in no_token.json()["detail"]
    wrong_secret = signed(credentials["accessKeyId"], "nope", credentials["sessionToken"]).get(
        "/api/v1/sts/caller-identity"
    )
    assert wrong_secret.status_code == 401
    RoleSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = session.get("/api/v1/sts/caller-identity")
    assert expired.status_code == 401 and "session has ended" in expired.json()["detail"]


def test_assume_role_errors(root, tenant, other_tenant, api_client):
    role = _role(root, trust=document({"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"}))
    outsider = api_client(other_tenant)
    refused = _assume(outsider, role["arn"])
    assert refused.status_code == 403 and refused.json()["code"] == "access_denied"
    assert _assume(root, "arn:berth:s3:::bucket").status_code == 400
    too_long = _assume(root, role["arn"], durationSeconds=7200)
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "durationSeconds"
    assert APIClient().post(
        "/api/v1/sts/assume-role", {"roleArn": role["arn"], "roleSessionName": "x1"}, format="json"
    ).status_code in (401, 403)


def test_across_accounts_assume_role_answers_alike_whether_the_role_exists_or_not(root, tenant, other_tenant):
    _role(
        root,
        name="Deployer",
        trust=document({"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"}),
    )
    _role(
        root,
        name="Partner",
        trust=document({"Effect": "Allow", "Principal": {"AWS": other_tenant.id}, "Action": "sts:AssumeRole"}),
    )
    outsider = services.create_user(actor=Actor.system("test"), account=other_tenant.account, username="ci")
    assume_any = services.create_policy(
        actor=Actor.system("test"),
        account=other_tenant.account,
        name="AssumeAny",
        document=document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    services.attach_policy(
        actor=Actor.system("test"), account=other_tenant.account, managed_policy=assume_any, user=outsider
    )
    ci = user_client("ci")
    services.create_user(actor=Actor.system("test"), account=other_tenant.account, username="bare")  # no policy at all
    arn = f"arn:berth:iam::{tenant.id}:role/{{}}"

    def refusal(client, role_name: str, **extra) -> tuple[int, dict]:
        response = _assume(client, arn.format(role_name), **extra)
        return response.status_code, {**response.json(), "detail": response.json()["detail"].replace(role_name, "R")}

    _assume(ci, arn.format("Warm-up"))  # the key's first use is recorded: not part of what is compared
    with CaptureQueriesContext(connection) as existing:
        not_trusted = refusal(ci, "Deployer")
    with CaptureQueriesContext(connection) as missing:
        not_there = refusal(ci, "Ghost")
    assert (
        not_trusted
        == not_there
        == (
            403,
            {
                "code": "access_denied",
                "detail": f"arn:berth:iam::{other_tenant.id}:user/ci is not authorized to perform sts:AssumeRole on "
                f"arn:berth:iam::{tenant.id}:role/R",
            },
        )
    )
    # The same steps either way: a role that is not there is still evaluated.
    assert len(existing.captured_queries) == len(missing.captured_queries)
    # Nor does a duration past the role's maximum, or which side of a trust refused, tell more.
    assert refusal(ci, "Deployer", durationSeconds=7200) == not_there
    bare = user_client("bare")
    assert refusal(bare, "Partner") == refusal(bare, "Ghost")


def test_a_session_login_password_works_at_the_token_service(root, tenant):
    role = _role(root)
    root.post("/api/v1/iam/roles/Deployer/policies", {"policyArn": "BerthRegistryReadOnly"}, format="json")
    credentials = _assume(root, role["arn"], durationSeconds=900).json()["credentials"]
    session = signed(credentials["accessKeyId"], credentials["secretAccessKey"], credentials["sessionToken"])
    token = session.post("/api/v1/authorization-token")
    assert token.status_code == 200, token.content
    password = token.json()["password"]
    expires = timezone.datetime.fromisoformat(token.json()["expiresAt"].replace("Z", "+00:00"))
    assert expires <= timezone.now() + timedelta(seconds=901)
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="app")
    registry = Client()
    for username, secret in (("AWS", password), (credentials["accessKeyId"], credentials["sessionToken"])):
        auth = "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
        response = registry.get(
            f"/token?service=berth-registry&scope=repository:{tenant.id}/app:pull,delete", HTTP_AUTHORIZATION=auth
        )
        assert response.status_code == 200, response.content
        claims = json.loads(base64.urlsafe_b64decode(response.json()["token"].split(".")[1] + "=="))
        assert claims["access"] == [{"type": "repository", "name": f"{tenant.id}/app", "actions": ["pull"]}]
    # A session's login password does not sign API requests, and dies with the session.
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {password}")
    assert bearer.get("/api/v1/repositories").status_code == 401
    RoleSession.objects.all().delete()
    auth = "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()
    ended = registry.get("/token?service=berth-registry", HTTP_AUTHORIZATION=auth)
    assert ended.status_code == 401 and b"role session has ended" in ended.content


def test_caller_identity_of_root_and_user(root, tenant):
    assert root.get("/api/v1/sts/caller-identity").json() == {
        "account": tenant.id,
        "arn": f"arn:berth:iam::{tenant.id}:root",
        "userId": tenant.id,
    }


# -- the simulator ----------------------------------------------------------------------


def test_simulator_names_the_deciding_statement(root, tenant):
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="app")
    root.post("/api/v1/iam/users", {"userName": "dev"}, format="json")
    root.post(
        "/api/v1/iam/policies",
        {
            "policyName": "PullFromOffice",
            "policyDocument": document(
                {
                    "Sid": "Pull",
                    "Effect": "Allow",
                    "Action": "ecr:BatchGetImage",
                    "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                },
                {"Sid": "NoDelete", "Effect": "Deny", "Action": "ecr:BatchDeleteImage", "Resource": "*"},
            ),
        },
        format="json",
    )
    root.post("/api/v1/iam/users/dev/policies", {"policyArn": "PullFromOffice"}, format="json")
    repository_arn = f"arn:aws:ecr:local:{tenant.id}:repository/app"
    body = {
        "principalArn": f"arn:berth:iam::{tenant.id}:user/dev",
        "resourceArn": repository_arn,
        "actions": ["ecr:BatchGetImage", "ecr:BatchDeleteImage", "ecr:PutImage"],
        "sourceIp": "10.1.2.3",
    }
    results = root.post("/api/v1/iam/simulate", body, format="json").json()["results"]
    assert [(r["action"], r["decision"]) for r in results] == [
        ("ecr:BatchGetImage", "allowed"),
        ("ecr:BatchDeleteImage", "explicit_deny"),
        ("ecr:PutImage", "implicit_deny"),
    ]
    assert results[0]["matchedStatements"] == [{"policy": "PullFromOffice", "sid": "Pull", "index": 1}]
    assert results[1]["matchedStatements"] == [{"policy": "PullFromOffice", "sid": "NoDelete", "index": 2}]
    outside = root.post(
        "/api/v1/iam/simulate", {**body, "sourceIp": "192.0.2.1", "actions": ["ecr:BatchGetImage"]}, format="json"
    ).json()["results"][0]
    assert outside["decision"] == "implicit_deny"
    # The repository policy of the account's repository takes part.
    root.put(
        "/api/v1/repositories/app/-/policy",
        {
            "policyText": document(
                {
                    "Sid": "DevPush",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:berth:iam::{tenant.id}:user/dev"},
                    "Action": "ecr:PutImage",
                }
            )
        },
        format="json",
    )
    push = root.post("/api/v1/iam/simulate", {**body, "actions": ["ecr:PutImage"]}, format="json").json()["results"][0]
    assert push["decision"] == "allowed"
    assert push["matchedStatements"] == [{"policy": "repository policy", "sid": "DevPush", "index": 1}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"actions": ["ecr:Teleport"]}, "unknown action 'ecr:Teleport'"),
        ({"resourceArn": "arn:berth"}, "resourceArn: 'arn:berth' is not an ARN"),
        ({"principalArn": "nope"}, "principalArn: 'nope' is not an ARN"),
        ({"principalArn": "arn:berth:iam::999999999999:root"}, "is not a principal of account"),
        ({"principalArn": "ROLE/Ghost"}, "has no such role"),
    ],
)
def test_simulator_refuses_what_it_cannot_read(root, tenant, change, message):
    body = {"principalArn": f"arn:berth:iam::{tenant.id}:root", "actions": ["ecr:BatchGetImage"], "resourceArn": "*"}
    if change.get("principalArn") == "ROLE/Ghost":
        change = {"principalArn": f"arn:berth:iam::{tenant.id}:role/Ghost"}
    response = root.post("/api/v1/iam/simulate", {**body, **change}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "simulation_invalid"
    assert message in response.json()["detail"]


def test_simulating_a_role_uses_its_policies(root, tenant):
    role = _role(root)
    root.post("/api/v1/iam/roles/Deployer/policies", {"policyArn": "BerthRegistryPowerUser"}, format="json")
    results = root.post(
        "/api/v1/iam/simulate",
        {
            "principalArn": role["arn"],
            "actions": ["ecr:PutImage", "ecr:BatchDeleteImage"],
            "resourceArn": f"arn:berth:ecr:local:{tenant.id}:repository/app",
        },
        format="json",
    ).json()["results"]
    assert [r["decision"] for r in results] == ["allowed", "implicit_deny"]
    assert results[0]["matchedStatements"][0]["policy"] == "BerthRegistryPowerUser"


def test_a_role_with_a_path_is_authorized_on_its_full_arn(root, tenant):
    role = _role(root, name="Builder", path="/ci/")
    assert role["arn"] == f"arn:berth:iam::{tenant.id}:role/ci/Builder"
    root.post("/api/v1/iam/users", {"userName": "ops"}, format="json")
    root.post(
        "/api/v1/iam/policies",
        {
            "policyName": "CiRoles",
            "policyDocument": document(
                {"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"arn:berth:iam::{tenant.id}:role/ci/*"}
            ),
        },
        format="json",
    )
    root.post("/api/v1/iam/users/ops/policies", {"policyArn": "CiRoles"}, format="json")
    ops = user_client("ops")
    assert ops.get("/api/v1/iam/roles/Builder").json()["assumeRolePolicyDocument"]
    _role(root, name="Other")
    assert ops.get("/api/v1/iam/roles/Other").status_code == 403
