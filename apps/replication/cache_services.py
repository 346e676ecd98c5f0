"""Writes of the pull-through cache rules: Amazon ECR's CreatePullThroughCacheRule,
UpdatePullThroughCacheRule, DeletePullThroughCacheRule and
ValidatePullThroughCacheRule, each recorded in the audit trail under its name.

A rule's upstream password is sealed (apps.kernel.sealing) and never leaves the
server: answers and events name the username only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.accounts.models import Account
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel.names import REPOSITORY_NAME_MAX_LENGTH, REPOSITORY_NAME_PATTERN
from apps.kernel.requests import RequestContext
from apps.kernel.sealing import seal

from . import cache
from .cache_errors import PullThroughCacheRuleAlreadyExists, PullThroughCacheRuleInvalid, PullThroughCacheRuleNotFound
from .client import RegistryClientError
from .models import PullThroughCacheRule
from .models.cache import ECR_REPOSITORY_PREFIX_MAX_LENGTH, UPSTREAM_URL_MAX_LENGTH

# Amazon ECR's pattern for ecrRepositoryPrefix (2 to 30 characters).
PREFIX_GRAMMAR = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_UPSTREAM_PREFIX_GRAMMAR = re.compile(REPOSITORY_NAME_PATTERN)
# ECR's word for "no upstream repository prefix".
ROOT = "ROOT"
MAX_RECHECK_SECONDS = 30 * 24 * 3600
_UNCHANGED = object()


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def _check_prefix(prefix: str) -> str:
    if not (2 <= len(prefix) <= ECR_REPOSITORY_PREFIX_MAX_LENGTH) or not PREFIX_GRAMMAR.fullmatch(prefix):
        raise PullThroughCacheRuleInvalid(
            f"invalid ecrRepositoryPrefix {prefix[:100]!r}: 2 to {ECR_REPOSITORY_PREFIX_MAX_LENGTH} characters of "
            "lowercase letters, digits and '.', '_', '-' between them, in parts separated by '/'",
            field="ecrRepositoryPrefix",
        )
    return prefix


def normalized_upstream_url(url: str) -> str:
    """``https://host[:port]`` (a URL without a scheme is https's, as Amazon ECR
    takes `registry-1.docker.io`); refuses credentials, queries and paths."""
    given = url.strip().rstrip("/")
    candidate = given if "://" in given else f"https://{given}"
    try:
        parts = urlsplit(candidate)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or parts.path not in ("", "/v2")
        or len(candidate) > UPSTREAM_URL_MAX_LENGTH
    ):
        raise PullThroughCacheRuleInvalid(
            f"invalid upstreamRegistryUrl {url[:200]!r}: a registry's address, https://host[:port] or host[:port] "
            "(http:// for a registry without TLS), with no credentials, path or query",
            field="upstreamRegistryUrl",
        )
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _check_upstream_prefix(prefix: str) -> str:
    prefix = prefix.strip().strip("/")
    if prefix in ("", ROOT):
        return ""
    if len(prefix) > REPOSITORY_NAME_MAX_LENGTH or not _UPSTREAM_PREFIX_GRAMMAR.fullmatch(prefix):
        raise PullThroughCacheRuleInvalid(
            f"invalid upstreamRepositoryPrefix {prefix[:100]!r}: a repository name's start (`library`, "
            "`team/apps`), or ROOT for none",
            field="upstreamRepositoryPrefix",
        )
    return prefix


def _check_credentials(credentials: Credentials | None) -> Credentials | None:
    if credentials is None:
        return None
    if not credentials.username or not credentials.password:
        raise PullThroughCacheRuleInvalid("credentials need both a username and a password", field="credentials")
    if len(credentials.username) > 255 or len(credentials.password) > 4096:
        raise PullThroughCacheRuleInvalid(
            "credentials: a username of up to 255 characters and a password of up to 4096", field="credentials"
        )
    return credentials


def _check_recheck(seconds: int | None) -> int:
    if seconds is None:
        return settings.BERTH_PULL_THROUGH_TAG_RECHECK_SECONDS
    if not 1 <= seconds <= MAX_RECHECK_SECONDS:
        raise PullThroughCacheRuleInvalid(
            f"tagRecheckSeconds is 1 to {MAX_RECHECK_SECONDS} (30 days)", field="tagRecheckSeconds"
        )
    return seconds


def _check_no_overlap(account: Account, prefix: str) -> None:
    """A repository belongs to one rule at most: no prefix may start another's path."""
    for other in PullThroughCacheRule.objects.filter(account=account).values_list("ecr_repository_prefix", flat=True):
        if other == prefix:
            raise PullThroughCacheRuleAlreadyExists(prefix)
        if (other + "/").startswith(prefix + "/") or (prefix + "/").startswith(other + "/"):
            raise PullThroughCacheRuleInvalid(
                f"the prefix {prefix} overlaps the prefix {other} of another rule: a repository could belong to both",
                field="ecrRepositoryPrefix",
            )


def rule_fields(rule: PullThroughCacheRule) -> dict:
    """What answers and audit events show of a rule: never its password."""
    return {
        "registryId": rule.account_id,
        "ecrRepositoryPrefix": rule.ecr_repository_prefix,
        "upstreamRegistryUrl": rule.upstream_registry_url,
        "upstreamRepositoryPrefix": rule.upstream_repository_prefix or ROOT,
        "credentials": {"username": rule.username} if rule.username else None,
        "credentialsConfigured": bool(rule.sealed_password),
        "tagRecheckSeconds": rule.tag_recheck_seconds,
    }


def _record(event_name: str, rule: PullThroughCacheRule, actor: Actor, context, parameters: dict, **response) -> None:
    audit_services.record_change(
        actor=actor,
        context=context,
        event_name=event_name,
        recipient_account_id=rule.account_id,
        request_parameters={
            "registryId": rule.account_id,
            "ecrRepositoryPrefix": rule.ecr_repository_prefix,
            **parameters,
        },
        response_elements=response,
    )


