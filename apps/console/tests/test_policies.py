"""The repository policy page (editor and simulator) and the lifecycle policy page
(editor and preview): the API's services and permissions, the parsers' messages,
the query budget, and what other accounts and IAM users without permission get."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.console.policies_forms import ACTION_CHOICES, REPOSITORY_ACTION_NAMES, error_location
from apps.iam import policy
from apps.iam import services as iam_services
from apps.iam.models import RepositoryPolicy
from apps.lifecycle.models import LifecyclePolicy, LifecyclePreview, PreviewStatus
from apps.registry.models import Manifest
from apps.repositories import services as repository_services
from apps.repositories.models import Repository, Visibility

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def _policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal, actions, **more) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": actions, **more}


def root_arn(account_id: str) -> str:
    return f"arn:berth:iam::{account_id}:root"


@pytest.fixture(autouse=True)
def _read_events_spooled(settings):
    """Tests write every audit event at once (BERTH_AUDIT_SYNCHRONOUS), five queries
    a request that a served page never pays: its read event goes to the spool. The
    budget counts the page's own queries; writes are still recorded in the trail."""
    settings.BERTH_AUDIT_READ_EVENTS = False


@pytest.fixture
def repository(tenant) -> Repository:
    return repository_services.create_repository(account=tenant.account, name="team/app", actor=SYSTEM)


@pytest.fixture
def make_user(tenant):
    """``make_user(name, *actions)``: an IAM user of ``tenant`` allowed ``actions`` on everything."""

    def make(name: str, *actions: str):
        user = iam_services.create_user(account=tenant.account, username=name, password="pw-pw-pw-pw-1", actor=SYSTEM)
        if actions:
            document = json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
            )
            managed = iam_services.create_policy(
                account=tenant.account, name=f"{name}-rights", document=document, actor=SYSTEM
            )
            iam_services.attach_policy(account=tenant.account, managed_policy=managed, user=user, actor=SYSTEM)
        return user

    return make


def signed_in(user) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user.pk))
    return client


PERMISSIONS = "/console/repositories/team/app/-/permissions"
SIMULATE = PERMISSIONS + "/simulate"
LIFECYCLE = "/console/repositories/team/app/-/lifecycle"


def simulation(principal: str, action: str = "ecr:BatchGetImage", *, subject: str = "saved", draft: str = "", **more):
    return {
        "intent": "simulate",
        "policy_text": draft,
        "principal": principal,
        "action": action,
        "subject": subject,
        "source_ip": "",
        "user_agent": "",
        **more,
    }


# -- the repository policy editor ---------------------------------------------------------


def test_without_a_policy_the_page_explains_one_and_offers_an_example(root_client, repository, within_budget):
    page = within_budget(root_client, PERMISSIONS).content.decode()
    assert 'id="policy-empty"' in page and "This repository has no policy" in page
    assert "AllowPullFromAnotherAccount" in page and "arn:berth:iam::111122223333:root" in page
    assert 'aria-current="page">Permissions' in page
    assert "Delete policy" not in page


def test_the_saved_policy_is_shown_formatted_within_the_budget(
    root_client, tenant, other_tenant, repository, make_user, within_budget
):
    for n in range(4):
        make_user(f"dev{n}")
    for n in range(3):
        iam_services.create_role(
            account=tenant.account,
            name=f"deployer{n}",
            trust_policy=_policy(allow({"AWS": root_arn(tenant.id)}, "sts:AssumeRole")),
            actor=SYSTEM,
        )
    iam_services.set_repository_policy(
        repository=repository, document=_policy(allow({"AWS": other_tenant.id}, PULL)), actor=SYSTEM
    )
    page = within_budget(root_client, PERMISSIONS).content.decode()
    assert "&quot;Statement&quot;: [\n" in page  # indented JSON in the textarea
    assert f"arn:berth:iam::{tenant.id}:user/dev3" in page and f"arn:berth:iam::{tenant.id}:role/deployer2" in page
    assert "Delete policy" in page and 'id="policy-empty"' not in page


