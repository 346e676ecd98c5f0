"""The pull-through cache: the registry's UpstreamSource (apps/registry/upstream.py),
registered by ReplicationConfig.ready.

A repository `<prefix>/<path>` of an account with a rule for `<prefix>` caches the
upstream repository `<upstreamRepositoryPrefix>/<path>` of the rule's registry:

* A manifest the repository lacks is fetched (an index with its entries, each
  image manifest with its config blob, which is small and which image details and
  conversions read) and stored at once (registry.services.store_cached_manifest);
  its layers stay pending.
* A pending layer is fetched when a client asks for it, and streamed to that
  client while it spools into the upload area (registry.services.BlobFill); it is
  verified against its digest and linked at the end. A client that leaves early,
  or an upstream that fails mid-blob, leaves nothing: the spooled bytes are
  discarded and the next pull fetches the blob again.
* One request fetches a given manifest or blob at a time, across processes
  (cache_leases); the others wait for it and serve what it stored.
* A tag is asked of the upstream again (HEAD) at most every tagRecheckSeconds; a
  new digest there is fetched and moves the tag (tag.moved, and the
  BatchImportUpstreamImage event with previousImageDigest). An upstream that
  cannot be asked leaves the cache serving what it holds, with a warning in the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.audit.events import Actor
from apps.kernel.digests import is_digest
from apps.kernel.requests import RequestContext
from apps.kernel.sealing import unseal
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.registry.content.manifests import parse_manifest
from apps.registry.exceptions import ManifestUnknown, RepositoryUnknown, UpstreamUnavailable
from apps.registry.models import Manifest, ManifestConversion, Tag
from apps.repositories.creation_templates import CreationTemplateInvalid
from apps.repositories.models import Repository

from . import cache_leases, creation
from .client import NotFound, RegistryClient, RegistryClientError
from .models import CachedTag, PullThroughCacheRule

logger = logging.getLogger(__name__)

ACTOR = Actor.system("pull-through-cache")
# How long a process trusts what it read of an account's rules before reading them again.
RULES_REFRESH_SECONDS = 5.0
# Config blobs up to this size are fetched with their manifest; larger ones (an
# artifact's) wait for a client like layers.
EAGER_CONFIG_BYTES = 1024 * 1024
_NEXT_CHECKS_LIMIT = 100_000
_LEASE_EXTEND_SECONDS = cache_leases.LEASE_SECONDS / 3


@dataclass(frozen=True)
class Upstream:
    """Where a cache repository's content comes from."""

    rule: PullThroughCacheRule
    repository: str  # the upstream's repository name

    @property
    def name(self) -> str:
        """The upstream as messages and the audit trail name it."""
        return f"{self.rule.upstream_registry_url.rstrip('/')}/{self.repository}"

    def client(self, *, attempts: int | None = None) -> RegistryClient:
        return upstream_client(self.rule, attempts=attempts)


def upstream_client(rule: PullThroughCacheRule, *, attempts: int | None = None) -> RegistryClient:
    """A client of the rule's upstream, signed in with its credentials."""
    return RegistryClient(
        rule.upstream_registry_url,
        username=rule.username,
        password=unseal(rule.sealed_password) if rule.sealed_password else "",
        timeout=settings.BERTH_PULL_THROUGH_UPSTREAM_TIMEOUT,
        max_attempts=attempts or settings.BERTH_PULL_THROUGH_UPSTREAM_ATTEMPTS,
    )


def upstream_repository(rule: PullThroughCacheRule, name: str) -> str:
    path = name[len(rule.ecr_repository_prefix) + 1 :]
    prefix = rule.upstream_repository_prefix.strip("/")
    return f"{prefix}/{path}" if prefix else path


def create_cache_repository(*, account: Account, name: str, actor: Actor, context: RequestContext | None) -> Repository:
    """The cache repository, created on its first pull with the settings of the
    account's creation template for PULL_THROUGH_CACHE (or the defaults); one a
    concurrent pull created is returned as is."""
    try:
        return creation.create_repository(
            account=account, name=name, applied_for="PULL_THROUGH_CACHE", actor=actor, context=context
        )
    except CreationTemplateInvalid as exc:
        raise RepositoryUnknown(f"{account.pk}/{name}", f"repository could not be created: {exc.message}") from None


