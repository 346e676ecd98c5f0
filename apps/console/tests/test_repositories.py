"""The console's repository pages: the list and its search, creating a repository,
its settings and deleting it, each with the API's authorize actions and services,
within the query budget, another account's repositories never found."""

from __future__ import annotations

import html
import json
import re

import pytest

from apps.accounts.tests.test_settings_authorization import iam_user
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.console import repositories as repository_pages
from apps.iam import services as iam_services
from apps.registry.models import Manifest
from apps.repositories import services as repository_services
from apps.repositories.models import Repository, RepositoryTag, TagMutability, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def read_events_off(settings):
    """Read events are spooled by the server (no query of the page's); the tests write
    them at once, with queries of their own, so a query budget leaves them out."""
    settings.BERTH_AUDIT_READ_EVENTS = False


def text_of(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def listed(response) -> list[str]:
    return re.findall(r'<tr data-repository="([^"]+)"', response.content.decode())


def create(tenant, name: str, **settings) -> Repository:
    return repository_services.create_repository(
        account=tenant.account, name=name, actor=Actor.system("test"), **settings
    )


def allow(tenant, user, *statements: tuple[str | list[str], str]):
    """Attach a policy allowing each (actions, resource) to the IAM user."""
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": resource} for actions, resource in statements
            ],
        }
    )
    policy = iam_services.create_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        name=f"p{Event.objects.count()}-{user.pk}",
        document=document,
    )
    iam_services.attach_policy(actor=Actor.system("test"), account=tenant.account, managed_policy=policy, user=user)


def console_events(name: str) -> list[Event]:
    """The events named ``name`` of signed-in users (not the tests' own set-up)."""
    return list(Event.objects.filter(event_name=name).exclude(actor_type="BerthService").order_by("sequence"))


# -- the list --------------------------------------------------------------------------


def test_the_list_shows_thirty_repositories_within_the_budget(
    root_client, tenant, other_tenant, registry_client, within_budget, read_events_off
):
    for n in range(30):
        create(
            tenant,
            f"team/svc-{n:02d}",
            visibility=Visibility.PUBLIC if n % 5 == 0 else Visibility.PRIVATE,
            image_tag_mutability=TagMutability.IMMUTABLE_WITH_EXCLUSION if n % 7 == 0 else TagMutability.MUTABLE,
            image_tag_mutability_exclusion_filters=["latest", "dev-*"] if n % 7 == 0 else [],
            scan_on_push=n % 2 == 0,
        )
    client = registry_client(tenant)
    for n in range(0, 30, 3):
        client.push_image(f"{tenant.id}/team/svc-{n:02d}", "1.0", seed=bytes([n]))
    client.push_image(f"{tenant.id}/team/svc-00", "2.0", layers=2, seed=b"second")
    create(other_tenant, "team/svc-99")

    response = within_budget(root_client, "/console/repositories")
    body = response.content.decode()
    assert listed(response) == [f"team/svc-{n:02d}" for n in range(30)]
    assert "team/svc-99" not in body
    row = re.search(r'<tr data-repository="team/svc-00">(.*?)</tr>', body, re.S).group(1)
    assert "Public" in row and f"testserver/{tenant.alias}/team/svc-00" in row
    assert re.search(r'data-label="Images" class="number">2<', row)
    assert "KiB" in row and "<time datetime=" in row
    assert "Immutable, except" in row and "<code>latest</code>" in row and "<code>dev-*</code>" in row
    assert ">On<" in row
    quiet = re.search(r'<tr data-repository="team/svc-01">(.*?)</tr>', body, re.S).group(1)
    assert "Private" in quiet and f"testserver/{tenant.id}/team/svc-01" in quiet
    assert re.search(r'data-label="Images" class="number">0<', quiet) and "never" in quiet and "0\xa0B" in quiet


def test_search_finds_names_holding_the_text_ignoring_case(root_client, tenant):
    for name in ("team/app", "my-team-tools", "other", "teamwork"):
        create(tenant, name)
    response = root_client.get("/console/repositories", {"q": "  TEAM "})
    assert listed(response) == ["my-team-tools", "team/app", "teamwork"]
    assert 'value="TEAM"' in response.content.decode()
    assert listed(root_client.get("/console/repositories", {"q": "nothing-like-it"})) == []
    assert "No repository has a name holding" in text_of(root_client.get("/console/repositories", {"q": "zzz"}))
    assert root_client.get("/console/repositories", {"q": "app\x00"}).status_code == 400  # the site's NUL guard
    assert len(listed(root_client.get("/console/repositories", {"q": "x" * 5000}))) == 0


