"""Registry actions decided by IAM policies: the token service grants what the
policies allow, and each /v2/ request decides its own ECR action again."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.conftest import PASSWORD, RegistryClient
from apps.iam import enforcement, selectors, services
from apps.iam.callers import Caller
from apps.repositories import services as repository_services
from apps.repositories.models import Repository

pytestmark = pytest.mark.django_db
OCI = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(*actions: str, resource: str = "*", **extra) -> dict:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource, **extra}


def deny(*actions: str, resource: str = "*") -> dict:
    return {"Effect": "Deny", "Action": list(actions), "Resource": resource}


def iam_user(tenant, name: str, *policies: str):
    """A new IAM user of the tenant's account with a password and the given policies:
    built-in names, or documents (JSON text) made into customer managed policies."""
    user = services.create_user(
        actor=Actor.system("test"),
        account=tenant.account,
        username=f"{name}-{os.getpid()}-{tenant.id}",
        password=PASSWORD,
    )
    for index, given in enumerate(policies):
        if given.startswith("{"):
            managed = services.create_policy(
                actor=Actor.system("test"), account=tenant.account, name=f"{name}-{index}", document=given
            )
        else:
            managed = selectors.policy_named(tenant.account, given)
        services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=managed, user=user)
    return user


def client_of(user) -> RegistryClient:
    return RegistryClient((user.get_username(), PASSWORD))


def pushed_manifest(client: RegistryClient, name: str, tag: str) -> str:
    digest, _ = client.push_image(name, tag, seed=tag.encode())
    return digest


@pytest.fixture
def repo(tenant, registry_client):
    """tenant's private repository `app`, with tags v1 and doomed (to delete)."""
    root = registry_client(tenant)
    name = f"{tenant.id}/app"
    pushed_manifest(root, name, "v1")
    pushed_manifest(root, name, "doomed")
    return name


def can_pull(client: RegistryClient, name: str) -> bool:
    return client.request("GET", f"/v2/{name}/manifests/v1", scope=f"repository:{name}:pull").status_code == 200


def can_push(client: RegistryClient, name: str) -> bool:
    data = os.urandom(64)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    response = client.request(
        "POST", f"/v2/{name}/blobs/uploads/?digest={digest}", scope=f"repository:{name}:pull,push", data=data
    )
    return response.status_code == 201


def can_delete(client: RegistryClient, name: str) -> bool:
    return (
        client.request("DELETE", f"/v2/{name}/manifests/doomed", scope=f"repository:{name}:delete").status_code == 202
    )


@pytest.mark.parametrize(
    ("policies", "pull", "push", "delete"),
    [
        (None, True, True, True),  # the account's root user
        ((), False, False, False),
        (("BerthRegistryReadOnly",), True, False, False),
        (("BerthRegistryPowerUser",), True, True, False),
        (("BerthRegistryFullAccess",), True, True, True),
        (("AmazonEC2ContainerRegistryFullAccess", document(deny("ecr:BatchGetImage"))), False, True, True),
        (
            (
                document(
                    allow("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", resource="arn:aws:ecr:*:*:repository/app")
                ),
            ),
            True,
            False,
            False,
        ),
        ((document(allow("ecr:*", resource="arn:berth:ecr:local:*:repository/other")),), False, False, False),
    ],
    ids=[
        "root",
        "new-user",
        "read-only",
        "power-user",
        "full-access",
        "explicit-deny-wins",
        "arn-aws-pasted",
        "another-repository-only",
    ],
)
def test_what_each_principal_may_do(tenant, repo, registry_client, policies, pull, push, delete):
    client = registry_client(tenant) if policies is None else client_of(iam_user(tenant, "dev", *policies))
    assert (can_pull(client, repo), can_push(client, repo), can_delete(client, repo)) == (pull, push, delete)


