"""Staff set an account's quotas in the admin (docs/quotas.md): saved through
services.set_account_quota, recorded as Berth's SetAccountQuota with the staff
member as its actor; empty fields take the deployment's defaults."""

from __future__ import annotations

import pytest

from apps.accounts import quotas
from apps.accounts.models import AccountQuota
from apps.audit.models import Event

pytestmark = pytest.mark.django_db

QUOTAS = "/admin/accounts/accountquota/"


def test_staff_set_and_change_an_accounts_quotas_and_the_trail_records_it(staff_client, tenant, settings):
    settings.BERTH_QUOTA_IMAGES_PER_REPOSITORY = 500
    response = staff_client.post(
        f"{QUOTAS}add/",
        {"account": tenant.id, "storage_bytes": "1073741824", "repositories": "10", "images_per_repository": ""},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert quotas.limits_of(tenant.id) == quotas.Limits(
        storage_bytes=1073741824, repositories=10, images_per_repository=500
    )
    page = staff_client.get(f"{QUOTAS}{tenant.id}/change/").content.decode()
    assert "storage bytes: 1073741824; repositories: 10; images per repository: 500" in page

    response = staff_client.post(
        f"{QUOTAS}{tenant.id}/change/", {"storage_bytes": "0", "repositories": "3", "images_per_repository": "7"}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    quota = AccountQuota.objects.get(account=tenant.account)
    assert (quota.storage_bytes, quota.repositories, quota.images_per_repository) == (0, 3, 7)
    assert quotas.limits_of(tenant.id).storage_bytes is None  # 0: unlimited

    events = list(Event.objects.filter(event_name="SetAccountQuota").order_by("sequence"))
    assert [(e.event_source, e.actor_type, e.actor_username, e.recipient_account_id) for e in events] == [
        ("berth", "BerthStaff", "operator", tenant.id)
    ] * 2
    # A default (null) is left out, as the trail leaves out every null parameter.
    assert events[0].request_parameters == {"registryId": tenant.id, "storageBytes": 1073741824, "repositories": 10}
    assert events[1].request_parameters["imagesPerRepository"] == 7
    # Quotas are never deleted: empty fields bring back the defaults.
    assert staff_client.post(f"{QUOTAS}{tenant.id}/delete/", {"post": "yes"}).status_code == 403