def test_saving_a_valid_policy_stores_it_and_records_the_event(root_client, other_tenant, repository):
    text = _policy(allow({"AWS": root_arn(other_tenant.id)}, PULL))
    response = root_client.post(PERMISSIONS, {"intent": "save", "policy_text": text})
    assert response.status_code == 302 and response["Location"] == PERMISSIONS
    assert RepositoryPolicy.objects.get(repository=repository).document == text
    event = Event.objects.get(event_name="SetRepositoryPolicy")
    assert event.repository == "team/app" and event.actor_arn.endswith(":root")
    assert "Saved the repository policy" in root_client.get(PERMISSIONS).content.decode()


@pytest.mark.parametrize(
    "text, message, where",
    [
        ('{"Version": "2012-10-17",\n "Statement": [\n  {"Effect": "Allow",,}]}', "malformed JSON", "At line 3"),
        (
            _policy(allow({"AWS": "999999999999"}, PULL)),
            "principal &#x27;999999999999&#x27; does not exist",
            "In statement 1",
        ),
        (_policy(allow("*", ["ecr:PullEverything"])), "unknown action", "In statement 1"),
    ],
)
def test_an_invalid_policy_is_refused_with_the_parsers_message(root_client, repository, text, message, where):
    original = _policy(allow("*", PULL))
    iam_services.set_repository_policy(repository=repository, document=original, actor=SYSTEM)
    response = root_client.post(PERMISSIONS, {"intent": "save", "policy_text": text})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="policy-error"' in page and message in page and where in page
    assert "nothing was saved" in page
    assert RepositoryPolicy.objects.get(repository=repository).document == original  # nothing stored
    refusal = Event.objects.get(event_name="SetRepositoryPolicy", actor_arn__endswith=":root")  # the failed request
    assert refusal.error_code


def test_an_empty_editor_is_not_saved(root_client, repository):
    response = root_client.post(PERMISSIONS, {"intent": "save", "policy_text": "  "})
    assert response.status_code == 400 and "Write a policy first" in response.content.decode()
    assert not RepositoryPolicy.objects.filter(repository=repository).exists()


def test_deleting_the_policy(root_client, repository):
    iam_services.set_repository_policy(repository=repository, document=_policy(allow("*", PULL)), actor=SYSTEM)
    response = root_client.post(PERMISSIONS, {"intent": "delete"})
    assert response.status_code == 302
    assert not RepositoryPolicy.objects.filter(repository=repository).exists()
    assert Event.objects.filter(event_name="DeleteRepositoryPolicy", repository="team/app").exists()
    again = root_client.post(PERMISSIONS, {"intent": "delete"})
    assert again.status_code == 404 and "has no repository policy to delete" in again.content.decode()


# -- the simulator --------------------------------------------------------------------------


def test_the_action_select_offers_known_ecr_actions():
    assert REPOSITORY_ACTION_NAMES <= set(policy.ALL_ACTIONS)
    assert all(action.startswith("ecr:") for _, group in ACTION_CHOICES for action, _ in group)


def test_simulating_the_saved_policy_for_another_account(root_client, other_tenant, repository):
    iam_services.set_repository_policy(
        repository=repository,
        document=_policy(dict(allow({"AWS": other_tenant.id}, PULL), Sid="PullForMallory")),
        actor=SYSTEM,
    )
    allowed = root_client.post(PERMISSIONS, simulation(root_arn(other_tenant.id)))
    page = allowed.content.decode()
    assert allowed.status_code == 200
    assert "simulation--allowed" in page and "<strong>Allowed</strong>" in page
    assert "repository policy: Sid &quot;PullForMallory&quot;" in page
    denied = root_client.post(PERMISSIONS, simulation(other_tenant.id, "ecr:PutImage")).content.decode()
    assert "<strong>Denied</strong>" in denied and "implicit deny" in denied
    assert "the resource policy does not grant this principal" in denied


