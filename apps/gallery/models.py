"""The gallery's own tables: one search row per listed public repository, and pull
counters per repository, tag and day.

A GalleryEntry is a denormalized copy of what search, filters and cards need
(aliases, publisher, description, about text, kind, platforms, pull total), so a
search is one query over one table. It is rebuilt from the source models by
apps.gallery.services.refresh_entry whenever one of them changes; it is never
edited by hand. Private repositories have no row."""

from django.contrib.postgres.search import SearchVectorField
from django.db import models

from apps.accounts.models import Account
from apps.registry.models import TAG_MAX_LENGTH, Manifest
from apps.repositories.models import CATALOG_DESCRIPTION_MAX_LENGTH, REPOSITORY_NAME_MAX_LENGTH, Repository


class Kind(models.TextChoices):
    IMAGE = "image", "Image"
    HELM_CHART = "helm", "Helm chart"
    ARTIFACT = "artifact", "Other artifact"


class GalleryEntry(models.Model):
    repository = models.OneToOneField(
        Repository, on_delete=models.CASCADE, primary_key=True, related_name="gallery_entry"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="gallery_entries")
    name = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH)
    # Every alias of the account, space separated: any of them finds the repository.
    aliases = models.CharField(max_length=1024)
    verified = models.BooleanField(default=False)
    # The publisher's display name, kept only for verified publishers (as ECR Public shows it).
    publisher_name = models.CharField(max_length=100, blank=True, default="")
    description = models.CharField(max_length=CATALOG_DESCRIPTION_MAX_LENGTH, blank=True, default="")
    # The about text as words (Markdown and HTML stripped), for search only.
    about_text = models.TextField(blank=True, default="")
    # Alias and name split into words: what trigram similarity compares a query with.
    title = models.CharField(max_length=2048)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.IMAGE)
    # Recognised badges between bars ("|Linux|Windows|"), so one `contains` filters on any database.
    operating_systems = models.CharField(max_length=256, blank=True, default="")
    architectures = models.CharField(max_length=256, blank=True, default="")
    has_logo = models.BooleanField(default=False)
    default_tag = models.CharField(max_length=TAG_MAX_LENGTH, blank=True, default="")
    tag_count = models.PositiveIntegerField(default=0)
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_updated_at = models.DateTimeField()
    pull_count = models.BigIntegerField(default=0)
    # PostgreSQL only (NULL elsewhere); GIN-indexed by migration 0002.
    search_document = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name_plural = "gallery entries"
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=Kind.values), name="gallery_entry_kind_known"),
            models.CheckConstraint(condition=models.Q(pull_count__gte=0), name="gallery_entry_pull_count_not_negative"),
        ]
        indexes = [
            models.Index(fields=["-pull_count", "name"], name="gallery_entry_popular"),
            models.Index(fields=["-last_updated_at"], name="gallery_entry_recent"),
            models.Index(fields=["account", "name"], name="gallery_entry_publisher"),
            # Covers the home page's verified publishers (pulls summed per account).
            models.Index(fields=["verified", "account"], include=["pull_count"], name="gallery_entry_verified"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.name}"


class PullCount(models.Model):
    """Pulls of a public repository's manifest on one UTC day, by the tag asked for
    ("" for pulls by digest). Written in batches by apps.gallery.pulls.count_pulls."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="pull_counts")
    tag = models.CharField(max_length=TAG_MAX_LENGTH, blank=True, default="")
    day = models.DateField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "tag", "day"], name="pull_count_once_per_tag_and_day"),
            models.CheckConstraint(condition=models.Q(count__gte=0), name="pull_count_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.repository_id}:{self.tag or '@digest'} {self.day}: {self.count}"


class ScanSummary(models.Model):
    """The vulnerability counts of an image's last scan, as the scanner announced them
    (image.scan_completed): what the tags tab shows beside each tag."""

    manifest = models.OneToOneField(Manifest, primary_key=True, on_delete=models.CASCADE, related_name="gallery_scan")
    status = models.CharField(max_length=32)
    severity_counts = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")

    @property
    def status_text(self) -> str:
        return self.status.lower().replace("_", " ")

    @property
    def counts(self) -> list[tuple[str, int]]:
        """(severity, count) of the severities found, most severe first."""
        return [(level, self.severity_counts[level]) for level in self.SEVERITIES if self.severity_counts.get(level)]
