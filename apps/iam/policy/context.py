"""Who asks, for what, on which resource, and under which circumstances."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType

from apps.kernel.arn import (
    DEFAULT_PARTITION,
    Arn,
    ArnError,
    account_root_arn,
    assumed_role_arn,
    role_arn,
    user_arn,
)

_EMPTY: Mapping[str, str] = MappingProxyType({})


class PrincipalType(StrEnum):
    """The values of ``aws:PrincipalType``."""

    ACCOUNT = "Account"  # the account's root user
    USER = "User"
    ASSUMED_ROLE = "AssumedRole"
    ANONYMOUS = "Anonymous"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one).

    ``arn`` is the caller's own ARN (for a role session, the ``sts`` assumed-role
    ARN); ``principal_arn`` is what ``aws:PrincipalArn`` reports (for a role
    session, the role's ARN), as in IAM.
    """

    type: PrincipalType
    account_id: str | None = None
    arn: str | None = None
    username: str | None = None
    role_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    partition: str = DEFAULT_PARTITION

    @classmethod
    def root(cls, account_id: str, *, partition: str = DEFAULT_PARTITION) -> Principal:
        return cls(
            PrincipalType.ACCOUNT, account_id, account_root_arn(account_id, partition=partition), partition=partition
        )

    @classmethod
    def user(
        cls,
        account_id: str,
        username: str,
        *,
        path: str = "/",
        tags: Mapping[str, str] | None = None,
        partition: str = DEFAULT_PARTITION,
    ) -> Principal:
        return cls(
            PrincipalType.USER,
            account_id,
            user_arn(account_id, username, path=path, partition=partition),
            username=username,
            tags=MappingProxyType(dict(tags or {})),
            partition=partition,
        )

    @classmethod
    def assumed_role(
        cls,
        account_id: str,
        role_name: str,
        session_name: str,
        *,
        path: str = "/",
        tags: Mapping[str, str] | None = None,
        partition: str = DEFAULT_PARTITION,
    ) -> Principal:
        return cls(
            PrincipalType.ASSUMED_ROLE,
            account_id,
            assumed_role_arn(account_id, role_name, session_name, partition=partition),
            role_arn=role_arn(account_id, role_name, path=path, partition=partition),
            tags=MappingProxyType(dict(tags or {})),
            partition=partition,
        )

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalType.ANONYMOUS)

    @property
    def is_anonymous(self) -> bool:
        return self.type is PrincipalType.ANONYMOUS

    @property
    def is_root(self) -> bool:
        return self.type is PrincipalType.ACCOUNT

    @property
    def principal_arn(self) -> str | None:
        return self.role_arn or self.arn

    @property
    def account_arn(self) -> str | None:
        if self.account_id is None:
            return None
        return account_root_arn(self.account_id, partition=self.partition)


ConditionValue = str | bool | int | float | datetime


@dataclass(frozen=True)
class RequestContext:
    """One request to authorize.

    ``resource`` is the target's ARN, or ``"*"`` for actions that act on no
    particular resource (``ecr:GetAuthorizationToken``). ``resource_account``
    defaults to the account in the ARN, then to the caller's own account.
    ``extra_keys`` adds or overrides condition keys; a value may be a list for a
    multi-valued key.
    """

    principal: Principal
    action: str
    resource: str = "*"
    resource_account: str | None = None
    source_ip: str | None = None
    current_time: datetime | None = None
    secure_transport: bool | None = None
    user_agent: str | None = None
    resource_tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    extra_keys: Mapping[str, ConditionValue | list[ConditionValue] | tuple[ConditionValue, ...]] = field(
        default_factory=lambda: _EMPTY
    )

    @property
    def effective_resource_account(self) -> str | None:
        if self.resource_account:
            return self.resource_account
        if self.resource != "*":
            try:
                account = Arn.parse(self.resource, partition=self.principal.partition).account
            except ArnError:
                account = ""
            if account:
                return account
        return self.principal.account_id

    def condition_keys(self) -> dict[str, tuple[ConditionValue, ...]]:
        """The request's condition keys, lower-cased (IAM key names are case-insensitive)."""
        now = self.current_time or datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        principal = self.principal
        keys: dict[str, ConditionValue | None] = {
            "aws:currenttime": now,
            "aws:epochtime": int(now.timestamp()),
            "aws:sourceip": self.source_ip,
            "aws:securetransport": self.secure_transport,
            "aws:useragent": self.user_agent,
            "aws:principaltype": principal.type.value,
            "aws:principalaccount": principal.account_id,
            "aws:principalarn": principal.principal_arn,
            "aws:username": principal.username if principal.type is PrincipalType.USER else None,
            "aws:resourceaccount": self.effective_resource_account,
        }
        result = {key: (value,) for key, value in keys.items() if value is not None}
        for tag, value in principal.tags.items():
            result[f"aws:principaltag/{tag}".lower()] = (value,)
        for tag, value in self.resource_tags.items():
            result[f"aws:resourcetag/{tag}".lower()] = (value,)
            result[f"ecr:resourcetag/{tag}".lower()] = (value,)
        for key, value in self.extra_keys.items():
            result[key.lower()] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        return result