def test_simulating_another_accounts_user_says_its_own_policies_must_allow(root_client, other_tenant, repository):
    iam_services.set_repository_policy(
        repository=repository, document=_policy(allow({"AWS": other_tenant.id}, PULL)), actor=SYSTEM
    )
    page = root_client.post(PERMISSIONS, simulation(f"arn:berth:iam::{other_tenant.id}:user/ci")).content.decode()
    assert "<strong>Allowed</strong>" in page and "its own identity policies must allow the request too" in page


def test_an_explicit_deny_in_the_draft_beats_the_users_own_allow(root_client, tenant, repository, make_user):
    make_user("dev", "ecr:*")
    draft = _policy(
        {
            "Sid": "NoDeletes",
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:berth:iam::{tenant.id}:user/dev"},
            "Action": "ecr:BatchDeleteImage",
        }
    )
    response = root_client.post(
        PERMISSIONS,
        simulation(f"arn:berth:iam::{tenant.id}:user/dev", "ecr:BatchDeleteImage", subject="draft", draft=draft),
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert (
        "<strong>Denied</strong>" in page
        and "explicit deny" in page
        and "draft policy: Sid &quot;NoDeletes&quot;" in page
    )
    assert "&quot;NoDeletes&quot;" in page.split('id="id_policy_text"')[1].split("</textarea>")[0]  # the draft stays
    assert not RepositoryPolicy.objects.filter(repository=repository).exists()  # and is not saved
    # Without the draft, the user's own policy allows.
    saved = root_client.post(PERMISSIONS, simulation(f"arn:berth:iam::{tenant.id}:user/dev", "ecr:BatchDeleteImage"))
    assert "<strong>Allowed</strong>" in saved.content.decode()


def test_conditions_take_the_source_ip(root_client, other_tenant, repository):
    statement = allow({"AWS": other_tenant.id}, PULL, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    iam_services.set_repository_policy(repository=repository, document=_policy(statement), actor=SYSTEM)
    inside = root_client.post(PERMISSIONS, simulation(other_tenant.id, source_ip="10.1.2.3")).content.decode()
    outside = root_client.post(PERMISSIONS, simulation(other_tenant.id, source_ip="192.0.2.1")).content.decode()
    assert "<strong>Allowed</strong>" in inside and "<strong>Denied</strong>" in outside


def test_anonymous_callers_need_a_public_repository(root_client, repository):
    iam_services.set_repository_policy(repository=repository, document=_policy(allow("*", PULL)), actor=SYSTEM)
    page = root_client.post(PERMISSIONS, simulation("*")).content.decode()
    assert "<strong>Denied</strong>" in page and "Anonymous callers are never authorized by policy." in page
    assert "make the repository public" in page
    Repository.objects.filter(pk=repository.pk).update(visibility=Visibility.PUBLIC)
    public = root_client.post(PERMISSIONS, simulation("*")).content.decode()
    assert "<strong>Allowed</strong>" in public and "The repository is public" in public


def test_the_root_user_is_never_limited(root_client, tenant, repository):
    deny = {"Effect": "Deny", "Principal": "*", "Action": "ecr:*"}
    iam_services.set_repository_policy(repository=repository, document=_policy(deny), actor=SYSTEM)
    page = root_client.post(PERMISSIONS, simulation(root_arn(tenant.id), "ecr:DeleteRepository")).content.decode()
    assert "<strong>Allowed</strong>" in page and "never limited by a repository policy" in page


@pytest.mark.parametrize(
    "principal, message",
    [
        ("not-an-arn", "is not an ARN"),
        ("arn:berth:iam::{tenant}:user/nobody", "has no user"),
        ("arn:berth:iam::123456789012:root", "there is no account 123456789012"),
        ("arn:berth:ecr:local:{other}:repository/x", "is not a principal ARN"),
    ],
)
def test_a_principal_that_names_nobody_is_a_form_error(
    root_client, tenant, other_tenant, repository, principal, message
):
    principal = principal.format(tenant=tenant.id, other=other_tenant.id)
    response = root_client.post(PERMISSIONS, simulation(principal))
    assert response.status_code == 400 and message in response.content.decode()


def test_an_invalid_draft_is_not_simulated(root_client, repository):
    response = root_client.post(PERMISSIONS, simulation("*", subject="draft", draft='{"Statement": '))
    page = response.content.decode()
    assert response.status_code == 400 and "malformed JSON" in page and "The draft is not a valid policy" in page


def test_the_json_endpoint_answers_the_simulation(root_client, other_tenant, repository):
    iam_services.set_repository_policy(
        repository=repository, document=_policy(allow({"AWS": other_tenant.id}, PULL)), actor=SYSTEM
    )
    answer = root_client.post(SIMULATE, simulation(other_tenant.id))
    assert answer.status_code == 200
    body = answer.json()
    assert body["allowed"] is True and body["verdict"] == "Allowed" and body["decision"] == "allowed"
    assert body["matchedStatements"] == ["repository policy: statement 1"]
    assert body["resourceArn"].endswith(f":{repository.account_id}:repository/team/app")
    refused = root_client.post(SIMULATE, simulation("nobody")).json()
    assert "principal" in refused["errors"]


def test_the_json_endpoint_is_csrf_protected(tenant, repository):
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username=tenant.username))
    assert client.post(SIMULATE, simulation("*")).status_code == 403


