"""The scanner's tables.

Advisories (``AdvisorySource``, ``Advisory``, ``AffectedPackage``) are the imported
OSV database, global to the deployment. An ``Inventory`` is what an image manifest
holds (its OS and packages); it is keyed by the manifest's digest, so the same
image in two repositories is read once. An ``ImageScan`` is one image manifest of
one repository: its status as ECR reports it, its severity counts, and its
``Finding`` rows (a package of the inventory affected by an advisory)."""

from __future__ import annotations

from django.db import models

from apps.accounts.models import Account
from apps.kernel.names import DIGEST_MAX_LENGTH
from apps.registry.models import Manifest

# ECR's severity levels, most severe first.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


class ScanType(models.TextChoices):
    BASIC = "BASIC"
    ENHANCED = "ENHANCED"


class ScanFrequency(models.TextChoices):
    SCAN_ON_PUSH = "SCAN_ON_PUSH"
    CONTINUOUS_SCAN = "CONTINUOUS_SCAN"
    MANUAL = "MANUAL"


class ScanStatus(models.TextChoices):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    UNSUPPORTED_IMAGE = "UNSUPPORTED_IMAGE"
    FINDINGS_UNAVAILABLE = "FINDINGS_UNAVAILABLE"


class ScanTrigger(models.TextChoices):
    PUSH = "PUSH"
    MANUAL = "MANUAL"
    CONTINUOUS = "CONTINUOUS"


class ScanningConfiguration(models.Model):
    """An account's registry scanning configuration (PutRegistryScanningConfiguration).
    ``rules``: ECR's shape, ``[{"scanFrequency": …, "repositoryFilters": [{"filter": …,
    "filterType": "WILDCARD"}]}]``. An account without a row scans BASIC, on push
    only where the repository's scanOnPush says so."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.CASCADE, related_name="scanning_configuration"
    )
    scan_type = models.CharField(max_length=16, choices=ScanType.choices, default=ScanType.BASIC)
    rules = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class AdvisorySource(models.Model):
    """Where advisories came from (a file or directory given to `berth vulndb import`),
    and what its last import did."""

    name = models.CharField(max_length=255, unique=True)
    location = models.TextField(blank=True, default="")
    imported_at = models.DateTimeField()
    records = models.IntegerField(default=0)  # records the source holds (withdrawn included)
    added = models.IntegerField(default=0)
    changed = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    invalid = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Advisory(models.Model):
    """One OSV record as imported. ``record_hash`` tells a re-import whether it changed."""

    id = models.CharField(primary_key=True, max_length=255)
    source = models.ForeignKey(AdvisorySource, on_delete=models.CASCADE, related_name="advisories")
    modified = models.CharField(max_length=64, blank=True, default="")
    withdrawn = models.BooleanField(default=False)
    aliases = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True, default="")
    details = models.TextField(blank=True, default="")
    severity = models.CharField(max_length=16, default="UNDEFINED")
    score = models.FloatField(null=True, blank=True)
    vector = models.CharField(max_length=255, blank=True, default="")
    references = models.JSONField(default=list, blank=True)
    record_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "advisories"

    def __str__(self) -> str:
        return self.id


class AffectedPackage(models.Model):
    """An advisory's ``affected`` entry, under the key packages are looked up by
    (``ecosystem``, ``name``, both normalised: apps.scanning.advisories.matching.lookup_key).
    ``entry`` keeps the entry as OSV gives it (ranges, versions) for evaluation."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    ecosystem = models.CharField(max_length=100)
    name = models.CharField(max_length=512)
    entry = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["ecosystem", "name"], name="scanning_affected_key")]


class Inventory(models.Model):
    """What one image manifest holds, by its digest."""

    digest = models.CharField(max_length=DIGEST_MAX_LENGTH, unique=True)
    os = models.JSONField(null=True, blank=True)
    unsupported = models.JSONField(default=list, blank=True)
    files_seen = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "inventories"

    def __str__(self) -> str:
        return self.digest


class InventoryPackage(models.Model):
    """A package of an inventory, with the keys advisories are looked up under."""

    inventory = models.ForeignKey(Inventory, on_delete=models.CASCADE, related_name="packages")
    ecosystem = models.CharField(max_length=32)
    name = models.CharField(max_length=512)
    version = models.CharField(max_length=255)
    source_name = models.CharField(max_length=512, blank=True, default="")
    source_version = models.CharField(max_length=255, blank=True, default="")
    purl = models.TextField(blank=True, default="")
    path = models.TextField(blank=True, default="")
    layer_digest = models.CharField(max_length=DIGEST_MAX_LENGTH, blank=True, default="")
    licenses = models.JSONField(default=list, blank=True)
    # The advisory keys this package is matched under (matching.ecosystems_for), at
    # most two (a distribution package's source, then its own name).
    key_ecosystem = models.CharField(max_length=100, blank=True, default="")
    key_name = models.CharField(max_length=512, blank=True, default="")
    alt_key_name = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["key_ecosystem", "key_name"], name="scanning_package_key"),
            models.Index(fields=["key_ecosystem", "alt_key_name"], name="scanning_package_alt_key"),
        ]


class ImageScan(models.Model):
    """The scan of one image manifest of a repository (an index's: the sum of its
    platforms' scans)."""

    manifest = models.OneToOneField(Manifest, primary_key=True, on_delete=models.CASCADE, related_name="scan")
    inventory = models.ForeignKey(Inventory, null=True, blank=True, on_delete=models.SET_NULL, related_name="scans")
    status = models.CharField(max_length=32, choices=ScanStatus.choices, default=ScanStatus.PENDING)
    description = models.TextField(blank=True, default="")
    trigger = models.CharField(max_length=16, choices=ScanTrigger.choices, default=ScanTrigger.PUSH)
    requested_at = models.DateTimeField()
    # When StartImageScan last asked for it (ECR allows one a day per image).
    manual_requested_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    vulnerability_source_updated_at = models.DateTimeField(null=True, blank=True)
    severity_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["inventory"], name="scanning_scan_inventory"),
            # the scans waiting or running, which /metrics counts at every scrape (a few rows of many)
            models.Index(
                fields=["status"],
                condition=models.Q(status__in=["PENDING", "IN_PROGRESS"]),
                name="scanning_scan_in_flight",
            ),
        ]


class Finding(models.Model):
    """A package of the scan's inventory affected by an advisory."""

    scan = models.ForeignKey(ImageScan, on_delete=models.CASCADE, related_name="findings")
    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="findings")
    package = models.ForeignKey(InventoryPackage, on_delete=models.CASCADE, related_name="findings")
    severity = models.CharField(max_length=16)
    fixed_version = models.CharField(max_length=255, blank=True, default="")
    first_observed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scan", "advisory", "package"], name="scanning_finding_unique"),
        ]