def _forget_rules() -> None:
    # This process reads its rules again at once; the others within RULES_REFRESH_SECONDS.
    transaction.on_commit(cache.SOURCE.forget_rules)


def create_pull_through_cache_rule(
    *,
    account: Account,
    ecr_repository_prefix: str,
    upstream_registry_url: str,
    upstream_repository_prefix: str = "",
    credentials: Credentials | None = None,
    tag_recheck_seconds: int | None = None,
    actor: Actor,
    context: RequestContext | None = None,
) -> PullThroughCacheRule:
    prefix = _check_prefix(ecr_repository_prefix)
    url = normalized_upstream_url(upstream_registry_url)
    upstream_prefix = _check_upstream_prefix(upstream_repository_prefix)
    credentials = _check_credentials(credentials)
    recheck = _check_recheck(tag_recheck_seconds)
    try:
        with transaction.atomic():
            # One rule change of an account at a time: the overlap check reads what is committed.
            Account.objects.select_for_update().filter(pk=account.pk).first()
            _check_no_overlap(account, prefix)
            rule = PullThroughCacheRule.objects.create(
                account=account,
                ecr_repository_prefix=prefix,
                upstream_registry_url=url,
                upstream_repository_prefix=upstream_prefix,
                username=credentials.username if credentials else "",
                sealed_password=seal(credentials.password) if credentials else "",
                tag_recheck_seconds=recheck,
            )
            fields = rule_fields(rule)
            _record(
                "CreatePullThroughCacheRule",
                rule,
                actor,
                context,
                {key: fields[key] for key in ("upstreamRegistryUrl", "upstreamRepositoryPrefix", "credentials")},
                **fields,
            )
            _forget_rules()
    except IntegrityError:
        raise PullThroughCacheRuleAlreadyExists(prefix) from None
    return rule


def update_pull_through_cache_rule(
    *,
    account: Account,
    ecr_repository_prefix: str,
    upstream_registry_url=_UNCHANGED,
    upstream_repository_prefix=_UNCHANGED,
    credentials=_UNCHANGED,
    tag_recheck_seconds=_UNCHANGED,
    actor: Actor,
    context: RequestContext | None = None,
) -> PullThroughCacheRule:
    """Amazon ECR's UpdatePullThroughCacheRule: what is given replaces what the rule
    had (``credentials`` None removes them); what is left out stays."""
    with transaction.atomic():
        rule = (
            PullThroughCacheRule.objects.select_for_update()
            .filter(account=account, ecr_repository_prefix=ecr_repository_prefix)
            .first()
        )
        if rule is None:
            raise PullThroughCacheRuleNotFound(ecr_repository_prefix)
        changed = {}
        if upstream_registry_url is not _UNCHANGED:
            rule.upstream_registry_url = normalized_upstream_url(upstream_registry_url)
            changed["upstreamRegistryUrl"] = rule.upstream_registry_url
        if upstream_repository_prefix is not _UNCHANGED:
            rule.upstream_repository_prefix = _check_upstream_prefix(upstream_repository_prefix)
            changed["upstreamRepositoryPrefix"] = rule.upstream_repository_prefix or ROOT
        if credentials is not _UNCHANGED:
            credentials = _check_credentials(credentials)
            rule.username = credentials.username if credentials else ""
            rule.sealed_password = seal(credentials.password) if credentials else ""
            changed["credentials"] = {"username": rule.username} if credentials else None
        if tag_recheck_seconds is not _UNCHANGED:
            rule.tag_recheck_seconds = _check_recheck(tag_recheck_seconds)
            changed["tagRecheckSeconds"] = rule.tag_recheck_seconds
        rule.save()
        _record("UpdatePullThroughCacheRule", rule, actor, context, changed, **rule_fields(rule))
        _forget_rules()
    return rule


def delete_pull_through_cache_rule(
    *, account: Account, ecr_repository_prefix: str, actor: Actor, context: RequestContext | None = None
) -> PullThroughCacheRule:
    """Amazon ECR's DeletePullThroughCacheRule: the repositories it filled stay, and
    serve what they hold; nothing is fetched for them any more. Answers the rule."""
    with transaction.atomic():
        rule = (
            PullThroughCacheRule.objects.select_for_update()
            .filter(account=account, ecr_repository_prefix=ecr_repository_prefix)
            .first()
        )
        if rule is None:
            raise PullThroughCacheRuleNotFound(ecr_repository_prefix)
        fields = rule_fields(rule)
        rule.delete()
        _record("DeletePullThroughCacheRule", rule, actor, context, {}, **fields)
        _forget_rules()
    return rule


@dataclass(frozen=True)
class Validation:
    rule: PullThroughCacheRule
    is_valid: bool
    failure: str


def validate_pull_through_cache_rule(
    *, rule: PullThroughCacheRule, actor: Actor, context: RequestContext | None = None
) -> Validation:
    """Amazon ECR's ValidatePullThroughCacheRule: can Berth reach the upstream and
    sign in with the rule's credentials (GET /v2/, with a token when it asks for
    one)? The answer, with the upstream's reason when not, is recorded."""
    try:
        with cache.upstream_client(rule, attempts=1) as client:
            client.ping()
        validation = Validation(rule=rule, is_valid=True, failure="")
    except RegistryClientError as exc:
        validation = Validation(rule=rule, is_valid=False, failure=exc.message)
    with transaction.atomic():
        _record(
            "ValidatePullThroughCacheRule",
            rule,
            actor,
            context,
            {},
            isValid=validation.is_valid,
            failure=validation.failure or None,
        )
    return validation
