"""The image an ``imageId`` of a request names, for the views of every area that
take one (scans, replication status): 404 ``image_not_found``, or a 400 on
``imageId`` coded after ECR's failure (``invalid_image_digest``, ...)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail

from apps.registry import selectors as registry_selectors
from apps.registry.models import Manifest
from apps.registry.selectors import FailureCode, ImageFailure
from apps.repositories.models import Repository


def requested_image(repository: Repository, digest: str | None, tag: str | None) -> Manifest:
    try:
        return registry_selectors.find_image(repository, digest=digest, tag=tag)
    except ImageFailure as failure:
        if failure.code == FailureCode.IMAGE_NOT_FOUND:
            raise exceptions.NotFound(failure.reason, code="image_not_found") from None
        code = "".join(f"_{c.lower()}" if c.isupper() else c for c in failure.code).lstrip("_")
        raise exceptions.ValidationError({"imageId": [ErrorDetail(failure.reason, code=code)]}) from None
