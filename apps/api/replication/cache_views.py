"""Pull-through cache rules in the management API: Amazon ECR's
CreatePullThroughCacheRule, DescribePullThroughCacheRules,
UpdatePullThroughCacheRule, DeletePullThroughCacheRule and
ValidatePullThroughCacheRule, over the signed-in user's account."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.replication import cache_selectors, cache_services
from apps.replication.cache_errors import (
    PullThroughCacheRuleAlreadyExists,
    PullThroughCacheRuleInvalid,
    PullThroughCacheRuleNotFound,
)

from .cache_serializers import (
    CreateRuleSerializer,
    DescribeRulesQuerySerializer,
    DescribeRulesSerializer,
    RuleSerializer,
    UpdateRuleSerializer,
    ValidationSerializer,
)

CACHE_TAG = "pull-through cache"
PREFIX = OpenApiParameter(
    "prefix", str, OpenApiParameter.PATH, description="the rule's ecrRepositoryPrefix, `/` included (`hub/library`)"
)


class Conflict(exceptions.APIException):
    status_code = 409
    default_code = "conflict"


def _body(rule) -> dict:
    return {**cache_services.rule_fields(rule), "createdAt": rule.created_at, "updatedAt": rule.updated_at}


def _credentials(given: dict | None):
    return None if given is None else cache_services.Credentials(given["username"], given["password"])


class _RuleView(AccountScopedView):
    """The rules' refusals, said as the API says errors."""

    def handle_exception(self, exc):
        if isinstance(exc, PullThroughCacheRuleNotFound):
            exc = exceptions.NotFound(exc.message, code="pull_through_cache_rule_not_found")
        elif isinstance(exc, PullThroughCacheRuleAlreadyExists):
            exc = Conflict(exc.message, code="pull_through_cache_rule_already_exists")
        elif isinstance(exc, PullThroughCacheRuleInvalid):
            exc = exceptions.ValidationError({exc.field: [exceptions.ErrorDetail(exc.message, code="invalid")]})
        return super().handle_exception(exc)

    def rule_named(self, prefix: str, *, action: str):
        self.authorize(action, ecrRepositoryPrefix=prefix[:100])
        return cache_selectors.rule(self.account, prefix)


class PullThroughCacheRuleList(_RuleView):
    @extend_schema(
        operation_id="describePullThroughCacheRules",
        summary="List the account's pull-through cache rules",
        description="Amazon ECR's DescribePullThroughCacheRules: the rules by prefix, a page at a time; "
        "`ecrRepositoryPrefixes` (repeatable) picks some, 404 `pull_through_cache_rule_not_found` naming one "
        "the account lacks.",
        parameters=[DescribeRulesQuerySerializer],
        responses={200: DescribeRulesSerializer, **error_responses(400, 401, 403, 404)},
        tags=[CACHE_TAG],
    )
    def get(self, request):
        data = {key: request.query_params[key] for key in ("maxResults", "nextToken") if key in request.query_params}
        prefixes = request.query_params.getlist("ecrRepositoryPrefixes")
        if prefixes:
            data["ecrRepositoryPrefixes"] = prefixes
        query = DescribeRulesQuerySerializer(data=data)
        query.is_valid(raise_exception=True)
        self.authorize("ecr:DescribePullThroughCacheRules")
        page, end = cache_selectors.rules_page(
            self.account,
            prefixes=query.validated_data.get("ecrRepositoryPrefixes"),
            start=int(query.validated_data.get("nextToken", 0)),
            limit=query.validated_data["maxResults"],
        )
        body = {"pullThroughCacheRules": [_body(rule) for rule in page], "nextToken": None if end is None else str(end)}
        return Response(DescribeRulesSerializer(body).data)

    @extend_schema(
        operation_id="createPullThroughCacheRule",
        summary="Create a pull-through cache rule",
        description="Amazon ECR's CreatePullThroughCacheRule: a pull of `<account>/<ecrRepositoryPrefix>/<path>` "
        "fetches `<upstreamRepositoryPrefix>/<path>` from the upstream registry, stores it and serves it. 409 "
        "`pull_through_cache_rule_already_exists`; 400 for a prefix that overlaps another rule's.",
        request=CreateRuleSerializer,
        responses={201: RuleSerializer, **error_responses(400, 401, 403, 409)},
        tags=[CACHE_TAG],
    )
    def post(self, request):
        given = CreateRuleSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        self.authorize("ecr:CreatePullThroughCacheRule", ecrRepositoryPrefix=data["ecrRepositoryPrefix"])
        rule = cache_services.create_pull_through_cache_rule(
            account=self.account,
            ecr_repository_prefix=data["ecrRepositoryPrefix"],
            upstream_registry_url=data["upstreamRegistryUrl"],
            upstream_repository_prefix=data.get("upstreamRepositoryPrefix", ""),
            credentials=_credentials(data.get("credentials")),
            tag_recheck_seconds=data.get("tagRecheckSeconds"),
            actor=self.actor,
            context=self.context,
        )
        return Response(RuleSerializer(_body(rule)).data, status=201)


