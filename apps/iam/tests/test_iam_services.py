"""IAM's Django side: root users, policy validation on save, attachments, roles
and AssumeRole, and the selectors enforcement reads."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Membership, RootUser
from apps.audit.events import Actor
from apps.iam import policy, selectors, services, session_tokens
from apps.iam.models import ManagedPolicy, PolicyAttachment, RoleSession
from apps.repositories import services as repository_services

pytestmark = pytest.mark.django_db


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_PULL = document({"Sid": "Pull", "Effect": "Allow", "Action": ["ecr:BatchGetImage"], "Resource": "*"})


def root_user(tenant):
    return get_user_model().objects.get(username=tenant.username)


def trust(*principals: str, action: str = "sts:AssumeRole") -> str:
    return document({"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": action})


# -- root users -------------------------------------------------------------------


def test_the_first_user_of_an_account_is_its_root(tenant):
    user = root_user(tenant)
    assert RootUser.objects.get(account=tenant.account).user == user
    caller = selectors.caller_for_user(user, access_key_id="BKIA0000000000000000")
    assert caller.is_root and caller.account_id == tenant.id
    assert caller.arn == f"arn:berth:iam::{tenant.id}:root"
    assert selectors.identity_policies(caller) == []


def test_an_iam_user_is_not_root_and_has_no_policies(tenant):
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="builder")
    caller = selectors.caller_for_user(user)
    assert not caller.is_root and caller.account_id == tenant.id and caller.username == "builder"
    assert caller.arn == f"arn:berth:iam::{tenant.id}:user/builder"
    assert selectors.identity_policies(caller) == []
    assert not user.has_usable_password()


def test_a_user_outside_any_account_is_anonymous_to_policies(db):
    staff = get_user_model().objects.create_user(username="operator", password="x")
    assert selectors.caller_for_user(staff).is_anonymous


def test_the_root_marking_migration_marks_the_earliest_member():
    from importlib import import_module

    from django.apps import apps as global_apps

    from apps.accounts import services as account_services

    migration = import_module("apps.iam.migrations.0002_builtin_policies_and_root_users")
    account = account_services.create_account(name="legacy", username="legacy-first", password="pw-123-xyz-abc")
    services.create_user(
        actor=Actor.system("test"), account=account, username="legacy-second", password="pw-123-xyz-abc"
    )
    RootUser.objects.filter(account=account).delete()

    class AppsOfTheMigration:  # the root marker was iam's model then
        def get_model(self, app_label, model_name):
            return global_apps.get_model("accounts" if model_name == "RootUser" else app_label, model_name)

    migration.mark_root_users(AppsOfTheMigration(), None)
    assert RootUser.objects.get(account=account).user.username == "legacy-first"


def test_the_root_user_cannot_be_deleted(tenant):
    with pytest.raises(services.UserNotDeletable):
        services.delete_user(actor=Actor.system("test"), user=root_user(tenant))


def test_create_user_validates_name_and_password(tenant):
    with pytest.raises(services.NameInvalid):
        services.create_user(actor=Actor.system("test"), account=tenant.account, username="no spaces")
    with pytest.raises(Exception, match="too short|too common"):
        services.create_user(actor=Actor.system("test"), account=tenant.account, username="weak", password="abc")
    services.create_user(actor=Actor.system("test"), account=tenant.account, username="taken")
    with pytest.raises(services.NameTaken):
        services.create_user(actor=Actor.system("test"), account=tenant.account, username="taken")


# -- validation on save -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"Statement": [', "malformed JSON"),
        (
            document({"Sid": "A", "Effect": "Allow", "Action": "ecr:PullEverything", "Resource": "*"}),
            "Statement 1 (Sid \"A\"): unknown action 'ecr:PullEverything'",
        ),
        (
            document(
                {"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"},
                {"Sid": "Bad", "Effect": "Allow", "Action": "ecr:PutImage", "Resource": "arn:berth:ecr"},
            ),
            "Statement 2 (Sid \"Bad\"): 'arn:berth:ecr' is not an ARN",
        ),
        ("x" * 10_241, "10241 characters long; the limit is 10240"),
    ],
)
def test_identity_policies_are_validated_on_save(tenant, text, message):
    with pytest.raises(services.PolicyInvalid) as caught:
        services.create_policy(actor=Actor.system("test"), account=tenant.account, name="p", document=text)
    assert message in str(caught.value)
    assert not ManagedPolicy.objects.filter(account=tenant.account).exists()


def test_principals_must_exist(tenant, other_tenant):
    """Of the policy's own account, users and roles must exist; of another account,
    only the account: the policy's author learns nothing of its user or role names."""
    repository = repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="app")
    services.create_user(actor=Actor.system("test"), account=other_tenant.account, username="ci")
    services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    for principal, ok in [
        (other_tenant.id, True),
        (f"arn:aws:iam::{other_tenant.id}:root", True),
        (f"arn:berth:iam::{other_tenant.id}:user/ci", True),
        (f"arn:berth:iam::{other_tenant.id}:user/nobody", True),
        (f"arn:berth:iam::{other_tenant.id}:role/Missing", True),
        (f"arn:berth:iam::{tenant.id}:user/dev", True),
        ("*", True),
        ("999999999999", False),
        ("arn:berth:iam::999999999999:user/ci", False),
        (f"arn:berth:iam::{other_tenant.id}:user/ci/deeper", False),
        (f"arn:berth:iam::{tenant.id}:user/ci", False),
        (f"arn:berth:iam::{tenant.id}:role/Missing", False),
    ]:
        text = document(
            {
                "Sid": "Grant",
                "Effect": "Allow",
                "Principal": "*" if principal == "*" else {"AWS": principal},
                "Action": "ecr:BatchGetImage",
            }
        )
        if ok:
            services.set_repository_policy(actor=Actor.system("test"), repository=repository, document=text)
        else:
            with pytest.raises(
                services.PolicyInvalid, match=f"Statement 1 \\(Sid \"Grant\"\\): principal '{principal}' does not exist"
            ):
                services.set_repository_policy(actor=Actor.system("test"), repository=repository, document=text)
    services.create_role(
        actor=Actor.system("test"), account=other_tenant.account, name="Puller", trust_policy=trust(other_tenant.id)
    )
    services.set_repository_policy(
        actor=Actor.system("test"),
        repository=repository,
        document=document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:berth:iam::{other_tenant.id}:role/Puller"},
                "Action": "ecr:BatchGetImage",
            }
        ),
    )
    parsed = selectors.repository_policy(repository)
    assert parsed.kind is policy.PolicyKind.RESOURCE
    assert services.delete_repository_policy(actor=Actor.system("test"), repository=repository)
    assert selectors.repository_policy(repository) is None


