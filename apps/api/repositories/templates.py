"""Amazon ECR's repository creation templates in the management API, over the
caller's own registry: CreateRepositoryCreationTemplate (POST),
DescribeRepositoryCreationTemplates (GET, all or by prefix),
UpdateRepositoryCreationTemplate (PATCH) and DeleteRepositoryCreationTemplate
(DELETE) under /api/v1/repository-creation-templates. The policy texts are validated
by apps.repositories.creation_templates, whoever calls it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.repositories import creation_templates, selectors
from apps.repositories.models import (
    TEMPLATE_DESCRIPTION_MAX_LENGTH,
    TEMPLATE_PREFIX_MAX_LENGTH,
    AppliedFor,
    RepositoryCreationTemplate,
    TagMutability,
)

from .serializers import ResourceTagSerializer, exclusion_filters_field, resource_tags_field, validate_unique_keys

TEMPLATES_TAG = "repository creation templates"
PREFIX = OpenApiParameter(
    "prefix", str, OpenApiParameter.PATH, description="the template's prefix: `ROOT` or a namespace, `/` included"
)
_POLICY_HELP = "{what} (JSON text) given to each repository created from the template; empty: none"


class EncryptionConfigurationSerializer(serializers.Serializer):
    encryptionType = serializers.CharField(
        help_text="AES256 or KMS (with kmsKey): the repositories the template creates are encrypted at rest with it "
        "(docs/encryption.md); KMS_DSSE is refused"
    )
    kmsKey = serializers.CharField(
        required=False, help_text="KMS only: the key (S3: id, ARN or alias; filesystem: a key ring name)"
    )


class TemplateSerializer(serializers.Serializer):
    prefix = serializers.CharField()
    description = serializers.CharField()
    imageTagMutability = serializers.CharField(source="image_tag_mutability")
    imageTagMutabilityExclusionFilters = serializers.ListField(
        source="image_tag_mutability_exclusion_filters", child=serializers.CharField()
    )
    resourceTags = ResourceTagSerializer(source="tag_list", many=True)
    repositoryPolicy = serializers.CharField(source="repository_policy")
    lifecyclePolicy = serializers.CharField(source="lifecycle_policy")
    appliedFor = serializers.ListField(source="applied_for", child=serializers.CharField())
    encryptionConfiguration = EncryptionConfigurationSerializer(source="encryption_configuration")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class TemplateResponseSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryCreationTemplate = TemplateSerializer()


class TemplatePageSerializer(serializers.Serializer):
    registryId = serializers.CharField()
    repositoryCreationTemplates = TemplateSerializer(many=True)
    nextToken = serializers.CharField(allow_null=True, help_text="pass as `nextToken` for the following page")


class DescribeQuerySerializer(serializers.Serializer):
    prefixes = serializers.ListField(
        child=serializers.CharField(max_length=TEMPLATE_PREFIX_MAX_LENGTH),
        required=False,
        max_length=25,
        help_text="only these prefixes' templates (repeat the parameter)",
    )
    maxResults = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    nextToken = serializers.CharField(required=False, max_length=TEMPLATE_PREFIX_MAX_LENGTH)


class _TemplateFieldsSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=TEMPLATE_DESCRIPTION_MAX_LENGTH)
    imageTagMutability = serializers.ChoiceField(choices=TagMutability.choices, required=False)
    imageTagMutabilityExclusionFilters = exclusion_filters_field(required=False)
    resourceTags = resource_tags_field(required=False, validators=[validate_unique_keys])
    repositoryPolicy = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=_POLICY_HELP.format(what="a repository policy"),
    )
    lifecyclePolicy = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=_POLICY_HELP.format(what="a lifecycle policy"),
    )
    encryptionConfiguration = EncryptionConfigurationSerializer(required=False)


class CreateTemplateSerializer(_TemplateFieldsSerializer):
    prefix = serializers.CharField(
        max_length=TEMPLATE_PREFIX_MAX_LENGTH,
        help_text="`ROOT` (every repository) or a namespace: `prod` applies to the repositories named `prod/...`",
    )
    appliedFor = serializers.ListField(
        child=serializers.ChoiceField(choices=AppliedFor.values), min_length=1, max_length=2
    )


class UpdateTemplateSerializer(_TemplateFieldsSerializer):
    appliedFor = serializers.ListField(
        child=serializers.ChoiceField(choices=AppliedFor.values), min_length=1, max_length=2, required=False
    )


def _represent(template: RepositoryCreationTemplate) -> dict:
    template.tag_list = [{"key": key, "value": value} for key, value in template.resource_tags.items()]
    template.encryption_configuration = creation_templates.template_encryption(template)
    return template


def _changes(data: dict) -> dict:
    """The service's keyword arguments for the fields the request gave."""
    names = {
        "description": "description",
        "imageTagMutability": "image_tag_mutability",
        "imageTagMutabilityExclusionFilters": "image_tag_mutability_exclusion_filters",
        "repositoryPolicy": "repository_policy",
        "lifecyclePolicy": "lifecycle_policy",
        "appliedFor": "applied_for",
        "encryptionConfiguration": "encryption_configuration",
    }
    changes = {names[key]: value for key, value in data.items() if key in names}
    if "resourceTags" in data:
        changes["resource_tags"] = {tag["key"]: tag["value"] for tag in data["resourceTags"]}
    return changes


