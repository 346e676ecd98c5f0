"""The copy of one image to one destination, and the deletion of one image (or
tag) there: idempotent, safe to run twice or at once.

The image is read from this registry's own rows: its manifest, the index entries
it lists (``ManifestChild``), the config and layers each references
(``ManifestBlob``) and the referrers naming it as their subject (signatures,
SBOMs), theirs in turn. The destination gets, for each manifest, its children
first, then its blobs, then the manifest, then its referrers; the tags last. A
manifest the destination already holds is skipped with all it references (a
registry never holds a manifest whose blobs or children it lacks), but its
referrers are still looked at. So the destination never serves a manifest whose
blobs it lacks, and a copy cut short anywhere is finished by running it again.

Two kinds of destination:

- This deployment (no endpoint): another account here. No byte moves: each blob
  is linked into the destination repository (``registry.services.mount_blob``,
  which claims the blob row against the collector) and each manifest stored
  through ``registry.services.put_image``, as the system actor ``replication``.
  The destination account's registry policy must allow ``ecr:ReplicateImage``
  to the source account, and ``ecr:CreateRepository`` when the repository is
  missing (made by ``creation.create_repository``).
- Another deployment (an endpoint): the OCI distribution API through
  ``client.RegistryClient``, blobs streamed from this registry's blob store, a
  blob the destination already holds in another repository this configuration
  replicated mounted instead of uploaded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings

from apps.accounts.models import Account
from apps.audit.events import Actor
from apps.iam import enforcement, registry_policies
from apps.kernel.errors import DomainError
from apps.kernel.sealing import SealedValueUnreadable, unseal
from apps.registry import exceptions as registry_errors
from apps.registry import services as registry_services
from apps.registry.models import Manifest, ManifestBlob, RepositoryBlob, Tag
from apps.registry.selectors import FailureCode
from apps.registry.storage import encryption as storage_encryption
from apps.registry.storage import get_blob_store
from apps.repositories import selectors as repository_selectors
from apps.repositories.models import Repository

from . import client as registry_client
from . import config, creation, selectors

REPLICATION = Actor.system("replication")
READ_CHUNK = 1024 * 1024


class CopyFailed(Exception):
    """The copy did not happen: ``code`` and ``reason`` are the status's
    failureCode and failureReason; ``retryable`` whether trying again may help."""

    def __init__(self, code: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason[:2000]
        self.retryable = retryable


class SourceGone(Exception):
    """The image is no longer in the source repository: nothing is left to copy."""


@dataclass
class Node:
    manifest: Manifest
    blobs: list[tuple[str, int]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    referrers: list[Node] = field(default_factory=list)


@dataclass
class Plan:
    root: Node
    tags: list[str]

    def manifests(self) -> Iterator[Node]:
        seen, stack = set(), [self.root]
        while stack:
            node = stack.pop()
            if node.manifest.pk in seen:
                continue
            seen.add(node.manifest.pk)
            yield node
            stack += node.children + node.referrers


@dataclass
class Done:
    """What a copy did, for its audit event."""

    blobs: int = 0
    bytes: int = 0
    manifests: int = 0
    tags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"blobsCopied": self.blobs, "bytesCopied": self.bytes, "manifestsCopied": self.manifests,
                "tagsCopied": self.tags}  # fmt: skip


def plan(repository: Repository, digest: str) -> Plan:
    """The image's tree as this registry holds it; raises SourceGone."""
    root = Manifest.objects.filter(repository=repository, digest=digest).first()
    if root is None:
        raise SourceGone(digest)
    nodes: dict[int, Node] = {}

    def node_of(manifest: Manifest, depth: int) -> Node:
        if manifest.pk in nodes:
            return nodes[manifest.pk]
        node = nodes[manifest.pk] = Node(manifest)
        if depth > 8:  # an index of indexes of ... (the spec allows it; nobody pushes deeper)
            return node
        node.blobs = list(
            ManifestBlob.objects.filter(manifest=manifest).order_by("blob_id").values_list("blob_id", "blob__size")
        )
        node.children = [
            node_of(child, depth + 1)
            for child in Manifest.objects.filter(parent_refs__parent=manifest).order_by("pk").distinct()
        ]
        node.referrers = [
            node_of(referrer, depth + 1)
            for referrer in Manifest.objects.filter(repository=repository, subject_digest=manifest.digest).order_by(
                "created_at", "pk"
            )
        ]
        return node

    tree = node_of(root, 0)
    tags = sorted(Tag.objects.filter(repository=repository, manifest=root).values_list("name", flat=True))
    return Plan(tree, tags)


# -- this deployment --------------------------------------------------------------------


