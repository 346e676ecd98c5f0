"""Reads of registry content, each scoped to one repository (or to what a
principal may see, for the catalog)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db import connection, models
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Collate, Concat

from apps.accounts.models import Account
from apps.iam import enforcement
from apps.iam.callers import Caller
from apps.kernel.digests import DigestInvalid, is_digest, parse_digest
from apps.kernel.names import REPOSITORY_NAME_PATTERN, TAG_PATTERN
from apps.repositories.models import Repository, Visibility

from .content import media_types as mt
from .exceptions import ManifestBlobUnknown
from .models import TAG_MAX_LENGTH, Blob, Manifest, ManifestChild, PendingBlob, RepositoryBlob, Tag


def _lexical(expression):
    """Byte order, as the distribution spec asks for, whatever the database's collation."""
    return Collate(expression, "C") if connection.vendor == "postgresql" else expression


def linked_blob(repository: Repository, digest: str) -> Blob | None:
    """The blob, only if this repository links it: the tenancy boundary."""
    return Blob.objects.filter(digest=digest, links__repository=repository).first()


def linked_blobs_among(repository: Repository, digests) -> dict[str, Blob]:
    """The blobs among ``digests`` this repository links, by digest, in one query."""
    return {blob.digest: blob for blob in Blob.objects.filter(digest__in=set(digests), links__repository=repository)}


def linked_blobs(repository: Repository, digests) -> list[Blob]:
    """The linked blobs among ``digests``, in their order (first occurrence), in one
    query; raises ManifestBlobUnknown naming the first digest the repository lacks."""
    wanted = list(dict.fromkeys(digests))
    found = linked_blobs_among(repository, wanted)
    for digest in wanted:
        if digest not in found:
            raise ManifestBlobUnknown(digest)
    return [found[digest] for digest in wanted]


_MANIFEST_HEAD_FIELDS = ("id", "digest", "media_type", "size")
_MANIFEST_GET_FIELDS = _MANIFEST_HEAD_FIELDS + ("content",)