class _TemplateView(AccountScopedView):
    def _answer(self, template: RepositoryCreationTemplate, status_code: int = status.HTTP_200_OK) -> Response:
        body = {"registryId": self.account.pk, "repositoryCreationTemplate": _represent(template)}
        return Response(TemplateResponseSerializer(body).data, status=status_code)

    def _invalid(self, error: creation_templates.CreationTemplateInvalid) -> exceptions.ValidationError:
        return exceptions.ValidationError({error.field: [ErrorDetail(error.message, code="invalid_parameter")]})


class TemplateList(_TemplateView):
    @extend_schema(
        operation_id="describeRepositoryCreationTemplates",
        summary="List the registry's repository creation templates",
        description="Amazon ECR's DescribeRepositoryCreationTemplates: the templates by prefix, a page at a time "
        "(`nextToken`), all of them or those of `prefixes`.",
        parameters=[DescribeQuerySerializer],
        responses={200: TemplatePageSerializer, **error_responses(400, 401, 403)},
        tags=[TEMPLATES_TAG],
    )
    def get(self, request):
        given = request.query_params.dict()
        if "prefixes" in request.query_params:
            given["prefixes"] = request.query_params.getlist("prefixes")
        query = DescribeQuerySerializer(data=given)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        self.authorize("ecr:DescribeRepositoryCreationTemplates")
        limit = data["maxResults"]
        found = selectors.creation_templates(
            self.account, prefixes=data.get("prefixes"), after=data.get("nextToken", ""), limit=limit + 1
        )
        page = found[:limit]
        body = {
            "registryId": self.account.pk,
            "repositoryCreationTemplates": [_represent(template) for template in page],
            "nextToken": page[-1].prefix if len(found) > limit else None,
        }
        return Response(TemplatePageSerializer(body).data)

    @extend_schema(
        operation_id="createRepositoryCreationTemplate",
        summary="Create a repository creation template",
        description="Amazon ECR's CreateRepositoryCreationTemplate: the settings (tag mutability, resource tags, "
        "repository policy, lifecycle policy) of the repositories replication (`REPLICATION`) or the pull-through "
        "cache (`PULL_THROUGH_CACHE`) create under `prefix`; the longest matching prefix wins, `ROOT` last. The "
        "policies are validated as SetRepositoryPolicy and PutLifecyclePolicy validate them. `encryptionConfiguration`"
        " takes `AES256` or `KMS` with a `kmsKey`. 409 `template_already_exists` for a prefix that has one.",
        request=CreateTemplateSerializer,
        responses={201: TemplateResponseSerializer, **error_responses(400, 401, 403, 409)},
        tags=[TEMPLATES_TAG],
    )
    def post(self, request):
        given = CreateTemplateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        self.authorize("ecr:CreateRepositoryCreationTemplate", prefix=data["prefix"])
        try:
            template = creation_templates.create_repository_creation_template(
                account=self.account, prefix=data["prefix"], actor=self.actor, context=self.context, **_changes(data)
            )
        except creation_templates.CreationTemplateInvalid as error:
            raise self._invalid(error) from None
        return self._answer(template, status.HTTP_201_CREATED)


class TemplateDetail(_TemplateView):
    def _template(self, prefix: str) -> RepositoryCreationTemplate:
        template = selectors.creation_template(self.account.pk, prefix)
        if template is None:
            raise creation_templates.CreationTemplateNotFound(self.account.pk, prefix)
        return template

    @extend_schema(
        operation_id="describeRepositoryCreationTemplate",
        summary="Get a repository creation template",
        description="Amazon ECR's DescribeRepositoryCreationTemplates for one prefix; 404 `template_not_found`.",
        parameters=[PREFIX],
        responses={200: TemplateResponseSerializer, **error_responses(401, 403, 404)},
        tags=[TEMPLATES_TAG],
    )
    def get(self, request, prefix: str):
        self.authorize("ecr:DescribeRepositoryCreationTemplates", prefix=prefix[:TEMPLATE_PREFIX_MAX_LENGTH])
        return self._answer(self._template(prefix))

    @extend_schema(
        operation_id="updateRepositoryCreationTemplate",
        summary="Update a repository creation template",
        description="Amazon ECR's UpdateRepositoryCreationTemplate: the fields given replace the template's "
        "(an empty `repositoryPolicy` or `lifecyclePolicy` removes it); the others stay.",
        parameters=[PREFIX],
        request=UpdateTemplateSerializer,
        responses={200: TemplateResponseSerializer, **error_responses(400, 401, 403, 404)},
        tags=[TEMPLATES_TAG],
    )
    def patch(self, request, prefix: str):
        given = UpdateTemplateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr:UpdateRepositoryCreationTemplate", prefix=prefix[:TEMPLATE_PREFIX_MAX_LENGTH])
        try:
            template = creation_templates.update_repository_creation_template(
                template=self._template(prefix),
                actor=self.actor,
                context=self.context,
                **_changes(given.validated_data),
            )
        except creation_templates.CreationTemplateInvalid as error:
            raise self._invalid(error) from None
        return self._answer(template)

    @extend_schema(
        operation_id="deleteRepositoryCreationTemplate",
        summary="Delete a repository creation template",
        description="Amazon ECR's DeleteRepositoryCreationTemplate: answers with the template it deleted. "
        "Repositories created from it keep their settings.",
        parameters=[PREFIX],
        responses={200: TemplateResponseSerializer, **error_responses(401, 403, 404)},
        tags=[TEMPLATES_TAG],
    )
    def delete(self, request, prefix: str):
        self.authorize("ecr:DeleteRepositoryCreationTemplate", prefix=prefix[:TEMPLATE_PREFIX_MAX_LENGTH])
        template = creation_templates.delete_repository_creation_template(
            account=self.account, prefix=prefix, actor=self.actor, context=self.context
        )
        return self._answer(template)