def test_a_token_grants_only_the_scope_actions_the_policies_allow(tenant, repo):
    client = client_of(iam_user(tenant, "reader", document(allow("ecr:BatchGetImage"))))
    token = client.token(f"repository:{repo}:pull,push,delete")
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["access"] == [{"type": "repository", "name": repo, "actions": ["pull"]}]
    assert payload["berth:principal"]["type"] == "user"


def test_a_request_decides_its_own_action_not_just_the_scope(tenant, repo):
    """The pull scope covers BatchGetImage and GetDownloadUrlForLayer: a policy
    allowing only manifests leaves layers refused with DENIED."""
    client = client_of(iam_user(tenant, "manifests", document(allow("ecr:BatchGetImage"))))
    token = client.token(f"repository:{repo}:pull")
    manifest = json.loads(client.request("GET", f"/v2/{repo}/manifests/v1", token=token, headers=OCI).content)
    response = client.request("GET", f"/v2/{repo}/blobs/{manifest['layers'][0]['digest']}", token=token)
    assert response.status_code == 403
    error = json.loads(response.content)["errors"][0]
    assert error["code"] == "DENIED" and "ecr:GetDownloadUrlForLayer" in error["message"]


def test_read_only_users_get_no_push_token(tenant, repo):
    """ReadOnly allows BatchCheckLayerAvailability, one of push's ECR actions, but
    not a write: the token holds pull only, and an upload gets the challenge."""
    client = client_of(iam_user(tenant, "reader", "BerthRegistryReadOnly"))
    token = client.token(f"repository:{repo}:pull,push")
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["access"] == [{"type": "repository", "name": repo, "actions": ["pull"]}]
    response = client.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_policy_changes_apply_to_tokens_already_issued(tenant, repo):
    user = iam_user(tenant, "dev", "BerthRegistryReadOnly")
    client = client_of(user)
    token = client.token(f"repository:{repo}:pull")
    assert client.request("GET", f"/v2/{repo}/manifests/v1", token=token).status_code == 200
    services.detach_policy(
        actor=Actor.system("test"),
        managed_policy=selectors.policy_named(tenant.account, "BerthRegistryReadOnly"),
        user=user,
    )
    assert client.request("GET", f"/v2/{repo}/manifests/v1", token=token).status_code == 403


def test_pushing_to_a_missing_repository_needs_create_repository(tenant):
    name = f"{tenant.id}/brand-new"
    pusher = client_of(iam_user(tenant, "pusher", "BerthRegistryPowerUser"))
    assert not can_push(pusher, name)
    assert not Repository.objects.filter(name="brand-new").exists()
    creator = client_of(iam_user(tenant, "creator", "BerthRegistryPowerUser", document(allow("ecr:CreateRepository"))))
    assert can_push(creator, name)
    assert Repository.objects.filter(account=tenant.account, name="brand-new").exists()


def test_members_learn_that_their_repository_is_missing(tenant):
    reader = client_of(iam_user(tenant, "reader", "BerthRegistryReadOnly"))
    name = f"{tenant.id}/nothing-here"
    response = reader.request("GET", f"/v2/{name}/manifests/v1", scope=f"repository:{name}:pull")
    assert (response.status_code, json.loads(response.content)["errors"][0]["code"]) == (404, "NAME_UNKNOWN")


# -- repository policies ------------------------------------------------------------------


def set_policy(tenant, name: str, *statements: dict) -> None:
    repository = Repository.objects.get(account=tenant.account, name=name)
    services.set_repository_policy(actor=Actor.system("test"), repository=repository, document=document(*statements))


