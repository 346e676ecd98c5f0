"""The console's IAM pages: users, roles, managed policies and the signed-in
user's own access keys. Each write goes through the API's service and records its
audit event; bad input is a 400 with the parser's message and nothing stored; a
secret is shown once; another account's things are not found; a user without the
permission gets the 403 page; no page runs more than 10 queries, however much the
account holds."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password

from apps.accounts import login_passwords
from apps.accounts import services as account_services
from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import selectors, services
from apps.iam.models import ManagedPolicy, PolicyAttachment, Role

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
PASSWORD = "a-long-Pass-phrase-42"


def document(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(*actions, resource="*") -> dict:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource}


def trust(account_id: str) -> str:
    return document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{settings.BERTH_ARN_PARTITION}:iam::{account_id}:root"},
            "Action": "sts:AssumeRole",
        }
    )


def root_of(tenant):
    return get_user_model().objects.get(username=tenant.username)


def user_named(tenant, name):
    return selectors.user_of(tenant.account, name)


def events(name: str) -> int:
    return Event.objects.filter(event_name=name, error_code="").count()


def text(response) -> str:
    return response.content.decode()


def secret_box(response) -> str | None:
    match = re.search(r'<section class="secret-once".*?</section>', text(response), re.S)
    return match.group(0) if match else None


def shown_secret(response) -> str:
    return re.search(r'<code id="secret-value">([^<]+)</code>', text(response)).group(1)


@pytest.fixture
def spooled_reads(settings):
    """The page's own queries: the tests write each read event to the trail at once, in
    the request's queries, where a server spools it to a file for the ingester; here
    it is left out (a trail of writes only), which costs the page what spooling does:
    no query."""
    settings.BERTH_AUDIT_READ_EVENTS = False


@pytest.fixture
def member(client, tenant):
    """``member(*statements)``: the test client signed in as a new IAM user of
    ``tenant`` with a password and a policy of these statements (none: no policy)."""

    def sign_in(*statements, name="dev"):
        user = services.create_user(account=tenant.account, username=name, password=PASSWORD, actor=SYSTEM)
        if statements:
            granted = services.create_policy(
                account=tenant.account, name=f"{name}-grant", document=document(*statements), actor=SYSTEM
            )
            services.attach_policy(account=tenant.account, managed_policy=granted, user=user, actor=SYSTEM)
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def populated(tenant):
    """20 users with two keys and two policies each, 20 roles with a policy each, 22 own policies."""
    account = tenant.account
    own = [
        services.create_policy(account=account, name=f"policy-{n:02}", document=document(allow("ecr:*")), actor=SYSTEM)
        for n in range(22)
    ]
    builtin = ManagedPolicy.objects.filter(account__isnull=True).first()
    for n in range(20):
        user = services.create_user(account=account, username=f"user-{n:02}", password=PASSWORD, actor=SYSTEM)
        for _ in range(2):
            account_services.create_access_key(user=user, actor=SYSTEM)
        for chosen in (own[0], builtin):
            services.attach_policy(account=account, managed_policy=chosen, user=user, actor=SYSTEM)
        role = services.create_role(account=account, name=f"role-{n:02}", trust_policy=trust(account.pk), actor=SYSTEM)
        services.attach_policy(account=account, managed_policy=own[n], role=role, actor=SYSTEM)
    for _ in range(2):
        account_services.create_access_key(user=root_of(tenant), actor=SYSTEM)
    return tenant


# -- query budgets -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/console/iam/users",
        "/console/iam/users/user-03",
        "/console/iam/roles",
        "/console/iam/roles/role-03",
        "/console/iam/policies",
        "/console/iam/policies/policy-00",
        "/console/iam/policies/BerthRegistryReadOnly",
        "/console/iam/access-keys",
    ],
)
def test_each_page_keeps_the_query_budget_with_many_rows(populated, root_client, within_budget, spooled_reads, url):
    response = within_budget(root_client, url)
    assert "<h1" in text(response)


def test_the_lists_show_every_row_with_its_counts(populated, root_client):
    users = text(root_client.get("/console/iam/users"))
    assert users.count('href="/console/iam/users/user-') == 20
    row = re.search(r"user-07</a>.*?</tr>", users, re.S).group(0)
    assert ">2<" in row and "2 active" in row  # two policies, two active keys
    roles = text(root_client.get("/console/iam/roles"))
    assert roles.count('href="/console/iam/roles/role-') == 20
    policies = text(root_client.get("/console/iam/policies"))
    row = re.search(r"policy-00</a>.*?</tr>", policies, re.S).group(0)
    assert ">21<" in row  # 20 users and role-00
    assert "AmazonEC2ContainerRegistryReadOnly" in policies


def test_an_iam_user_with_a_policy_keeps_the_budget_too(populated, member, within_budget, spooled_reads):
    signed_in = member(allow("iam:*"))
    within_budget(signed_in, "/console/iam/users")
    within_budget(signed_in, "/console/iam/users/user-01")


# -- users ----------------------------------------------------------------------------


def test_create_a_user_through_the_service_with_its_audit_event(root_client, tenant):
    response = root_client.post("/console/iam/users", {"user_name": "builder", "password": ""})
    assert response.status_code == 302 and response["Location"] == "/console/iam/users/builder"
    user = user_named(tenant, "builder")
    assert user is not None and not user.has_usable_password()
    assert events("CreateUser") == 1
    page = root_client.get("/console/iam/users/builder")
    assert f"arn:{settings.BERTH_ARN_PARTITION}:iam::{tenant.id}:user/builder" in text(page)
    assert "User builder created" in text(page)


def test_a_user_with_a_password_signs_in_with_it(root_client, tenant, client):
    root_client.post("/console/iam/users", {"user_name": "reader", "password": PASSWORD})
    assert user_named(tenant, "reader").check_password(PASSWORD)


@pytest.mark.parametrize(
    "form, field_message",
    [
        ({"user_name": "no spaces", "password": ""}, "does not match"),
        ({"user_name": "", "password": ""}, "This field is required"),
        ({"user_name": "weak", "password": "abc"}, "too short"),
    ],
)
def test_a_refused_user_is_a_400_with_the_reason_and_nothing_stored(root_client, tenant, form, field_message):
    response = root_client.post("/console/iam/users", form)
    assert response.status_code == 400
    assert field_message in text(response)
    assert events("CreateUser") == 0
    assert tenant.account.memberships.count() == 1


def test_a_taken_name_is_refused_ignoring_case(root_client, tenant):
    services.create_user(account=tenant.account, username="Builder", actor=SYSTEM)
    response = root_client.post("/console/iam/users", {"user_name": "builder"})
    assert response.status_code == 400 and "already has a user" in text(response)


def test_attach_and_detach_a_policy(root_client, tenant):
    services.create_user(account=tenant.account, username="builder", actor=SYSTEM)
    mine = services.create_policy(
        account=tenant.account, name="pull", document=document(allow("ecr:BatchGetImage")), actor=SYSTEM
    )
    page = text(root_client.get("/console/iam/users/builder"))
    assert f'<option value="{mine.arn}">pull</option>' in page
    response = root_client.post("/console/iam/users/builder", {"action": "attach", "policy_arn": mine.arn})
    assert response.status_code == 302
    user = user_named(tenant, "builder")
    assert list(selectors.attachments_of_user(user).values_list("policy__name", flat=True)) == ["pull"]
    assert events("AttachUserPolicy") == 1
    page = text(root_client.get("/console/iam/users/builder"))
    assert 'id="attached-policies"' in page and f'<option value="{mine.arn}">' not in page

    response = root_client.post("/console/iam/users/builder", {"action": "detach", "policy_arn": mine.arn})
    assert response.status_code == 302
    assert not PolicyAttachment.objects.filter(user=user).exists()
    assert events("DetachUserPolicy") == 1


def test_attaching_another_accounts_policy_or_nothing_is_a_400(root_client, tenant, other_tenant):
    services.create_user(account=tenant.account, username="builder", actor=SYSTEM)
    theirs = services.create_policy(
        account=other_tenant.account, name="theirs", document=document(allow("ecr:*")), actor=SYSTEM
    )
    for chosen, message in ((theirs.arn, "Select a valid choice"), ("", "This field is required")):
        response = root_client.post("/console/iam/users/builder", {"action": "attach", "policy_arn": chosen})
        assert response.status_code == 400 and message in text(response)
    assert not PolicyAttachment.objects.filter(user=user_named(tenant, "builder")).exists()
    assert events("AttachUserPolicy") == 0


def test_a_users_access_key_secret_is_shown_once(root_client, tenant):
    services.create_user(account=tenant.account, username="ci", actor=SYSTEM)
    response = root_client.post("/console/iam/users/ci", {"action": "create-key"})
    assert response.status_code == 302 and response["Location"] == "/console/iam/users/ci"
    key = AccessKey.objects.get(user=user_named(tenant, "ci"))
    assert events("CreateAccessKey") == 1
    kept = json.dumps(root_client.session["console.secret_once"])

    first = root_client.get("/console/iam/users/ci")
    box = secret_box(first)
    assert box is not None and key.access_key_id in box and "only time" in box
    assert check_password(shown_secret(first), key.secret_hash)
    assert shown_secret(first) not in kept  # the session held it sealed
    assert "no-store" in first["Cache-Control"]  # not kept by a browser's cache either

    again = root_client.get("/console/iam/users/ci")
    assert secret_box(again) is None  # the key is listed, its secret is not
    assert key.access_key_id in text(again) and "secret-value" not in text(again)


def test_a_secret_kept_for_one_page_is_not_shown_on_another(root_client, tenant):
    services.create_user(account=tenant.account, username="ci", actor=SYSTEM)
    root_client.post("/console/iam/users/ci", {"action": "create-key"})
    assert secret_box(root_client.get("/console/iam/access-keys")) is None
    assert secret_box(root_client.get("/console/iam/users/ci")) is not None


def test_a_users_keys_deactivate_activate_and_delete_with_confirmation(root_client, tenant):
    user = services.create_user(account=tenant.account, username="ci", actor=SYSTEM)
    key = account_services.create_access_key(user=user, actor=SYSTEM).access_key
    url = "/console/iam/users/ci"
    assert root_client.post(url, {"action": "deactivate-key", "access_key_id": key.access_key_id}).status_code == 302
    key.refresh_from_db()
    assert key.status == AccessKeyStatus.INACTIVE
    assert root_client.post(url, {"action": "activate-key", "access_key_id": key.access_key_id}).status_code == 302
    key.refresh_from_db()
    assert key.status == AccessKeyStatus.ACTIVE
    assert events("UpdateAccessKey") == 2

    refused = root_client.post(url, {"action": "delete-key", "access_key_id": key.access_key_id, "confirm": "yes"})
    assert refused.status_code == 400 and f"Type {key.access_key_id}" in text(refused)
    assert AccessKey.objects.filter(pk=key.pk).exists()
    done = root_client.post(
        url, {"action": "delete-key", "access_key_id": key.access_key_id, "confirm": key.access_key_id}
    )
    assert done.status_code == 302 and not AccessKey.objects.filter(pk=key.pk).exists()
    assert events("DeleteAccessKey") == 1


def test_a_third_active_key_is_refused_readably(root_client, tenant):
    user = services.create_user(account=tenant.account, username="ci", actor=SYSTEM)
    for _ in range(2):
        account_services.create_access_key(user=user, actor=SYSTEM)
    response = root_client.post("/console/iam/users/ci", {"action": "create-key"})
    assert response.status_code == 409 and "at most 2 active access keys" in text(response)
    assert AccessKey.objects.filter(user=user).count() == 2


def test_another_users_key_is_not_found_through_this_user(root_client, tenant):
    services.create_user(account=tenant.account, username="ci", actor=SYSTEM)
    root_key = account_services.create_access_key(user=root_of(tenant), actor=SYSTEM).access_key
    response = root_client.post(
        "/console/iam/users/ci", {"action": "deactivate-key", "access_key_id": root_key.access_key_id}
    )
    assert response.status_code == 404
    root_key.refresh_from_db()
    assert root_key.is_active


def test_delete_a_user_needs_its_name_typed(root_client, tenant):
    services.create_user(account=tenant.account, username="gone", actor=SYSTEM)
    page = text(root_client.get("/console/iam/users/gone"))
    assert 'data-confirm-word="gone"' in page and 'name="confirm"' in page
    refused = root_client.post("/console/iam/users/gone", {"action": "delete-user", "confirm": "gon"})
    assert refused.status_code == 400 and "Type gone exactly" in text(refused)
    assert user_named(tenant, "gone") is not None
    done = root_client.post("/console/iam/users/gone", {"action": "delete-user", "confirm": "gone"})
    assert done.status_code == 302 and done["Location"] == "/console/iam/users"
    assert user_named(tenant, "gone") is None and events("DeleteUser") == 1


def test_the_root_user_cannot_be_deleted(root_client, tenant):
    page = text(root_client.get(f"/console/iam/users/{tenant.username}"))
    assert "delete-user" not in page and "root user" in page
    refused = root_client.post(
        f"/console/iam/users/{tenant.username}", {"action": "delete-user", "confirm": tenant.username}
    )
    assert refused.status_code == 409 and "cannot be deleted" in text(refused)
    assert user_named(tenant, tenant.username) is not None


# -- roles ----------------------------------------------------------------------------


def role_form(name="deployer", trust_policy="", **extra):
    return {"role_name": name, "trust_policy": trust_policy, "max_session_duration": 3600, "description": "", **extra}


def test_the_create_role_form_starts_with_a_trust_policy_of_the_account(root_client, tenant):
    page = text(root_client.get("/console/iam/roles"))
    assert f"arn:{settings.BERTH_ARN_PARTITION}:iam::{tenant.id}:root" in page and "sts:AssumeRole" in page


@pytest.mark.parametrize(
    "trust_policy, message",
    [
        ('{"Version": "2012-10-17", "Statement": [', "malformed JSON"),
        (
            document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{settings.BERTH_ARN_PARTITION}:iam::999999999999:root"},
                    "Action": "sts:AssumeRole",
                }
            ),
            "999999999999",
        ),
        ("", "This field is required"),
    ],
)
def test_an_invalid_trust_policy_is_a_400_with_the_parsers_message(root_client, tenant, trust_policy, message):
    response = root_client.post("/console/iam/roles", role_form(trust_policy=trust_policy))
    assert response.status_code == 400
    assert message in text(response)
    assert not Role.objects.exists() and events("CreateRole") == 0


def test_create_a_role_then_replace_its_trust_policy_attach_and_delete(root_client, tenant):
    response = root_client.post(
        "/console/iam/roles", role_form(trust_policy=trust(tenant.id), description="CI deploys")
    )
    assert response.status_code == 302 and response["Location"] == "/console/iam/roles/deployer"
    role = Role.objects.get(account=tenant.account, name="deployer")
    assert events("CreateRole") == 1
    page = text(root_client.get("/console/iam/roles/deployer"))
    assert role.arn in page and "CI deploys" in page

    bad = root_client.post("/console/iam/roles/deployer", {"action": "trust-policy", "trust_policy": "{"})
    assert bad.status_code == 400 and "malformed JSON" in text(bad)
    role.refresh_from_db()
    assert role.trust_policy == trust(tenant.id)
    newer = document(
        {"Effect": "Allow", "Principal": {"AWS": root_of_arn(tenant)}, "Action": "sts:AssumeRole", "Sid": "Root"}
    )
    assert (
        root_client.post("/console/iam/roles/deployer", {"action": "trust-policy", "trust_policy": newer}).status_code
        == 302
    )
    role.refresh_from_db()
    assert role.trust_policy == newer and events("UpdateAssumeRolePolicy") == 1

    builtin = ManagedPolicy.objects.get(name="BerthRegistryPowerUser")
    assert (
        root_client.post("/console/iam/roles/deployer", {"action": "attach", "policy_arn": builtin.arn}).status_code
        == 302
    )
    assert PolicyAttachment.objects.filter(role=role, policy=builtin).exists() and events("AttachRolePolicy") == 1
    assert (
        root_client.post("/console/iam/roles/deployer", {"action": "detach", "policy_arn": builtin.arn}).status_code
        == 302
    )
    assert events("DetachRolePolicy") == 1

    refused = root_client.post("/console/iam/roles/deployer", {"action": "delete-role", "confirm": "nope"})
    assert refused.status_code == 400 and Role.objects.filter(pk=role.pk).exists()
    done = root_client.post("/console/iam/roles/deployer", {"action": "delete-role", "confirm": "deployer"})
    assert done.status_code == 302 and not Role.objects.filter(pk=role.pk).exists() and events("DeleteRole") == 1


def root_of_arn(tenant) -> str:
    return f"arn:{settings.BERTH_ARN_PARTITION}:iam::{tenant.id}:user/{tenant.username}"


# -- managed policies -----------------------------------------------------------------


def test_an_invalid_policy_is_a_400_with_the_parsers_message_then_a_valid_one_is_stored(root_client, tenant):
    bad = document({"Effect": "Allow", "Action": "ecr:NoSuchThing", "Resource": "*"})
    response = root_client.post("/console/iam/policies", {"policy_name": "pull", "document": bad})
    assert response.status_code == 400 and "ecr:NoSuchThing" in text(response)
    assert "ecr:NoSuchThing" in re.search(r"<textarea[^>]*>(.*?)</textarea>", text(response), re.S).group(1)
    assert not ManagedPolicy.objects.filter(account=tenant.account).exists() and events("CreatePolicy") == 0

    good = document(allow("ecr:BatchGetImage"))
    response = root_client.post(
        "/console/iam/policies", {"policy_name": "pull", "document": good, "description": "pulls"}
    )
    assert response.status_code == 302 and response["Location"] == "/console/iam/policies/pull"
    stored = ManagedPolicy.objects.get(account=tenant.account, name="pull")
    assert stored.document == good and stored.description == "pulls" and events("CreatePolicy") == 1
    page = text(root_client.get("/console/iam/policies/pull"))
    assert stored.arn in page and "ecr:BatchGetImage" in page


def test_a_builtin_name_is_refused(root_client):
    response = root_client.post(
        "/console/iam/policies",
        {"policy_name": "AmazonEC2ContainerRegistryReadOnly", "document": document(allow("ecr:*"))},
    )
    assert response.status_code == 400 and "built into Berth" in text(response)


def test_a_policy_is_not_deleted_while_attached(root_client, tenant):
    mine = services.create_policy(account=tenant.account, name="pull", document=document(allow("ecr:*")), actor=SYSTEM)
    user = services.create_user(account=tenant.account, username="ci", actor=SYSTEM)
    services.attach_policy(account=tenant.account, managed_policy=mine, user=user, actor=SYSTEM)
    page = text(root_client.get("/console/iam/policies/pull"))
    assert 'href="/console/iam/users/ci"' in page
    refused = root_client.post("/console/iam/policies/pull", {"action": "delete-policy", "confirm": "pull"})
    assert refused.status_code == 409 and "still attached" in text(refused)
    assert ManagedPolicy.objects.filter(pk=mine.pk).exists()
    services.detach_policy(managed_policy=mine, user=user, actor=SYSTEM)
    done = root_client.post("/console/iam/policies/pull", {"action": "delete-policy", "confirm": "pull"})
    assert done.status_code == 302 and not ManagedPolicy.objects.filter(pk=mine.pk).exists()
    assert events("DeletePolicy") == 1


def test_a_builtin_policy_is_shown_but_never_deleted(root_client):
    page = text(root_client.get("/console/iam/policies/AmazonEC2ContainerRegistryReadOnly"))
    assert "BerthRegistryReadOnly" in page and "delete-policy" not in page
    refused = root_client.post(
        "/console/iam/policies/BerthRegistryReadOnly", {"action": "delete-policy", "confirm": "BerthRegistryReadOnly"}
    )
    assert refused.status_code == 409 and "built into Berth" in text(refused)
    assert ManagedPolicy.objects.filter(name="BerthRegistryReadOnly").exists()


def test_a_new_policy_can_start_from_an_existing_document(root_client, tenant):
    services.create_policy(
        account=tenant.account, name="pull", document=document(allow("ecr:ListImages")), actor=SYSTEM
    )
    page = text(root_client.get("/console/iam/policies?from=pull"))
    assert 'value="pull-2"' in page and "ecr:ListImages" in page


# -- the signed-in user's own keys -----------------------------------------------------


def test_getting_starteds_form_creates_a_key_shown_once(root_client, tenant):
    # Getting started posts exactly this form here.
    response = root_client.post("/console/iam/access-keys", {"action": "create"})
    assert response.status_code == 302 and response["Location"] == "/console/iam/access-keys"
    key = AccessKey.objects.get(user=root_of(tenant))
    assert events("CreateAccessKey") == 1
    first = root_client.get("/console/iam/access-keys")
    assert key.access_key_id in secret_box(first) and check_password(shown_secret(first), key.secret_hash)
    again = root_client.get("/console/iam/access-keys")
    assert secret_box(again) is None and key.access_key_id in text(again)


def test_own_keys_deactivate_and_delete(root_client, tenant):
    key = account_services.create_access_key(user=root_of(tenant), actor=SYSTEM).access_key
    url = "/console/iam/access-keys"
    assert root_client.post(url, {"action": "deactivate", "access_key_id": key.access_key_id}).status_code == 302
    key.refresh_from_db()
    assert not key.is_active
    assert (
        root_client.post(url, {"action": "delete", "access_key_id": key.access_key_id, "confirm": "x"}).status_code
        == 400
    )
    assert (
        root_client.post(
            url, {"action": "delete", "access_key_id": key.access_key_id, "confirm": key.access_key_id}
        ).status_code
        == 302
    )
    assert not AccessKey.objects.filter(pk=key.pk).exists()
    assert events("UpdateAccessKey") == 1 and events("DeleteAccessKey") == 1


def test_someone_elses_key_is_not_found_on_the_own_keys_page(root_client, tenant, other_tenant):
    theirs = account_services.create_access_key(user=root_of(other_tenant), actor=SYSTEM).access_key
    response = root_client.post(
        "/console/iam/access-keys", {"action": "deactivate", "access_key_id": theirs.access_key_id}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_active


def test_a_login_password_is_shown_once_and_works(root_client, tenant):
    response = root_client.post("/console/iam/access-keys", {"action": "login-password"})
    assert response.status_code == 302
    first = root_client.get("/console/iam/access-keys")
    password = shown_secret(first)
    claims = login_passwords.verify(password)
    assert str(claims.user_id) == str(root_of(tenant).pk)
    assert "docker login --username berth" in secret_box(first)
    assert secret_box(root_client.get("/console/iam/access-keys")) is None


# -- who may ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, action",
    [
        ("/console/iam/users", "iam:ListUsers"),
        ("/console/iam/users/dev", "iam:GetUser"),
        ("/console/iam/roles", "iam:ListRoles"),
        ("/console/iam/policies", "iam:ListPolicies"),
        ("/console/iam/policies/BerthRegistryReadOnly", "iam:GetPolicy"),
        ("/console/iam/access-keys", "iam:ListAccessKeys"),
    ],
)
def test_an_iam_user_without_permission_gets_the_403_page(member, url, action):
    signed_in = member()
    response = signed_in.get(url)
    assert response.status_code == 403 and action in text(response)


def test_an_iam_user_without_permission_writes_nothing(member, tenant):
    signed_in = member(allow("iam:List*", "iam:Get*"))
    response = signed_in.post("/console/iam/users", {"user_name": "sneaky"})
    assert response.status_code == 403 and "iam:CreateUser" in text(response)
    assert user_named(tenant, "sneaky") is None
    page = text(signed_in.get("/console/iam/users"))
    assert "create-user" not in page  # the form is not offered
    response = signed_in.post("/console/iam/access-keys", {"action": "create"})
    assert response.status_code == 403 and not AccessKey.objects.exists()
    assert Event.objects.filter(event_name="CreateUser", error_code="AccessDenied").count() == 1


def test_an_iam_user_allowed_its_own_keys_manages_them(member, tenant):
    signed_in = member(
        allow("iam:*AccessKey*", resource=f"arn:{settings.BERTH_ARN_PARTITION}:iam::{tenant.id}:user/dev")
    )
    assert signed_in.post("/console/iam/access-keys", {"action": "create"}).status_code == 302
    user = user_named(tenant, "dev")
    assert AccessKey.objects.filter(user=user).count() == 1
    assert secret_box(signed_in.get("/console/iam/access-keys")) is not None


def test_a_user_who_may_see_a_user_but_not_its_keys_is_told_which_permission(member, tenant):
    services.create_user(account=tenant.account, username="ci", actor=SYSTEM)
    signed_in = member(allow("iam:GetUser"))
    page = text(signed_in.get("/console/iam/users/ci"))
    assert "iam:ListAccessKeys" in page and "iam:ListAttachedUserPolicies" in page
    assert "create-key" not in page and "delete-user" not in page


@pytest.mark.parametrize("kind", ["users", "roles", "policies"])
def test_another_accounts_user_role_or_policy_is_not_found(root_client, other_tenant, kind):
    account = other_tenant.account
    services.create_user(account=account, username="theirs", actor=SYSTEM)
    services.create_role(account=account, name="theirs", trust_policy=trust(account.pk), actor=SYSTEM)
    services.create_policy(account=account, name="theirs", document=document(allow("ecr:*")), actor=SYSTEM)
    assert root_client.get(f"/console/iam/{kind}/theirs").status_code == 404
    action = {"users": "delete-user", "roles": "delete-role", "policies": "delete-policy"}[kind]
    assert root_client.post(f"/console/iam/{kind}/theirs", {"action": action, "confirm": "theirs"}).status_code == 404
    assert selectors.user_of(account, "theirs") is not None
    assert Role.objects.filter(account=account).exists() and ManagedPolicy.objects.filter(account=account).exists()
