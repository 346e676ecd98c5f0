"""Vulnerability scanning in the management API: Amazon ECR's StartImageScan,
DescribeImageScanFindings and the registry scanning configuration, over the
signed-in user's account (another account's repository is never found)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from apps.api.registry.images import requested_image
from apps.api.registry.serializers import image_id
from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.repositories.selectors import registry_host, repository_uri
from apps.scanning import configuration, sboms, selectors, services
from apps.scanning.exceptions import ImageNotScannable, ScanningConfigurationInvalid
from apps.scanning.models import ScanStatus

from .serializers import (
    AttachSbomRequestSerializer,
    AttachSbomResponseSerializer,
    DescribeImageScanFindingsSerializer,
    FindingsQuerySerializer,
    PutScanningConfigurationSerializer,
    RegistryScanningConfigurationSerializer,
    SbomQuerySerializer,
    StartImageScanRequestSerializer,
    StartImageScanResponseSerializer,
)

SCANNING_TAG = "scanning"
NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="the repository name, `/` included (`team/app`)"
)


class StartImageScan(AccountScopedView):
    domain_error_fields = {ImageNotScannable: "imageId"}

    @extend_schema(
        operation_id="startImageScan",
        summary="Scan an image now",
        description="Amazon ECR's StartImageScan: a worker reads the image's layers, lists its OS and packages "
        "and matches them against the advisory database. An index scans each of its platforms' images. An image "
        "can be scanned on demand once a day (400 `limit_exceeded` within 24 hours of the last); an artifact that "
        "is not a container image is refused with 400 `unsupported_image_type`.",
        parameters=[NAME],
        request=StartImageScanRequestSerializer,
        responses={200: StartImageScanResponseSerializer, **error_responses(400, 401, 403, 404)},
        tags=[SCANNING_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:StartImageScan")
        given = StartImageScanRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        wanted = given.validated_data["imageId"]
        self.authorize("ecr:StartImageScan", repository=repository)
        manifest = requested_image(repository, wanted.get("imageDigest"), wanted.get("imageTag"))
        scan = services.start_image_scan(
            repository=repository, manifest=manifest, actor=self.actor, context=self.context
        )
        body = {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "imageId": image_id(manifest.digest, wanted.get("imageTag")),
            "imageScanStatus": selectors.scan_status(scan),
        }
        return Response(StartImageScanResponseSerializer(body).data)


class ImageScanFindings(AccountScopedView):
    @extend_schema(
        operation_id="describeImageScanFindings",
        summary="Read an image's scan findings",
        description="Amazon ECR's DescribeImageScanFindings: the scan's status and, once it is complete, its "
        "findings, most severe first, a page at a time (`next`). Each finding names the advisory (`name`), its "
        "severity, a link (`uri`), and as attributes the package and installed version, the version that fixes "
        "it, the CVE and other aliases, the CVSS score and vector, the file that recorded the package and the "
        "layer that brought it. An index's findings are its platforms' (the `image_digest` attribute says "
        "whose). 404 `scan_not_found` when the image was never scanned. `severity` keeps findings at that level "
        "or above.",
        parameters=[NAME, FindingsQuerySerializer],
        responses={200: DescribeImageScanFindingsSerializer, **error_responses(400, 401, 403, 404)},
        tags=[SCANNING_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DescribeImageScanFindings")
        query = FindingsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        self.authorize("ecr:DescribeImageScanFindings", repository=repository)
        manifest = requested_image(repository, data.get("imageDigest"), data.get("imageTag"))
        scan = selectors.scan_of(manifest)
        if scan is None:
            raise exceptions.NotFound(
                f"image {manifest.digest} has not been scanned: StartImageScan, or turn on scan on push",
                code="scan_not_found",
            )
        findings_body = None
        next_token = None
        if scan.status == ScanStatus.COMPLETE:
            try:
                page, next_token = selectors.findings_page(
                    manifest,
                    limit=data["max_results"],
                    next_token=data.get("next"),
                    minimum_severity=data.get("severity"),
                )
            except selectors.FindingsTokenInvalid as exc:
                raise exceptions.ValidationError({"next": [ErrorDetail(str(exc), code="invalid")]}) from None
            findings_body = {**selectors.findings_summary(scan), "findings": page}
        body = {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "imageId": image_id(manifest.digest, data.get("imageTag")),
            "imageScanStatus": selectors.scan_status(scan),
            "imageScanFindings": findings_body,
            "next": next_token,
        }
        return Response(DescribeImageScanFindingsSerializer(body).data)


class RegistryScanningConfiguration(AccountScopedView):
    def _body(self, config) -> dict:
        return {
            "registryId": self.account.pk,
            "scanningConfiguration": {"scan_type": config.scan_type, "rules": config.rules},
        }

    @extend_schema(
        operation_id="getRegistryScanningConfiguration",
        summary="Get the registry's scanning configuration",
        description="Amazon ECR's GetRegistryScanningConfiguration: BASIC (the default: repositories whose "
        "scanOnPush is on, and those a SCAN_ON_PUSH rule names, are scanned on push) or ENHANCED (rules scan on "
        "push or continuously: stored images are re-matched whenever the advisory database changes).",
        responses={200: RegistryScanningConfigurationSerializer, **error_responses(401, 403)},
        tags=[SCANNING_TAG],
    )
    def get(self, request):
        self.authorize("ecr:GetRegistryScanningConfiguration")
        return Response(
            RegistryScanningConfigurationSerializer(self._body(configuration.of_account(self.account))).data
        )

    @extend_schema(
        operation_id="putRegistryScanningConfiguration",
        summary="Set the registry's scanning configuration",
        description="Amazon ECR's PutRegistryScanningConfiguration: `scanType` BASIC or ENHANCED, and at most 2 "
        "`rules`, each a `scanFrequency` (BASIC: SCAN_ON_PUSH or MANUAL; ENHANCED: SCAN_ON_PUSH or "
        "CONTINUOUS_SCAN) and at most 100 `repositoryFilters` (`filter`: a repository name in which * stands for "
        "any characters; `filterType`: WILDCARD). Replaces the configuration.",
        request=PutScanningConfigurationSerializer,
        responses={200: RegistryScanningConfigurationSerializer, **error_responses(400, 401, 403)},
        tags=[SCANNING_TAG],
    )
    def put(self, request):
        given = PutScanningConfigurationSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr:PutRegistryScanningConfiguration")
        rules = [
            {"scanFrequency": rule["scanFrequency"], "repositoryFilters": [dict(f) for f in rule["repositoryFilters"]]}
            for rule in given.validated_data["rules"]
        ]
        try:
            config = services.put_scanning_configuration(
                account_id=self.account.pk,
                scan_type=given.validated_data["scanType"],
                rules=rules,
                actor=self.actor,
                context=self.context,
            )
        except ScanningConfigurationInvalid as exc:
            raise exceptions.ValidationError({"rules": [ErrorDetail(exc.message, code="invalid")]}) from None
        return Response(RegistryScanningConfigurationSerializer(self._body(config)).data)


class ImageSbom(AccountScopedView):
    def _uri(self, repository) -> str:
        return repository_uri(repository, host=registry_host(self.request), primary_alias=self.account.primary_alias)

    @extend_schema(
        operation_id="getImageSbom",
        summary="Export an image's SBOM",
        description="As Amazon Inspector's CreateSbomExport does for ECR images: the packages the last scan found "
        "in the image, as a CycloneDX 1.6 (`sbomFormat=cyclonedx`, the "
        "default) or SPDX 2.3 (`sbomFormat=spdx`) JSON document: the OS, each package with its package URL, licences, "
        "the file that recorded it and the layer that brought it. 400 `unsupported_image_type` for an index (ask "
        "for a platform's image), 404 `scan_not_found` for an image never scanned.",
        parameters=[NAME, SbomQuerySerializer],
        responses={
            (200, "application/vnd.cyclonedx+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="a CycloneDX JSON document"
            ),
            (200, "application/spdx+json"): OpenApiResponse(OpenApiTypes.OBJECT, description="an SPDX JSON document"),
            **error_responses(400, 401, 403, 404),
        },
        tags=[SCANNING_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DescribeImageScanFindings")
        query = SbomQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        self.authorize("ecr:DescribeImageScanFindings", repository=repository)
        manifest = requested_image(repository, data.get("imageDigest"), data.get("imageTag"))
        body = sboms.document(manifest, kind=data["sbomFormat"], repository_uri=self._uri(repository))
        media_type, _ = sboms.FORMATS[data["sbomFormat"]]
        response = HttpResponse(body, content_type=media_type)
        response["Content-Disposition"] = (
            f'attachment; filename="{manifest.digest.replace(":", "-")}.{data["sbomFormat"]}.json"'
        )
        return response

    @extend_schema(
        operation_id="attachImageSbom",
        summary="Attach an image's SBOM as a referrer",
        description="Beyond Amazon Inspector's CreateSbomExport, which writes to S3: pushes the image's SBOM (an "
        "index: each platform image's) as an OCI artifact whose `subject` "
        "is the image and whose `artifactType` is the SBOM's media type (`application/vnd.cyclonedx+json` or "
        "`application/spdx+json`): the referrers API and `oras discover` list it. Needs `ecr:PutImage`. Attaching "
        "the same SBOM again stores nothing new.",
        parameters=[NAME],
        request=AttachSbomRequestSerializer,
        responses={201: AttachSbomResponseSerializer, **error_responses(400, 401, 403, 404)},
        tags=[SCANNING_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:PutImage")
        given = AttachSbomRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        self.authorize("ecr:PutImage", repository=repository, also=["ecr:DescribeImageScanFindings"])
        manifest = requested_image(repository, data["imageId"].get("imageDigest"), data["imageId"].get("imageTag"))
        stored = sboms.attach(
            repository=repository,
            manifest=manifest,
            kind=data["sbomFormat"],
            repository_uri=self._uri(repository),
            actor=self.actor,
            context=self.context,
        )
        media_type, _ = sboms.FORMATS[data["sbomFormat"]]
        body = {
            "referrers": [
                {"imageDigest": referrer.digest, "artifactType": media_type, "subjectDigest": referrer.subject_digest}
                for referrer in stored
            ]
        }
        return Response(AttachSbomResponseSerializer(body).data, status=201)