def test_the_list_pages_and_keeps_the_search(root_client, tenant, monkeypatch):
    monkeypatch.setattr(repository_pages, "PAGE_SIZE", 2)
    for name in ("app-a", "app-b", "app-c", "app-d", "app-e", "other"):
        create(tenant, name)
    first = root_client.get("/console/repositories", {"q": "app"})
    assert listed(first) == ["app-a", "app-b"]
    assert 'href="/console/repositories?q=app&amp;page=2"' in first.content.decode()
    third = root_client.get("/console/repositories", {"q": "app", "page": "3"})
    assert listed(third) == ["app-e"]
    assert 'href="/console/repositories?q=app&amp;page=2"' in third.content.decode()
    assert listed(root_client.get("/console/repositories", {"q": "app", "page": "junk"})) == ["app-a", "app-b"]


def test_an_iam_user_lists_only_what_its_policies_let_it_describe(client, tenant):
    for name in ("team/app", "team/web", "secret"):
        create(tenant, name)
    user = iam_user(tenant, "dev")
    allow(tenant, user, ("ecr:DescribeRepositories", f"arn:aws:ecr:*:{tenant.id}:repository/team/*"))
    client.force_login(user)
    assert listed(client.get("/console/repositories")) == ["team/app", "team/web"]


def test_an_iam_user_without_permission_is_told_which_one_it_needs(client, tenant):
    create(tenant, "secret")
    client.force_login(iam_user(tenant, "intern"))
    response = client.get("/console/repositories")
    assert response.status_code == 200 and listed(response) == []
    assert "secret" not in response.content.decode()
    assert "ecr:DescribeRepositories" in text_of(response)
    assert [event.error_code for event in console_events("DescribeRepositories")] == [""]


# -- creating --------------------------------------------------------------------------

CREATE = {
    "name": "team/api",
    "visibility": "private",
    "image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
    "exclusion_filters": "latest\ndev-*",
    "scan_on_push": "on",
    "resource_tags": "team=payments\ncost-center = 42\n\n",
}


def test_the_create_page_is_within_the_budget_and_preselects_public(root_client, within_budget):
    body = within_budget(root_client, "/console/new-repository?visibility=public").content.decode()
    assert re.search(r'<input type="radio" name="visibility" value="public"[^>]*checked', body)
    # Encryption at rest is offered, none preselected (BERTH_DEFAULT_ENCRYPTION is empty).
    assert re.search(r'<option value="" selected>None</option>', body)


def test_the_root_creates_a_repository_with_every_setting(root_client, tenant):
    response = root_client.post("/console/new-repository", CREATE)
    assert response.status_code == 302 and response["Location"] == "/console/repositories/team/api"
    repository = Repository.objects.get(account=tenant.account, name="team/api")
    assert repository.visibility == Visibility.PRIVATE
    assert repository.image_tag_mutability == TagMutability.IMMUTABLE_WITH_EXCLUSION
    assert repository.image_tag_mutability_exclusion_filters == ["latest", "dev-*"]
    assert repository.scan_on_push is True
    assert {tag.key: tag.value for tag in repository.resource_tags.all()} == {"team": "payments", "cost-center": "42"}
    (event,) = console_events("CreateRepository")
    assert (event.event_source, event.actor_type, event.repository, event.error_code) == ("ecr", "Root", "team/api", "")
    assert event.request_parameters["imageTagMutabilityExclusionFilters"] == ["latest", "dev-*"]
    follow = root_client.get("/console/repositories")
    assert "Created the private repository team/api." in text_of(follow)


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"name": "Team/API"}, "name", "invalid repository name"),
        ({"name": ""}, "name", "This field is required"),
        ({"name": "a" * 257}, "name", "at most 256 characters"),
        ({"image_tag_mutability": "MUTABLE"}, "exclusion_filters", "exclusion filters apply only with"),
        ({"exclusion_filters": ""}, "exclusion_filters", "needs at least one exclusion filter"),
        ({"exclusion_filters": "a b c d e f"}, "exclusion_filters", "at most 5 exclusion filters"),
        ({"exclusion_filters": "v1.[0-9]"}, "exclusion_filters", "invalid exclusion filter"),
        ({"visibility": "internal"}, "visibility", "Select a valid choice"),
        ({"resource_tags": "team"}, "resource_tags", "line 1: write each tag as key=value"),
        ({"resource_tags": "a=1\na=2"}, "resource_tags", "line 2: the key 'a' is given twice"),
        ({"resource_tags": "bad<key=1"}, "resource_tags", "invalid tag key"),
    ],
)
def test_bad_input_is_shown_on_its_field_and_nothing_is_stored(root_client, tenant, change, field, message):
    response = root_client.post("/console/new-repository", {**CREATE, **change})
    body = response.content.decode()
    assert response.status_code == 400
    errors = re.search(rf'<ul class="errorlist" id="id_{field}-errors">(.*?)</ul>', body, re.S)
    assert errors is not None and message in html.unescape(errors.group(1))
    assert not Repository.objects.filter(account=tenant.account).exists()
    assert not console_events("CreateRepository")


