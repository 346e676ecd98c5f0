"""The staff console's replication pages: they list, and never show a sealed secret."""

from __future__ import annotations

import pytest

from apps.replication import services

from .conftest import PUSHER

pytestmark = pytest.mark.django_db


def test_the_pages_list_and_show_no_secret(admin_client, make_tenant, settings):
    settings.BERTH_REGION = "local-a"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    account = make_tenant().account
    services.put_replication_configuration(
        account=account,
        document={"rules": [{"destinations": [{"region": "local-b", "registryId": "333333333333",
                  "endpoint": "https://b.example", "credentials": {"username": "robot", "password": "hunter2"}}]}]},
        actor=PUSHER,
    )  # fmt: skip
    for model in ("replicationconfiguration", "imagereplication", "replicationbackfill"):
        assert admin_client.get(f"/admin/replication/{model}/").status_code == 200
    page = admin_client.get(f"/admin/replication/replicationconfiguration/{account.pk}/change/").content.decode()
    assert "robot" in page and "credentialsConfigured" in page
    assert "hunter2" not in page and "sealedPassword" not in page
