"""Reads of registry content, each scoped to one repository (or to what a
principal may see, for the catalog)."""
from __future__ import annotations

from django.db import connection
from django.db.models import F, Q, Value
from django.db.models.functions import Collate, Concat

from apps.accounts.authentication import Principal
from apps.repositories.models import Repository, Visibility

from .digests import is_digest
from .models import Blob, Manifest, Tag


def _lexical(expression):
    """Byte order, as the distribution spec asks for, whatever the database's collation."""
    return Collate(expression, "C") if connection.vendor == "postgresql" else expression


def linked_blob(repository: Repository, digest: str) -> Blob | None:
    """The blob, only if this repository links it: the tenancy boundary."""
    return Blob.objects.filter(digest=digest, links__repository=repository).first()


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


def catalog(principal: Principal, *, limit: int, after: str | None) -> list[str]:
    """Repository names the principal may pull, in order: its own account's as
    `<account-id>/<name>`, and every public one as `<default alias>/<name>`."""
    public = Repository.objects.filter(visibility=Visibility.PUBLIC, account__aliases__is_default=True).annotate(
        full_name=_lexical(Concat(F("account__aliases__name"), Value("/"), F("name")))
    )
    queries = [public]
    if principal.account_id:
        queries.append(
            Repository.objects.filter(account_id=principal.account_id).annotate(
                full_name=_lexical(Concat(F("account_id"), Value("/"), F("name")))
            )
        )
    names: set[str] = set()
    for query in queries:
        if after:
            query = query.filter(full_name__gt=after)
        names.update(query.order_by("full_name").values_list("full_name", flat=True)[:limit])
    return sorted(names)[:limit]


def referrers(repository: Repository, subject_digest: str, *, artifact_type: str | None) -> list[Manifest]:
    manifests = Manifest.objects.filter(repository=repository, subject_digest=subject_digest)
    if artifact_type:
        # A referrer without artifactType is typed by its config's media type.
        manifests = manifests.filter(
            Q(artifact_type=artifact_type) | Q(artifact_type="", config_media_type=artifact_type)
        )
    return list(manifests.order_by("created_at", "digest").only(
        "digest", "media_type", "size", "artifact_type", "config_media_type", "annotations"
    ))