def grant(principal, *actions: str, **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": list(actions), **extra}


PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def test_a_repository_policy_granting_a_user_of_the_same_account_suffices(tenant, repo):
    user = iam_user(tenant, "guest")
    client = client_of(user)
    assert not can_pull(client, repo)
    set_policy(
        tenant, "app", grant({"AWS": selectors.user_arn(tenant.account, user.membership.user_name)}, *PULL_ACTIONS)
    )
    assert can_pull(client, repo)
    assert not can_push(client, repo)


def normalise(response, name: str) -> tuple:
    challenge = response.get("WWW-Authenticate", "").replace(name, "<name>")
    return response.status_code, response.content.replace(name.encode(), b"<name>"), challenge


def outsider_answers(client: RegistryClient, tenant, name: str) -> list[tuple]:
    """The answers to a pull of ``name`` and of a repository that does not exist."""
    answers = []
    for target in (name, f"{tenant.id}/does-not-exist"):
        token = client.token(f"repository:{target}:pull")
        answers.append(normalise(client.request("GET", f"/v2/{target}/manifests/v1", token=token), target))
    return answers


@pytest.mark.parametrize(
    ("repository_grant", "identity_grant", "pulls"),
    [
        (True, True, True),
        (True, False, False),
        (False, True, False),
    ],
)
def test_cross_account_pull_needs_both_sides(tenant, other_tenant, repo, repository_grant, identity_grant, pulls):
    bob = iam_user(other_tenant, "bob", *(["BerthRegistryReadOnly"] if identity_grant else []))
    if repository_grant:
        set_policy(tenant, "app", grant({"AWS": other_tenant.id}, *PULL_ACTIONS))
    client = client_of(bob)
    assert can_pull(client, repo) is pulls
    if not pulls:
        private, missing = outsider_answers(client, tenant, repo)
        assert private == missing and private[0] == 401


def test_a_cross_account_grant_lists_the_repository_in_the_catalog(tenant, other_tenant, repo):
    bob = client_of(iam_user(other_tenant, "bob", "BerthRegistryReadOnly"))

    def catalog() -> list[str]:
        return bob.request("GET", "/v2/_catalog", scope="registry:catalog:*").json()["repositories"]

    assert repo not in catalog()
    set_policy(tenant, "app", grant({"AWS": other_tenant.id}, "ecr:DescribeRepositories", *PULL_ACTIONS))
    assert repo in catalog()


def test_catalog_of_an_iam_user_lists_what_it_may_describe(tenant, repo, registry_client):
    pushed_manifest(registry_client(tenant), f"{tenant.id}/hidden", "v1")
    limited = client_of(
        iam_user(
            tenant,
            "limited",
            document(allow("ecr:DescribeRepositories", resource=enforcement.repository_arn(tenant.id, "app"))),
        )
    )
    response = limited.request("GET", "/v2/_catalog?n=1", scope="registry:catalog:*")
    assert response.json()["repositories"] == [repo]
    nobody = client_of(iam_user(tenant, "nobody"))
    assert nobody.request("GET", "/v2/_catalog", scope="registry:catalog:*").json()["repositories"] == []


def test_principal_star_lets_any_authenticated_principal_pull_but_never_anonymous(
    tenant, other_tenant, repo, registry_client
):
    set_policy(tenant, "app", grant("*", *PULL_ACTIONS))
    assert can_pull(registry_client(other_tenant), repo)  # another account's root: its identity allows
    anonymous = registry_client(None)
    assert not can_pull(anonymous, repo)
    private, missing = outsider_answers(anonymous, tenant, repo)
    assert private == missing and private[0] == 401


def test_a_cross_account_mount_needs_pull_on_the_source(tenant, other_tenant, repo, registry_client):
    layer = json.loads(
        registry_client(tenant)
        .request("GET", f"/v2/{repo}/manifests/v1", scope=f"repository:{repo}:pull", headers=OCI)
        .content
    )["layers"][0]["digest"]
    mallory = registry_client(other_tenant)
    target = f"{other_tenant.id}/copy"

    def mount():
        token = mallory.token(f"repository:{target}:pull,push", f"repository:{repo}:pull")
        return mallory.request("POST", f"/v2/{target}/blobs/uploads/?mount={layer}&from={repo}", token=token)

    assert mount().status_code == 202  # an ordinary upload instead
    set_policy(tenant, "app", grant({"AWS": other_tenant.id}, *PULL_ACTIONS))
    assert mount().status_code == 201


# -- conditions -------------------------------------------------------------------------


def pull_from(client: RegistryClient, name: str, address: str) -> int:
    auth = base64.b64encode(f"{client.credentials[0]}:{client.credentials[1]}".encode()).decode()
    response = client.client.get(
        f"/token?service=berth-registry&scope=repository:{name}:pull",
        HTTP_AUTHORIZATION=f"Basic {auth}",
        REMOTE_ADDR=address,
    )
    token = response.json()["token"]
    return client.client.get(
        f"/v2/{name}/manifests/v1", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address
    ).status_code


def test_a_source_ip_condition_admits_one_address_and_refuses_another(tenant, repo):
    office = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    client = client_of(iam_user(tenant, "office", document(allow(*PULL_ACTIONS, Condition=office))))
    assert pull_from(client, repo, "203.0.113.7") == 200
    assert pull_from(client, repo, "198.51.100.7") == 401


def test_a_resource_tag_condition_reads_the_repository_tags(tenant, repo):
    team = {"StringEquals": {"aws:ResourceTag/team": "web"}}
    client = client_of(iam_user(tenant, "web", document(allow(*PULL_ACTIONS, Condition=team))))
    assert not can_pull(client, repo)
    repository_services.update_repository(
        repository=Repository.objects.get(account=tenant.account, name="app"),
        resource_tags={"team": "web"},
        actor=Actor.staff("operator"),
    )
    assert can_pull(client, repo)


# -- role sessions -----------------------------------------------------------------------


def assume(tenant, *policies: str, duration: int = 3600):
    role = services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="puller",
        trust_policy=document(grant({"AWS": tenant.id}, "sts:AssumeRole")),
    )
    for name in policies:
        services.attach_policy(
            actor=Actor.system("test"),
            account=tenant.account,
            managed_policy=selectors.policy_named(tenant.account, name),
            role=role,
        )
    root = get_user_model().objects.get(username=tenant.username)
    return services.assume_role(
        caller=selectors.caller_for_user(root),
        role_arn=role.arn,
        session_name="ci-job",
        duration_seconds=duration,
        source_ip="127.0.0.1",
    )