# -- permissions, accounts ----------------------------------------------------------------


def test_another_accounts_repository_is_not_found(client, other_tenant, repository):
    client.force_login(get_user_model().objects.get(username=other_tenant.username))
    for url in (PERMISSIONS, LIFECYCLE):
        assert client.get(url).status_code == 404
    assert client.post(PERMISSIONS, {"intent": "save", "policy_text": _policy(allow("*", PULL))}).status_code == 404
    assert client.post(LIFECYCLE, {"intent": "delete"}).status_code == 404
    assert client.post(SIMULATE, simulation("*")).status_code == 404


def test_an_iam_user_without_permission_gets_the_403_page(make_user, repository):
    client = signed_in(make_user("nobody"))
    for url, action in ((PERMISSIONS, "ecr:GetRepositoryPolicy"), (LIFECYCLE, "ecr:GetLifecyclePolicy")):
        response = client.get(url)
        assert response.status_code == 403 and action in response.content.decode()


def test_a_reader_may_look_but_not_save_or_simulate(make_user, other_tenant, repository):
    client = signed_in(make_user("reader", "ecr:GetRepositoryPolicy", "ecr:GetLifecyclePolicy"))
    page = client.get(PERMISSIONS).content.decode()
    assert "Save policy" not in page and "You may not change this policy" in page
    refused = client.post(
        PERMISSIONS, {"intent": "save", "policy_text": _policy(allow({"AWS": other_tenant.id}, PULL))}
    )
    assert refused.status_code == 403 and "ecr:SetRepositoryPolicy" in refused.content.decode()
    assert not RepositoryPolicy.objects.filter(repository=repository).exists()
    simulate = client.post(PERMISSIONS, simulation(other_tenant.id))
    assert simulate.status_code == 403 and "iam:SimulatePrincipalPolicy" in simulate.content.decode()
    assert client.post(SIMULATE, simulation(other_tenant.id)).status_code == 403
    lifecycle = client.post(LIFECYCLE, {"intent": "save", "lifecycle_policy_text": LIFECYCLE_TEXT})
    assert lifecycle.status_code == 403 and "ecr:PutLifecyclePolicy" in lifecycle.content.decode()


def test_an_iam_user_allowed_to_simulate(make_user, tenant, other_tenant, repository):
    client = signed_in(make_user("auditor", "ecr:GetRepositoryPolicy", "iam:SimulatePrincipalPolicy"))
    response = client.post(PERMISSIONS, simulation(other_tenant.id))
    assert response.status_code == 200 and "<strong>Denied</strong>" in response.content.decode()
    response = client.get(PERMISSIONS)
    assert response.status_code == 200


# -- the lifecycle policy ----------------------------------------------------------------

LIFECYCLE_TEXT = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep three releases",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["v"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 3,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "old untagged",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            },
        ]
    },
    indent=2,
)


