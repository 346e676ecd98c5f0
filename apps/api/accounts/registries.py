"""The account's public registry in the management API: Amazon ECR Public's
DescribeRegistries, PutRegistryCatalogData and GetRegistryCatalogData."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from apps.accounts import registries
from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.repositories.selectors import registry_host

from .serializers import RegistryCatalogDataSerializer, RegistryListSerializer

REGISTRIES_TAG = "registries"


class RegistryList(AccountScopedView):
    @extend_schema(
        operation_id="describeRegistries",
        summary="Describe your registry",
        description="Amazon ECR Public's DescribeRegistries: the account's registry (an account has one, its id "
        "the account id), its URI through the primary alias, whether its publisher is verified, and its aliases "
        "with their status and primary and default flags. Only Berth's staff verify a publisher.",
        responses={200: RegistryListSerializer, **error_responses(401, 403)},
        tags=[REGISTRIES_TAG],
    )
    def get(self, request):
        self.authorize("ecr-public:DescribeRegistries")
        registry = registries.describe_registry(self.account)
        body = {"registries": [registry]}
        return Response(RegistryListSerializer(body, context={"host": registry_host(request)}).data)


class RegistryCatalogData(AccountScopedView):
    @extend_schema(
        operation_id="getRegistryCatalogData",
        summary="Get your registry's catalog data",
        description="Amazon ECR Public's GetRegistryCatalogData: the display name the gallery shows as the "
        "publisher of the account's public repositories.",
        responses={200: RegistryCatalogDataSerializer, **error_responses(401, 403)},
        tags=[REGISTRIES_TAG],
    )
    def get(self, request):
        self.authorize("ecr-public:GetRegistryCatalogData")
        return Response(RegistryCatalogDataSerializer(self.account).data)

    @extend_schema(
        operation_id="putRegistryCatalogData",
        summary="Put your registry's catalog data",
        description="Amazon ECR Public's PutRegistryCatalogData: sets the display name (at most 100 characters; "
        "an empty one clears it).",
        request=RegistryCatalogDataSerializer,
        responses={200: RegistryCatalogDataSerializer, **error_responses(400, 401, 403)},
        tags=[REGISTRIES_TAG],
    )
    def put(self, request):
        given = RegistryCatalogDataSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr-public:PutRegistryCatalogData")
        try:
            account = registries.put_registry_catalog_data(
                account=self.account,
                display_name=given.validated_data["display_name"],
                actor=self.actor,
                context=self.context,
            )
        except registries.DisplayNameInvalid as exc:
            raise exceptions.ValidationError({"displayName": [ErrorDetail(str(exc), code=exc.code)]}) from None
        return Response(RegistryCatalogDataSerializer(account).data)
