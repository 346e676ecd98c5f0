"""IAM user names are unique within their account, as in AWS: two accounts may each
have an `alice`, each signs in naming its account (`<account id or alias>/alice`) on
the website, at `/token` and when minting an access key, and nothing tells one
account which names another uses. The root user signs in by its own name as before."""

from __future__ import annotations

import json

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from apps.accounts import selectors, services
from apps.accounts.models import AccessKey, Membership
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.conftest import PASSWORD, basic_auth
from apps.iam import services as iam_services

from .conftest import STAFF

pytestmark = pytest.mark.django_db

ALICE_OF_A = "first-alices-passphrase-1"
ALICE_OF_B = "second-alices-passphrase-2"
OWN_KEYS = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}]}
)


def _alice(tenant, password: str):
    """An IAM user `alice` of the tenant's account, who may mint her own access keys."""
    user = iam_services.create_user(
        actor=Actor.system("test"), account=tenant.account, username="alice", password=password
    )
    own_keys = iam_services.create_policy(
        actor=Actor.system("test"), account=tenant.account, name="OwnKeys", document=OWN_KEYS
    )
    iam_services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=own_keys, user=user)
    return user


@pytest.fixture
def alices(tenant, other_tenant):
    return _alice(tenant, ALICE_OF_A), _alice(other_tenant, ALICE_OF_B)


# -- each way of signing in by name: the Django user it signs in, None when refused ----------------


def _website(name: str, password: str):
    client = Client()
    response = client.post("/accounts/login", {"username": name, "password": password})
    if response.status_code != 302:
        assert response.status_code == 200 and b"errorlist" in response.content
        return None
    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


def _token_user(response):
    if response.status_code == 401:
        return None
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    return get_user_model().objects.get(pk=claims["berth:principal"]["user_id"])


def _token_basic(name: str, password: str):
    return _token_user(Client().get("/token?service=berth-registry", HTTP_AUTHORIZATION=basic_auth(name, password)))


def _token_password_grant(name: str, password: str):
    return _token_user(
        Client().post(
            "/token", {"grant_type": "password", "service": "berth-registry", "username": name, "password": password}
        )
    )


def _access_key(name: str, password: str):
    response = Client().post(
        "/api/v1/auth/access-keys", {"username": name, "password": password}, content_type="application/json"
    )
    if response.status_code != 201:
        # With no authenticator on this endpoint DRF answers a refused password with 403.
        assert response.json() == {"code": "authentication_failed", "detail": "incorrect username or password"}
        return None
    return AccessKey.objects.get(access_key_id=response.json()["accessKeyId"]).user


SIGN_INS = [_website, _token_basic, _token_password_grant, _access_key]


@pytest.mark.parametrize("sign_in", SIGN_INS, ids=lambda f: f.__name__.strip("_"))
def test_each_alice_signs_in_naming_her_account(sign_in, alices, tenant, other_tenant):
    alice_of_a, alice_of_b = alices
    assert sign_in(f"{tenant.id}/alice", ALICE_OF_A) == alice_of_a
    assert sign_in(f"{other_tenant.alias}/alice", ALICE_OF_B) == alice_of_b
    # Account aliases and IAM names are matched ignoring case, as they are unique that way.
    assert sign_in(f"{tenant.alias.upper()}/Alice", ALICE_OF_A) == alice_of_a


@pytest.mark.parametrize("sign_in", SIGN_INS, ids=lambda f: f.__name__.strip("_"))
def test_a_name_without_its_account_or_with_another_is_refused(sign_in, alices, tenant, other_tenant):
    assert sign_in("alice", ALICE_OF_A) is None
    assert sign_in(f"{other_tenant.id}/alice", ALICE_OF_A) is None
    assert sign_in(f"{other_tenant.alias}/alice", ALICE_OF_A) is None
    assert sign_in("999999999999/alice", ALICE_OF_A) is None
    assert sign_in(f"{tenant.id}/", ALICE_OF_A) is None


@pytest.mark.parametrize("sign_in", SIGN_INS, ids=lambda f: f.__name__.strip("_"))
def test_the_root_user_signs_in_by_its_own_name_as_before(sign_in, alices, tenant):
    root = get_user_model().objects.get(username=tenant.username)
    assert sign_in(tenant.username, PASSWORD) == root
    # The root is not an IAM user of its account: `<account>/<root's name>` names no one.
    assert sign_in(f"{tenant.id}/{tenant.username}", PASSWORD) is None


