"""ECR Public's catalog data and registry: GetRepositoryCatalogData,
PutRepositoryCatalogData, GetRegistryCatalogData, PutRegistryCatalogData and
DescribeRegistries, as the management API's (the `ecr-public:` actions it
authorizes)."""

from __future__ import annotations

from django.conf import settings

from apps.accounts import registries
from apps.kernel.arn import Arn
from apps.repositories import catalog
from apps.repositories.selectors import registry_host

from .. import protocol
from ..errors import InvalidParameter
from ..operations import Call, domain_errors, operation
from .repositories import catalog_data, put_catalog_data

domain_errors({registries.DisplayNameInvalid: "InvalidParameterException"})


@operation(protocol.ECR_PUBLIC, "GetRepositoryCatalogData")
def get_repository_catalog_data(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr-public:GetRepositoryCatalogData")
    call.authorize("ecr-public:GetRepositoryCatalogData", repository=repository)
    found = catalog.catalog_data_of(repository)
    return {"catalogData": catalog_data(call, found, alias=call.primary_alias)}


@operation(protocol.ECR_PUBLIC, "PutRepositoryCatalogData")
def put_repository_catalog_data(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr-public:PutRepositoryCatalogData")
    call.authorize("ecr-public:PutRepositoryCatalogData", repository=repository)
    updated = put_catalog_data(call, repository, call.params["catalogData"])
    return {"catalogData": catalog_data(call, updated, alias=call.primary_alias)}


def _registry_catalog_data(account) -> dict:
    return {"displayName": account.display_name}


@operation(protocol.ECR_PUBLIC, "GetRegistryCatalogData")
def get_registry_catalog_data(call: Call) -> dict:
    call.authorize("ecr-public:GetRegistryCatalogData")
    return {"registryCatalogData": _registry_catalog_data(call.account)}


@operation(protocol.ECR_PUBLIC, "PutRegistryCatalogData")
def put_registry_catalog_data(call: Call) -> dict:
    params = call.params
    for member in ("description", "logoImageBlob"):
        if member in params:
            raise InvalidParameter(
                f"{member}: Berth's registry catalog data is its display name; the publisher's description and "
                "logo are its profile, set on the website's account settings page"
            )
    call.authorize("ecr-public:PutRegistryCatalogData")
    # Without displayName the display name stays as it is (the members given are put).
    account = registries.put_registry_catalog_data(
        account=call.account,
        display_name=params.get("displayName", call.account.display_name),
        actor=call.actor,
        context=call.context,
    )
    return {"registryCatalogData": _registry_catalog_data(account)}


@operation(protocol.ECR_PUBLIC, "DescribeRegistries")
def describe_registries(call: Call) -> dict:
    if call.params.get("nextToken"):
        # The account's one registry is always on the first page: no token is handed out.
        raise InvalidParameter("the next token is not one this API handed out")
    call.authorize("ecr-public:DescribeRegistries")
    registry = registries.describe_registry(call.account)
    host = registry_host(call.request)
    alias = registry.primary_alias
    account_id = call.account.pk
    return {
        "registries": [
            {
                "registryId": account_id,
                "registryArn": str(
                    Arn(settings.BERTH_ARN_PARTITION, protocol.ECR_PUBLIC, "", account_id, f"registry/{account_id}")
                ),
                "registryUri": f"{host}/{alias}" if alias else host,
                "verified": call.account.verified,
                "aliases": [
                    {
                        "name": described.name,
                        "status": described.status,
                        "primaryRegistryAlias": described.is_primary,
                        "defaultRegistryAlias": described.is_default,
                    }
                    for described in registry.aliases
                ],
            }
        ]
    }