class PullThroughCache:
    """The registry's UpstreamSource."""

    def __init__(self) -> None:
        # account id -> (monotonic time to read again, its rules longest prefix first)
        self._rules: dict[str, tuple[float, tuple[PullThroughCacheRule, ...]]] = {}
        # (repository id, tag) -> monotonic time its next re-check is due
        self._next_checks: dict[tuple[int, str], float] = {}

    # -- rules ---------------------------------------------------------------------

    def forget_rules(self) -> None:
        """Read every account's rules again on next use (a rule changed in this process)."""
        self._rules.clear()
        self._next_checks.clear()

    def _account_rules(self, account_id: str, *, fresh: bool) -> tuple[PullThroughCacheRule, ...]:
        now = time.monotonic()
        known = self._rules.get(account_id)
        if known is not None and not fresh and known[0] > now:
            return known[1]
        rules = tuple(
            sorted(
                PullThroughCacheRule.objects.filter(account_id=account_id),
                key=lambda rule: -len(rule.ecr_repository_prefix),
            )
        )
        self._rules[account_id] = (now + RULES_REFRESH_SECONDS, rules)
        return rules

    def rule_for(self, account_id: str, name: str, *, fresh: bool = False) -> PullThroughCacheRule | None:
        for rule in self._account_rules(account_id, fresh=fresh):
            if name.startswith(rule.ecr_repository_prefix + "/") and len(name) > len(rule.ecr_repository_prefix) + 1:
                return rule
        return None

    def covers(self, account_id: str, name: str, *, fresh: bool = False) -> bool:
        return self.rule_for(account_id, name, fresh=fresh) is not None

    def _upstream(self, repository: Repository) -> Upstream | None:
        rule = self.rule_for(repository.account_id, repository.name)
        return None if rule is None else Upstream(rule, upstream_repository(rule, repository.name))

    # -- repositories ----------------------------------------------------------------

    def create_repository(
        self, *, account: Account, name: str, actor: Actor, context: RequestContext | None
    ) -> Repository:
        return create_cache_repository(account=account, name=name, actor=actor, context=context)

    # -- manifests -------------------------------------------------------------------

    def prepare_manifest(self, repository: Repository, reference: str, *, may_import: Callable[[], None]) -> None:
        if is_digest(reference):
            # A digest names the same bytes for ever: once held, never asked again.
            if _holds_digest(repository, reference):
                return
            upstream = self._upstream(repository)
            if upstream is None:
                return
            may_import()
            self._import(repository, upstream, reference, tag=None)
            return
        due = self._next_checks.get((repository.pk, reference))
        if due is not None and time.monotonic() < due:
            return
        upstream = self._upstream(repository)
        if upstream is None:
            return
        interval = upstream.rule.tag_recheck_seconds
        local = Tag.objects.filter(repository=repository, name=reference).values_list("manifest__digest", flat=True)
        local_digest = local.first()
        if local_digest is None:
            may_import()
            self._import(repository, upstream, reference, tag=reference)
            self._schedule(repository, reference, interval)
            return
        cached = CachedTag.objects.filter(repository=repository, tag=reference).first()
        if cached is not None:
            age = (timezone.now() - cached.checked_at).total_seconds()
            if age < interval:
                self._schedule(repository, reference, interval - age)
                return
        self._recheck(repository, upstream, reference, local_digest)
        self._schedule(repository, reference, interval)

    def _schedule(self, repository: Repository, tag: str, seconds: float) -> None:
        if len(self._next_checks) >= _NEXT_CHECKS_LIMIT:
            self._next_checks.clear()  # at worst one more read of a CachedTag row each
        self._next_checks[(repository.pk, tag)] = time.monotonic() + seconds

    def _recheck(self, repository: Repository, upstream: Upstream, tag: str, local_digest: str) -> None:
        """Ask the upstream what ``tag`` is now (one request holds the re-check; the
        others serve what is cached meanwhile)."""
        key = f"recheck:{repository.pk}:{tag}"
        token = cache_leases.acquire(key)
        if token is None:
            return
        try:
            try:
                with upstream.client(attempts=1) as client:
                    descriptor = client.head_manifest(upstream.repository, tag)
            except RegistryClientError as exc:
                logger.warning(
                    "pull-through cache: could not re-check %s:%s at %s (%s); serving the cached %s",
                    repository.name, tag, upstream.name, exc.message, local_digest,
                )  # fmt: skip
                _note_checked(repository, tag, local_digest)
                return
            if descriptor is None:
                logger.warning(
                    "pull-through cache: %s no longer has tag %s; serving the cached %s",
                    upstream.name, tag, local_digest,
                )  # fmt: skip
                _note_checked(repository, tag, local_digest)
                return
            if descriptor.digest != local_digest:
                logger.info(
                    "pull-through cache: %s:%s moved upstream from %s to %s",
                    upstream.name, tag, local_digest, descriptor.digest,
                )  # fmt: skip
                try:
                    self._fetch_manifest(repository, upstream, descriptor.digest, tag=tag)
                except (RegistryClientError, UpstreamUnavailable, ManifestUnknown) as exc:
                    logger.warning(
                        "pull-through cache: could not fetch %s@%s (%s); serving the cached %s",
                        upstream.name, descriptor.digest, getattr(exc, "message", exc), local_digest,
                    )  # fmt: skip
                    _note_checked(repository, tag, local_digest)
                    return
            _note_checked(repository, tag, descriptor.digest)
        finally:
            cache_leases.release(key, token)

    def _import(self, repository: Repository, upstream: Upstream, reference: str, *, tag: str | None) -> None:
        """Fetch ``reference`` the repository lacks, once across processes."""
        key = f"manifest:{repository.pk}:{reference}"
        if tag is None:

            def present() -> bool:
                return _holds_digest(repository, reference)
        else:

            def present() -> bool:
                return Tag.objects.filter(repository=repository, name=tag).exists()

        token = cache_leases.single_flight(key, present=present, wait_seconds=settings.BERTH_PULL_THROUGH_WAIT_SECONDS)
        if token is None:
            return
        try:
            digest = self._fetch_manifest(repository, upstream, reference, tag=tag)
            if tag is not None:
                _note_checked(repository, tag, digest)
        except NotFound:
            raise ManifestUnknown(
                f"{upstream.name} has no manifest {reference}",
                **({"tag": reference} if tag else {"digest": reference}),
            ) from None
        except RegistryClientError as exc:
            logger.warning("pull-through cache: could not fetch %s:%s (%s)", upstream.name, reference, exc.message)
            raise UpstreamUnavailable(
                f"the upstream registry {upstream.name} could not serve {reference}: {exc.message}",
                upstream=upstream.name,
            ) from None
        finally:
            cache_leases.release(key, token)

    def _fetch_manifest(self, repository: Repository, upstream: Upstream, reference: str, *, tag: str | None) -> str:
        """Fetch and store ``reference`` and what it needs first: an index's entries,
        an image manifest's config. Returns the manifest's digest."""
        with upstream.client() as client:
            fetched = client.get_manifest(upstream.repository, reference)
            parsed = parse_manifest(fetched.body, fetched.media_type)
            if parsed.is_index:
                for entry in parsed.manifests:
                    if not _holds_digest(repository, entry.digest):
                        self._fetch_manifest(repository, upstream, entry.digest, tag=None)
            elif parsed.config is not None and parsed.config.size <= EAGER_CONFIG_BYTES:
                if registry_selectors.linked_blob(repository, parsed.config.digest) is None:
                    _fetch_whole_blob(client, repository, upstream, parsed.config.digest)
        registry_services.store_cached_manifest(
            repository=repository,
            body=fetched.body,
            media_type=fetched.media_type,
            tag=tag,
            digest=fetched.digest,
            upstream=upstream.name,
            actor=ACTOR,
        )
        return fetched.digest

    # -- blobs -----------------------------------------------------------------------

    def fetch_blob(self, repository: Repository, digest: str, size: int) -> Iterator[bytes] | None:
        upstream = self._upstream(repository)
        if upstream is None:
            raise UpstreamUnavailable(
                f"no pull-through cache rule covers {repository.name} any more: blob {digest} cannot be fetched",
                upstream="",
            )
        key = f"blob:{repository.pk}:{digest}"
        token = cache_leases.single_flight(
            key,
            present=lambda: registry_selectors.linked_blob(repository, digest) is not None,
            wait_seconds=settings.BERTH_PULL_THROUGH_WAIT_SECONDS,
        )
        if token is None:
            return None
        client = upstream.client()
        try:
            stream = client.open_blob(upstream.repository, digest)
            chunks = iter(stream)
            first = next(chunks, b"")  # the upstream's answer, before the client gets a status
            fill = registry_services.BlobFill(repository=repository, digest=digest, upstream=upstream.name, actor=ACTOR)
        except RegistryClientError as exc:
            client.close()
            cache_leases.release(key, token)
            logger.warning("pull-through cache: could not fetch blob %s of %s (%s)", digest, upstream.name, exc.message)
            raise UpstreamUnavailable(
                f"the upstream registry {upstream.name} could not serve blob {digest}: {exc.message}",
                upstream=upstream.name,
            ) from None
        except BaseException:
            client.close()
            cache_leases.release(key, token)
            raise
        return _tee(
            first,
            chunks,
            fill=fill,
            closing=(stream, client),
            lease=(key, token),
            upstream=upstream,
        )


