"""An account's public registry, as Amazon ECR Public describes one: its aliases
(which one is primary, which the default), whether its publisher is verified, and
its catalog data (the display name). The writes and reads of these live here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import models, transaction

from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.events import outbox
from apps.events.names import ACCOUNT_CHANGED
from apps.kernel.requests import RequestContext

from .models import REGISTRY_DISPLAY_NAME_MAX_LENGTH, Account, Alias, AliasRequest, AliasRequestStatus


class RegistryAliasStatus(models.TextChoices):
    """Amazon ECR Public's alias statuses. Every Alias row is ACTIVE: an alias someone
    asks for is kept apart, as an alias request, until it is granted."""

    ACTIVE = "ACTIVE", "Active"
    PENDING = "PENDING", "Pending"
    REJECTED = "REJECTED", "Rejected"


class DisplayNameInvalid(ValueError):
    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def check_display_name(display_name: str) -> None:
    """ECR Public's limits on a registry's display name; raises DisplayNameInvalid."""
    if len(display_name) > REGISTRY_DISPLAY_NAME_MAX_LENGTH:
        raise DisplayNameInvalid(
            f"the display name is {len(display_name)} characters; at most {REGISTRY_DISPLAY_NAME_MAX_LENGTH}",
            code="max_length",
        )
    if any(not character.isprintable() for character in display_name):
        raise DisplayNameInvalid("the display name holds control characters")


# -- writes -----------------------------------------------------------------------------


def publish_account_changed(account_id: str, changed: Sequence[str]) -> None:
    """account.changed, ``changed`` naming what did (displayName, aliases, verified, ...)."""
    outbox.publish(ACCOUNT_CHANGED, {"accountId": account_id, "changed": list(changed)})


def put_registry_catalog_data(
    *, account: Account, display_name: str, actor: Actor, context: RequestContext | None = None
) -> Account:
    """Amazon ECR Public's PutRegistryCatalogData: the name the gallery shows as the
    publisher of the account's public repositories; empty clears it."""
    check_display_name(display_name)
    account.display_name = display_name
    with transaction.atomic():
        account.save(update_fields=["display_name"])
        publish_account_changed(account.pk, ["displayName"])
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="PutRegistryCatalogData",
            event_source="ecr-public",
            recipient_account_id=account.pk,
            request_parameters={"registryId": account.pk, "displayName": display_name},
        )
    return account


def add_alias(*, alias: Alias, primary: bool = False) -> Alias:
    """Save ``alias``, a further alias of its account (made by staff, or an approved
    request); raises IntegrityError when the name is an alias already."""
    with transaction.atomic():
        alias.save(force_insert=True)
        if primary:
            _switch_primary(alias)
        publish_account_changed(alias.account_id, ["aliases", "primaryAlias"] if primary else ["aliases"])
    return alias


def make_alias_primary(*, alias: Alias) -> Alias:
    """The alias becomes the account's primary one, and the previous primary one not."""
    with transaction.atomic():
        _switch_primary(alias)
        publish_account_changed(alias.account_id, ["primaryAlias"])
    return alias


def _switch_primary(alias: Alias) -> None:
    # The account's aliases locked: two switches at once end with one primary, not a refusal.
    aliases = list(Alias.objects.select_for_update().filter(account_id=alias.account_id).order_by("pk"))
    Alias.objects.filter(pk__in=[a.pk for a in aliases if a.is_primary and a.pk != alias.pk]).update(is_primary=False)
    Alias.objects.filter(pk=alias.pk).update(is_primary=True)
    alias.is_primary = True


# -- reads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryAlias:
    name: str
    is_primary: bool
    is_default: bool
    status: str = RegistryAliasStatus.ACTIVE


@dataclass(frozen=True)
class Registry:
    account: Account
    aliases: list[RegistryAlias]

    @property
    def primary_alias(self) -> str | None:
        return next((alias.name for alias in self.aliases if alias.is_primary), None)


def describe_registry(account: Account) -> Registry:
    """Amazon ECR Public's DescribeRegistries for the account's one registry: the
    primary alias first, then the default, then the rest by name, then the alias
    the account last asked for while it is PENDING, or REJECTED until it asks again.
    An account that never made an alias primary has its default alias as primary."""
    aliases = list(Alias.objects.filter(account=account))
    stored_primary = next((alias for alias in aliases if alias.is_primary), None)
    primary = stored_primary or next((alias for alias in aliases if alias.is_default), None)
    described = [
        RegistryAlias(name=alias.name, is_primary=alias == primary, is_default=alias.is_default) for alias in aliases
    ]
    described.sort(key=lambda alias: (not alias.is_primary, not alias.is_default, alias.name))
    last_request = AliasRequest.objects.filter(account=account).order_by("-created_at", "-pk").first()
    if last_request is not None and last_request.status != AliasRequestStatus.APPROVED:
        described.append(
            RegistryAlias(name=last_request.name, is_primary=False, is_default=False, status=last_request.status)
        )
    return Registry(account=account, aliases=described)