def test_a_policy_still_attached_cannot_be_deleted(tenant):
    managed = services.create_policy(
        actor=Actor.system("test"), account=tenant.account, name="Pull", document=ALLOW_PULL
    )
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=managed, user=user)
    with pytest.raises(services.PolicyInUse, match="still attached to 1"):
        services.delete_policy(actor=Actor.system("test"), managed_policy=managed)
    services.detach_policy(actor=Actor.system("test"), managed_policy=managed, user=user)
    services.delete_policy(actor=Actor.system("test"), managed_policy=managed)
    assert not ManagedPolicy.objects.filter(pk=managed.pk).exists()


def test_builtin_policies_exist_and_cannot_be_changed(tenant):
    builtins = {p.name: p for p in ManagedPolicy.objects.filter(account__isnull=True)}
    assert set(builtins) == {"BerthRegistryFullAccess", "BerthRegistryPowerUser", "BerthRegistryReadOnly"}
    for managed in builtins.values():
        selectors.parsed_policy(managed.document, kind=policy.PolicyKind.IDENTITY, name=managed.name)
    assert builtins["BerthRegistryReadOnly"].arn == "arn:berth:iam::berth:policy/BerthRegistryReadOnly"
    with pytest.raises(services.AttachmentRefused):
        services.delete_policy(actor=Actor.system("test"), managed_policy=builtins["BerthRegistryReadOnly"])
    with pytest.raises(services.NameTaken):
        services.create_policy(
            actor=Actor.system("test"), account=tenant.account, name="BerthRegistryReadOnly", document=ALLOW_PULL
        )


# -- attachments -------------------------------------------------------------------


