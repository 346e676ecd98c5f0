"""Every write to accounts, users, aliases, alias requests and access keys, and the
minting of login passwords; and the one check of a custom alias that the sign-up
settings page, the admin and the tests share."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.events import outbox
from apps.events.names import ALIAS_REQUEST_DECIDED
from apps.kernel import images, sealing
from apps.kernel.requests import RequestContext

from . import links, login_passwords, notices, registries, selectors
from .models import (
    CUSTOM_ALIAS_MAX_LENGTH,
    CUSTOM_ALIAS_MIN_LENGTH,
    CUSTOM_ALIAS_PATTERN,
    MAX_ACTIVE_ACCESS_KEYS,
    PUBLISHER_BIO_MAX_LENGTH,
    SIGN_IN_NAME_SEPARATOR,
    AccessKey,
    AccessKeyStatus,
    Account,
    AccountQuota,
    Alias,
    AliasRequest,
    AliasRequestEvent,
    AliasRequestEventKind,
    AliasRequestStatus,
    Membership,
    PublisherLogo,
    ReservedName,
    RootUser,
)

_ALIAS_FIRST = string.ascii_lowercase
_ALIAS_REST = string.ascii_lowercase + string.digits


def _new_account_id() -> str:
    # 12 digits, never starting with 0 so it survives tools that treat it as a number.
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def _new_default_alias() -> str:
    return secrets.choice(_ALIAS_FIRST) + "".join(secrets.choice(_ALIAS_REST) for _ in range(7))


class UsernameInvalid(ValueError):
    pass


class UsernameTaken(ValueError):
    pass


def _check_root_username(username: str) -> None:
    if SIGN_IN_NAME_SEPARATOR in username:
        raise UsernameInvalid(
            f"a user name cannot contain {SIGN_IN_NAME_SEPARATOR!r}: it separates the account from the user name "
            "in an IAM user's sign-in name (<account>/<user>)"
        )


def create_account(
    *, name: str, username: str, password: str, email: str = "", validate: bool = True, email_verified: bool = True
) -> Account:
    """Create an account with a random 12-digit id and default alias, and its first
    user, its root, who signs in as ``username`` (unique across Berth, without ``/``).
    An account an operator makes (`berth create_account`) counts as having its email
    verified (``email_verified``); the website's sign-up mails a link instead.
    Raises UsernameInvalid or UsernameTaken."""
    _check_root_username(username)
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise UsernameTaken(f"username {username!r} is taken")
    if validate:
        validate_password(password, User(username=username, email=email))
    for _ in range(20):
        try:
            with transaction.atomic():
                account = Account.objects.create(
                    id=_new_account_id(), name=name, email_verified_at=timezone.now() if email_verified else None
                )
                Alias.objects.create(name=_new_default_alias(), account=account, is_default=True, is_primary=True)
                user = User.objects.create_user(username=username, email=email, password=password)
                Membership.objects.create(user=user, account=account, user_name=username)
                RootUser.objects.create(account=account, user=user)
                return account
        except IntegrityError:
            if User.objects.filter(username=username).exists():
                raise UsernameTaken(f"username {username!r} is taken") from None
            continue  # an id or alias collision: draw again
    raise RuntimeError("could not allocate a unique account id and alias")


class EmailTaken(ValueError):
    pass


def sign_up(*, email: str, password: str) -> Account:
    """The website's sign-up: a new account whose first user signs in with ``email``
    (also the user name, so the user table's unique names keep emails unique). Its
    email is unverified until the link mailed to it is followed
    (email_verification.send_link, which the sign-up page calls).
    Raises EmailTaken, or UsernameInvalid for an email holding a ``/``."""
    email = email.strip().lower()
    User = get_user_model()
    if User.objects.filter(email__iexact=email).exists() or User.objects.filter(username__iexact=email).exists():
        raise EmailTaken("an account with this email already exists: sign in, or reset its password")
    try:
        return create_account(name=email, username=email, password=password, email=email, email_verified=False)
    except UsernameTaken:  # the same email signed up a moment before
        raise EmailTaken("an account with this email already exists: sign in, or reset its password") from None


# -- custom aliases and alias requests ------------------------------------------------

# Names that identify Berth or the services it stands in for: refused whole and as any
# word of an alias (`berth-official`, `aws.tools`), since a word is what readers see.
# Words split at `.`, `_` and `-`, so `contest` or `awsome` stay free.
PLATFORM_WORDS = frozenset({"berth", "aws", "amazon", "ecr", "official", "verified"})
# Refused as the whole alias: the site's own paths (more are read from the URL conf),
# the platform's services, and generic names that would mislead as a publisher.
BUILT_IN_RESERVED_NAMES = frozenset(
    {
        "about", "abuse", "account", "accounts", "admin", "administrator", "api", "auth", "blog", "console",
        "docs", "favicon.ico", "gallery", "help", "library", "login", "logout", "marketplace", "media", "null",
        "private", "public", "registry", "repositories", "repository", "robots.txt", "root", "search",
        "security", "settings", "signup", "sitemap.xml", "static", "status", "support", "system", "test",
        "tests", "token", "v1", "v2", "www",
    }
) | PLATFORM_WORDS  # fmt: skip
_SEPARATORS = re.compile(r"[._-]")
_CUSTOM_ALIAS = re.compile(CUSTOM_ALIAS_PATTERN)
_LEADING_PATH_WORD = re.compile(r"[a-z0-9][a-z0-9._-]*")


def site_path_names() -> set[str]:
    """The first path segment of every route the site serves (`admin`, `api`, `v2`,
    `token`, ...): an alias equal to one would be shadowed by that route."""
    names: set[str] = set()

    def walk(patterns) -> None:
        for pattern in patterns:
            route = str(pattern.pattern).lstrip("^")
            if route == "" and isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
                continue
            match = _LEADING_PATH_WORD.match(route)
            if match:
                names.add(match.group().rstrip("._-"))

    walk(get_resolver().url_patterns)
    return names


def _grammar_error(name: str) -> str | None:
    if not CUSTOM_ALIAS_MIN_LENGTH <= len(name) <= CUSTOM_ALIAS_MAX_LENGTH:
        return (
            f"an alias is {CUSTOM_ALIAS_MIN_LENGTH} to {CUSTOM_ALIAS_MAX_LENGTH} characters long; "
            f"this one has {len(name)}"
        )
    if _CUSTOM_ALIAS.fullmatch(name):
        return None
    if name != name.lower():
        return "an alias is lowercase: use a to z, not capitals"
    if not re.fullmatch(r"[a-z0-9._-]+", name):
        return "an alias holds only lowercase letters, digits and the separators . _ -"
    if not name[0].isalpha():
        return "an alias starts with a letter"
    if _SEPARATORS.match(name[-1]):
        return "an alias cannot end with a separator"
    if re.search(r"[._-]{2}", name):
        return "separators stand alone: no two of . _ - in a row"
    return "an alias starts with a letter and at least one more letter or digit before its first separator"


def _reserved_error(name: str, account: Account | None) -> str | None:
    if name in BUILT_IN_RESERVED_NAMES or name in site_path_names():
        return f"{name!r} is reserved"
    platform_words = PLATFORM_WORDS.intersection(_SEPARATORS.split(name))
    if platform_words:
        return f"an alias may not contain {sorted(platform_words)[0]!r}: it names the platform"
    reserved = ReservedName.objects.filter(name=name).first()
    if reserved is not None and (account is None or reserved.granted_to_account_id != account.pk):
        return f"{name!r} is reserved"
    return None


def reserved_error(name: str, *, account: Account | None = None) -> str | None:
    """Why ``name`` is reserved for everyone but ``account`` (None: free of reservations):
    what the staff console warns of on an alias request, reserved after it was made."""
    return _reserved_error(name, account)


def validate_custom_alias(name: str, *, account: Account | None = None) -> None:
    """Whether ``account`` may ask for ``name`` as its custom alias: the grammar
    (Amazon ECR Public's), the reserved names, and no one else holding or awaiting
    it; and no request of the account's own already pending.

    Raises ValidationError with a message for the person asking and a stable code:
    email_unverified (an account whose email is not verified asks for nothing),
    grammar, reserved, taken, yours, pending, pending_request."""
    if account is not None and not Account.objects.filter(pk=account.pk, email_verified_at__isnull=False).exists():
        raise ValidationError(
            "verify your email before asking for an alias: follow the link we mailed you, or have it sent again "
            "from your settings page",
            code="email_unverified",
        )
    grammar_error = _grammar_error(name)
    if grammar_error:
        raise ValidationError(grammar_error, code="grammar")
    reserved_error = _reserved_error(name, account)
    if reserved_error:
        raise ValidationError(reserved_error, code="reserved")
    holder = Alias.objects.filter(name=name).values_list("account_id", flat=True).first()
    if holder is not None:
        if account is not None and holder == account.pk:
            raise ValidationError(f"{name!r} is already one of your aliases", code="yours")
        raise ValidationError(f"{name!r} is taken", code="taken")
    pending = AliasRequest.objects.filter(status=AliasRequestStatus.PENDING)
    if pending.filter(name=name).exclude(account=account).exists():
        raise ValidationError(f"another account has asked for {name!r}; its request awaits review", code="pending")
    if account is not None:
        own = pending.filter(account=account).values_list("name", flat=True).first()
        if own is not None:
            raise ValidationError(
                f"your request for {own!r} awaits review; you may ask for another alias once it is decided",
                code="pending_request",
            )


class AliasRequestNotPending(ValueError):
    pass


class AliasUnavailable(ValueError):
    pass


def _actor_name(user) -> str:
    return selectors.user_name_of(user) if user is not None else "system"


def _add_event(alias_request: AliasRequest, *, kind: str, actor, reason: str = "") -> AliasRequestEvent:
    return AliasRequestEvent.objects.create(
        request=alias_request, kind=kind, actor=actor, actor_name=_actor_name(actor), reason=reason
    )


# Custom aliases, suspension and the publisher's badge are Berth's own (Amazon grants
# aliases through its console): so is the action that asks for an alias
# (apps.iam.policy.actions), and the trail's name for the steps.
BERTH_EVENT_SOURCE = "berth"


def _record(
    event_name: str,
    account_id: str,
    *,
    actor: Actor,
    context: RequestContext | None,
    parameters: dict,
    response_elements: dict | None = None,
) -> None:
    """Record the step in the audit trail, last in the caller's transaction."""
    audit_services.record_change(
        actor=actor,
        context=context,
        event_name=event_name,
        event_source=BERTH_EVENT_SOURCE,
        recipient_account_id=account_id,
        request_parameters=parameters,
        response_elements=response_elements,
    )


def _record_alias_step(
    event_name: str, alias_request: AliasRequest, *, actor: Actor, context: RequestContext | None, reason: str = ""
) -> None:
    _record(
        event_name,
        alias_request.account_id,
        actor=actor,
        context=context,
        parameters={"alias": alias_request.name, "reason": reason},
        response_elements={"status": alias_request.status},
    )


def request_alias(
    *, account: Account, name: str, requested_by, actor: Actor, context: RequestContext | None = None
) -> AliasRequest:
    """An account owner (``requested_by``, whom the trail names ``actor``) asks for
    ``name`` as a custom alias: PENDING until staff decide. Raises ValidationError
    (see validate_custom_alias) when it may not be asked for."""
    validate_custom_alias(name, account=account)
    try:
        with transaction.atomic():
            alias_request = AliasRequest.objects.create(account=account, name=name, requested_by=requested_by)
            _add_event(alias_request, kind=AliasRequestEventKind.REQUESTED, actor=requested_by)
            _record_alias_step("RequestAlias", alias_request, actor=actor, context=context)
    except IntegrityError:
        # A request made at the same moment won: say which rule it now breaks.
        validate_custom_alias(name, account=account)
        raise
    return alias_request


def _locked_pending(alias_request: AliasRequest) -> AliasRequest:
    locked = AliasRequest.objects.select_for_update().select_related("account").get(pk=alias_request.pk)
    if not locked.is_pending:
        raise AliasRequestNotPending(f"the request for {locked.name!r} was already {locked.status.lower()}")
    return locked


def _decide(
    alias_request: AliasRequest,
    *,
    status: str,
    decided_by,
    reason: str,
    site_url: str,
    actor: Actor,
    context: RequestContext | None,
) -> None:
    alias_request.status = status
    alias_request.decided_at = timezone.now()
    alias_request.decided_by = decided_by
    alias_request.decision_reason = reason
    alias_request.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
    _add_event(alias_request, kind=status, actor=decided_by, reason=reason)
    event_name = "ApproveAlias" if status == AliasRequestStatus.APPROVED else "RejectAlias"
    _record_alias_step(event_name, alias_request, actor=actor, context=context, reason=reason)
    # The requester hears by mail once the decision has committed (subscribers.tell_requester).
    outbox.publish(
        ALIAS_REQUEST_DECIDED,
        {"aliasRequestId": alias_request.pk, "accountId": alias_request.account_id, "alias": alias_request.name,
         "status": status, "siteUrl": site_url},
    )  # fmt: skip


def approve_alias_request(
    *,
    alias_request: AliasRequest,
    decided_by,
    site_url: str,
    reason: str = "",
    actor: Actor,
    context: RequestContext | None = None,
) -> AliasRequest:
    """Staff (``decided_by``, whom the trail names ``actor``) grant the alias: it is
    created and becomes the account's primary alias. The previous
    aliases stay (aliases are never deleted), so pulls through them keep working.
    The requester is mailed the decision, with links to ``site_url`` (links.site_url).

    Raises AliasRequestNotPending when already decided, AliasUnavailable when the name
    became an alias of someone else meanwhile (staff made it by hand)."""
    with transaction.atomic():
        locked = _locked_pending(alias_request)
        try:
            registries.add_alias(alias=Alias(name=locked.name, account_id=locked.account_id), primary=True)
        except IntegrityError:
            raise AliasUnavailable(f"{locked.name!r} has become another alias meanwhile; reject the request") from None
        _decide(
            locked,
            status=AliasRequestStatus.APPROVED,
            decided_by=decided_by,
            reason=reason.strip(),
            site_url=site_url,
            actor=actor,
            context=context,
        )
    return locked


def reject_alias_request(
    *,
    alias_request: AliasRequest,
    decided_by,
    reason: str,
    site_url: str,
    actor: Actor,
    context: RequestContext | None = None,
) -> AliasRequest:
    """Refused by staff (``decided_by``, whom the trail names ``actor``), with the
    reason the requester is told (by mail, with links to
    ``site_url``). Raises ValueError without a reason, AliasRequestNotPending when
    already decided."""
    reason = reason.strip()
    if not reason:
        raise ValueError("say why the request is rejected: the requester is told")
    with transaction.atomic():
        locked = _locked_pending(alias_request)
        _decide(
            locked,
            status=AliasRequestStatus.REJECTED,
            decided_by=decided_by,
            reason=reason,
            site_url=site_url,
            actor=actor,
            context=context,
        )
    return locked


def _requester_emails(alias_request: AliasRequest) -> list[str]:
    requester = alias_request.requested_by
    if requester is not None and requester.email:
        return [requester.email]
    members = Membership.objects.filter(account_id=alias_request.account_id).exclude(user__email="")
    return sorted(set(members.values_list("user__email", flat=True)))


def tell_requester(alias_request: AliasRequest, *, site_url: str) -> None:
    """Mail the decision on ``alias_request`` to whoever asked, with links to ``site_url``."""
    recipients = _requester_emails(alias_request)
    if not recipients:
        return
    context = {
        "alias_request": alias_request,
        "approved": alias_request.status == AliasRequestStatus.APPROVED,
        "registry_host": urlsplit(site_url).netloc,
        "settings_url": links.mailed_link(site_url, reverse("accounts:settings")),
    }
    send_mail(
        subject=render_to_string("accounts/email/alias_request_decided_subject.txt", context).strip(),
        message=render_to_string("accounts/email/alias_request_decided.txt", context),
        from_email=None,
        recipient_list=recipients,
    )


# -- the publisher's profile ---------------------------------------------------------------


class PublisherProfileInvalid(ValueError):
    """Input outside the profile's limits; ``field`` names the form field at fault."""

    def __init__(self, message: str, *, field: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def clean_bio(bio: str) -> str:
    """A plain-text bio (no Markdown, no HTML: shown as written), its line breaks
    kept, at most PUBLISHER_BIO_MAX_LENGTH characters; raises PublisherProfileInvalid."""
    bio = bio.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(bio) > PUBLISHER_BIO_MAX_LENGTH:
        raise PublisherProfileInvalid(
            f"the bio is {len(bio)} characters; at most {PUBLISHER_BIO_MAX_LENGTH}", field="bio", code="max_length"
        )
    if any(not (character.isprintable() or character == "\n") for character in bio):
        raise PublisherProfileInvalid("the bio holds control characters", field="bio")
    return bio


def update_publisher_profile(
    *,
    account: Account,
    display_name: str,
    bio: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
    actor: Actor,
    context: RequestContext | None = None,
) -> Account:
    """The publisher's profile on its gallery page, set on its settings page: the
    display name (ECR Public's registry display name, which the gallery shows once
    the publisher is verified), a plain-text bio and a logo (a PNG or JPEG image
    checked as a repository logo is, apps.kernel.images). ``logo`` None keeps the
    logo, unless ``remove_logo``. Recorded as Berth's UpdatePublisherProfile (the
    logo by its digest). Raises PublisherProfileInvalid."""
    display_name = display_name.strip()
    try:
        registries.check_display_name(display_name)
    except registries.DisplayNameInvalid as error:
        raise PublisherProfileInvalid(str(error), field="display_name", code=error.code) from None
    bio = clean_bio(bio)
    if logo is not None and remove_logo:
        raise PublisherProfileInvalid("give a new logo or remove the logo, not both", field="logo")
    try:
        inspected = images.inspect_logo(logo) if logo is not None else None
    except images.ImageInvalid as error:
        raise PublisherProfileInvalid(str(error), field="logo", code=error.code) from None
    with transaction.atomic():
        stored = (
            Account.objects.select_for_update().filter(pk=account.pk).values("display_name", "bio", "logo_digest").get()
        )
        account.display_name, account.bio = display_name, bio
        fields = ["display_name", "bio"]
        if inspected is not None:
            PublisherLogo.objects.update_or_create(
                account=account,
                defaults={
                    "data": inspected.data,
                    "content_type": inspected.content_type,
                    "width": inspected.width,
                    "height": inspected.height,
                    "digest": inspected.digest,
                },
            )
            account.logo_digest = inspected.digest
            fields.append("logo_digest")
        elif remove_logo:
            PublisherLogo.objects.filter(account=account).delete()
            account.logo_digest = ""
            fields.append("logo_digest")
        account.save(update_fields=fields)
        changed = [
            name
            for name, before, after in (
                ("displayName", stored["display_name"], display_name),
                ("bio", stored["bio"], bio),
                ("logo", stored["logo_digest"], account.logo_digest),
            )
            if before != after
        ]
        if changed:
            registries.publish_account_changed(account.pk, changed)
        _record(
            "UpdatePublisherProfile",
            account.pk,
            actor=actor,
            context=context,
            parameters={
                "registryId": account.pk,
                "displayName": display_name,
                "bio": bio,
                "logoDigest": account.logo_digest or None,
            },
            response_elements={"changed": changed},
        )
    return account


# -- staff: verification and suspension -------------------------------------------------


def set_publisher_verified(
    *,
    account: Account,
    verified: bool,
    actor: Actor,
    context: RequestContext | None = None,
    site_url: str | None = None,
) -> Account:
    """The gallery's verified badge; staff set it once they know who the publisher is.
    The owner is mailed when the badge comes or goes (links to ``site_url``)."""
    with transaction.atomic():
        if Account.objects.filter(pk=account.pk).exclude(verified=verified).update(verified=verified):
            notices.mail_owner(account_id=account.pk, notice="publisher_verified", site_url=site_url, verified=verified)
        account.verified = verified
        registries.publish_account_changed(account.pk, ["verified"])
        _record(
            "SetPublisherVerified",
            account.pk,
            actor=actor,
            context=context,
            parameters={"registryId": account.pk, "verified": verified},
        )
    return account


def suspend_account(
    *,
    account: Account,
    reason: str,
    actor: Actor,
    context: RequestContext | None = None,
    site_url: str | None = None,
) -> Account:
    """The account's passwords, access keys, login passwords and sessions stop
    working at once, and its public repositories leave the gallery; nothing is
    deleted. Suspending a suspended account keeps its first time and reason. The
    owner is mailed why (links to ``site_url``)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("say why the account is suspended")
    with transaction.atomic():
        if Account.objects.filter(pk=account.pk, suspended_at__isnull=True).update(
            suspended_at=timezone.now(), suspension_reason=reason
        ):
            registries.publish_account_changed(account.pk, ["suspended"])
            notices.mail_owner(account_id=account.pk, notice="account_suspended", site_url=site_url, reason=reason)
        account.refresh_from_db(fields=["suspended_at", "suspension_reason"])
        _record(
            "SuspendAccount",
            account.pk,
            actor=actor,
            context=context,
            parameters={"registryId": account.pk, "reason": reason},
        )
    return account


def reinstate_account(
    *, account: Account, actor: Actor, context: RequestContext | None = None, site_url: str | None = None
) -> Account:
    """The suspension ends; the owner is mailed (links to ``site_url``)."""
    with transaction.atomic():
        if Account.objects.filter(pk=account.pk, suspended_at__isnull=False).update(
            suspended_at=None, suspension_reason=""
        ):
            registries.publish_account_changed(account.pk, ["suspended"])
            notices.mail_owner(account_id=account.pk, notice="account_reinstated", site_url=site_url)
        account.suspended_at, account.suspension_reason = None, ""
        _record("ReinstateAccount", account.pk, actor=actor, context=context, parameters={"registryId": account.pk})
    return account


# The account's fields staff set in the admin, as account.changed names them.
_ACCOUNT_FIELD_NAMES = {
    "name": "name", "display_name": "displayName", "create_on_push": "createOnPush", "verified": "verified",
}  # fmt: skip


def update_account(
    *,
    account: Account,
    name: str,
    display_name: str,
    create_on_push: bool,
    verified: bool,
    actor: Actor,
    context: RequestContext | None = None,
    site_url: str | None = None,
) -> Account:
    """Staff set an account's name, its registry's display name, whether its
    members' pushes create repositories, and its publisher's badge (the owner is
    mailed when the badge comes or goes)."""
    values = {"name": name, "display_name": display_name, "create_on_push": create_on_push, "verified": verified}
    with transaction.atomic():
        stored = Account.objects.select_for_update().filter(pk=account.pk).values(*values).get()
        for field, value in values.items():
            setattr(account, field, value)
        account.save(update_fields=list(values))
        changed = [_ACCOUNT_FIELD_NAMES[field] for field, value in values.items() if stored[field] != value]
        if changed:
            registries.publish_account_changed(account.pk, changed)
        if stored["verified"] != verified:
            notices.mail_owner(account_id=account.pk, notice="publisher_verified", site_url=site_url, verified=verified)
        _record(
            "UpdateAccount",
            account.pk,
            actor=actor,
            context=context,
            parameters={
                "registryId": account.pk,
                "name": name,
                "displayName": display_name,
                "createOnPush": create_on_push,
                "verified": verified,
            },
        )
    return account


def grant_alias(*, account: Account, name: str, actor: Actor, context: RequestContext | None = None) -> Alias:
    """Staff give ``account`` the alias ``name`` by hand, past the rules an owner's
    request is held to (a trademark's owner); it does not become primary."""
    with transaction.atomic():
        alias = registries.add_alias(alias=Alias(account=account, name=name))
        _record(
            "GrantAlias", account.pk, actor=actor, context=context, parameters={"registryId": account.pk, "alias": name}
        )
    return alias


def set_primary_alias(*, alias: Alias, actor: Actor, context: RequestContext | None = None) -> Alias:
    """Staff make ``alias`` its account's primary alias (the one the gallery and
    the settings page show)."""
    with transaction.atomic():
        registries.make_alias_primary(alias=alias)
        _record(
            "SetPrimaryAlias",
            alias.account_id,
            actor=actor,
            context=context,
            parameters={"registryId": alias.account_id, "alias": alias.name},
        )
    return alias


def put_reserved_name(
    *, reserved_name: ReservedName, actor: Actor, context: RequestContext | None = None
) -> ReservedName:
    """Staff reserve a name no account may ask for as an alias (but the account it
    is granted to), or change why, or for whom. Only staff see these events."""
    with transaction.atomic():
        reserved_name.save()
        _record(
            "PutReservedName",
            "",
            actor=actor,
            context=context,
            parameters={
                "name": reserved_name.name,
                "reason": reserved_name.reason,
                "grantedTo": reserved_name.granted_to_account_id,
            },
        )
    return reserved_name


def delete_reserved_name(*, reserved_name: ReservedName, actor: Actor, context: RequestContext | None = None) -> None:
    with transaction.atomic():
        reserved_name.delete()
        _record("DeleteReservedName", "", actor=actor, context=context, parameters={"name": reserved_name.name})


# -- staff: Django's user and group pages ------------------------------------------------


def _staff_changed_fields(changed: Sequence[str]) -> list[str]:
    """The fields a staff form changed, a password's several fields named once as
    ``password`` (never its value or hash)."""
    names = [name for name in changed if not name.startswith(("password", "usable_password"))]
    if len(names) < len(changed):
        names.append("password")
    return names


def _account_of_user(user) -> str:
    return Membership.objects.filter(user_id=user.pk).values_list("account_id", flat=True).first() or ""


def _record_staff_user_change(
    event_name: str, user, *, actor: Actor, context: RequestContext | None, account_id: str | None = None, **parameters
) -> None:
    _record(
        event_name,
        _account_of_user(user) if account_id is None else account_id,  # its owner sees what staff did to its users
        actor=actor,
        context=context,
        parameters={"userName": user.get_username(), **parameters},
    )


def staff_save_user(
    *, user, changed: Sequence[str], created: bool, actor: Actor, context: RequestContext | None = None
):
    """Staff save a user in the admin's user page: ``changed`` names the form's
    changed fields (the user's groups and permissions, which the admin saves next in
    the same transaction, among them)."""
    with transaction.atomic():
        user.save()
        _record_staff_user_change(
            "StaffCreateUser" if created else "StaffUpdateUser",
            user,
            actor=actor,
            context=context,
            changed=_staff_changed_fields(changed),
        )
    return user


def staff_set_user_password(*, user, actor: Actor, context: RequestContext | None = None) -> None:
    """Record that staff set (or made unusable) ``user``'s password in the admin's
    password page, which saved it in the caller's open transaction."""
    _record_staff_user_change("StaffSetUserPassword", user, actor=actor, context=context)


def staff_delete_user(*, user, actor: Actor, context: RequestContext | None = None) -> None:
    """Staff delete a user in the admin (its access keys and memberships go with it)."""
    with transaction.atomic():
        account_id = _account_of_user(user)
        user.delete()
        _record_staff_user_change("StaffDeleteUser", user, actor=actor, context=context, account_id=account_id)


def staff_save_group(
    *, group: Group, changed: Sequence[str], created: bool, actor: Actor, context: RequestContext | None = None
) -> Group:
    """Staff save a group (Django's permission groups, for staff) in the admin."""
    with transaction.atomic():
        group.save()
        _record(
            "StaffCreateGroup" if created else "StaffUpdateGroup",
            "",
            actor=actor,
            context=context,
            parameters={"groupName": group.name, "changed": list(changed)},
        )
    return group


def staff_delete_group(*, group: Group, actor: Actor, context: RequestContext | None = None) -> None:
    with transaction.atomic():
        name = group.name
        group.delete()
        _record("StaffDeleteGroup", "", actor=actor, context=context, parameters={"groupName": name})


# -- access keys --------------------------------------------------------------------

_ACCESS_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


class AccessKeyLimitExceeded(ValueError):
    pass


@dataclass(frozen=True)
class NewAccessKey:
    """A key just made: the only moment its secret is known."""

    access_key: AccessKey
    secret: str


def _new_access_key_id() -> str:
    return "BKIA" + "".join(secrets.choice(_ACCESS_KEY_ID_ALPHABET) for _ in range(16))


def _limit_exceeded() -> AccessKeyLimitExceeded:
    return AccessKeyLimitExceeded(
        f"a user may have at most {MAX_ACTIVE_ACCESS_KEYS} active access keys; deactivate or delete one first"
    )


def _free_slot(user) -> int:
    taken = set(AccessKey.objects.filter(user=user, active_slot__isnull=False).values_list("active_slot", flat=True))
    for slot in range(1, MAX_ACTIVE_ACCESS_KEYS + 1):
        if slot not in taken:
            return slot
    raise _limit_exceeded()


def _record_access_key(
    event_name: str, access_key: AccessKey, *, actor: Actor, context: RequestContext | None, **parameters
) -> None:
    """Record IAM's access key operation on ``access_key`` (never its secret)."""
    membership = Membership.objects.filter(user_id=access_key.user_id).values_list("account_id", "user_name").first()
    account_id, user_name = membership or ("", "")
    audit_services.record_change(
        actor=actor,
        context=context,
        event_name=event_name,
        event_source="iam",
        recipient_account_id=account_id,
        request_parameters={"userName": user_name, "accessKeyId": access_key.access_key_id, **parameters},
    )


def create_access_key(*, user, actor: Actor, context: RequestContext | None = None) -> NewAccessKey:
    """A new active key for ``user``; raises AccessKeyLimitExceeded when two are active.

    Two concurrent creations may pick the same free slot: the database refuses the
    second, which then looks again and finds the limit."""
    secret = secrets.token_urlsafe(30)
    secret_hash = make_password(secret)
    for _ in range(5):
        slot = _free_slot(user)
        try:
            with transaction.atomic():
                access_key = AccessKey.objects.create(
                    user=user,
                    access_key_id=_new_access_key_id(),
                    secret_hash=secret_hash,
                    secret_sealed=sealing.seal(secret),
                    active_slot=slot,
                )
                _record_access_key("CreateAccessKey", access_key, actor=actor, context=context)
        except IntegrityError:
            continue  # the slot was taken meanwhile (or, rarely, the id was drawn before)
        return NewAccessKey(access_key=access_key, secret=secret)
    raise _limit_exceeded()


def activate_access_key(*, access_key: AccessKey, actor: Actor, context: RequestContext | None = None) -> AccessKey:
    """IAM's UpdateAccessKey to Active (a key active already stays as it is; the
    request is recorded all the same)."""
    if access_key.is_active:
        with transaction.atomic():
            _record_access_key(
                "UpdateAccessKey", access_key, actor=actor, context=context, status=AccessKeyStatus.ACTIVE.value
            )
        return access_key
    for _ in range(5):
        slot = _free_slot(access_key.user_id)
        try:
            with transaction.atomic():
                AccessKey.objects.filter(pk=access_key.pk).update(status=AccessKeyStatus.ACTIVE, active_slot=slot)
                _record_access_key(
                    "UpdateAccessKey", access_key, actor=actor, context=context, status=AccessKeyStatus.ACTIVE.value
                )
        except IntegrityError:
            continue
        access_key.status, access_key.active_slot = AccessKeyStatus.ACTIVE, slot
        return access_key
    raise _limit_exceeded()


def deactivate_access_key(*, access_key: AccessKey, actor: Actor, context: RequestContext | None = None) -> AccessKey:
    """IAM's UpdateAccessKey to Inactive: the key is refused from the next request on."""
    with transaction.atomic():
        AccessKey.objects.filter(pk=access_key.pk).update(status=AccessKeyStatus.INACTIVE, active_slot=None)
        _record_access_key(
            "UpdateAccessKey", access_key, actor=actor, context=context, status=AccessKeyStatus.INACTIVE.value
        )
    access_key.status, access_key.active_slot = AccessKeyStatus.INACTIVE, None
    return access_key


def delete_access_key(*, access_key: AccessKey, actor: Actor, context: RequestContext | None = None) -> None:
    with transaction.atomic():
        access_key.delete()
        _record_access_key("DeleteAccessKey", access_key, actor=actor, context=context)


# -- login passwords ------------------------------------------------------------------


def create_login_password(*, user, access_key: AccessKey | None = None) -> login_passwords.IssuedLoginPassword:
    """Amazon ECR's GetAuthorizationToken: a password for `docker login --username berth`,
    valid BERTH_LOGIN_PASSWORD_TTL seconds and until the user's password changes or,
    minted with ``access_key``, that key is deactivated or deleted.

    Nothing is stored: the password carries its own signature and expiry."""
    return login_passwords.issue(
        user_id=user.pk, password_hash=user.password, access_key_id=access_key.access_key_id if access_key else ""
    )


# -- quotas (docs/quotas.md) ---------------------------------------------------------


def set_account_quota(
    *,
    account: Account,
    storage_bytes: int | None,
    repositories: int | None,
    images_per_repository: int | None,
    actor: Actor,
    context: RequestContext | None = None,
) -> AccountQuota:
    """Staff set an account's quotas: each None takes the deployment's default, 0 is
    unlimited (apps.accounts.quotas). What is already stored stays: a lower quota
    refuses only what would add to it. Recorded as Berth's SetAccountQuota."""
    values = {
        "storage_bytes": storage_bytes,
        "repositories": repositories,
        "images_per_repository": images_per_repository,
    }
    for field, value in values.items():
        if value is not None and value < 0:
            raise ValueError(f"{field} must be 0 (unlimited), a positive number, or None (the default)")
    with transaction.atomic():
        quota, _ = AccountQuota.objects.update_or_create(account=account, defaults=values)
        _record(
            "SetAccountQuota",
            account.pk,
            actor=actor,
            context=context,
            parameters={
                "registryId": account.pk,
                "storageBytes": storage_bytes,
                "repositories": repositories,
                "imagesPerRepository": images_per_repository,
            },
        )
    return quota