def _decide(destination_account: str, source_account: str, action: str, name: str) -> None:
    decision = registry_policies.decide(
        account_id=destination_account,
        principal_account_id=source_account,
        action=action,
        resource_arn=enforcement.repository_arn(destination_account, name),
    )
    if not decision.allowed:
        raise CopyFailed("AccessDenied", decision.explanation, retryable=False)


def _local_repository(repository: Repository, destination: config.Destination, *, create: bool) -> Repository | None:
    account = Account.objects.filter(pk=destination.registry_id).first()
    if account is None:
        raise CopyFailed(
            "RegistryNotFound", f"no registry {destination.registry_id} in this deployment", retryable=False
        )
    _decide(account.pk, repository.account_id, "ecr:ReplicateImage", repository.name)
    target = repository_selectors.account_repository(account, repository.name)
    if target is None and create:
        _decide(account.pk, repository.account_id, "ecr:CreateRepository", repository.name)
        target = creation.create_repository(
            account=account, name=repository.name, applied_for="REPLICATION", actor=REPLICATION, source=repository
        )
    return target


def _registry_refusal(error: DomainError) -> CopyFailed:
    if isinstance(error, registry_errors.TagImmutable):
        return CopyFailed("TagImmutable", error.message, retryable=False)
    if isinstance(error, (registry_errors.ManifestBlobUnknown, registry_errors.ReferencedManifestUnknown)):
        # A collection or a delete at the destination took what the copy had just put there.
        return CopyFailed("Conflict", error.message, retryable=True)
    if isinstance(error, registry_errors.StorageFull):
        return CopyFailed("StorageFull", error.message, retryable=True)
    return CopyFailed("InvalidImage", error.message, retryable=False)


def _copy_local(repository: Repository, image: Plan, destination: config.Destination) -> Done:
    target = _local_repository(repository, destination, create=True)
    done = Done()
    nodes = list(image.manifests())
    linked = set(
        RepositoryBlob.objects.filter(
            repository=target, blob_id__in={digest for node in nodes for digest, _ in node.blobs}
        ).values_list("blob_id", flat=True)
    )
    held = set(
        Manifest.objects.filter(repository=target, digest__in={n.manifest.digest for n in nodes}).values_list(
            "digest", flat=True
        )
    )
    visited: set[int] = set()

    def ensure(node: Node) -> None:
        if node.manifest.pk in visited:
            return
        visited.add(node.manifest.pk)
        if node.manifest.digest not in held:
            for child in node.children:
                ensure(child)
            for digest, _size in node.blobs:
                if digest in linked:
                    continue
                if (
                    registry_services.copy_blob(repository=target, source=repository, digest=digest, actor=REPLICATION)
                    is None
                ):
                    raise SourceGone(digest)
                linked.add(digest)
                done.blobs += 1
            registry_services.put_image(
                repository=target,
                body=bytes(node.manifest.content),
                media_type=node.manifest.media_type,
                tag=None,
                digest=node.manifest.digest,
                actor=REPLICATION,
            )
            held.add(node.manifest.digest)
            done.manifests += 1
        for referrer in node.referrers:
            ensure(referrer)

    try:
        ensure(image.root)
        root = image.root.manifest
        current = dict(
            Tag.objects.filter(repository=target, name__in=image.tags).values_list("name", "manifest__digest")
        )
        for tag in image.tags:
            if current.get(tag) == root.digest:
                continue
            registry_services.put_image(
                repository=target,
                body=bytes(root.content),
                media_type=root.media_type,
                tag=tag,
                digest=root.digest,
                actor=REPLICATION,
            )
            done.tags.append(tag)
    except DomainError as error:
        raise _registry_refusal(error) from error
    return done


def _delete_local(repository: Repository, digest: str, tag: str, destination: config.Destination) -> None:
    target = _local_repository(repository, destination, create=False)
    if target is None:
        return
    try:
        if tag:
            current = Tag.objects.filter(repository=target, name=tag).values_list("manifest__digest", flat=True).first()
            if current == digest:  # a tag the destination moved elsewhere is its own
                registry_services.delete_tag(repository=target, tag=tag, actor=REPLICATION)
            return
        outcome = registry_services.batch_delete_image(repository=target, image_ids=[(digest, None)], actor=REPLICATION)
    except DomainError as error:
        raise _registry_refusal(error) from error
    for _, _, failure in outcome.failures:
        if failure.code != FailureCode.IMAGE_NOT_FOUND:
            raise CopyFailed(str(failure.code), failure.reason, retryable=False)


# -- another deployment -----------------------------------------------------------------