def test_without_a_lifecycle_policy_the_page_explains_one(root_client, repository, within_budget):
    page = within_budget(root_client, LIFECYCLE).content.decode()
    assert "This repository has no lifecycle policy" in page and "Expire untagged images after 14 days" in page
    assert "No preview yet" in page and 'aria-current="page">Lifecycle' in page


def test_saving_a_lifecycle_policy(root_client, repository):
    response = root_client.post(LIFECYCLE, {"intent": "save", "lifecycle_policy_text": LIFECYCLE_TEXT})
    assert response.status_code == 302 and response["Location"] == LIFECYCLE
    assert LifecyclePolicy.objects.get(repository=repository).text == LIFECYCLE_TEXT
    assert Event.objects.filter(event_name="PutLifecyclePolicy", repository="team/app").exists()
    page = root_client.get(LIFECYCLE).content.decode()
    assert "keep three releases" in page and "Not run yet" in page and "Delete policy" in page


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"rules": [' + " " * 100,
            "Could not map policyString into LifecyclePolicy.' (malformed JSON: Expecting value at line 1",
        ),
        (
            LIFECYCLE_TEXT.replace('"tagPrefixList": [\n          "v"\n        ],', ""),
            "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.",
        ),
        ('{"rules": []}', "Member must have length greater than or equal to 100"),
    ],
)
def test_an_invalid_lifecycle_policy_is_refused_with_ecrs_message(root_client, repository, text, message):
    for intent in ("save", "preview"):
        response = root_client.post(LIFECYCLE, {"intent": intent, "lifecycle_policy_text": text})
        page = response.content.decode()
        assert response.status_code == 400 and message in page.replace("&#x27;", "'"), page
    assert not LifecyclePolicy.objects.filter(repository=repository).exists()
    assert not LifecyclePreview.objects.filter(repository=repository).exists()


@pytest.fixture
def thirty_images(tenant, registry_client, repository):
    """30 images of team/app: v0..v19 tagged, 10 untagged, pushed days apart."""
    client = registry_client(tenant)
    now = timezone.now()
    digests = []
    for n in range(30):
        reference = f"v{n}" if n < 20 else "scratch"
        digest, _ = client.push_image(f"{tenant.id}/team/app", reference, seed=f"image-{n}".encode())
        Manifest.objects.filter(digest=digest, repository=repository).update(created_at=now - timedelta(days=40 - n))
        digests.append(digest)
    return digests


def test_previewing_a_draft_lists_what_would_expire_within_the_budget(
    root_client, repository, thirty_images, within_budget
):
    response = root_client.post(LIFECYCLE, {"intent": "preview", "lifecycle_policy_text": LIFECYCLE_TEXT})
    assert response.status_code == 302 and response["Location"].endswith("/-/lifecycle?previewed#lifecycle-preview")
    assert not LifecyclePolicy.objects.filter(repository=repository).exists()  # a preview saves nothing
    assert Event.objects.filter(event_name="StartLifecyclePolicyPreview").exists()
    preview = LifecyclePreview.objects.get(repository=repository)
    # 17 releases beyond the newest three, and the untagged images (the "scratch" tag moved on).
    assert len(preview.results) >= 17
    page = within_budget(root_client, LIFECYCLE + "?previewed").content.decode()
    assert f"{len(preview.results)} images would expire" in page and "under a draft policy" in page
    assert page.count("<tr>") == len(preview.results) + 1
    assert thirty_images[0][:19] in page and '<code class="tag">v0</code>' in page
    assert "keep three releases" in page  # the rule that expires it
    assert "&quot;keep three releases&quot;" in page.split('id="id_lifecycle_policy_text"')[1].split("</textarea>")[0]
    # Saved, the same text previews as the saved policy.
    root_client.post(LIFECYCLE, {"intent": "save", "lifecycle_policy_text": LIFECYCLE_TEXT})
    assert "under the saved policy" in within_budget(root_client, LIFECYCLE).content.decode()


