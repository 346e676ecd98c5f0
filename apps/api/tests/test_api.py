"""The management API's shared plumbing: authentication, errors, throttling, OpenAPI."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from apps.accounts import registries
from apps.api.views import UnrecordedChange
from apps.audit.models import Event
from apps.repositories.models import Repository

pytestmark = pytest.mark.django_db


# -- sessions: the browser's way in ---------------------------------------------------


@pytest.fixture
def browser(tenant) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username=tenant.username))
    return client


def csrf_token(client) -> str:
    """What a page of the site hands a browser: the CSRF cookie, echoed in a header."""
    token = get_random_string(32)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = token
    return token


def test_a_session_reads_and_writes_with_a_csrf_token(browser):
    assert browser.get("/api/v1/repositories").status_code == 200
    refused = browser.post("/api/v1/repositories", {"name": "app"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["detail"]
    assert not Repository.objects.exists()
    created = browser.post("/api/v1/repositories", {"name": "app"}, format="json", HTTP_X_CSRFTOKEN=csrf_token(browser))
    assert created.status_code == 201, created.content


# -- errors: always JSON with a code ----------------------------------------------------


def test_every_error_has_a_code(alice_api):
    unknown = alice_api.get("/api/v1/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "not_found", "detail": "no API endpoint at /api/v1/nothing-here"}
    assert APIClient().get("/api/v2/repositories").json()["code"] == "not_found"

    not_allowed = alice_api.put("/api/v1/repositories", {}, format="json")
    assert (not_allowed.status_code, not_allowed.json()["code"]) == (405, "method_not_allowed")

    malformed = alice_api.generic("POST", "/api/v1/repositories", "{not json", content_type="application/json")
    assert (malformed.status_code, malformed.json()["code"]) == (400, "parse_error")

    form = alice_api.post("/api/v1/repositories", {"name": "app"})  # multipart
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")

    invalid = alice_api.post("/api/v1/repositories", {"name": "Bad", "visibility": "x"}, format="json")
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["code"] == "invalid"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("name", "invalid"), ("visibility", "invalid_choice")]
    assert body["detail"].startswith("name: ")


@pytest.fixture
def alice_api(tenant, api_client) -> APIClient:
    return api_client(tenant)


# -- throttling per principal ---------------------------------------------------------


def test_requests_are_throttled_per_user_and_per_anonymous_address(tenant, other_tenant, api_client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"})
    alice, mallory = api_client(tenant), api_client(other_tenant)
    for _ in range(3):
        assert alice.get("/api/v1/repositories").status_code == 200
    throttled = alice.get("/api/v1/repositories")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert mallory.get("/api/v1/repositories").status_code == 200

    # Anonymous requests reach only the open endpoints (elsewhere they stop at 401 first).
    anonymous = APIClient(REMOTE_ADDR="10.1.1.1")
    for _ in range(2):
        assert anonymous.post("/api/v1/auth/access-keys", {}, format="json").status_code == 400
    assert anonymous.post("/api/v1/auth/access-keys", {}, format="json").status_code == 429
    # X-Forwarded-For is trusted only behind configured proxies: it cannot buy a fresh budget.
    spoofed = anonymous.post("/api/v1/auth/access-keys", {}, format="json", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert spoofed.status_code == 429
    assert APIClient(REMOTE_ADDR="10.1.1.2").post("/api/v1/auth/access-keys", {}, format="json").status_code == 400


# -- OpenAPI ----------------------------------------------------------------------------


def test_the_schema_is_valid_openapi_3(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    operations = {
        operation["operationId"]: (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert operations == {
        "lookupEvents": ("/api/v1/audit/events", "get"),
        "exportEvents": ("/api/v1/audit/events/export", "get"),
        "imagePulls": ("/api/v1/audit/image-pulls", "get"),
        "principalPulls": ("/api/v1/audit/principal-pulls", "get"),
        "tagHistory": ("/api/v1/audit/tag-history", "get"),
        "listAccessKeys": ("/api/v1/access-keys", "get"),
        "createAccessKey": ("/api/v1/access-keys", "post"),
        "updateAccessKey": ("/api/v1/access-keys/{access_key_id}", "patch"),
        "deleteAccessKey": ("/api/v1/access-keys/{access_key_id}", "delete"),
        "bootstrapAccessKey": ("/api/v1/auth/access-keys", "post"),
        "getAuthorizationToken": ("/api/v1/authorization-token", "post"),
        "describeRepositories": ("/api/v1/repositories", "get"),
        "createRepository": ("/api/v1/repositories", "post"),
        "describeRepository": ("/api/v1/repositories/{name}", "get"),
        "updateRepository": ("/api/v1/repositories/{name}", "patch"),
        "deleteRepository": ("/api/v1/repositories/{name}", "delete"),
        "putImageTagMutability": ("/api/v1/repositories/{name}/-/image-tag-mutability", "put"),
        "listImages": ("/api/v1/repositories/{name}/-/images", "get"),
        "putImage": ("/api/v1/repositories/{name}/-/images", "post"),
        "describeImages": ("/api/v1/repositories/{name}/-/images/describe", "get"),
        "describeImagesPost": ("/api/v1/repositories/{name}/-/images/describe", "post"),
        "batchGetImage": ("/api/v1/repositories/{name}/-/images/batch-get", "post"),
        "batchDeleteImage": ("/api/v1/repositories/{name}/-/images/batch-delete", "post"),
        "getRepositoryCatalogData": ("/api/v1/repositories/{name}/-/catalog-data", "get"),
        "putRepositoryCatalogData": ("/api/v1/repositories/{name}/-/catalog-data", "put"),
        "getRepositoryCatalogDataLogo": ("/api/v1/repositories/{name}/-/catalog-data/logo", "get"),
        "getRepositoryPullCounts": ("/api/v1/repositories/{name}/-/pull-counts", "get"),
        "describeRegistries": ("/api/v1/registries", "get"),
        "getRegistryCatalogData": ("/api/v1/registry/catalog-data", "get"),
        "putRegistryCatalogData": ("/api/v1/registry/catalog-data", "put"),
        "startImageScan": ("/api/v1/repositories/{name}/-/images/scan", "post"),
        "describeImageScanFindings": ("/api/v1/repositories/{name}/-/images/scan-findings", "get"),
        "getImageSbom": ("/api/v1/repositories/{name}/-/images/sbom", "get"),
        "attachImageSbom": ("/api/v1/repositories/{name}/-/images/sbom", "post"),
        "getRegistryScanningConfiguration": ("/api/v1/registry/scanning-configuration", "get"),
        "putRegistryScanningConfiguration": ("/api/v1/registry/scanning-configuration", "put"),
        "getRegistryPolicy": ("/api/v1/registry/policy", "get"),
        "putRegistryPolicy": ("/api/v1/registry/policy", "put"),
        "deleteRegistryPolicy": ("/api/v1/registry/policy", "delete"),
        "describeRegistry": ("/api/v1/registry", "get"),
        "putReplicationConfiguration": ("/api/v1/registry/replication-configuration", "put"),
        "describeImageReplicationStatus": ("/api/v1/repositories/{name}/-/images/replication-status", "get"),
        "retryImageReplication": ("/api/v1/repositories/{name}/-/images/replication-status/retry", "post"),
        "startReplicationBackfill": ("/api/v1/registry/replication-backfills", "post"),
        "listReplicationBackfills": ("/api/v1/registry/replication-backfills", "get"),
        "describeReplicationBackfillResults": ("/api/v1/registry/replication-backfills/{backfill_id}", "get"),
        "stopReplicationBackfill": ("/api/v1/registry/replication-backfills/{backfill_id}/stop", "post"),
        "describeRepositoryCreationTemplates": ("/api/v1/repository-creation-templates", "get"),
        "createRepositoryCreationTemplate": ("/api/v1/repository-creation-templates", "post"),
        "describeRepositoryCreationTemplate": ("/api/v1/repository-creation-templates/{prefix}", "get"),
        "updateRepositoryCreationTemplate": ("/api/v1/repository-creation-templates/{prefix}", "patch"),
        "deleteRepositoryCreationTemplate": ("/api/v1/repository-creation-templates/{prefix}", "delete"),
        "getUsage": ("/api/v1/usage", "get"),
        "describePullThroughCacheRules": ("/api/v1/pull-through-cache-rules", "get"),
        "createPullThroughCacheRule": ("/api/v1/pull-through-cache-rules", "post"),
        "describePullThroughCacheRule": ("/api/v1/pull-through-cache-rules/{prefix}", "get"),
        "updatePullThroughCacheRule": ("/api/v1/pull-through-cache-rules/{prefix}", "patch"),
        "deletePullThroughCacheRule": ("/api/v1/pull-through-cache-rules/{prefix}", "delete"),
        "validatePullThroughCacheRule": ("/api/v1/pull-through-cache-rules/{prefix}/-/validate", "post"),
        "getLifecyclePolicy": ("/api/v1/repositories/{name}/-/lifecycle-policy", "get"),
        "putLifecyclePolicy": ("/api/v1/repositories/{name}/-/lifecycle-policy", "put"),
        "deleteLifecyclePolicy": ("/api/v1/repositories/{name}/-/lifecycle-policy", "delete"),
        "startLifecyclePolicyPreview": ("/api/v1/repositories/{name}/-/lifecycle-policy/preview", "post"),
        "getLifecyclePolicyPreview": ("/api/v1/repositories/{name}/-/lifecycle-policy/preview", "get"),
        "getRepositoryPolicy": ("/api/v1/repositories/{name}/-/policy", "get"),
        "setRepositoryPolicy": ("/api/v1/repositories/{name}/-/policy", "put"),
        "deleteRepositoryPolicy": ("/api/v1/repositories/{name}/-/policy", "delete"),
        "listUsers": ("/api/v1/iam/users", "get"),
        "createUser": ("/api/v1/iam/users", "post"),
        "getUser": ("/api/v1/iam/users/{user_name}", "get"),
        "deleteUser": ("/api/v1/iam/users/{user_name}", "delete"),
        "createUserAccessKey": ("/api/v1/iam/users/{user_name}/access-keys", "post"),
        "listAttachedUserPolicies": ("/api/v1/iam/users/{user_name}/policies", "get"),
        "attachUserPolicy": ("/api/v1/iam/users/{user_name}/policies", "post"),
        "detachUserPolicy": ("/api/v1/iam/users/{user_name}/policies/{policy}", "delete"),
        "listPolicies": ("/api/v1/iam/policies", "get"),
        "createPolicy": ("/api/v1/iam/policies", "post"),
        "getPolicy": ("/api/v1/iam/policies/{policy_name}", "get"),
        "deletePolicy": ("/api/v1/iam/policies/{policy_name}", "delete"),
        "listRoles": ("/api/v1/iam/roles", "get"),
        "createRole": ("/api/v1/iam/roles", "post"),
        "getRole": ("/api/v1/iam/roles/{role_name}", "get"),
        "deleteRole": ("/api/v1/iam/roles/{role_name}", "delete"),
        "updateAssumeRolePolicy": ("/api/v1/iam/roles/{role_name}/trust-policy", "put"),
        "listAttachedRolePolicies": ("/api/v1/iam/roles/{role_name}/policies", "get"),
        "attachRolePolicy": ("/api/v1/iam/roles/{role_name}/policies", "post"),
        "detachRolePolicy": ("/api/v1/iam/roles/{role_name}/policies/{policy}", "delete"),
        "simulatePrincipalPolicy": ("/api/v1/iam/simulate", "post"),
        "assumeRole": ("/api/v1/sts/assume-role", "post"),
        "getCallerIdentity": ("/api/v1/sts/caller-identity", "get"),
        "listWebhooks": ("/api/v1/webhooks", "get"),
        "createWebhook": ("/api/v1/webhooks", "post"),
        "describeWebhook": ("/api/v1/webhooks/{webhook_id}", "get"),
        "updateWebhook": ("/api/v1/webhooks/{webhook_id}", "patch"),
        "deleteWebhook": ("/api/v1/webhooks/{webhook_id}", "delete"),
        "rotateWebhookSecret": ("/api/v1/webhooks/{webhook_id}/rotate-secret", "post"),
        "listWebhookDeliveries": ("/api/v1/webhooks/{webhook_id}/deliveries", "get"),
        "redeliverWebhook": ("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", "post"),
    }
    for path, item in schema["paths"].items():
        for operation in item.values():
            if path.endswith("/images/sbom"):
                assert "Amazon Inspector's" in operation["description"], operation["operationId"]
            elif path.startswith(
                (
                    "/api/v1/registry/scanning-configuration",
                    "/api/v1/registry/policy",
                    "/api/v1/repository-creation",
                    "/api/v1/pull-through-cache-rules",
                )
            ):
                assert "Amazon ECR's" in operation["description"], operation["operationId"]
            elif path == "/api/v1/registry" or path.startswith("/api/v1/registry/replication-configuration"):
                assert "Amazon ECR's" in operation["description"], operation["operationId"]
            elif path.startswith("/api/v1/registry/replication-backfills"):
                assert "Berth's own" in operation["description"], operation["operationId"]
            elif "catalog-data" in path or path.startswith("/api/v1/registries"):
                assert "Amazon ECR Public's" in operation["description"], operation["operationId"]
            elif path.startswith(("/api/v1/repositories", "/api/v1/authorization-token")):
                assert "Amazon ECR's" in operation["description"], operation["operationId"]
            elif path.startswith("/api/v1/sts/"):
                assert "STS " in operation["description"], operation["operationId"]
            elif path.startswith("/api/v1/audit/"):
                assert "CloudTrail" in operation["description"], operation["operationId"]
            elif path == "/api/v1/usage" or path.startswith("/api/v1/webhooks"):
                assert "Berth's own" in operation["description"], operation["operationId"]
            else:
                assert "IAM's" in operation["description"], operation["operationId"]
    assert "scanned once" in json.dumps(schema["paths"]["/api/v1/repositories"]["post"])
    # The bootstrap endpoint takes no credentials but the ones in its body.
    assert "security" not in schema and "security" not in schema["paths"]["/api/v1/auth/access-keys"]["post"]
    temporary_credentials = {"temporaryCredentials": [], "securityToken": []}
    assert schema["paths"]["/api/v1/repositories"]["get"]["security"] == [
        temporary_credentials,
        {"accessKey": []},
        {"loginPassword": []},
        {"cookieAuth": []},
    ]
    # A login password cannot mint or manage credentials.
    for path, method in [("/api/v1/access-keys", "post"), ("/api/v1/authorization-token", "post")]:
        assert schema["paths"][path][method]["security"] == [
            temporary_credentials,
            {"accessKey": []},
            {"cookieAuth": []},
        ]


def test_the_schema_is_served_to_anyone():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert json.loads(response.content)["info"]["title"] == "Berth API"


def test_the_docs_page_works_offline(settings, tmp_path):
    """`berth serve` collects static files; whitenoise then serves the Swagger UI
    that drf-spectacular-sidecar bundles (nothing comes from a CDN)."""
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0, stdout=StringIO())
    client = Client()  # a new client loads whitenoise afresh, over the collected files
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    # Swagger UI from the sidecar, the page's own style sheet, and the start-up script
    # served by the docs view itself (a file, for the Content-Security-Policy).
    local = ("/static/drf_spectacular_sidecar/swagger-ui-dist/", "/static/api/", "/api/docs/?")
    assert assets and all(a.startswith(local) for a in assets), assets
    bodies = []
    for asset in assets:
        response = client.get(asset.replace("&amp;", "&"))
        assert response.status_code == 200, asset
        bodies.append(b"".join(response.streaming_content) if response.streaming else response.content)
        assert bodies[-1]
    assert any(b"/api/schema/" in body for body in bodies)
    assert Path(settings.STATIC_ROOT, "staticfiles.json").exists()


# -- audit: the services record, the views never do ----------------------------------


def _forgetful_put(monkeypatch):
    """PutRegistryCatalogData's service as a careless one would be: it changes, records nothing."""

    def put(*, account, display_name, actor, context=None):
        account.display_name = display_name
        account.save(update_fields=["display_name"])
        return account

    monkeypatch.setattr(registries, "put_registry_catalog_data", put)


def test_a_write_whose_service_records_no_event_fails_loudly_in_tests(api_client, tenant, monkeypatch):
    _forgetful_put(monkeypatch)
    with pytest.raises(UnrecordedChange, match="PutRegistryCatalogData"):
        api_client(tenant).put("/api/v1/registry/catalog-data", {"displayName": "Oops"}, format="json")


def test_outside_strict_mode_it_is_logged_and_the_event_still_reaches_the_trail(
    api_client, tenant, monkeypatch, settings, caplog
):
    settings.DEBUG = settings.BERTH_AUDIT_STRICT = False
    _forgetful_put(monkeypatch)
    response = api_client(tenant).put("/api/v1/registry/catalog-data", {"displayName": "Oops"}, format="json")
    assert response.status_code == 200
    assert "no service recorded its audit event" in caplog.text
    assert Event.objects.filter(event_name="PutRegistryCatalogData", error_code="").count() == 1