def make_client(destination: config.Destination) -> registry_client.RegistryClient:
    """The client of a destination in another deployment, with its unsealed credentials."""
    try:
        password = unseal(destination.sealed_password) if destination.sealed_password else ""
    except SealedValueUnreadable as exc:
        raise CopyFailed("CredentialsUnreadable", exc.message, retryable=False) from None
    return registry_client.RegistryClient(
        destination.endpoint,
        username=destination.username,
        password=password,
        timeout=settings.BERTH_REPLICATION_TIMEOUT_SECONDS,
        max_attempts=settings.BERTH_REPLICATION_CLIENT_ATTEMPTS,
    )


def _blob_source(digest: str, repository: Repository):
    """The blob's bytes from ``offset``, as the client's upload asks for them."""
    store = get_blob_store()

    def source(offset: int):
        try:
            stream = store.open_range(digest, offset, encryption=storage_encryption.of(repository))
        except FileNotFoundError:
            raise CopyFailed(
                "SourceNotFound", f"blob {digest} is missing from this registry's store", retryable=False
            ) from None
        try:
            while chunk := stream.read(READ_CHUNK):
                yield chunk
        finally:
            stream.close()

    return source


def _client_refusal(error: registry_client.RegistryClientError, destination: config.Destination) -> CopyFailed:
    where = f"{destination.endpoint} ({destination.registry_id})"
    if isinstance(error, registry_client.AccessDenied):
        return CopyFailed("AccessDenied", f"{where} refused: {error.message}", retryable=False)
    if isinstance(error, registry_client.NotFound):
        return CopyFailed("RepositoryNotFound", f"{where} answered not found: {error.message}", retryable=False)
    if isinstance(error, registry_client.AddressRefused):
        return CopyFailed("AddressRefused", error.message, retryable=False)
    if isinstance(error, registry_client.Unavailable):
        return CopyFailed("Unavailable", f"{where} is unavailable: {error.message}", retryable=True)
    return CopyFailed(type(error).__name__, f"{where}: {error.message}", retryable=True)


def _copy_remote(repository: Repository, image: Plan, destination: config.Destination) -> Done:
    remote = make_client(destination)
    path = f"{destination.registry_id}/{repository.name}"
    done = Done()
    sent: set[str] = set()
    visited: set[int] = set()

    def ensure(node: Node) -> None:
        if node.manifest.pk in visited:
            return
        visited.add(node.manifest.pk)
        if remote.head_manifest(path, node.manifest.digest) is None:
            for child in node.children:
                ensure(child)
            for digest, size in node.blobs:
                if digest in sent:
                    continue
                mount_from = [
                    f"{destination.registry_id}/{name}"
                    for name in selectors.replicated_elsewhere(repository, digest, destination)
                ]
                how = remote.upload_blob(path, digest, size, _blob_source(digest, repository), mount_from=mount_from)
                sent.add(digest)
                if how != "present":
                    done.blobs += 1
                    done.bytes += size if how == "uploaded" else 0
            remote.put_manifest(path, node.manifest.digest, bytes(node.manifest.content), node.manifest.media_type)
            done.manifests += 1
        for referrer in node.referrers:
            ensure(referrer)

    try:
        ensure(image.root)
        root = image.root.manifest
        for tag in image.tags:
            current = remote.head_manifest(path, tag)
            if current is not None and current.digest == root.digest:
                continue
            remote.put_manifest(path, tag, bytes(root.content), root.media_type)
            done.tags.append(tag)
    except registry_client.RegistryClientError as error:
        raise _client_refusal(error, destination) from error
    return done


def _delete_remote(repository: Repository, digest: str, tag: str, destination: config.Destination) -> None:
    remote = make_client(destination)
    path = f"{destination.registry_id}/{repository.name}"
    try:
        if not tag:
            remote.delete_manifest(path, digest)
        elif (named := remote.head_manifest(path, tag)) is not None and named.digest == digest:
            remote.delete_tag(path, tag)  # only while it still names the image whose tag went here
    except registry_client.NotFound:
        return  # not there (or its repository is not): what was asked for is done
    except registry_client.RegistryClientError as error:
        raise _client_refusal(error, destination) from error


# -- the two operations -----------------------------------------------------------------


def replicate(*, repository: Repository, digest: str, destination: config.Destination) -> Done:
    """Copy the image and its tags to ``destination``; raises CopyFailed, SourceGone."""
    image = plan(repository, digest)
    if destination.endpoint:
        return _copy_remote(repository, image, destination)
    return _copy_local(repository, image, destination)


def delete(*, repository: Repository, digest: str, tag: str, destination: config.Destination) -> None:
    """Delete the image (or only ``tag``, when it still points at ``digest`` there) at ``destination``."""
    if destination.endpoint:
        _delete_remote(repository, digest, tag, destination)
    else:
        _delete_local(repository, digest, tag, destination)
