"""Quotas in the AWS API (docs/quotas.md): ECR's LimitExceededException."""

from __future__ import annotations

import json

import pytest

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.aws import protocol
from apps.registry.models import Manifest
from apps.repositories.models import Repository

from .conftest import AwsClient, new_access_key, user_of

pytestmark = pytest.mark.django_db


def test_create_repository_past_the_quota_is_limit_exceeded_in_both_apis(tenant):
    key = new_access_key(user_of(tenant))
    ecr, ecr_public = AwsClient(*key), AwsClient(*key, service=protocol.ECR_PUBLIC)
    ecr.ok("CreateRepository", repositoryName="one")
    account_services.set_account_quota(
        account=tenant.account, storage_bytes=None, repositories=1, images_per_repository=None, actor=Actor.staff("ops")
    )
    message = ecr.fails("CreateRepository", "LimitExceededException", repositoryName="two")
    assert message.startswith(f"quota exceeded: repositories of account {tenant.id}: limit 1, current 1")
    ecr_public.fails("CreateRepository", "LimitExceededException", repositoryName="three")
    assert list(Repository.objects.filter(account=tenant.account).values_list("name", flat=True)) == ["one"]


def test_put_image_past_the_images_quota_is_limit_exceeded(tenant, registry_client):
    ecr = AwsClient(*new_access_key(user_of(tenant)))
    _, manifest = registry_client(tenant).push_image(f"{tenant.id}/app", "v1")
    account_services.set_account_quota(
        account=tenant.account, storage_bytes=None, repositories=None, images_per_repository=1, actor=Actor.staff("ops")
    )
    another = json.dumps({**manifest, "annotations": {"build": "2"}})
    message = ecr.fails(
        "PutImage", "LimitExceededException", repositoryName="app", imageManifest=another, imageTag="v2"
    )
    assert message.startswith(
        f"quota exceeded: images per repository of repository {tenant.id}/app: limit 1, current 1"
    )
    assert ecr.ok("PutImage", repositoryName="app", imageManifest=json.dumps(manifest), imageTag="v1-again")
    assert Manifest.objects.filter(repository__name="app").count() == 1