def test_a_role_session_pulls_with_the_roles_policies(tenant, repo, settings):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    assumed = assume(tenant, "BerthRegistryReadOnly", duration=900)
    client = RegistryClient((assumed.session.access_key_id, assumed.session_token))
    token = client.token(f"repository:{repo}:pull,push")
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["berth:principal"]["type"] == "role-session"
    assert payload["exp"] <= assumed.expires_at.timestamp()
    assert can_pull(client, repo)
    assert not can_push(client, repo)
    event = Event.objects.filter(event_name="BatchGetImage", actor_session_name="ci-job").get()
    assert event.actor_type == "AssumedRole" and event.actor_access_key_id == assumed.session.access_key_id
    assert Event.objects.filter(
        event_name="InitiateLayerUpload", error_code="AccessDenied", actor_session_name="ci-job"
    ).exists()


def test_a_role_session_ends_its_tokens(tenant, repo):
    assumed = assume(tenant, "BerthRegistryReadOnly")
    client = RegistryClient((assumed.session.access_key_id, assumed.session_token))
    token = client.token(f"repository:{repo}:pull")
    assumed.session.delete()
    response = client.request("GET", f"/v2/{repo}/manifests/v1", token=token)
    assert response.status_code == 401 and 'error="invalid_token"' in response["WWW-Authenticate"]


# -- the audit trail and suspension ---------------------------------------------------------


