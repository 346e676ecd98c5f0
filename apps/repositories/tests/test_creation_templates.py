"""Repository creation templates: validation on every write (the policy texts by the
validators apps.iam and apps.lifecycle register), which template a name takes, the
audit events, and /api/v1/repository-creation-templates with IAM enforced."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.conftest import basic_auth
from apps.iam import services as iam_services
from apps.repositories import selectors
from apps.repositories.creation_templates import (
    CreationTemplateExists,
    CreationTemplateInvalid,
    CreationTemplateNotFound,
    create_repository_creation_template,
    delete_repository_creation_template,
    update_repository_creation_template,
)
from apps.repositories.models import RepositoryCreationTemplate

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
LIFECYCLE_POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


def repository_policy(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "ecr:BatchGetImage"}
            ],
        }
    )


def create(tenant, prefix="prod", applied_for=("REPLICATION",), **settings):
    return create_repository_creation_template(
        account=tenant.account, prefix=prefix, applied_for=list(applied_for), actor=ACTOR, **settings
    )


# -- services -----------------------------------------------------------------------


def test_a_template_keeps_its_settings_and_is_recorded(tenant, other_tenant):
    template = create(
        tenant,
        prefix="prod/team/",
        applied_for=["PULL_THROUGH_CACHE", "REPLICATION"],
        description="production images",
        image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        image_tag_mutability_exclusion_filters=["latest"],
        resource_tags={"team": "platform"},
        repository_policy=repository_policy(other_tenant.id),
        lifecycle_policy=LIFECYCLE_POLICY,
        encryption_configuration={"encryptionType": "AES256"},
    )
    stored = RepositoryCreationTemplate.objects.get(pk=template.pk)
    assert stored.prefix == "prod/team"  # ECR's assumed trailing "/" is not stored
    assert stored.applied_for == ["REPLICATION", "PULL_THROUGH_CACHE"]
    assert (stored.image_tag_mutability, stored.image_tag_mutability_exclusion_filters) == (
        "IMMUTABLE_WITH_EXCLUSION",
        ["latest"],
    )
    assert (stored.resource_tags, stored.encryption_type) == ({"team": "platform"}, "AES256")
    assert stored.lifecycle_policy == LIFECYCLE_POLICY
    event = Event.objects.get(event_name="CreateRepositoryCreationTemplate")
    assert (event.event_source, event.recipient_account_id, event.actor_type) == ("ecr", tenant.id, "BerthService")
    assert event.request_parameters["prefix"] == "prod/team"
    assert event.request_parameters["appliedFor"] == ["REPLICATION", "PULL_THROUGH_CACHE"]

    with pytest.raises(CreationTemplateExists, match="already has a repository creation template for prefix prod/team"):
        create(tenant, prefix="prod/team")
    assert create(other_tenant, prefix="prod/team").account_id == other_tenant.id


@pytest.mark.parametrize(
    ("given", "field", "complaint"),
    [
        ({"prefix": "Prod"}, "prefix", "invalid prefix"),
        ({"prefix": "/prod"}, "prefix", "invalid prefix"),
        ({"prefix": "a//b"}, "prefix", "invalid prefix"),
        ({"prefix": "x" * 257}, "prefix", "invalid prefix"),
        ({"applied_for": []}, "appliedFor", "one or both"),
        ({"applied_for": ["MIRROR"]}, "appliedFor", "not MIRROR"),
        (
            {"encryption_configuration": {"encryptionType": "KMS"}},
            "encryptionConfiguration",
            "needs a KMS key",
        ),
        (
            {"encryption_configuration": {"encryptionType": "KMS_DSSE", "kmsKey": "k"}},
            "encryptionConfiguration",
            "KMS_DSSE",
        ),
        (
            {"encryption_configuration": {"encryptionType": "AES256", "kmsKey": "arn:aws:kms:k"}},
            "encryptionConfiguration",
            "only given with encryption type KMS",
        ),
        ({"encryption_configuration": {"encryptionType": "ROT13"}}, "encryptionConfiguration", "must be AES256 or KMS"),
        ({"image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION"}, "imageTagMutability", "at least one exclusion"),
        ({"image_tag_mutability": "SOMETIMES"}, "imageTagMutability", "must be one of"),
        ({"resource_tags": {"bad key!": "v"}}, "resourceTags", "invalid tag key"),
        ({"description": "d" * 257}, "description", "at most 256"),
        ({"repository_policy": "{"}, "repositoryPolicy", "malformed JSON"),
        ({"repository_policy": repository_policy("999999999999")}, "repositoryPolicy", "does not exist"),
        ({"lifecycle_policy": '{"rules": []}'}, "lifecyclePolicy", "invalid lifecyclePolicy"),
        ({"lifecycle_policy": "not json"}, "lifecyclePolicy", "invalid lifecyclePolicy"),
    ],
)
def test_what_a_template_cannot_hold_is_refused_naming_the_field(tenant, given, field, complaint):
    with pytest.raises(CreationTemplateInvalid, match=complaint) as refused:
        create(tenant, **given)
    assert refused.value.field == field
    assert not RepositoryCreationTemplate.objects.exists()
    assert not Event.objects.filter(event_name="CreateRepositoryCreationTemplate").exists()


def test_update_replaces_what_is_given_and_keeps_the_rest(tenant):
    template = create(tenant, description="before", resource_tags={"a": "1"}, lifecycle_policy=LIFECYCLE_POLICY)
    updated = update_repository_creation_template(
        template=template,
        description="after",
        image_tag_mutability="IMMUTABLE",
        applied_for=["PULL_THROUGH_CACHE"],
        lifecycle_policy="",
        actor=ACTOR,
    )
    stored = RepositoryCreationTemplate.objects.get(pk=updated.pk)
    assert (stored.description, stored.image_tag_mutability, stored.applied_for) == (
        "after",
        "IMMUTABLE",
        ["PULL_THROUGH_CACHE"],
    )
    assert (stored.resource_tags, stored.lifecycle_policy) == ({"a": "1"}, "")
    event = Event.objects.get(event_name="UpdateRepositoryCreationTemplate")
    assert event.request_parameters == {
        "registryId": tenant.id,
        "prefix": "prod",
        "description": "after",
        "imageTagMutability": "IMMUTABLE",
        "appliedFor": ["PULL_THROUGH_CACHE"],
        "removedPolicies": ["lifecyclePolicy"],
    }
    with pytest.raises(CreationTemplateInvalid, match="needs a KMS key"):
        update_repository_creation_template(
            template=stored, encryption_configuration={"encryptionType": "KMS"}, actor=ACTOR
        )
    assert RepositoryCreationTemplate.objects.get(pk=stored.pk).encryption_type == "AES256"


def test_delete_returns_the_template_and_a_missing_one_is_not_found(tenant):
    create(tenant, prefix="ROOT")
    deleted = delete_repository_creation_template(account=tenant.account, prefix="ROOT", actor=ACTOR)
    assert deleted.prefix == "ROOT"
    assert not RepositoryCreationTemplate.objects.exists()
    with pytest.raises(CreationTemplateNotFound):
        delete_repository_creation_template(account=tenant.account, prefix="ROOT", actor=ACTOR)
    assert Event.objects.filter(event_name="DeleteRepositoryCreationTemplate").count() == 1


# -- which template a name takes ----------------------------------------------------


def test_the_longest_matching_prefix_applied_for_the_purpose_wins_and_root_comes_last(tenant):
    create(tenant, prefix="ROOT", applied_for=["REPLICATION", "PULL_THROUGH_CACHE"])
    create(tenant, prefix="prod", applied_for=["REPLICATION"])
    create(tenant, prefix="prod/team", applied_for=["REPLICATION"])
    create(tenant, prefix="prod/team/app", applied_for=["PULL_THROUGH_CACHE"])

    def chosen(name, applied_for="REPLICATION"):
        template = selectors.creation_template_for(tenant.id, name, applied_for)
        return template.prefix if template else None

    assert chosen("prod/team/app/web") == "prod/team"  # the longer one is for the cache only
    assert chosen("prod/team/app/web", "PULL_THROUGH_CACHE") == "prod/team/app"
    assert chosen("prod/other") == "prod"
    assert chosen("prod") == "ROOT"  # `prod` names the namespace prod/, not the repository prod
    assert chosen("production/app") == "ROOT"
    assert chosen("prod/x", "PULL_THROUGH_CACHE") == "ROOT"
    assert selectors.creation_template_for(tenant.id + "0", "prod/x", "REPLICATION") is None


def test_without_root_a_name_outside_every_prefix_takes_none(tenant, other_tenant):
    create(tenant, prefix="prod")
    create(other_tenant, prefix="ROOT")
    assert selectors.creation_template_for(tenant.id, "dev/app", "REPLICATION") is None


# -- the API ------------------------------------------------------------------------

URL = "/api/v1/repository-creation-templates"


def test_create_describe_update_delete_with_ecr_shapes(api_client, tenant, other_tenant):
    client = api_client(tenant)
    created = client.post(
        URL,
        {
            "prefix": "prod/team",
            "appliedFor": ["REPLICATION"],
            "description": "team images",
            "imageTagMutability": "IMMUTABLE",
            "resourceTags": [{"key": "team", "value": "platform"}],
            "repositoryPolicy": repository_policy(f"arn:aws:iam::{other_tenant.id}:root"),
            "lifecyclePolicy": LIFECYCLE_POLICY,
            "encryptionConfiguration": {"encryptionType": "AES256"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["registryId"] == tenant.id
    template = body["repositoryCreationTemplate"]
    assert {key: template[key] for key in template if key not in ("createdAt", "updatedAt")} == {
        "prefix": "prod/team",
        "description": "team images",
        "imageTagMutability": "IMMUTABLE",
        "imageTagMutabilityExclusionFilters": [],
        "resourceTags": [{"key": "team", "value": "platform"}],
        "repositoryPolicy": repository_policy(f"arn:aws:iam::{other_tenant.id}:root"),
        "lifecyclePolicy": LIFECYCLE_POLICY,
        "appliedFor": ["REPLICATION"],
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }
    again = client.post(URL, {"prefix": "prod/team/", "appliedFor": ["REPLICATION"]}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "template_already_exists"
    assert client.post(URL, {"prefix": "ROOT", "appliedFor": ["PULL_THROUGH_CACHE"]}, format="json").status_code == 201

    listed = client.get(URL).json()
    assert [t["prefix"] for t in listed["repositoryCreationTemplates"]] == ["ROOT", "prod/team"]
    assert listed["nextToken"] is None
    first = client.get(URL, {"maxResults": 1}).json()
    assert len(first["repositoryCreationTemplates"]) == 1 and first["nextToken"]
    second = client.get(URL, {"maxResults": 1, "nextToken": first["nextToken"]}).json()
    assert [t["prefix"] for t in first["repositoryCreationTemplates"] + second["repositoryCreationTemplates"]] == [
        "ROOT",
        "prod/team",
    ]
    assert second["nextToken"] is None
    only = client.get(f"{URL}?prefixes=prod/team&prefixes=nothing").json()
    assert [t["prefix"] for t in only["repositoryCreationTemplates"]] == ["prod/team"]

    assert client.get(f"{URL}/prod/team").json()["repositoryCreationTemplate"]["description"] == "team images"
    patched = client.patch(f"{URL}/prod/team", {"description": "changed", "repositoryPolicy": ""}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["repositoryCreationTemplate"]["description"] == "changed"
    assert patched.json()["repositoryCreationTemplate"]["repositoryPolicy"] == ""
    assert patched.json()["repositoryCreationTemplate"]["lifecyclePolicy"] == LIFECYCLE_POLICY

    deleted = client.delete(f"{URL}/prod/team")
    assert deleted.status_code == 200 and deleted.json()["repositoryCreationTemplate"]["prefix"] == "prod/team"
    missing = client.get(f"{URL}/prod/team")
    assert missing.status_code == 404 and missing.json()["code"] == "template_not_found"
    assert client.delete(f"{URL}/prod/team").status_code == 404
    assert client.patch(f"{URL}/prod/team", {"description": "x"}, format="json").status_code == 404
    assert api_client(other_tenant).get(f"{URL}/ROOT").status_code == 404
    names = set(
        Event.objects.filter(error_code="", recipient_account_id=tenant.id).values_list("event_name", flat=True)
    )
    assert {
        "CreateRepositoryCreationTemplate",
        "UpdateRepositoryCreationTemplate",
        "DeleteRepositoryCreationTemplate",
    } <= names


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prefix": "prod", "appliedFor": []}, "appliedFor"),
        ({"prefix": "prod", "appliedFor": ["MIRROR"]}, "appliedFor"),
        ({"prefix": "Prod!", "appliedFor": ["REPLICATION"]}, "prefix"),
        (
            {"prefix": "prod", "appliedFor": ["REPLICATION"], "encryptionConfiguration": {"encryptionType": "KMS"}},
            "encryptionConfiguration",
        ),  # fmt: skip
        ({"prefix": "prod", "appliedFor": ["REPLICATION"], "lifecyclePolicy": '{"rules": 1}'}, "lifecyclePolicy"),
        ({"prefix": "prod", "appliedFor": ["REPLICATION"], "repositoryPolicy": "[]"}, "repositoryPolicy"),
        ({"appliedFor": ["REPLICATION"]}, "prefix"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, tenant, body, field):
    refused = api_client(tenant).post(URL, body, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["errors"][0]["field"].split(".")[0] == field


def test_iam_decides_who_may_manage_templates(api_client, tenant):
    iam_services.create_user(account=tenant.account, username="viewer", actor=ACTOR)
    viewer = get_user_model().objects.get(membership__user_name="viewer")
    describe_only = iam_services.create_policy(
        account=tenant.account,
        name="DescribeTemplates",
        document=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "ecr:DescribeRepositoryCreationTemplates", "Resource": "*"}
                ],
            }
        ),
        actor=ACTOR,
    )
    iam_services.attach_policy(account=tenant.account, managed_policy=describe_only, user=viewer, actor=ACTOR)
    new_key = account_services.create_access_key(actor=ACTOR, user=viewer)
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))

    refused = client.post(URL, {"prefix": "prod", "appliedFor": ["REPLICATION"]}, format="json")
    assert refused.status_code == 403 and "ecr:CreateRepositoryCreationTemplate" in refused.json()["detail"]
    create(tenant)
    assert client.get(URL).json()["repositoryCreationTemplates"][0]["prefix"] == "prod"
    assert client.get(f"{URL}/prod").status_code == 200
    assert client.patch(f"{URL}/prod", {"description": "x"}, format="json").status_code == 403
    assert client.delete(f"{URL}/prod").status_code == 403
    assert RepositoryCreationTemplate.objects.get().description == ""


@pytest.mark.parametrize("prefix", ["%00", "a%00b", "Prod", "x" * 300])
def test_a_prefix_outside_the_grammar_names_no_template(api_client, tenant, prefix):
    """A NUL is refused before the view (400); any other such prefix is not found."""
    client = api_client(tenant)
    expected = 400 if "%00" in prefix else 404
    for method in (client.get, client.delete):
        assert method(f"{URL}/{prefix}").status_code == expected
    assert client.patch(f"{URL}/{prefix}", {"description": "x"}, format="json").status_code == expected
    with pytest.raises(CreationTemplateNotFound):
        delete_repository_creation_template(account=tenant.account, prefix=prefix.replace("%00", "\x00"), actor=ACTOR)
    assert selectors.creation_template(tenant.id, prefix.replace("%00", "\x00")) is None
    listed = client.get(URL, {"prefixes": "a\x00b", "nextToken": "x"})
    assert listed.status_code == 400