def test_a_name_the_account_already_has_is_a_form_error(root_client, tenant, other_tenant):
    create(other_tenant, "team/api")  # another account's is no obstacle
    assert root_client.post("/console/new-repository", {**CREATE, "name": "team/api"}).status_code == 302
    again = root_client.post("/console/new-repository", {**CREATE, "name": "team/api", "scan_on_push": ""})
    assert again.status_code == 400
    assert "Your account already has a repository named team/api." in text_of(again)
    assert Repository.objects.get(account=tenant.account, name="team/api").scan_on_push is True
    assert [event.error_code for event in console_events("CreateRepository")] == ["", "repository_already_exists"]


def test_creating_asks_the_api_s_actions(client, tenant):
    user = iam_user(tenant, "builder", "ecr:CreateRepository")
    client.force_login(user)
    refused = client.post("/console/new-repository", CREATE)  # resource tags take ecr:TagResource
    assert refused.status_code == 403 and "ecr:TagResource" in text_of(refused)
    public = client.post("/console/new-repository", {**CREATE, "resource_tags": "", "visibility": "public"})
    assert public.status_code == 403 and "ecr:SetRepositoryPolicy" in text_of(public)
    assert not Repository.objects.exists()
    plain = client.post("/console/new-repository", {**CREATE, "resource_tags": ""})
    assert plain.status_code == 302
    assert [event.error_code for event in console_events("CreateRepository")] == ["AccessDenied", "AccessDenied", ""]


def test_an_iam_user_without_permission_gets_the_403_page(client, tenant):
    client.force_login(iam_user(tenant, "intern"))
    refused = client.post("/console/new-repository", {**CREATE, "resource_tags": ""})
    assert refused.status_code == 403 and "ecr:CreateRepository" in text_of(refused)
    assert not Repository.objects.exists()


# -- settings --------------------------------------------------------------------------


def settings_of(repository: Repository, **change) -> dict:
    data = {
        "visibility": repository.visibility,
        "image_tag_mutability": repository.image_tag_mutability,
        "exclusion_filters": "\n".join(repository.image_tag_mutability_exclusion_filters),
        "resource_tags": "\n".join(f"{t.key}={t.value}" for t in repository.resource_tags.order_by("key")),
    }
    if repository.scan_on_push:
        data["scan_on_push"] = "on"
    data.update(change)
    return {key: value for key, value in data.items() if value is not None}


def test_the_settings_page_shows_the_settings_within_the_budget(root_client, tenant, within_budget, read_events_off):
    create(
        tenant,
        "team/api",
        image_tag_mutability=TagMutability.MUTABLE_WITH_EXCLUSION,
        image_tag_mutability_exclusion_filters=["release-*"],
        resource_tags={f"k{n:03d}": str(n) for n in range(40)},
    )
    body = within_budget(root_client, "/console/repositories/team/api/-/settings").content.decode()
    assert re.search(r'value="MUTABLE_WITH_EXCLUSION"[^>]*checked', body)
    assert ">release-*</textarea>" in body.replace("\n", "")
    assert "k000=0" in body and "k039=39" in body
    assert 'aria-current="page">Settings' in body
    assert 'href="/console/repositories/team/api/-/delete"' in body