def test_attach_by_arn_name_and_aws_synonym(tenant):
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    own = services.create_policy(
        actor=Actor.system("test"), account=tenant.account, name="Pull", document=ALLOW_PULL, path="/team/"
    )
    for reference, expected in [
        ("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly", "BerthRegistryReadOnly"),
        ("AmazonEC2ContainerRegistryPowerUser", "BerthRegistryPowerUser"),
        ("arn:berth:iam::berth:policy/BerthRegistryFullAccess", "BerthRegistryFullAccess"),
        (f"arn:berth:iam::{tenant.id}:policy/team/Pull", "Pull"),
        ("Pull", "Pull"),
    ]:
        assert selectors.policy_for_reference(tenant.account, reference).name == expected
    services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=own, user=user)
    # Twice: a no-op.
    services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=own, user=user)
    assert PolicyAttachment.objects.filter(user=user).count() == 1
    caller = selectors.caller_for_user(user)
    assert [p.name for p in selectors.identity_policies(caller)] == ["Pull"]


def test_another_accounts_policy_cannot_be_attached(tenant, other_tenant):
    theirs = services.create_policy(
        actor=Actor.system("test"), account=other_tenant.account, name="Theirs", document=ALLOW_PULL
    )
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    with pytest.raises(selectors.PolicyReferenceInvalid, match="another account"):
        selectors.policy_for_reference(tenant.account, theirs.arn)
    with pytest.raises(services.AttachmentRefused, match="another account"):
        services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=theirs, user=user)
    with pytest.raises(selectors.PolicyReferenceInvalid, match="does not exist"):
        selectors.policy_for_reference(tenant.account, f"arn:berth:iam::{tenant.id}:policy/Nope")


def test_an_attachment_holds_exactly_one_user_or_role(tenant):
    managed = ManagedPolicy.objects.get(name="BerthRegistryReadOnly")
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyAttachment.objects.create(policy=managed)
    with pytest.raises(services.AttachmentRefused, match="not attached"):
        services.detach_policy(actor=Actor.system("test"), managed_policy=managed, user=root_user(tenant))


# -- roles and AssumeRole ------------------------------------------------------------


def _assume(caller, role, **kwargs):
    return services.assume_role(caller=caller, role_arn=role.arn, session_name="s1", source_ip="10.0.0.1", **kwargs)


def test_same_account_assume_role_by_trust_naming_the_user(tenant):
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    role = services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="Deployer",
        trust_policy=trust(f"arn:berth:iam::{tenant.id}:user/dev"),
    )
    services.attach_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        managed_policy=ManagedPolicy.objects.get(name="BerthRegistryPowerUser"),
        role=role,
    )
    assumed = _assume(selectors.caller_for_user(user), role)
    assert assumed.arn == f"arn:berth:sts::{tenant.id}:assumed-role/Deployer/s1"
    assert assumed.session.access_key_id.startswith("BSIA") and len(assumed.session.access_key_id) == 20
    assert assumed.session.source_arn == f"arn:berth:iam::{tenant.id}:user/dev"
    assert 3590 <= (assumed.expires_at - timezone.now()).total_seconds() <= 3600
    claims = session_tokens.verify(assumed.session_token)
    assert claims.session_id == assumed.session.pk and claims.access_key_id == assumed.session.access_key_id
    caller = selectors.caller_for_role_session(selectors.role_session(assumed.session.pk))
    assert caller.is_role_session and caller.arn == assumed.arn
    assert [p.name for p in selectors.identity_policies(caller)] == ["BerthRegistryPowerUser"]


def test_trust_naming_the_account_delegates_to_the_users_policies(tenant):
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    role = services.create_role(
        actor=Actor.system("test"), account=tenant.account, name="R", trust_policy=trust(tenant.id)
    )
    with pytest.raises(services.AssumeRoleRefused, match="no identity policy allows"):
        _assume(selectors.caller_for_user(user), role)
    assume_any = services.create_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        name="Assume",
        document=document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=assume_any, user=user)
    assert _assume(selectors.caller_for_user(user), role).session.role == role
    # The root user of the account is named by the account itself.
    assert _assume(selectors.caller_for_user(root_user(tenant)), role).session.role == role