def test_one_resolution_maps_every_sign_in_name(alices, tenant, other_tenant, staff_user):
    alice_of_a, alice_of_b = alices
    assert selectors.user_for_sign_in(f"{tenant.id}/alice") == alice_of_a
    assert selectors.user_for_sign_in(f"{other_tenant.alias}/ALICE") == alice_of_b
    assert selectors.user_for_sign_in(tenant.username).membership.account == tenant.account
    assert selectors.user_for_sign_in("operator") == staff_user
    for nobody in ("alice", f"{tenant.id}/bob", "nosuchalias/alice", "/alice", ""):
        assert selectors.user_for_sign_in(nobody) is None
    assert selectors.stored_username(f"{other_tenant.alias}/alice") == f"{other_tenant.id}/alice"
    assert selectors.stored_username("nosuchalias/alice") == "nosuchalias/alice"


def test_failed_sign_ins_count_against_the_user_whichever_name_form_was_used(alices, tenant, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    assert _token_basic(f"{tenant.id}/alice", "wrong") is None
    assert _token_basic(f"{tenant.alias.upper()}/ALICE", "wrong") is None
    throttled = Client().get(
        "/token?service=berth-registry", HTTP_AUTHORIZATION=basic_auth(f"{tenant.alias}/alice", ALICE_OF_A)
    )
    assert throttled.status_code == 429


def test_a_suspended_accounts_iam_user_is_told_why_on_the_website(alices, tenant):
    services.suspend_account(account=tenant.account, reason="unpaid", actor=STAFF)
    response = Client().post("/accounts/login", {"username": f"{tenant.alias}/alice", "password": ALICE_OF_A})
    assert response.status_code == 200 and b"this account is suspended" in response.content


# -- names unique per account -------------------------------------------------------------------


def test_the_database_keeps_user_names_unique_per_account_ignoring_case(tenant, other_tenant):
    User = get_user_model()
    iam_services.create_user(actor=Actor.system("test"), account=tenant.account, username="alice")
    iam_services.create_user(actor=Actor.system("test"), account=other_tenant.account, username="alice")
    assert set(User.objects.filter(membership__user_name="alice").values_list("username", flat=True)) == {
        f"{tenant.id}/alice",
        f"{other_tenant.id}/alice",
    }
    stray = User.objects.create_user(username="stray")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=stray, account=tenant.account, user_name="ALICE")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=stray, account=tenant.account, user_name="")
    Membership.objects.create(user=stray, account=tenant.account, user_name="alice2")


def test_create_user_refuses_a_name_of_its_own_account_only(tenant, other_tenant):
    iam_services.create_user(actor=Actor.system("test"), account=other_tenant.account, username="alice")
    iam_services.create_user(actor=Actor.system("test"), account=tenant.account, username="alice")
    with pytest.raises(iam_services.NameTaken) as taken:
        iam_services.create_user(actor=Actor.system("test"), account=tenant.account, username="ALICE")
    assert str(taken.value) == f"account {tenant.id} already has a user named 'ALICE'"
    # Names are ASCII, as AWS's: a look-alike letter cannot pass for another user.
    with pytest.raises(iam_services.NameInvalid):
        iam_services.create_user(actor=Actor.system("test"), account=tenant.account, username="аlice")  # Cyrillic а
    with pytest.raises(iam_services.NameInvalid):
        iam_services.create_user(actor=Actor.system("test"), account=tenant.account, username="alice\n")


