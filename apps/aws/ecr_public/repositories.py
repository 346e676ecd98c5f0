"""ECR Public's repository operations: CreateRepository, DescribeRepositories,
DeleteRepository.

ECR Public knows only public repositories: a private one of the account (Amazon
ECR's) is as missing here as one that never was. The repository operations
authorize the actions the management API does for the same change (`ecr:` ones:
a repository is one resource whichever API reaches it, so one policy decides),
the catalog and registry operations ECR Public's own (`ecr-public:`), as the
management API also does."""

from __future__ import annotations

from django.urls import reverse

from apps.iam import enforcement
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.repositories import catalog, services
from apps.repositories import selectors as repository_selectors
from apps.repositories.models import REPOSITORY_NAME_MAX_LENGTH, Repository, Visibility

from .. import protocol
from ..ecr import shapes as ecr_shapes
from ..errors import InvalidParameter, error
from ..operations import Call, domain_errors, operation

domain_errors(
    {
        services.RepositoryExists: "RepositoryAlreadyExistsException",
        services.RepositoryNotEmpty: "RepositoryNotEmptyException",
        services.ResourceTagsInvalid: "InvalidTagParameterException",
        registry_selectors.PageTokenInvalid: "InvalidParameterException",
        catalog.CatalogDataInvalid: "InvalidParameterException",
    }
)

# DescribeRepositories without maxResults: ECR Public's default page.
DEFAULT_PAGE = 100


def not_found(call: Call, name: str):
    return error(
        "RepositoryNotFoundException",
        f"The repository with name '{name[:REPOSITORY_NAME_MAX_LENGTH]}' does not exist in the registry with id "
        f"'{call.registry_id}'",
    )


def private_arn(call: Call, name: str) -> str:
    """The ARN the management API authorizes a repository's `ecr:` actions on."""
    return enforcement.repository_arn(call.account.pk, name)


def repository(call: Call, repository: Repository, *, alias: str) -> dict:
    """ECR Public's Repository (``alias``: the account's primary alias, in its URI)."""
    host = repository_selectors.registry_host(call.request)
    return {
        "repositoryArn": call.repository_arn(repository.name),
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "repositoryUri": repository_selectors.repository_uri(repository, host=host, primary_alias=alias),
        "createdAt": repository.created_at,
    }


def catalog_data(call: Call, catalog_data, *, alias: str) -> dict:
    """ECR Public's RepositoryCatalogData; what was never put is left out. The logo
    is at the gallery's public address, as Amazon's is on its CDN."""
    logo_url = None
    if catalog_data.has_logo:
        logo_url = call.request.build_absolute_uri(
            reverse("gallery:logo", kwargs={"alias": alias, "name": catalog_data.repository.name})
        )
    found = {
        "description": catalog_data.description,
        "architectures": list(catalog_data.architectures or ()),
        "operatingSystems": list(catalog_data.operating_systems or ()),
        "logoUrl": logo_url,
        "aboutText": catalog_data.about_markdown,
        "usageText": catalog_data.usage_markdown,
    }
    return {key: value for key, value in found.items() if value}


def catalog_input(given: dict) -> dict:
    """RepositoryCatalogDataInput as catalog.put_repository_catalog_data's arguments:
    a member left out stays as it is; an empty logoImageBlob removes the logo."""
    if given.get("categories"):
        raise InvalidParameter(
            "catalogData.categories: Berth's catalog data has no categories; describe the repository with "
            "description, aboutText, usageText, architectures and operatingSystems"
        )
    logo = given.get("logoImageBlob")
    return {
        "description": given.get("description"),
        "about_markdown": given.get("aboutText"),
        "usage_markdown": given.get("usageText"),
        "architectures": given.get("architectures"),
        "operating_systems": given.get("operatingSystems"),
        "logo": logo or None,
        "remove_logo": "logoImageBlob" in given and not logo,
    }


def put_catalog_data(call: Call, repository: Repository, given: dict):
    try:
        return catalog.put_repository_catalog_data(
            repository=repository, **catalog_input(given), actor=call.actor, context=call.context
        )
    except (catalog.RepositoryNotPublic, Repository.DoesNotExist):  # made private or deleted meanwhile
        raise not_found(call, repository.name) from None


@operation(protocol.ECR_PUBLIC, "CreateRepository")
def create_repository(call: Call) -> dict:
    params = call.params
    name = params["repositoryName"]
    tags = ecr_shapes.tag_mapping(params.get("tags"))
    given_catalog = params.get("catalogData")
    if given_catalog:
        catalog_input(given_catalog)  # refused before anything is decided or made
        # Catalog data is ECR Public's PutRepositoryCatalogData: decided first, so that
        # nothing is created when it is refused; its change is an event of its own.
        call.authorize(
            "ecr-public:PutRepositoryCatalogData", resource_arn=call.repository_arn(name), repositoryName=name
        )
    # As the management API creates a public repository: ecr:SetRepositoryPolicy too,
    # since everyone may pull it, and ecr:TagResource for tags.
    call.authorize(
        "ecr:CreateRepository",
        resource_arn=private_arn(call, name),
        also=(["ecr:TagResource"] if tags else []) + ["ecr:SetRepositoryPolicy"],
        repositoryName=name,
    )
    created = services.create_repository(
        account=call.account,
        name=name,
        visibility=Visibility.PUBLIC,
        resource_tags=tags,
        actor=call.actor,
        context=call.context,
    )
    alias = call.primary_alias
    put = put_catalog_data(call, created, given_catalog) if given_catalog else catalog.catalog_data_of(created)
    return {"repository": repository(call, created, alias=alias), "catalogData": catalog_data(call, put, alias=alias)}


@operation(protocol.ECR_PUBLIC, "DescribeRepositories")
def describe_repositories(call: Call) -> dict:
    params = call.params
    names = params.get("repositoryNames")
    alias = call.primary_alias
    if names:
        if "nextToken" in params or "maxResults" in params:
            raise InvalidParameter("nextToken and maxResults cannot be given with repositoryNames")
        found = [call.repository(name, action="ecr:DescribeRepositories") for name in dict.fromkeys(names)]
        for described in found:
            call.authorize("ecr:DescribeRepositories", repository=described)
        return {"repositories": [repository(call, described, alias=alias) for described in found]}
    page, next_token = registry_selectors.describe_repositories(
        call.account,
        visibility=Visibility.PUBLIC,
        limit=params.get("maxResults", DEFAULT_PAGE),
        next_token=params.get("nextToken"),
    )
    page = call.permitted("ecr:DescribeRepositories", page)
    return {"repositories": [repository(call, described, alias=alias) for described in page], "nextToken": next_token}


@operation(protocol.ECR_PUBLIC, "DeleteRepository")
def delete_repository(call: Call) -> dict:
    force = call.params.get("force", False)
    found = call.repository(call.params["repositoryName"], action="ecr:DeleteRepository")
    call.authorize("ecr:DeleteRepository", repository=found, force=force)
    described = repository(call, found, alias=call.primary_alias)
    registry_services.delete_repository(repository=found, force=force, actor=call.actor, context=call.context)
    return {"repository": described}