def test_identity_policies_alone_never_assume_a_role_the_trust_policy_does_not_name(tenant, other_tenant):
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    services.attach_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        managed_policy=ManagedPolicy.objects.get(name="BerthRegistryFullAccess"),
        user=user,
    )
    assume_any = services.create_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        name="Assume",
        document=document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=assume_any, user=user)
    role = services.create_role(
        actor=Actor.system("test"), account=tenant.account, name="Elsewhere", trust_policy=trust(other_tenant.id)
    )
    with pytest.raises(services.AssumeRoleRefused, match="trust policy does not name"):
        _assume(selectors.caller_for_user(user), role)
    with pytest.raises(services.AssumeRoleRefused, match="trust policy does not name"):
        _assume(selectors.caller_for_user(root_user(tenant)), role)


def test_cross_account_assume_role_needs_both_sides(tenant, other_tenant):
    outsider = services.create_user(actor=Actor.system("test"), account=other_tenant.account, username="ci")
    role = services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="Pull",
        trust_policy=trust(f"arn:berth:iam::{other_tenant.id}:user/ci"),
    )
    with pytest.raises(services.AssumeRoleRefused) as refused:
        _assume(selectors.caller_for_user(outsider), role)
    # Across accounts the refusal says no more than that: not which side refused.
    assert (
        str(refused.value)
        == f"{selectors.caller_for_user(outsider).arn} is not authorized to perform sts:AssumeRole on {role.arn}"
    )
    allow = services.create_policy(
        actor=Actor.system("test"),
        account=other_tenant.account,
        name="AssumePull",
        document=document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role.arn}),
    )
    services.attach_policy(
        actor=Actor.system("test"), account=other_tenant.account, managed_policy=allow, user=outsider
    )
    assumed = _assume(selectors.caller_for_user(outsider), role)
    assert assumed.session.role == role
    # Without the trust side, the caller's own Allow is not enough.
    services.update_trust_policy(actor=Actor.system("test"), role=role, document=trust(tenant.id))
    with pytest.raises(services.AssumeRoleRefused):
        _assume(selectors.caller_for_user(outsider), role)


def test_an_explicit_deny_refuses_assume_role(tenant):
    user = services.create_user(actor=Actor.system("test"), account=tenant.account, username="dev")
    role = services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="R",
        trust_policy=trust(f"arn:berth:iam::{tenant.id}:user/dev"),
    )
    deny = services.create_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        name="NoRoles",
        document=document({"Sid": "Never", "Effect": "Deny", "Action": "sts:*", "Resource": "*"}),
    )
    services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=deny, user=user)
    with pytest.raises(services.AssumeRoleRefused, match='explicitly denied by NoRoles: Sid "Never"'):
        _assume(selectors.caller_for_user(user), role)


def test_duration_bounds_and_chaining_limit(tenant):
    role = services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="Long",
        trust_policy=trust(tenant.id),
        max_session_duration=7200,
    )
    root = selectors.caller_for_user(root_user(tenant))
    for duration in (899, 7201):
        with pytest.raises(services.SessionDurationInvalid, match="900..7200"):
            _assume(root, role, duration_seconds=duration)
    assumed = _assume(root, role, duration_seconds=7200)
    assume_any = services.create_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        name="Assume",
        document=document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=assume_any, role=role)
    session_caller = selectors.caller_for_role_session(assumed.session)
    with pytest.raises(services.SessionDurationInvalid, match="at most an hour"):
        _assume(session_caller, role, duration_seconds=3601)
    chained = _assume(session_caller, role, duration_seconds=3600)
    assert chained.session.source_arn == assumed.arn
    with pytest.raises(services.SessionDurationInvalid):
        services.create_role(
            actor=Actor.system("test"),
            account=tenant.account,
            name="TooLong",
            trust_policy=trust(tenant.id),
            max_session_duration=43201,
        )


def test_anonymous_and_unknown_roles_are_refused(tenant):
    from apps.iam.callers import ANONYMOUS

    role = services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="R",
        trust_policy=document({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}),
    )
    with pytest.raises(services.AssumeRoleRefused, match="anonymous"):
        _assume(ANONYMOUS, role)
    root = selectors.caller_for_user(root_user(tenant))
    with pytest.raises(services.AssumeRoleRefused, match="not authorized"):
        services.assume_role(
            caller=root, role_arn=f"arn:berth:iam::{tenant.id}:role/Nope", session_name="s1", source_ip=None
        )
    with pytest.raises(policy.ArnError):
        services.assume_role(caller=root, role_arn="not-an-arn", session_name="s1", source_ip=None)
    with pytest.raises(services.NameInvalid):
        services.assume_role(caller=root, role_arn=role.arn, session_name="x", source_ip=None)


