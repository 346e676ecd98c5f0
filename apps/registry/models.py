"""Registry content: blobs (global, content addressed), what each repository links,
manifests, tags and upload sessions."""

import uuid

from django.db import models
from django.utils import timezone

from apps.kernel.names import DIGEST_MAX_LENGTH, REPOSITORY_NAME_MAX_LENGTH, TAG_MAX_LENGTH
from apps.repositories.models import Repository


class Blob(models.Model):
    """Bytes stored once in the blob store, whatever number of repositories link them.

    A blob no repository links is garbage once ``touched_at`` (its last link made or
    removed) is older than the collector's grace window. The collector first
    condemns it (``condemned_at``: its bytes may be gone from the store at any
    moment), then deletes the bytes and the row in one transaction. Whoever links a
    blob touches its row first, in the linking transaction, and refuses (or, with
    the bytes in hand, re-writes and pardons) a condemned one: see
    apps/registry/collector.py for why no re-link can slip past a collection."""

    digest = models.CharField(primary_key=True, max_length=DIGEST_MAX_LENGTH)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    touched_at = models.DateTimeField(default=timezone.now)
    # The repository whose link went last (`<account id>/<name>`), for the collector's reports.
    released_from = models.CharField(max_length=12 + 1 + REPOSITORY_NAME_MAX_LENGTH, blank=True)
    condemned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["touched_at"], name="blob_touched"),
            models.Index(
                fields=["condemned_at"], name="blob_condemned", condition=models.Q(condemned_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.digest


class RepositoryBlob(models.Model):
    """A repository may serve a blob only through a link: the tenancy boundary."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="links")
    # A link no manifest of its repository references (layers pushed before their
    # manifest, or never followed by one) is dropped once older than the grace window.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "blob"], name="blob_linked_once")]


class Manifest(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="manifests")
    digest = models.CharField(max_length=DIGEST_MAX_LENGTH)
    media_type = models.CharField(max_length=255)
    size = models.BigIntegerField()
    content = models.BinaryField()
    artifact_type = models.CharField(max_length=255, blank=True, default="")
    config_media_type = models.CharField(max_length=255, blank=True, default="")
    subject_digest = models.CharField(max_length=DIGEST_MAX_LENGTH, blank=True, default="", db_index=True)
    # Annotations are kept for the referrers API, which returns them.
    annotations = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Learnt after the push by a worker (tasks.record_image_details); null until then.
    total_size = models.BigIntegerField(null=True, blank=True)
    layer_count = models.IntegerField(null=True, blank=True)
    platforms = models.JSONField(default=list, blank=True)
    image_created_at = models.DateTimeField(null=True, blank=True)
    # When a pull last fetched it (recorded at most once a minute per process; see services.record_pull).
    last_pulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "digest"], name="manifest_unique_in_repository")]
        indexes = [models.Index(fields=["repository", "subject_digest"])]

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest}"


class ManifestBlob(models.Model):
    """Blobs a manifest references (config and layers): what keeps them alive."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="blob_refs")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="manifest_refs")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["manifest", "blob"], name="manifest_blob_once")]


class ManifestChild(models.Model):
    """Manifests an index references."""

    parent = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="child_refs")
    child = models.ForeignKey(Manifest, on_delete=models.PROTECT, related_name="parent_refs")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["parent", "child"], name="manifest_child_once")]


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=TAG_MAX_LENGTH)
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="tags")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="tag_unique_in_repository")]

    def __str__(self) -> str:
        return f"{self.repository}:{self.name}"


class TagHistory(models.Model):
    """Every tag move, with the digest it pointed at before (empty when created)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tag_history")
    tag = models.CharField(max_length=TAG_MAX_LENGTH)
    old_digest = models.CharField(max_length=DIGEST_MAX_LENGTH, blank=True, default="")
    new_digest = models.CharField(max_length=DIGEST_MAX_LENGTH, blank=True, default="")
    actor = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "tag history"
        indexes = [models.Index(fields=["repository", "tag", "created_at"])]


class Upload(models.Model):
    """An upload session. With the filesystem store its bytes spool in the upload
    area, shared by all web processes; with S3 they are an S3 multipart upload, and
    the fields below the line say where it stands (storage/s3_uploads.py), each
    written only after what it names is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="uploads")
    size = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # -- S3 uploads --
    # The S3 multipart upload's UploadId (empty until the first full part).
    multipart_id = models.CharField(max_length=1024, blank=True, default="")
    # The parts stored, in order: [[part number, ETag, size], ...].
    parts = models.JSONField(default=list, blank=True)
    # The object holding the bytes after the last part (fewer than a part's size).
    tail_key = models.CharField(max_length=1024, blank=True, default="")
    # The running sha256 of every byte so far (storage/hash_state.py); null when it
    # could not travel: the digest is then computed from the stored bytes.
    hash_state = models.BinaryField(null=True, blank=True)
    # Set once the parts were assembled into one object (the fallback re-hash).
    assembled = models.BooleanField(default=False)
    # One writer at a time, across processes: whoever holds an unexpired lease.
    lease_token = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.id)


class ManifestConversion(models.Model):
    """A manifest this registry served in another format (Docker ⇄ OCI, or schema 1
    for old Docker engines). Kept so that its digest stays addressable: a pull by
    that digest must get these exact bytes again."""

    source = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="conversions")
    media_type = models.CharField(max_length=255)
    # What else the bytes depend on: schema 1 embeds the repository name and tag
    # (`<alias or account id>/<name>:<tag>`, up to 50 + 1 + 256 + 1 + 300 characters).
    variant = models.CharField(max_length=1024, blank=True, default="")
    digest = models.CharField(max_length=DIGEST_MAX_LENGTH, db_index=True)
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "media_type", "variant"], name="one_conversion_per_type")
        ]

    @property
    def size(self) -> int:
        return len(self.content)


class PendingBlob(models.Model):
    """A blob a cached manifest references that the registry does not hold yet.

    The pull-through cache stores an upstream's manifest before its layers
    (apps/registry/upstream.py): the client gets the manifest at once and each
    layer as it asks for it. A manifest's references are ManifestBlob rows for the
    blobs its repository links and a PendingBlob row for each other one; when the
    blob arrives (services.complete_blob_fill) its pending rows turn into
    ManifestBlob rows in the transaction that links it. The repository serves a
    pending blob only by fetching it from the upstream its rule names."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="pending_blobs")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="pending_blobs")
    digest = models.CharField(max_length=DIGEST_MAX_LENGTH)
    size = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["manifest", "digest"], name="pending_blob_once")]
        indexes = [models.Index(fields=["repository", "digest"], name="pending_blob_lookup")]

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest} (pending)"
