"""Who is calling, once their credentials have been checked: the one shape that
the token service, every /v2/ request, every management API request and the
audit trail share.

A caller is an account's root user (every right on its own account, no policy
consulted), an IAM user (a Django user of the account: only what policies grant),
a role session (temporary credentials from AssumeRole: only what the role's
policies grant), or anonymous (public pulls only)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from apps.audit.events import ANONYMOUS_ACTOR, Actor, ActorType

from . import policy


@dataclass(frozen=True)
class Caller:
    account_id: str = ""  # "" for anonymous (and for a staff operator outside any account)
    username: str = (
        ""  # the user's name in its account (never the stored Django username); "" for a role session and anonymous
    )
    user_id: int | None = None
    is_root: bool = False
    role_session_id: int | None = None
    role_name: str = ""
    role_path: str = "/"
    session_name: str = ""
    access_key_id: str = ""  # the key that signed the request, when one did
    # A user's: the fingerprint of the password hash it signed in with (apps.iam.credentials).
    credential: str = ""

    @property
    def is_anonymous(self) -> bool:
        return not self.account_id

    @property
    def is_role_session(self) -> bool:
        return self.role_session_id is not None

    def principal(self) -> policy.Principal:
        """The principal the policy core evaluates."""
        return self._principal

    def actor(self) -> Actor:
        """How the audit trail names this caller."""
        return self._actor

    # A token's caller lives as long as the verified token is cached, and every
    # request of a pull asks for these: they are worked out once.
    @cached_property
    def _principal(self) -> policy.Principal:
        partition = settings.BERTH_ARN_PARTITION
        if self.is_anonymous:
            return policy.Principal.anonymous()
        if self.is_role_session:
            return policy.Principal.assumed_role(
                self.account_id, self.role_name, self.session_name, path=self.role_path, partition=partition
            )
        if self.is_root:
            return policy.Principal.root(self.account_id, partition=partition)
        return policy.Principal.user(self.account_id, self.username, partition=partition)

    @property
    def arn(self) -> str:
        return self.principal().arn or ""

    @cached_property
    def _actor(self) -> Actor:
        if self.is_anonymous:
            return ANONYMOUS_ACTOR
        principal = self.principal()
        if self.is_role_session:
            kind = ActorType.ASSUMED_ROLE
        elif self.is_root:
            kind = ActorType.ROOT
        else:
            kind = ActorType.IAM_USER
        return Actor(
            type=kind,
            arn=principal.arn or "",
            account_id=self.account_id,
            username=self.username,
            access_key_id=self.access_key_id,
            session_name=self.session_name,
            role_arn=principal.role_arn or "",
        )


ANONYMOUS = Caller()
