"""Amazon ECR's registry policy in the management API: GetRegistryPolicy,
PutRegistryPolicy and DeleteRegistryPolicy over the caller's own registry, at
/api/v1/registry/policy. The policy lets other accounts replicate into this
registry (apps.iam.registry_policies decides with it)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.iam import selectors, services
from apps.iam.registry_policies import RegistryPolicyInvalid, RegistryPolicyNotFound

from .serializers import policy_text_field

REGISTRY_POLICY_TAG = "registry policy"


class RegistryPolicySerializer(serializers.Serializer):
    registryId = serializers.CharField(source="registry_id", help_text="the account whose registry it is")
    policyText = serializers.CharField(source="policy_text")


class PutRegistryPolicySerializer(serializers.Serializer):
    policyText = policy_text_field(source="policy_text")


class RegistryPolicyDetail(AccountScopedView):
    domain_error_fields = {RegistryPolicyInvalid: "policyText"}

    def _represent(self, text: str) -> Response:
        return Response(RegistryPolicySerializer({"registry_id": self.account.pk, "policy_text": text}).data)

    @extend_schema(
        operation_id="getRegistryPolicy",
        summary="Get the registry's policy",
        description="Amazon ECR's GetRegistryPolicy; 404 `registry_policy_not_found` when the registry has none.",
        responses={200: RegistryPolicySerializer, **error_responses(401, 403, 404)},
        tags=[REGISTRY_POLICY_TAG],
    )
    def get(self, request):
        self.authorize("ecr:GetRegistryPolicy")
        stored = selectors.registry_policy_of(self.account.pk)
        if stored is None:
            raise RegistryPolicyNotFound(self.account.pk)
        return self._represent(stored.document)

    @extend_schema(
        operation_id="putRegistryPolicy",
        summary="Set the registry's policy",
        description="Amazon ECR's PutRegistryPolicy: replaces the policy. An IAM policy whose principals are "
        'accounts (a 12-digit id, `arn:aws:iam::<id>:root`, or `"*"`), each statement with a `Resource` '
        "(`arn:aws:ecr:<region>:<this account>:repository/<name>`, wildcards allowed), granting only "
        "`ecr:ReplicateImage`, `ecr:CreateRepository` and `ecr:BatchImportUpstreamImage`. The error names the "
        "statement at fault.",
        request=PutRegistryPolicySerializer,
        responses={200: RegistryPolicySerializer, **error_responses(400, 401, 403)},
        tags=[REGISTRY_POLICY_TAG],
    )
    def put(self, request):
        given = PutRegistryPolicySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr:PutRegistryPolicy")
        stored = services.put_registry_policy(
            account=self.account, document=given.validated_data["policy_text"], actor=self.actor, context=self.context
        )
        return self._represent(stored.document)

    @extend_schema(
        operation_id="deleteRegistryPolicy",
        summary="Delete the registry's policy",
        description="Amazon ECR's DeleteRegistryPolicy: answers with the policy it deleted; 404 "
        "`registry_policy_not_found` when there is none.",
        responses={200: RegistryPolicySerializer, **error_responses(401, 403, 404)},
        tags=[REGISTRY_POLICY_TAG],
    )
    def delete(self, request):
        self.authorize("ecr:DeleteRegistryPolicy")
        stored = services.delete_registry_policy(account=self.account, actor=self.actor, context=self.context)
        return self._represent(stored.document)