def test_refusals_are_recorded_and_the_first_challenge_is_not(tenant, repo, settings):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    user = iam_user(tenant, "reader", document(allow("ecr:BatchGetImage")))
    client = client_of(user)
    mine = Event.objects.filter(actor_username=user.membership.user_name)
    client.request("GET", f"/v2/{repo}/manifests/v1")  # no token at all
    assert not mine.exists()
    token = client.token(f"repository:{repo}:pull")
    client.request("GET", f"/v2/{repo}/blobs/sha256:{'0' * 64}", token=token)
    event = mine.get()
    assert (event.event_name, event.error_code, event.actor_type) == (
        "GetDownloadUrlForLayer",
        "AccessDenied",
        "IAMUser",
    )
    assert event.recipient_account_id == tenant.id and event.repository == "app"
    assert event.actor_arn == selectors.user_arn(tenant.account, user.membership.user_name)


def test_nothing_of_a_suspended_account_is_served(tenant, repo, registry_client):
    repository_services.update_repository(
        repository=Repository.objects.get(account=tenant.account, name="app"),
        visibility="public",
        actor=Actor.staff("operator"),
    )
    public = f"{tenant.alias}/app"
    anonymous, root = registry_client(None), registry_client(tenant)
    anonymous_token = anonymous.token(f"repository:{public}:pull")
    root_token = root.token(f"repository:{repo}:pull")
    assert anonymous.request("GET", f"/v2/{public}/manifests/v1", token=anonymous_token).status_code == 200
    type(tenant.account).objects.filter(pk=tenant.id).update(suspended_at=timezone.now(), suspension_reason="abuse")
    assert anonymous.request("GET", f"/v2/{public}/manifests/v1", token=anonymous_token).status_code == 401
    # The root's token dies with its account's standing: 401, as for any revoked credential.
    response = root.request("GET", f"/v2/{repo}/manifests/v1", token=root_token)
    assert response.status_code == 401 and "suspended" in json.loads(response.content)["errors"][0]["message"]
    assert not can_pull(anonymous, public)


# -- the cost of deciding ---------------------------------------------------------------------


def policy_queries(client: RegistryClient, repo: str) -> list[str]:
    """The queries of a second manifest GET (the first warms the caches) that read
    IAM's tables or the accounts table."""
    token = client.token(f"repository:{repo}:pull")
    client.request("GET", f"/v2/{repo}/manifests/v1", token=token, headers=OCI)
    with CaptureQueriesContext(connection) as queries:
        assert client.request("GET", f"/v2/{repo}/manifests/v1", token=token, headers=OCI).status_code == 200
    return [q["sql"] for q in queries.captured_queries if "iam_" in q["sql"] or 'FROM "accounts_account"' in q["sql"]]


def test_a_root_pull_reads_no_policy(tenant, repo, registry_client):
    assert policy_queries(registry_client(tenant), repo) == []


def test_a_user_pull_reads_its_policies_and_the_repository_policy_once_each(tenant, repo):
    client = client_of(iam_user(tenant, "reader", "BerthRegistryReadOnly"))
    reads = policy_queries(client, repo)
    assert len(reads) == 2
    assert "iam_managedpolicy" in reads[0] and "iam_repositorypolicy" in reads[1]


def test_repository_arns_follow_the_settings(settings):
    assert (
        enforcement.repository_arn("123456789012", "team/app") == "arn:berth:ecr:local:123456789012:repository/team/app"
    )
    settings.BERTH_ARN_PARTITION, settings.BERTH_REGION = "acme", "eu-1"
    assert enforcement.repository_arn("123456789012", "app") == "arn:acme:ecr:eu-1:123456789012:repository/app"
    assert enforcement.repository_arn("123456789012", "app", service="ecr-public") == (
        "arn:acme:ecr-public::123456789012:repository/app"
    )


def test_root_may_act_on_its_own_account_without_a_request(tenant, repo):
    root = selectors.caller_for_user(get_user_model().objects.get(username=tenant.username))
    repository = Repository.objects.get(account=tenant.account, name="app")
    arn = enforcement.repository_arn(tenant.id, "app")
    assert enforcement.decide(root, "ecr:DeleteRepository", resource_arn=arn, repository=repository).allowed
    assert not enforcement.decide(Caller(), "ecr:BatchGetImage", resource_arn=arn, repository=repository).allowed