def _tee(first: bytes, chunks: Iterator[bytes], *, fill, closing, lease, upstream: Upstream) -> Iterator[bytes]:
    """The client's bytes, each spooled before it is sent; committed after the last.
    Whatever ends it early (the client leaving, the upstream failing, a digest that
    does not match) discards what was spooled."""
    key, token = lease
    committed = False
    extended_at = time.monotonic()
    try:
        chunk = first
        while chunk:
            fill.write(chunk)
            yield chunk
            if time.monotonic() - extended_at > _LEASE_EXTEND_SECONDS:
                cache_leases.extend(key, token)
                extended_at = time.monotonic()
            chunk = next(chunks, b"")
        fill.commit()
        committed = True
    except GeneratorExit:
        logger.info("pull-through cache: the client left before blob %s was whole; discarded", fill.digest)
        raise
    except Exception as exc:  # the response has started: end it short, the client tries again
        logger.warning(
            "pull-through cache: blob %s from %s failed after %s bytes (%s); discarded",
            fill.digest, upstream.name, fill.size, getattr(exc, "message", None) or exc,
        )  # fmt: skip
    finally:
        if not committed:
            fill.discard()
        for resource in closing:
            resource.close()
        cache_leases.release(key, token)


def _fetch_whole_blob(client: RegistryClient, repository: Repository, upstream: Upstream, digest: str) -> None:
    """Fetch a small blob into the store before the manifest that needs it."""
    fill = registry_services.BlobFill(repository=repository, digest=digest, upstream=upstream.name, actor=ACTOR)
    try:
        stream = client.open_blob(upstream.repository, digest)
        try:
            for chunk in stream:
                fill.write(chunk)
        finally:
            stream.close()
        fill.commit()
    except BaseException:
        fill.discard()
        raise


def _holds_digest(repository: Repository, digest: str) -> bool:
    return (
        Manifest.objects.filter(repository=repository, digest=digest).exists()
        or ManifestConversion.objects.filter(source__repository=repository, digest=digest).exists()
    )


def _note_checked(repository: Repository, tag: str, upstream_digest: str) -> None:
    with transaction.atomic():
        CachedTag.objects.update_or_create(
            repository=repository,
            tag=tag,
            defaults={"upstream_digest": upstream_digest, "checked_at": timezone.now()},
        )


# The one instance, which ReplicationConfig.ready registers with the registry.
SOURCE = PullThroughCache()
