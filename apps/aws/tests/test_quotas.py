"""Quotas in the AWS API (docs/quotas.md): ECR's LimitExceededException."""

from __future__ import annotations

import pytest

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.aws import protocol
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