def test_saving_settings_changes_them_in_one_update(root_client, tenant):
    repository = create(tenant, "team/api", resource_tags={"team": "a"})
    response = root_client.post(
        "/console/repositories/team/api/-/settings",
        settings_of(
            repository,
            visibility="public",
            image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
            exclusion_filters="latest, nightly-*",
            scan_on_push="on",
            resource_tags="team=b\nowner=ops",
        ),
    )
    assert response.status_code == 302 and response["Location"] == "/console/repositories/team/api/-/settings"
    repository.refresh_from_db()
    assert repository.visibility == Visibility.PUBLIC and repository.scan_on_push
    assert repository.image_tag_mutability_exclusion_filters == ["latest", "nightly-*"]
    assert dict(RepositoryTag.objects.filter(repository=repository).values_list("key", "value")) == {
        "team": "b",
        "owner": "ops",
    }
    # Named, as the API's update is, after the first of the operations it performs.
    (event,) = console_events("PutImageTagMutability")
    assert (event.event_source, event.repository, event.actor_type, event.error_code) == ("ecr", "team/api", "Root", "")
    assert event.request_parameters["visibility"] == "public"
    assert event.request_parameters["tags"] == {"team": "b", "owner": "ops"}
    page = root_client.get("/console/repositories/team/api/-/settings")
    assert "Saved the settings of team/api" in text_of(page)


def test_saving_unchanged_settings_changes_nothing(root_client, tenant):
    repository = create(tenant, "team/api", resource_tags={"team": "a"})
    response = root_client.post("/console/repositories/team/api/-/settings", settings_of(repository))
    assert response.status_code == 302
    assert Event.objects.filter(read_only=False).exclude(actor_type="BerthService").count() == 0
    assert "Nothing to save" in text_of(root_client.get(response["Location"]))


def test_a_settings_change_asks_only_for_what_it_changes(client, tenant):
    repository = create(tenant, "team/api")
    user = iam_user(tenant, "scanner", "ecr:DescribeRepositories", "ecr:PutImageScanningConfiguration")
    client.force_login(user)
    assert client.get("/console/repositories/team/api/-/settings").status_code == 200
    ok = client.post("/console/repositories/team/api/-/settings", settings_of(repository, scan_on_push="on"))
    assert ok.status_code == 302
    repository.refresh_from_db()
    assert repository.scan_on_push
    assert [event.error_code for event in console_events("PutImageScanningConfiguration")] == [""]
    refused = client.post("/console/repositories/team/api/-/settings", settings_of(repository, visibility="public"))
    assert refused.status_code == 403 and "ecr:SetRepositoryPolicy" in text_of(refused)
    tags = client.post("/console/repositories/team/api/-/settings", settings_of(repository, resource_tags="a=b"))
    assert tags.status_code == 403 and "ecr:TagResource" in text_of(tags)
    repository.refresh_from_db()
    assert repository.visibility == Visibility.PRIVATE and not repository.resource_tags.exists()
    assert [event.error_code for event in console_events("SetRepositoryPolicy")] == ["AccessDenied"]


def test_bad_settings_are_form_errors_and_change_nothing(root_client, tenant):
    repository = create(tenant, "team/api")
    response = root_client.post(
        "/console/repositories/team/api/-/settings",
        settings_of(repository, image_tag_mutability="IMMUTABLE_WITH_EXCLUSION", exclusion_filters="bad[filter]"),
    )
    assert response.status_code == 400
    assert "invalid exclusion filter" in text_of(response)
    repository.refresh_from_db()
    assert repository.image_tag_mutability == TagMutability.MUTABLE
    (event,) = console_events("PutImageTagMutability")
    assert event.error_code == "invalid" and "exclusion" in event.error_message


def test_an_iam_user_without_permission_cannot_see_settings(client, tenant):
    create(tenant, "team/api")
    client.force_login(iam_user(tenant, "intern"))
    refused = client.get("/console/repositories/team/api/-/settings")
    assert refused.status_code == 403 and "ecr:DescribeRepositories" in text_of(refused)


