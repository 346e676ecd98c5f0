"""The registry's port to upstream registries: the pull-through cache.

A pull-through cache rule (Amazon ECR's CreatePullThroughCacheRule) maps a prefix
of an account's repositories to an upstream registry: a pull of
`<account>/<prefix>/<path>:<tag>` that the registry lacks is fetched from the
upstream, stored, and served. The rules, the outbound client and the fetching
live in apps/replication, a consumer a floor above, which the registry never
imports; so the registry says here what it needs (UpstreamSource) and the
replication app registers its implementation when Django starts
(ReplicationConfig.ready calls register()).

The /v2/ handlers call the hooks below: `access.authorize` (a member's pull of a
missing repository a rule covers creates it), the manifest GET (prepare_manifest)
and the blob GET (pending_blob). For a repository no rule covers, a hook costs a
call and the source's in-memory answer to `covers`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from apps.accounts.models import Account
from apps.audit.events import Actor
from apps.iam import enforcement
from apps.kernel.requests import RequestContext
from apps.repositories.models import Repository

from . import selectors
from .exceptions import ActionDenied
from .models import Blob

# What a caller needs, beside ecr:BatchGetImage, to have the cache fetch an image it
# lacks (and, with ecr:CreateRepository, to create the repository on a first pull).
IMPORT_ACTION = "ecr:BatchImportUpstreamImage"


class UpstreamSource(Protocol):
    """What the registry asks of the pull-through cache."""

    def covers(self, account_id: str, name: str, *, fresh: bool = False) -> bool:
        """Whether a rule of the account covers repository ``name`` (existing or
        not). Asked on every manifest GET: answered from memory, refreshed now and
        then, or from the database when ``fresh``."""

    def create_repository(
        self, *, account: Account, name: str, actor: Actor, context: RequestContext | None
    ) -> Repository:
        """The cache repository ``name`` of the account, created on a first pull
        (idempotent: one a concurrent pull created is returned as is)."""

    def prepare_manifest(self, repository: Repository, reference: str, *, may_import: Callable[[], None]) -> None:
        """Make sure the repository holds ``reference`` (a tag or a digest) as the
        upstream has it, before the handler serves it: fetch it when missing
        (calling ``may_import()`` first, which raises when the caller may not
        import), re-check a tag whose re-check is due. Raises ManifestUnknown or
        UpstreamUnavailable when nothing can be served; leaves what is cached
        alone when the upstream cannot be asked."""

    def fetch_blob(self, repository: Repository, digest: str, size: int) -> Iterator[bytes] | None:
        """A blob a cached manifest of the repository references and the registry
        does not hold yet: its bytes from the upstream, stored while they are
        streamed; or None when another request stored it meanwhile (it is then
        linked: serve it locally). Raises UpstreamUnavailable."""


_source: UpstreamSource | None = None


def register(source: UpstreamSource | None) -> None:
    """Install the pull-through cache (None: none, for tests)."""
    global _source
    _source = source


def current() -> UpstreamSource | None:
    return _source


def covers(account_id: str, name: str) -> bool:
    """Whether a rule covers the would-be repository ``name`` (authorize's question
    for a missing repository: not the hot path, so asked of the database)."""
    return _source is not None and _source.covers(account_id, name, fresh=True)


def create_repository(*, account: Account, name: str, actor: Actor, context: RequestContext | None) -> Repository:
    return _source.create_repository(account=account, name=name, actor=actor, context=context)


def prepare_manifest(request, authorized, reference: str) -> None:
    """Before a manifest GET or HEAD: bring ``reference`` from the upstream when the
    repository is a cache's (see UpstreamSource.prepare_manifest)."""
    source, repository = _source, authorized.repository
    if source is None or not source.covers(repository.account_id, repository.name):
        return

    def may_import() -> None:
        arn = enforcement.repository_arn(repository.account_id, repository.name)
        decision = enforcement.decide(
            authorized.caller, IMPORT_ACTION, resource_arn=arn, repository=repository, request=request
        )
        if not decision.allowed:
            message = f"not authorized to perform {IMPORT_ACTION} on {arn}: {decision.explanation}"
            authorized.audit.refuse(message)
            raise ActionDenied(message)

    source.prepare_manifest(repository, reference, may_import=may_import)


@dataclass(frozen=True)
class UpstreamBlob:
    """A blob the registry serves from its upstream: ``chunks`` stream it (None
    for a HEAD, which only needs the size its manifest gives)."""

    digest: str
    size: int
    chunks: Iterator[bytes] | None


def pending_blob(authorized, digest: str, *, head: bool) -> Blob | UpstreamBlob | None:
    """For a blob the repository does not link: the stream from the upstream when
    a cached manifest of the repository references it, the local blob when another
    request stored it meanwhile, None when no cached manifest references it."""
    source, repository = _source, authorized.repository
    if source is None:
        return None
    pending = selectors.pending_blob(repository, digest)
    if pending is None:
        # A fill that committed since the handler looked links the blob as it drops the pending rows.
        return selectors.linked_blob(repository, digest)
    if head:
        return UpstreamBlob(digest=digest, size=pending.size, chunks=None)
    chunks = source.fetch_blob(repository, digest, pending.size)
    if chunks is None:
        return selectors.linked_blob(repository, digest)
    return UpstreamBlob(digest=digest, size=pending.size, chunks=chunks)