class PullThroughCacheRuleDetail(_RuleView):
    @extend_schema(
        operation_id="describePullThroughCacheRule",
        summary="Describe one pull-through cache rule",
        description="Amazon ECR's DescribePullThroughCacheRules for one prefix.",
        parameters=[PREFIX],
        responses={200: RuleSerializer, **error_responses(401, 403, 404)},
        tags=[CACHE_TAG],
    )
    def get(self, request, prefix: str):
        rule = self.rule_named(prefix, action="ecr:DescribePullThroughCacheRules")
        return Response(RuleSerializer(_body(rule)).data)

    @extend_schema(
        operation_id="updatePullThroughCacheRule",
        summary="Update a pull-through cache rule",
        description="Amazon ECR's UpdatePullThroughCacheRule: what is given replaces what the rule had "
        "(`credentials: null` removes them); what is left out stays.",
        parameters=[PREFIX],
        request=UpdateRuleSerializer,
        responses={200: RuleSerializer, **error_responses(400, 401, 403, 404)},
        tags=[CACHE_TAG],
    )
    def patch(self, request, prefix: str):
        given = UpdateRuleSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        self.authorize("ecr:UpdatePullThroughCacheRule", ecrRepositoryPrefix=prefix[:100])
        changes = {}
        if "upstreamRegistryUrl" in data:
            changes["upstream_registry_url"] = data["upstreamRegistryUrl"]
        if "upstreamRepositoryPrefix" in data:
            changes["upstream_repository_prefix"] = data["upstreamRepositoryPrefix"]
        if "credentials" in data:
            changes["credentials"] = _credentials(data["credentials"])
        if "tagRecheckSeconds" in data:
            changes["tag_recheck_seconds"] = data["tagRecheckSeconds"]
        rule = cache_services.update_pull_through_cache_rule(
            account=self.account, ecr_repository_prefix=prefix, actor=self.actor, context=self.context, **changes
        )
        return Response(RuleSerializer(_body(rule)).data)

    @extend_schema(
        operation_id="deletePullThroughCacheRule",
        summary="Delete a pull-through cache rule",
        description="Amazon ECR's DeletePullThroughCacheRule: answers the rule it deleted. The repositories it "
        "filled stay and serve what they hold.",
        parameters=[PREFIX],
        responses={200: RuleSerializer, **error_responses(401, 403, 404)},
        tags=[CACHE_TAG],
    )
    def delete(self, request, prefix: str):
        self.authorize("ecr:DeletePullThroughCacheRule", ecrRepositoryPrefix=prefix[:100])
        rule = cache_services.delete_pull_through_cache_rule(
            account=self.account, ecr_repository_prefix=prefix, actor=self.actor, context=self.context
        )
        return Response(RuleSerializer(_body(rule)).data)


class PullThroughCacheRuleValidation(_RuleView):
    @extend_schema(
        operation_id="validatePullThroughCacheRule",
        summary="Check that a rule's upstream answers and takes its credentials",
        description="Amazon ECR's ValidatePullThroughCacheRule: Berth asks the upstream's `/v2/` with the rule's "
        "credentials (through its token service when it has one); `isValid`, and `failure` says why not.",
        parameters=[PREFIX],
        request=None,
        responses={200: ValidationSerializer, **error_responses(401, 403, 404)},
        tags=[CACHE_TAG],
    )
    def post(self, request, prefix: str):
        rule = self.rule_named(prefix, action="ecr:ValidatePullThroughCacheRule")
        validation = cache_services.validate_pull_through_cache_rule(rule=rule, actor=self.actor, context=self.context)
        body = {**_body(rule), "isValid": validation.is_valid, "failure": validation.failure}
        return Response(ValidationSerializer(body).data)