def test_another_account_s_repository_is_never_found(root_client, other_tenant):
    theirs = create(other_tenant, "team/api")
    for path in ("/-/settings", "/-/delete"):
        assert root_client.get(f"/console/repositories/team/api{path}").status_code == 404
    changed = root_client.post("/console/repositories/team/api/-/settings", settings_of(theirs, visibility="public"))
    deleted = root_client.post("/console/repositories/team/api/-/delete", {"confirm": "team/api", "force": "on"})
    assert changed.status_code == 404 and deleted.status_code == 404
    theirs.refresh_from_db()
    assert theirs.visibility == Visibility.PRIVATE
    assert Event.objects.filter(read_only=False, error_code="").exclude(actor_type="BerthService").count() == 0


# -- deleting --------------------------------------------------------------------------


def test_the_delete_page_asks_for_the_name_within_the_budget(
    root_client, tenant, registry_client, within_budget, read_events_off
):
    create(tenant, "team/api")
    registry_client(tenant).push_image(f"{tenant.id}/team/api", "1.0")
    body = within_budget(root_client, "/console/repositories/team/api/-/delete").content.decode()
    assert 'data-confirm-word="team/api"' in body and 'name="confirm"' in body and 'name="force"' in body
    assert "holds 1 image" in body


def test_a_wrong_confirmation_deletes_nothing(root_client, tenant):
    create(tenant, "team/api")
    response = root_client.post("/console/repositories/team/api/-/delete", {"confirm": "team/ap"})
    assert response.status_code == 400 and "Type the name team/api exactly" in text_of(response)
    assert Repository.objects.filter(name="team/api").exists()
    (event,) = console_events("DeleteRepository")
    assert event.error_code == "invalid"


def test_a_repository_with_images_needs_force(root_client, tenant, registry_client):
    create(tenant, "team/api")
    registry_client(tenant).push_image(f"{tenant.id}/team/api", "1.0")
    kept = root_client.post("/console/repositories/team/api/-/delete", {"confirm": "team/api"})
    assert kept.status_code == 400 and "still holds images" in text_of(kept)
    assert Manifest.objects.filter(repository__name="team/api").exists()
    deleted = root_client.post("/console/repositories/team/api/-/delete", {"confirm": "team/api", "force": "on"})
    assert deleted.status_code == 302 and deleted["Location"] == "/console/repositories"
    assert not Repository.objects.filter(name="team/api").exists()
    events = console_events("DeleteRepository")
    assert [event.error_code for event in events] == ["repository_not_empty", ""]
    assert events[-1].request_parameters["force"] is True
    assert "Deleted the repository team/api and its images." in text_of(root_client.get("/console/repositories"))


def test_an_empty_repository_is_deleted_without_force(root_client, tenant):
    create(tenant, "team/api")
    body = root_client.get("/console/repositories/team/api/-/delete").content.decode()
    assert 'id="holds-nothing"' in body and 'name="force"' not in body
    response = root_client.post("/console/repositories/team/api/-/delete", {"confirm": "team/api"})
    assert response.status_code == 302
    assert not Repository.objects.exists()
    (event,) = console_events("DeleteRepository")
    assert (event.event_source, event.error_code, event.request_parameters["force"]) == ("ecr", "", False)


def test_an_iam_user_without_permission_cannot_delete(client, tenant):
    create(tenant, "team/api")
    client.force_login(iam_user(tenant, "reader", "ecr:DescribeRepositories"))
    settings_page = client.get("/console/repositories/team/api/-/settings").content.decode()
    assert 'href="/console/repositories/team/api/-/delete"' not in settings_page
    refused = client.post("/console/repositories/team/api/-/delete", {"confirm": "team/api"})
    assert refused.status_code == 403 and "ecr:DeleteRepository" in text_of(refused)
    assert Repository.objects.filter(name="team/api").exists()


def test_an_iam_user_s_pages_keep_the_budget_too(client, tenant, within_budget, read_events_off):
    for n in range(30):
        create(tenant, f"team/svc-{n:02d}", resource_tags={"team": "a"})
    user = iam_user(tenant, "dev")
    allow(
        tenant,
        user,
        (["ecr:DescribeRepositories", "ecr:DeleteRepository"], f"arn:aws:ecr:*:{tenant.id}:repository/team/*"),
    )
    client.force_login(user)
    assert len(listed(within_budget(client, "/console/repositories"))) == 30
    within_budget(client, "/console/repositories/team/svc-03/-/settings")
    within_budget(client, "/console/repositories/team/svc-03/-/delete")
    within_budget(client, "/console")
