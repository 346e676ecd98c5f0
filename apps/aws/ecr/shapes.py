"""Berth's rows as ECR's shapes (the dicts handlers return)."""

from __future__ import annotations

from apps.registry import selectors as registry_selectors
from apps.registry.models import Manifest
from apps.registry.selectors import FailureCode, ImageFailure
from apps.repositories import selectors as repository_selectors
from apps.repositories import services as repository_services
from apps.repositories.models import Repository

from ..errors import InvalidParameter, error
from ..operations import Call


def exclusion_filters(filters) -> list[dict]:
    return [{"filterType": "WILDCARD", "filter": value} for value in filters or ()]


def exclusion_filter_values(given: list[dict] | None) -> list[str]:
    return [item["filter"] for item in given or ()]


def repository_uri(call: Call, repository: Repository) -> str:
    return repository_selectors.repository_uri(
        repository, host=repository_selectors.registry_host(call.request), primary_alias=call.primary_alias
    )


def repository(call: Call, repository: Repository) -> dict:
    """ECR's Repository."""
    return {
        "repositoryArn": call.repository_arn(repository.name),
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "repositoryUri": repository_uri(call, repository),
        "createdAt": repository.created_at,
        "imageTagMutability": repository.image_tag_mutability,
        "imageTagMutabilityExclusionFilters": exclusion_filters(repository.image_tag_mutability_exclusion_filters),
        "imageScanningConfiguration": {"scanOnPush": repository.scan_on_push},
        # Omitted for a repository stored in the clear (Berth's own; ECR always encrypts).
        "encryptionConfiguration": repository_services.encryption_configuration(repository),
    }


def tag_mapping(given: list[dict] | None) -> dict[str, str] | None:
    return None if given is None else {tag["Key"]: tag["Value"] for tag in given}


def tag_list(resource_tags) -> list[dict]:
    """Resource tag rows (or a mapping) as ECR's [{Key, Value}], by key."""
    if isinstance(resource_tags, dict):
        return [{"Key": key, "Value": value} for key, value in sorted(resource_tags.items())]
    return [{"Key": tag.key, "Value": tag.value} for tag in sorted(resource_tags, key=lambda tag: tag.key)]


def requested_image(repository: Repository, image_id: dict) -> Manifest:
    """The manifest an ECR imageId names: ImageNotFoundException, or
    InvalidParameterException for a malformed id."""
    try:
        return registry_selectors.find_image(
            repository, digest=image_id.get("imageDigest"), tag=image_id.get("imageTag")
        )
    except ImageFailure as failure:
        if failure.code == FailureCode.IMAGE_NOT_FOUND:
            raise error("ImageNotFoundException", failure.reason) from None
        raise InvalidParameter(failure.reason) from None