def test_expired_or_deleted_sessions_are_gone(tenant):
    role = services.create_role(
        actor=Actor.system("test"), account=tenant.account, name="R", trust_policy=trust(tenant.id)
    )
    assumed = _assume(selectors.caller_for_user(root_user(tenant)), role)
    RoleSession.objects.filter(pk=assumed.session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert selectors.role_session(assumed.session.pk) is None
    fresh = _assume(selectors.caller_for_user(root_user(tenant)), role)
    services.delete_role(actor=Actor.system("test"), role=role)
    assert selectors.role_session(fresh.session.pk) is None


def test_parsing_is_cached_per_document(tenant):
    repository = repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="app")
    services.set_repository_policy(
        actor=Actor.system("test"),
        repository=repository,
        document=document({"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}),
    )
    assert selectors.repository_policy(repository) is selectors.repository_policy(repository)


def test_membership_is_what_makes_a_user_of_the_account(tenant):
    user = services.create_user(
        actor=Actor.system("test"), account=tenant.account, username="dev", password="a-long-enough-passphrase-1"
    )
    assert Membership.objects.get(user=user).account == tenant.account
    assert user.check_password("a-long-enough-passphrase-1")
    assert selectors.user_of(tenant.account, "dev") == user


def test_an_expired_session_has_no_policies_even_from_a_rebuilt_caller(tenant):
    role = services.create_role(
        actor=Actor.system("test"), account=tenant.account, name="R", trust_policy=trust(tenant.id)
    )
    services.attach_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        managed_policy=ManagedPolicy.objects.get(name="BerthRegistryReadOnly"),
        role=role,
    )
    assumed = _assume(selectors.caller_for_user(root_user(tenant)), role)
    caller = selectors.caller_for_role_session(assumed.session)
    assert [p.name for p in selectors.identity_policies(caller)] == ["BerthRegistryReadOnly"]
    RoleSession.objects.filter(pk=assumed.session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert selectors.identity_policies(caller) == []


def test_repository_policies_in_one_query(tenant, django_assert_num_queries):
    with_policy = repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="a")
    without = repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="b")
    services.set_repository_policy(
        actor=Actor.system("test"),
        repository=with_policy,
        document=document({"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}),
    )
    with django_assert_num_queries(1):
        found = selectors.repository_policies([with_policy.pk, without.pk])
    assert list(found) == [with_policy.pk] and found[with_policy.pk].kind is policy.PolicyKind.RESOURCE


# -- signed tokens -----------------------------------------------------------------------


def test_session_tokens_are_signed_and_expire():
    token = session_tokens.issue(session_id=7, access_key_id="BSIA0000000000000001", expires_at=2_000_000_000)
    claims = session_tokens.verify(token, now=1_999_999_999)
    assert (claims.session_id, claims.access_key_id) == (7, "BSIA0000000000000001")
    with pytest.raises(session_tokens.InvalidSessionToken, match="expired"):
        session_tokens.verify(token, now=2_000_000_000)
    prefix, payload, mac = token.split(".")
    forged = session_tokens.issue(session_id=8, access_key_id="BSIA0000000000000001", expires_at=2_000_000_000)
    with pytest.raises(session_tokens.InvalidSessionToken, match="signature"):
        session_tokens.verify(f"{prefix}.{forged.split('.')[1]}.{mac}", now=0)
    with pytest.raises(session_tokens.InvalidSessionToken):
        session_tokens.verify("blp1.x.y")


def test_a_session_login_password_names_the_session_and_ends_with_it(tenant):
    from apps.accounts import login_passwords

    role = services.create_role(
        actor=Actor.system("test"), account=tenant.account, name="R", trust_policy=trust(tenant.id)
    )
    assumed = _assume(selectors.caller_for_user(root_user(tenant)), role, duration_seconds=900)
    issued = services.create_session_login_password(session=assumed.session)
    assert issued.expires_at <= int(assumed.expires_at.timestamp())
    claims = login_passwords.verify(issued.password)
    assert claims.session_id == assumed.session.pk and claims.user_id == ""
    assert claims.matches_credentials(assumed.session.secret_hash)
    # A user's login password carries no session.
    user_password = login_passwords.issue(user_id=1, password_hash="hash")
    assert login_passwords.verify(user_password.password).session_id is None