def manifest_by_reference(repository: Repository, reference: str, *, with_content: bool = True) -> Manifest | None:
    """One query by tag or digest; without the content for HEAD requests.

    This is the manifest GET hot path, so the SQL is written out (see
    repositories.selectors.find_repository); the result is a partial Manifest."""
    fields = _MANIFEST_GET_FIELDS if with_content else _MANIFEST_HEAD_FIELDS
    manifests = Manifest._meta.db_table
    columns = ", ".join(f"m.{Manifest._meta.get_field(f).column}" for f in fields)
    if is_digest(reference):
        sql = f"SELECT {columns} FROM {manifests} m WHERE m.repository_id = %s AND m.digest = %s"
    else:
        sql = (
            f"SELECT {columns} FROM {manifests} m JOIN {Tag._meta.db_table} t ON t.manifest_id = m.id"
            " WHERE t.repository_id = %s AND t.name = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [repository.pk, reference])
        row = cursor.fetchone()
    if row is None:
        return None
    return Manifest.from_db(connection.alias, list(fields), row)


def tag_names(repository: Repository, *, limit: int | None, after: str | None) -> list[str]:
    tags = Tag.objects.filter(repository=repository).annotate(key=_lexical(F("name")))
    if after:
        tags = tags.filter(key__gt=after)
    names = tags.order_by("key").values_list("name", flat=True)
    return list(names[:limit] if limit is not None else names)


def catalog(caller: Caller, *, limit: int, after: str | None, request=None) -> list[str]:
    """Repository names the caller may describe (ecr:DescribeRepositories), in
    order: its own account's and those whose repository policy lets it in as
    `<account-id>/<name>`, and every public one as `<primary alias>/<name>`. Nothing
    of a suspended account is listed."""
    active = Repository.objects.filter(account__suspended_at__isnull=True)
    by_account_id = active.annotate(full_name=_lexical(Concat(F("account_id"), Value("/"), F("name"))))
    public = active.filter(
        visibility=Visibility.PUBLIC, taken_down_at__isnull=True, account__aliases__is_primary=True
    ).annotate(full_name=_lexical(Concat(F("account__aliases__name"), Value("/"), F("name"))))
    names = set(_names_after(public, limit=limit, after=after))
    if not caller.is_anonymous:
        granted = by_account_id.filter(repository_policy__isnull=False).exclude(account_id=caller.account_id)
        own = by_account_id.filter(account_id=caller.account_id)
        if caller.is_root:
            names.update(_names_after(own, limit=limit, after=after))
        else:
            granted = granted | own
        names.update(_describable_names_after(caller, granted, limit=limit, after=after, request=request))
    return sorted(names)[:limit]


def _names_after(repositories: QuerySet, *, limit: int, after: str | None) -> list[str]:
    if after:
        repositories = repositories.filter(full_name__gt=after)
    return list(repositories.order_by("full_name").values_list("full_name", flat=True)[:limit])


def _describable_names_after(
    caller: Caller, repositories: QuerySet, *, limit: int, after: str | None, request
) -> list[str]:
    """The first ``limit`` names after ``after`` the policies let the caller describe,
    judged a page of candidates at a time."""
    names: list[str] = []
    while len(names) < limit:
        candidates = repositories.filter(full_name__gt=after) if after else repositories
        page = list(candidates.select_related("account").order_by("full_name")[:limit])
        permitted = enforcement.permitted(caller, "ecr:DescribeRepositories", page, request=request)
        names += [repository.full_name for repository in permitted]
        if len(page) < limit:
            break
        after = page[-1].full_name
    return names[:limit]


def referrers(repository: Repository, subject_digest: str, *, artifact_type: str | None) -> list[Manifest]:
    manifests = Manifest.objects.filter(repository=repository, subject_digest=subject_digest)
    if artifact_type:
        # A referrer without artifactType is typed by its config's media type.
        manifests = manifests.filter(
            Q(artifact_type=artifact_type) | Q(artifact_type="", config_media_type=artifact_type)
        )
    return list(
        manifests.order_by("created_at", "digest").only(
            "digest", "media_type", "size", "artifact_type", "config_media_type", "annotations"
        )
    )


# -- images, as the management API names them -----------------------------------------
#
# An image is a manifest of the repository (an index, and each manifest it lists,
# are images of their own, as in Amazon ECR); an image id names one by digest, by
# tag, or by both when the tag must point at that digest.

_TAG = re.compile(TAG_PATTERN)
_PAGE_TOKEN_SALT = "berth.images.page"


class TagStatus(models.TextChoices):
    TAGGED = "TAGGED"
    UNTAGGED = "UNTAGGED"
    ANY = "ANY"


class FailureCode(models.TextChoices):
    """Amazon ECR's codes for one image id of a batch request that failed; Berth
    adds UnsupportedImageType for an image no accepted media type can carry."""

    INVALID_IMAGE_DIGEST = "InvalidImageDigest"
    INVALID_IMAGE_TAG = "InvalidImageTag"
    IMAGE_TAG_DOES_NOT_MATCH_DIGEST = "ImageTagDoesNotMatchDigest"
    IMAGE_NOT_FOUND = "ImageNotFound"
    MISSING_DIGEST_AND_TAG = "MissingDigestAndTag"
    IMAGE_REFERENCED_BY_MANIFEST_LIST = "ImageReferencedByManifestList"
    UNSUPPORTED_IMAGE_TYPE = "UnsupportedImageType"


class ImageFailure(Exception):
    """One image id of a request failed: ``code`` is its failureCode, ``reason`` says why;
    ``index``: the id's position in a request that stops at its first failure."""

    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.index: int | None = None


class PageTokenInvalid(ValueError):
    pass


def check_image_id(*, digest: str | None, tag: str | None) -> None:
    """Raise the ImageFailure a malformed image id gets."""
    if digest is None and tag is None:
        raise ImageFailure(FailureCode.MISSING_DIGEST_AND_TAG, "an image id needs an imageDigest, an imageTag or both")
    if digest is not None:
        try:
            parse_digest(digest)
        except DigestInvalid as exc:
            raise ImageFailure(FailureCode.INVALID_IMAGE_DIGEST, exc.message) from None
    if tag is not None and not _TAG.fullmatch(tag):
        raise ImageFailure(
            FailureCode.INVALID_IMAGE_TAG,
            f"invalid tag {tag[:200]!r}: 1 to {TAG_MAX_LENGTH} letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'",
        )


def find_image(repository: Repository, *, digest: str | None, tag: str | None) -> Manifest:
    """The image an id names, without its manifest bytes; raises ImageFailure."""
    check_image_id(digest=digest, tag=tag)
    if tag is not None:
        tagged = (
            Tag.objects.select_related("manifest")
            .defer("manifest__content")
            .filter(repository=repository, name=tag)
            .first()
        )
        if tagged is None:
            raise ImageFailure(FailureCode.IMAGE_NOT_FOUND, f"no image is tagged {tag} in the repository")
        if digest is not None and tagged.manifest.digest != digest:
            raise ImageFailure(
                FailureCode.IMAGE_TAG_DOES_NOT_MATCH_DIGEST,
                f"tag {tag} points at {tagged.manifest.digest}, not at {digest}",
            )
        return tagged.manifest
    manifest = Manifest.objects.defer("content").filter(repository=repository, digest=digest).first()
    if manifest is None:
        raise ImageFailure(FailureCode.IMAGE_NOT_FOUND, f"no image {digest} in the repository")
    return manifest


def _page_token(repository: Repository, listing: str, after) -> str:
    return signing.dumps({"repository": repository.pk, "listing": listing, "after": after}, salt=_PAGE_TOKEN_SALT)


def _page_after(repository: Repository, listing: str, token: str):
    try:
        page = signing.loads(token, salt=_PAGE_TOKEN_SALT)
    except signing.BadSignature:
        raise PageTokenInvalid("the next token is not one this API handed out") from None
    if page.get("repository") != repository.pk or page.get("listing") != listing:
        raise PageTokenInvalid("the next token belongs to another listing")
    return page["after"]


def list_images(
    repository: Repository, *, tag_status: str = TagStatus.ANY, limit: int, next_token: str | None = None
) -> tuple[list[tuple[str, str | None]], str | None]:
    """Amazon ECR's ListImages: (digest, tag) once per tag of each image, and
    (digest, None) for each untagged one, in push order (tags in byte order), a page
    at a time; with the token of the next page, None on the last."""
    after_id, after_tag = _page_after(repository, "list", next_token) if next_token else (0, "")
    entries: list[tuple[int, str, str | None]] = []
    if tag_status != TagStatus.UNTAGGED:
        tags = Tag.objects.filter(repository=repository).annotate(key=_lexical(F("name")))
        if next_token:
            tags = tags.filter(Q(manifest_id__gt=after_id) | Q(manifest_id=after_id, key__gt=after_tag))
        entries += tags.order_by("manifest_id", "key").values_list("manifest_id", "manifest__digest", "name")[
            : limit + 1
        ]
    if tag_status != TagStatus.TAGGED:
        untagged = Manifest.objects.filter(repository=repository, id__gt=after_id).exclude(_tagged())
        entries += [
            (pk, digest, None) for pk, digest in untagged.order_by("id").values_list("id", "digest")[: limit + 1]
        ]
    # Sorted by image only: an image's tags keep the database's byte order.
    entries.sort(key=lambda entry: entry[0])
    page = entries[:limit]
    next_page = None
    if len(entries) > limit:
        last_id, _, last_tag = page[-1]
        next_page = _page_token(repository, "list", [last_id, last_tag or ""])
    return [(digest, tag) for _, digest, tag in page], next_page


def _tagged():
    return Exists(Tag.objects.filter(manifest=OuterRef("pk")))


def _described_images(repository: Repository) -> QuerySet[Manifest]:
    """What DescribeImages shows of each image: everything but the manifest bytes."""
    return (
        Manifest.objects.filter(repository=repository)
        .defer("content", "annotations")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name", "manifest_id")))
    )


def describe_images(
    repository: Repository, *, tag_status: str = TagStatus.ANY, limit: int, next_token: str | None = None
) -> tuple[list[Manifest], str | None]:
    """Amazon ECR's DescribeImages over the whole repository: a page of its images
    in push order, and the token of the next page (None on the last)."""
    images = _described_images(repository)
    if tag_status == TagStatus.TAGGED:
        images = images.filter(_tagged())
    elif tag_status == TagStatus.UNTAGGED:
        images = images.exclude(_tagged())
    if next_token:
        images = images.filter(id__gt=_page_after(repository, "describe", next_token))
    page = list(images.order_by("id")[: limit + 1])
    if len(page) > limit:
        page = page[:limit]
        return page, _page_token(repository, "describe", page[-1].pk)
    return page, None


def described_images(repository: Repository, manifest_ids: list[int]) -> list[Manifest]:
    """Of images found with find_image: each once, in the order given, as
    DescribeImages shows them."""
    wanted = list(dict.fromkeys(manifest_ids))
    found = _described_images(repository).in_bulk(wanted)
    return [found[pk] for pk in wanted if pk in found]


def describe_images_by_id(repository: Repository, image_ids) -> list[Manifest]:
    """Amazon ECR's DescribeImages with imageIds, (digest, tag) pairs: the images
    they name, each once, in the order asked. Raises the first failing id's
    ImageFailure (ImageNotFound for one that names no image), its ``index`` set."""
    found = []
    for index, (digest, tag) in enumerate(image_ids):
        try:
            found.append(find_image(repository, digest=digest, tag=tag).pk)
        except ImageFailure as failure:
            failure.index = index
            raise
    return described_images(repository, found)


def describe_image_tags(
    repository: Repository, *, limit: int, next_token: str | None = None
) -> tuple[list[Tag], str | None]:
    """Amazon ECR Public's DescribeImageTags: a page of the repository's tags in
    byte order, each with its image as DescribeImages shows it, and the token of the
    next page (None on the last)."""
    tags = (
        Tag.objects.filter(repository=repository)
        .annotate(key=_lexical(F("name")))
        .select_related("manifest")
        .defer("manifest__content", "manifest__annotations")
    )
    if next_token:
        tags = tags.filter(key__gt=_page_after(repository, "tags", next_token))
    page = list(tags.order_by("key")[: limit + 1])
    if len(page) > limit:
        page = page[:limit]
        return page, _page_token(repository, "tags", page[-1].key)
    return page, None


# -- images, as the console lists them ---------------------------------------------------


class ImageOrder(models.TextChoices):
    PUSHED = "pushed", "Pushed, newest first"
    TAG = "tag", "Tag"
    SIZE = "size", "Size, largest first"


def _listed_by_an_index():
    return Exists(ManifestChild.objects.filter(child=OuterRef("pk")))


class _Joined(models.Aggregate):
    """The values of a group joined by a newline, in no particular order (SQLite's
    GROUP_CONCAT, PostgreSQL's STRING_AGG): a tag name holds no newline."""

    function = "GROUP_CONCAT"
    output_field = models.TextField()

    def __init__(self, expression, **extra):
        super().__init__(expression, Value("\n"), **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="STRING_AGG", **extra_context)


def _tag_names():
    """A subquery: the image's tag names, newline-joined (None when untagged)."""
    names = Tag.objects.filter(manifest=OuterRef("pk")).order_by().values("manifest").annotate(names=_Joined("name"))
    return Subquery(names.values("names")[:1], output_field=models.TextField())


def tag_names_of(manifest: Manifest) -> list[str]:
    """Of an image from repository_images or image_with_entries: its tags in byte order."""
    return sorted(manifest.joined_tags.split("\n")) if manifest.joined_tags else []


def repository_images(
    repository: Repository, *, tag_contains: str = "", order: str = ImageOrder.PUSHED
) -> QuerySet[Manifest]:
    """The repository's images as a person lists them: every tagged manifest, and
    every untagged one that is neither an entry of an index nor a referrer (those
    show under the image they belong to). Without the manifest bytes; each with
    its tags (tag_names_of), ``referrer_count``, ``first_tag`` (in byte order; None
    when untagged) and ``size_key``: its size, and an index's largest entry's (what
    a pull of one platform fetches at most; an index's ``total_size`` adds up its
    platforms, which no pull fetches). An index's entries (``child_refs`` with their
    ``child``) are prefetched: two queries for a page.

    ``tag_contains`` keeps the images with a tag containing it (any case);
    ``order``: ImageOrder (pushed newest first; by tag, untagged last; by size,
    largest first, unmeasured last)."""
    images = (
        Manifest.objects.filter(repository=repository)
        .filter(_tagged() | (Q(subject_digest="") & ~_listed_by_an_index()))
        .defer("content", "annotations")
    )
    if tag_contains:
        images = images.filter(
            Exists(Tag.objects.filter(manifest=OuterRef("pk"), name__icontains=tag_contains[:TAG_MAX_LENGTH]))
        )
    referrers = (
        Manifest.objects.filter(repository_id=OuterRef("repository_id"), subject_digest=OuterRef("digest"))
        .order_by()
        .values("subject_digest")
        .annotate(count=Count("pk"))
        .values("count")
    )
    largest_entry = (
        ManifestChild.objects.filter(parent=OuterRef("pk"))
        .order_by(F("child__total_size").desc(nulls_last=True))
        .values("child__total_size")[:1]
    )
    first_tag = Tag.objects.filter(manifest=OuterRef("pk")).annotate(key=_lexical(F("name"))).order_by("key")
    images = images.annotate(
        joined_tags=_tag_names(),
        referrer_count=Coalesce(Subquery(referrers, output_field=IntegerField()), Value(0)),
        first_tag=Subquery(first_tag.values("name")[:1]),
        size_key=Case(
            When(media_type__in=mt.INDEXES, then=Subquery(largest_entry)),
            default=F("total_size"),
        ),
    ).prefetch_related(
        Prefetch(
            "child_refs",
            queryset=ManifestChild.objects.select_related("child").only(
                "id",
                "parent_id",
                "child_id",
                "child__digest",
                "child__media_type",
                "child__size",
                "child__total_size",
                "child__platforms",
                "child__artifact_type",
                "child__config_media_type",
            ),
        ),
    )
    if order == ImageOrder.TAG:
        return images.order_by(_lexical(F("first_tag")).asc(nulls_last=True), "-id")
    if order == ImageOrder.SIZE:
        return images.order_by(F("size_key").desc(nulls_last=True), "-id")
    return images.order_by("-created_at", "-id")


def image_with_entries(repository: Repository, digest: str) -> QuerySet[Manifest]:
    """The manifest ``digest`` names and, when it is an index, the manifests it
    lists, with their tags (tag_names_of), in one query (the caller tells them
    apart by digest)."""
    entries = ManifestChild.objects.filter(parent__repository=repository, parent__digest=digest).values("child_id")
    return (
        Manifest.objects.filter(repository=repository)
        .filter(Q(digest=digest) | Q(pk__in=entries))
        .annotate(joined_tags=_tag_names())
        .order_by("id")
    )


REFERRER_TREE_DEPTH = 5
REFERRER_TREE_LIMIT = 500


def referrer_tree(
    repository: Repository, digests, *, depth: int = REFERRER_TREE_DEPTH, limit: int = REFERRER_TREE_LIMIT
) -> list[Manifest]:
    """The referrers of ``digests`` (signatures, SBOMs, attestations whose subject
    is one of them), their own referrers, and so on ``depth`` levels down, at most
    ``limit`` of them, oldest first: one query (a recursive one). Each has
    ``subject_digest`` to hang it under; without manifest bytes."""
    digests = list(dict.fromkeys(digests))
    if not digests:
        return []
    table = Manifest._meta.db_table
    seeds = ", ".join(["%s"] * len(digests))
    columns = ", ".join(
        f"m.{Manifest._meta.get_field(name).column}"
        for name in (
            "id",
            "digest",
            "media_type",
            "size",
            "artifact_type",
            "config_media_type",
            "subject_digest",
            "annotations",
            "created_at",
        )
    )
    sql = (
        f"WITH RECURSIVE tree(id, digest, depth) AS ("
        f" SELECT m.id, m.digest, 1 FROM {table} m WHERE m.repository_id = %s AND m.subject_digest IN ({seeds})"
        f" UNION"
        f" SELECT m.id, m.digest, tree.depth + 1 FROM {table} m JOIN tree ON m.subject_digest = tree.digest"
        f" WHERE m.repository_id = %s AND tree.depth < %s"
        f") SELECT {columns} FROM {table} m WHERE m.id IN (SELECT id FROM tree) ORDER BY m.created_at, m.id LIMIT %s"
    )
    return list(Manifest.objects.raw(sql, [repository.pk, *digests, repository.pk, depth, limit]))


# -- repositories with what they hold (DescribeRepositories) ---------------------------

# Manifests of one image each (not indexes, whose entries are counted themselves).
IMAGE_MANIFEST_TYPES = mt.IMAGE_MANIFESTS | {mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED}
_REPOSITORIES_PAGE_SALT = "berth.repositories.page"
_REPOSITORY_NAME = re.compile(REPOSITORY_NAME_PATTERN)


def _described(account: Account) -> QuerySet[Repository]:
    """Repositories of ``account`` with what DescribeRepositories shows: image count,
    and their total size, None while a worker has yet to measure one of them."""
    images = Q(manifests__media_type__in=IMAGE_MANIFEST_TYPES)
    return (
        Repository.objects.filter(account=account)
        .annotate(
            image_count=Count("manifests", filter=images),
            measured_size=Sum("manifests__total_size", filter=images),
            unmeasured_count=Count("manifests", filter=images & Q(manifests__total_size__isnull=True)),
        )
        .prefetch_related("resource_tags")
    )


def total_size(repository: Repository) -> int | None:
    """Of a repository from describe_repositories/describe_repository."""
    if repository.unmeasured_count:
        return None
    return repository.measured_size or 0


def describe_repository(account: Account, name: str) -> Repository | None:
    """One of the account's repositories; another account's is as missing as one that never was."""
    if not _REPOSITORY_NAME.fullmatch(name):
        return None
    return _described(account).filter(name=name).first()


def _repositories_page_token(last_name: str) -> str:
    return signing.dumps(last_name, salt=_REPOSITORIES_PAGE_SALT)


def describe_repositories(
    account: Account,
    *,
    name_prefix: str = "",
    visibility: str | None = None,
    limit: int,
    next_token: str | None = None,
) -> tuple[list[Repository], str | None]:
    """A page of the account's repositories by name, and the token of the next page
    (None on the last); only those of ``visibility`` when given (ECR Public's
    DescribeRepositories lists the public ones)."""
    repositories = _described(account)
    if visibility is not None:
        repositories = repositories.filter(visibility=visibility)
    if name_prefix:
        repositories = repositories.filter(name__startswith=name_prefix)
    if next_token:
        try:
            after = signing.loads(next_token, salt=_REPOSITORIES_PAGE_SALT)
        except signing.BadSignature:
            raise PageTokenInvalid("the next token is not one this API handed out") from None
        repositories = repositories.filter(name__gt=after)
    page = list(repositories.order_by("name")[: limit + 1])
    if len(page) > limit:
        page = page[:limit]
        return page, _repositories_page_token(page[-1].name)
    return page, None


# -- stored bytes ----------------------------------------------------------------------
#
# Blobs are stored once, whatever the number of repositories linking them; a manifest's
# bytes are stored with its repository (Manifest.content), so they are the repository's
# alone. A repository's stored bytes are counted two ways:
#   referenced: the blobs it links (each once) and its manifests, what it would take
#       to copy it elsewhere;
#   exclusive: the blobs no other repository links (of any account) and its
#       manifests, what deleting it (and collecting its blobs) would free.


@dataclass(frozen=True)
class StoredBytes:
    referenced: int = 0
    exclusive: int = 0
    images: int = 0  # image manifests, as DescribeRepositories' imageCount counts them
    last_pushed_at: datetime | None = None  # of stored_bytes: when its newest manifest was pushed


def stored_bytes(repository_ids) -> dict[int, StoredBytes]:
    """Each repository's stored bytes (with its image count and when its newest
    manifest was pushed), by id, in two grouped queries whatever the number of
    repositories (a page of up to 1,000). A repository with nothing
    stored is absent: StoredBytes() is its figure."""
    ids = list(repository_ids)
    if not ids:
        return {}
    shared = Exists(
        RepositoryBlob.objects.filter(blob_id=OuterRef("blob_id")).exclude(repository_id=OuterRef("repository_id"))
    )
    blobs = (
        RepositoryBlob.objects.filter(repository_id__in=ids)
        .values("repository_id")
        .annotate(referenced=Sum("blob__size"), exclusive=Sum("blob__size", filter=~shared))
        .order_by()
    )
    manifests = (
        Manifest.objects.filter(repository_id__in=ids)
        .values("repository_id")
        .annotate(
            size=Sum("size"), images=Count("id", filter=Q(media_type__in=IMAGE_MANIFEST_TYPES)), last=Max("created_at")
        )
        .order_by()
    )
    found: dict[int, list] = {}
    for row in blobs:
        found[row["repository_id"]] = [row["referenced"] or 0, row["exclusive"] or 0, 0, None]
    for row in manifests:
        figures = found.setdefault(row["repository_id"], [0, 0, 0, None])
        figures[0] += row["size"] or 0
        figures[1] += row["size"] or 0
        figures[2] = row["images"]
        figures[3] = row["last"]
    return {pk: StoredBytes(*figures) for pk, figures in found.items()}


def account_stored_bytes(account_id: str) -> StoredBytes:
    """An account's stored bytes: the blobs its repositories link (each once, however
    many of them link it) and their manifests; exclusive, the blobs no repository of
    another account links, what deleting the account's repositories would free.
    Two queries."""
    linked = RepositoryBlob.objects.filter(repository__account_id=account_id).values("blob_id")
    elsewhere = Exists(RepositoryBlob.objects.filter(blob_id=OuterRef("pk")).exclude(repository__account_id=account_id))
    blobs = Blob.objects.filter(digest__in=linked).aggregate(
        referenced=Sum("size"), exclusive=Sum("size", filter=~elsewhere)
    )
    manifests = Manifest.objects.filter(repository__account_id=account_id).aggregate(
        size=Sum("size"), images=Count("id", filter=Q(media_type__in=IMAGE_MANIFEST_TYPES))
    )
    size = manifests["size"] or 0
    return StoredBytes(
        referenced=(blobs["referenced"] or 0) + size,
        exclusive=(blobs["exclusive"] or 0) + size,
        images=manifests["images"],
    )


def pending_blob(repository: Repository, digest: str) -> PendingBlob | None:
    """A blob a cached manifest of the repository references and the registry has
    yet to fetch from the upstream (services.store_cached_manifest)."""
    return PendingBlob.objects.filter(repository=repository, digest=digest).only("id", "digest", "size").first()