def test_the_api_answers_409_for_the_callers_own_account_only(api_client, tenant, other_tenant):
    a, b = api_client(tenant), api_client(other_tenant)
    assert b.post("/api/v1/iam/users", {"userName": "alice"}, format="json").status_code == 201
    created = a.post("/api/v1/iam/users", {"userName": "alice"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["userName"] == "alice"
    assert created.json()["arn"] == f"arn:berth:iam::{tenant.id}:user/alice"
    a.post("/api/v1/iam/users", {"userName": "bob"}, format="json")  # a name no other account has

    # The conflict reads the same whether another account has the name or not.
    again = a.post("/api/v1/iam/users", {"userName": "Alice"}, format="json")
    bob_again = a.post("/api/v1/iam/users", {"userName": "Bob"}, format="json")
    assert again.status_code == bob_again.status_code == 409
    assert again.json() == {
        "code": "entity_already_exists",
        "detail": f"account {tenant.id} already has a user named 'Alice'",
    }
    assert bob_again.json()["detail"] == again.json()["detail"].replace("Alice", "Bob")


def test_people_see_the_iam_name_never_the_stored_username(alices, tenant, api_client):
    listed = api_client(tenant).get("/api/v1/iam/users")
    assert "alice" in {user["userName"] for user in listed.json()["users"]}
    assert f"{tenant.id}/alice" not in listed.content.decode()

    key = services.create_access_key(actor=Actor.system("test"), user=alices[0])
    alice = Client(HTTP_AUTHORIZATION=basic_auth(key.access_key.access_key_id, key.secret))
    identity = alice.get("/api/v1/sts/caller-identity").json()
    assert identity["arn"] == f"arn:berth:iam::{tenant.id}:user/alice"
    event = Event.objects.filter(event_name="GetCallerIdentity").latest("event_time")
    assert (event.actor_username, event.actor_arn) == ("alice", f"arn:berth:iam::{tenant.id}:user/alice")


def test_the_admin_names_users_as_their_account_does(alices, tenant, staff_client):
    listing = staff_client.get("/admin/auth/user/")
    assert listing.status_code == 200
    rows = listing.content.decode()
    assert rows.count(">alice</a>") == 2 and tenant.id in rows
    page = staff_client.get(f"/admin/auth/user/{alices[0].pk}/change/")
    assert page.status_code == 200
    assert b'name="username"' not in page.content  # derived from the name and the account, not edited here
    account_page = staff_client.get(f"/admin/accounts/account/{tenant.id}/change/").content.decode()
    assert "alice" in account_page and f"{tenant.id}/alice" not in account_page


# -- root names ---------------------------------------------------------------------------------


def test_a_new_root_name_cannot_hold_a_slash(client):
    with pytest.raises(services.UsernameInvalid):
        services.create_account(name="team", username="team/lead", password="a-long-passphrase-3")
    with pytest.raises(CommandError, match="cannot contain '/'"):
        call_command("create_account", name="team", username="12/lead", password="a-long-passphrase-3")
    signed_up = client.post(
        "/accounts/signup",
        {"email": "a/b@example.com", "password1": "a-long-passphrase-3", "password2": "a-long-passphrase-3"},
    )
    assert signed_up.status_code == 400 and b"cannot contain" in signed_up.content
    assert not get_user_model().objects.filter(username__contains="/").exists()


def test_a_root_named_with_a_slash_before_the_rule_still_signs_in(tenant):
    get_user_model().objects.filter(username=tenant.username).update(username="ops/lead")
    Membership.objects.filter(account=tenant.account).update(user_name="ops/lead")
    assert _token_basic("ops/lead", PASSWORD).membership.account == tenant.account
    assert _website("ops/lead", PASSWORD).membership.account == tenant.account


# -- the migration ------------------------------------------------------------------------------

BEFORE = ("accounts", "0004_alias_requests_reserved_names_suspension")
AFTER = ("accounts", "0005_iam_user_names_per_account")


def _legacy_account(apps, account_id: str, root_name: str, *member_names: str) -> None:
    """An account as the migration finds it: global user names, a membership each."""
    User, Membership = apps.get_model("auth", "User"), apps.get_model("accounts", "Membership")
    account = apps.get_model("accounts", "Account").objects.create(id=account_id, name=root_name)
    for name in (root_name, *member_names):
        Membership.objects.create(user=User.objects.create(username=name), account=account)
    apps.get_model("iam", "RootUser").objects.create(account=account, user=User.objects.get(username=root_name))


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_iam_users_names_per_account_and_keeps_root_names():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        # iam's root-user marker moved to accounts after 0005: iam as it was then
        # (and without apps whose migrations need accounts as it is now, such as scanning)
        graph = executor.loader.graph
        then = set(graph.forwards_plan(BEFORE))
        others = [
            node
            for node in graph.leaf_nodes()
            if node[0] not in ("accounts", "iam")
            and all(step in then for step in graph.forwards_plan(node) if step[0] == "accounts")
        ]
        others.append(("iam", "0002_builtin_policies_and_root_users"))
        legacy = executor.loader.project_state([BEFORE, *others]).apps
        _legacy_account(legacy, "123456789012", "owner@example.com", "alice", "ci-bot")
        _legacy_account(legacy, "210987654321", "bob", "Carol", "carol")

        with pytest.raises(RuntimeError, match="account 210987654321 has users named 'Carol' and 'carol'"):
            MigrationExecutor(connection).migrate([AFTER])
        legacy.get_model("auth", "User").objects.filter(username="carol").delete()
        MigrationExecutor(connection).migrate([AFTER])
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    names = dict(Membership.objects.values_list("user__username", "user_name"))
    assert names == {
        "owner@example.com": "owner@example.com",
        "123456789012/alice": "alice",
        "123456789012/ci-bot": "ci-bot",
        "bob": "bob",
        "210987654321/Carol": "Carol",
    }
    assert selectors.user_for_sign_in("123456789012/alice").membership.user_name == "alice"
    assert selectors.user_for_sign_in("owner@example.com").username == "owner@example.com"