def test_an_empty_editor_previews_the_saved_policy(root_client, repository, thirty_images):
    root_client.post(LIFECYCLE, {"intent": "save", "lifecycle_policy_text": LIFECYCLE_TEXT})
    response = root_client.post(LIFECYCLE, {"intent": "preview", "lifecycle_policy_text": ""})
    assert response.status_code == 302
    assert LifecyclePreview.objects.get(repository=repository).text == LIFECYCLE_TEXT
    LifecyclePolicy.objects.all().delete()
    nothing = root_client.post(LIFECYCLE, {"intent": "preview", "lifecycle_policy_text": ""})
    assert nothing.status_code == 400 and "there is no saved policy" in nothing.content.decode()


def test_a_preview_in_progress_says_so(root_client, repository):
    LifecyclePreview.objects.create(
        repository=repository, text=LIFECYCLE_TEXT, status=PreviewStatus.IN_PROGRESS, started_at=timezone.now()
    )
    page = root_client.get(LIFECYCLE).content.decode()
    assert 'data-status="IN_PROGRESS"' in page and "Preview in progress" in page and "Refresh</a>" in page


def test_deleting_the_lifecycle_policy(root_client, repository):
    root_client.post(LIFECYCLE, {"intent": "save", "lifecycle_policy_text": LIFECYCLE_TEXT})
    assert root_client.post(LIFECYCLE, {"intent": "delete"}).status_code == 302
    assert not LifecyclePolicy.objects.filter(repository=repository).exists()
    assert Event.objects.filter(event_name="DeleteLifecyclePolicy").exists()
    again = root_client.post(LIFECYCLE, {"intent": "delete"})
    assert again.status_code == 404 and "has no lifecycle policy to delete" in again.content.decode()


def test_an_iam_user_who_may_read_but_not_preview_sees_no_preview(make_user, repository):
    LifecyclePreview.objects.create(
        repository=repository, text=LIFECYCLE_TEXT, status=PreviewStatus.COMPLETE, started_at=timezone.now()
    )
    client = signed_in(make_user("reader", "ecr:GetLifecyclePolicy"))
    page = client.get(LIFECYCLE).content.decode()
    assert "Nothing would expire" not in page and 'id="preview-policy"' not in page
    refused = client.post(LIFECYCLE, {"intent": "preview", "lifecycle_policy_text": LIFECYCLE_TEXT})
    assert refused.status_code == 403 and "ecr:StartLifecyclePolicyPreview" in refused.content.decode()


def test_error_locations_are_read_from_the_parsers_messages():
    assert error_location("malformed JSON: Expecting value at line 3 column 7") == {"line": 3, "column": 7}
    assert error_location('Statement 2 (Sid "x"): unknown action') == {"statement": 2}
    assert error_location("policy has no Statement") == {}


def test_an_iam_users_pages_keep_the_budget(make_user, tenant, other_tenant, repository, within_budget):
    """An IAM user's pages also read its policies and the repository's: still within the budget."""
    client = signed_in(
        make_user(
            "operator",
            "ecr:GetRepositoryPolicy",
            "ecr:SetRepositoryPolicy",
            "ecr:DeleteRepositoryPolicy",
            "ecr:GetLifecyclePolicy",
            "ecr:PutLifecyclePolicy",
            "ecr:DeleteLifecyclePolicy",
            "ecr:StartLifecyclePolicyPreview",
            "ecr:GetLifecyclePolicyPreview",
        )
    )
    for n in range(3):
        make_user(f"dev{n}")
    iam_services.set_repository_policy(
        repository=repository, document=_policy(allow({"AWS": other_tenant.id}, PULL)), actor=SYSTEM
    )
    assert client.post(LIFECYCLE, {"intent": "save", "lifecycle_policy_text": LIFECYCLE_TEXT}).status_code == 302
    assert client.post(LIFECYCLE, {"intent": "preview", "lifecycle_policy_text": ""}).status_code == 302
    permissions = within_budget(client, PERMISSIONS).content.decode()
    assert "Save policy" in permissions and "Delete policy" in permissions
    assert f"arn:berth:iam::{tenant.id}:user/dev2" in permissions
    lifecycle = within_budget(client, LIFECYCLE).content.decode()
    assert "Save policy" in lifecycle and "Delete policy" in lifecycle and 'id="preview-summary"' in lifecycle
