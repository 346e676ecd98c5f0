"""Routes of the management API, under /api/v1/. Repository names contain '/',
so a repository's sub-resources follow a `/-/` that no name can hold."""

from django.urls import path

from .accounts import registries as registries_api
from .accounts import views as accounts_api
from .audit import views as audit_api
from .gallery import views as gallery_api
from .iam import registry_policy as registry_policy_api
from .iam import views as iam_api
from .lifecycle import views as lifecycle_api
from .registry import views as images_api
from .replication import cache_views as pull_through_cache_api
from .replication import views as replication_api
from .repositories import templates as templates_api
from .repositories import views as repositories_api
from .scanning import views as scanning_api
from .usage import views as usage_api
from .webhooks import views as webhooks_api

urlpatterns = [
    path("auth/access-keys", accounts_api.BootstrapAccessKey.as_view(), name="api-bootstrap-access-key"),
    path("access-keys", accounts_api.AccessKeyList.as_view(), name="api-access-keys"),
    path("access-keys/<str:access_key_id>", accounts_api.AccessKeyDetail.as_view(), name="api-access-key"),
    path("authorization-token", accounts_api.AuthorizationToken.as_view(), name="api-authorization-token"),
    path("repositories", repositories_api.RepositoryList.as_view(), name="api-repositories"),
    path("usage", usage_api.Usage.as_view(), name="api-usage"),
    path(
        "pull-through-cache-rules",
        pull_through_cache_api.PullThroughCacheRuleList.as_view(),
        name="api-pull-through-cache-rules",
    ),
    path(
        "pull-through-cache-rules/<path:prefix>/-/validate",
        pull_through_cache_api.PullThroughCacheRuleValidation.as_view(),
        name="api-pull-through-cache-rule-validate",
    ),
    path(
        "pull-through-cache-rules/<path:prefix>",
        pull_through_cache_api.PullThroughCacheRuleDetail.as_view(),
        name="api-pull-through-cache-rule",
    ),
    path(
        "repositories/<path:name>/-/image-tag-mutability",
        repositories_api.RepositoryImageTagMutability.as_view(),
        name="api-repository-image-tag-mutability",
    ),
    path(
        "repositories/<path:name>/-/catalog-data/logo",
        repositories_api.RepositoryCatalogDataLogo.as_view(),
        name="api-repository-catalog-data-logo",
    ),
    path(
        "repositories/<path:name>/-/catalog-data",
        repositories_api.RepositoryCatalogDataDetail.as_view(),
        name="api-repository-catalog-data",
    ),
    path("repositories/<path:name>/-/images", images_api.ImageList.as_view(), name="api-repository-images"),
    path(
        "repositories/<path:name>/-/images/describe",
        images_api.ImageDescriptions.as_view(),
        name="api-repository-images-describe",
    ),
    path(
        "repositories/<path:name>/-/images/batch-get",
        images_api.ImageBatchGet.as_view(),
        name="api-repository-images-batch-get",
    ),
    path(
        "repositories/<path:name>/-/images/batch-delete",
        images_api.ImageBatchDelete.as_view(),
        name="api-repository-images-batch-delete",
    ),
    path(
        "repositories/<path:name>/-/images/replication-status",
        replication_api.ImageReplicationStatus.as_view(),
        name="api-image-replication-status",
    ),
    path(
        "repositories/<path:name>/-/images/replication-status/retry",
        replication_api.ImageReplicationRetry.as_view(),
        name="api-image-replication-retry",
    ),
    path("repositories/<path:name>/-/images/scan", scanning_api.StartImageScan.as_view(), name="api-image-scan"),
    path("repositories/<path:name>/-/images/sbom", scanning_api.ImageSbom.as_view(), name="api-image-sbom"),
    path(
        "repositories/<path:name>/-/images/scan-findings",
        scanning_api.ImageScanFindings.as_view(),
        name="api-image-scan-findings",
    ),
    path(
        "repositories/<path:name>/-/lifecycle-policy/preview",
        lifecycle_api.LifecyclePolicyPreview.as_view(),
        name="api-repository-lifecycle-policy-preview",
    ),
    path(
        "repositories/<path:name>/-/lifecycle-policy",
        lifecycle_api.LifecyclePolicyDetail.as_view(),
        name="api-repository-lifecycle-policy",
    ),
    path("repositories/<path:name>/-/policy", iam_api.RepositoryPolicyDetail.as_view(), name="api-repository-policy"),
    path(
        "repositories/<path:name>/-/pull-counts",
        gallery_api.RepositoryPullCounts.as_view(),
        name="api-repository-pull-counts",
    ),
    path("repositories/<path:name>", repositories_api.RepositoryDetail.as_view(), name="api-repository"),
    path(
        "repository-creation-templates",
        templates_api.TemplateList.as_view(),
        name="api-repository-creation-templates",
    ),
    path(
        "repository-creation-templates/<path:prefix>",
        templates_api.TemplateDetail.as_view(),
        name="api-repository-creation-template",
    ),
    path("iam/users", iam_api.UserList.as_view(), name="api-iam-users"),
    path("iam/users/<str:user_name>", iam_api.UserDetail.as_view(), name="api-iam-user"),
    path("iam/users/<str:user_name>/access-keys", iam_api.UserAccessKeys.as_view(), name="api-iam-user-access-keys"),
    path("iam/users/<str:user_name>/policies", iam_api.UserPolicies.as_view(), name="api-iam-user-policies"),
    path(
        "iam/users/<str:user_name>/policies/<path:policy>",
        iam_api.UserPolicyDetail.as_view(),
        name="api-iam-user-policy",
    ),
    path("iam/policies", iam_api.PolicyList.as_view(), name="api-iam-policies"),
    path("iam/policies/<str:policy_name>", iam_api.PolicyDetail.as_view(), name="api-iam-policy"),
    path("iam/roles", iam_api.RoleList.as_view(), name="api-iam-roles"),
    path("iam/roles/<str:role_name>", iam_api.RoleDetail.as_view(), name="api-iam-role"),
    path("iam/roles/<str:role_name>/trust-policy", iam_api.RoleTrustPolicy.as_view(), name="api-iam-role-trust-policy"),
    path("iam/roles/<str:role_name>/policies", iam_api.RolePolicies.as_view(), name="api-iam-role-policies"),
    path(
        "iam/roles/<str:role_name>/policies/<path:policy>",
        iam_api.RolePolicyDetail.as_view(),
        name="api-iam-role-policy",
    ),
    path("iam/simulate", iam_api.Simulate.as_view(), name="api-iam-simulate"),
    path("sts/assume-role", iam_api.AssumeRole.as_view(), name="api-sts-assume-role"),
    path("sts/caller-identity", iam_api.CallerIdentity.as_view(), name="api-sts-caller-identity"),
    path("registries", registries_api.RegistryList.as_view(), name="api-registries"),
    path(
        "registry/scanning-configuration",
        scanning_api.RegistryScanningConfiguration.as_view(),
        name="api-registry-scanning-configuration",
    ),
    path("registry/policy", registry_policy_api.RegistryPolicyDetail.as_view(), name="api-registry-policy"),
    path("registry", replication_api.Registry.as_view(), name="api-registry"),
    path(
        "registry/replication-configuration",
        replication_api.ReplicationConfiguration.as_view(),
        name="api-registry-replication-configuration",
    ),
    path("registry/replication-backfills", replication_api.BackfillList.as_view(), name="api-replication-backfills"),
    path(
        "registry/replication-backfills/<str:backfill_id>",
        replication_api.BackfillDetail.as_view(),
        name="api-replication-backfill",
    ),
    path(
        "registry/replication-backfills/<str:backfill_id>/stop",
        replication_api.BackfillStop.as_view(),
        name="api-replication-backfill-stop",
    ),
    path("registry/catalog-data", registries_api.RegistryCatalogData.as_view(), name="api-registry-catalog-data"),
    path("webhooks", webhooks_api.WebhookList.as_view(), name="api-webhooks"),
    path("webhooks/<str:webhook_id>", webhooks_api.WebhookDetail.as_view(), name="api-webhook"),
    path(
        "webhooks/<str:webhook_id>/rotate-secret",
        webhooks_api.WebhookSecretRotation.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path("webhooks/<str:webhook_id>/deliveries", webhooks_api.DeliveryList.as_view(), name="api-webhook-deliveries"),
    path(
        "webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/redeliver",
        webhooks_api.Redelivery.as_view(),
        name="api-webhook-redeliver",
    ),
    path("audit/events", audit_api.EventList.as_view(), name="api-audit-events"),
    path("audit/events/export", audit_api.EventExport.as_view(), name="api-audit-events-export"),
    path("audit/image-pulls", audit_api.ImagePulls.as_view(), name="api-audit-image-pulls"),
    path("audit/principal-pulls", audit_api.PrincipalPulls.as_view(), name="api-audit-principal-pulls"),
    path("audit/tag-history", audit_api.TagHistory.as_view(), name="api-audit-tag-history"),
]
