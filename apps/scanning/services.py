"""Every write of the scanner: requesting scans, running them, matching stored
inventories against the advisories, and the registry scanning configuration.

A scan runs in a Celery worker (tasks.scan_image): it reads the image's layers
once into an inventory (apps.scanning.inventory), keyed by the manifest's digest,
then matches it (``match``). A re-match after an advisory import reads no layer:
it matches the stored inventory again and writes only the findings that changed."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apps.audit import events
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.events import outbox
from apps.events.names import IMAGE_SCAN_COMPLETED, IMAGE_SCAN_REQUESTED, IMAGES_REMATCHED
from apps.kernel.requests import RequestContext
from apps.registry.content import media_types as mt
from apps.registry.content.manifests import parse_manifest
from apps.registry.exceptions import ManifestInvalid
from apps.registry.models import Manifest
from apps.registry.storage import encryption as storage_encryption
from apps.registry.storage import get_blob_store
from apps.repositories.models import Repository

from . import configuration, matcher
from .exceptions import ImageNotScannable, ScanLimitExceeded
from .inventory import InventoryError, Layer, Limits, take_inventory
from .inventory.packages import Inventory as FoundInventory
from .models import (
    SEVERITIES,
    Finding,
    ImageScan,
    Inventory,
    InventoryPackage,
    ScanFrequency,
    ScanningConfiguration,
    ScanStatus,
    ScanTrigger,
)

logger = logging.getLogger(__name__)

SCANNER = Actor.system("scanner")
MANUAL_SCAN_INTERVAL = timedelta(hours=24)
LAYER_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
    }
)
CONFIG_MEDIA_TYPES = frozenset({mt.OCI_CONFIG, mt.DOCKER_CONFIG})
PACKAGE_BATCH = 1000


# -- what can be scanned ------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What scanning a manifest means: its own layers, or (an index) its platforms'
    image manifests in the same repository."""

    layers: tuple[Layer, ...] = ()
    children: tuple[Manifest, ...] = ()


def plan(manifest: Manifest) -> Plan:
    """The layers to read, or the children to scan; ImageNotScannable says why not."""
    if manifest.media_type in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        raise ImageNotScannable(
            manifest.digest, "Docker schema 1 manifests are not scanned; push it as schema 2 or OCI"
        )
    try:
        parsed = parse_manifest(bytes(manifest.content), manifest.media_type)
    except ManifestInvalid as exc:
        raise ImageNotScannable(manifest.digest, exc.message) from None
    if parsed.is_index:
        digests = [d.digest for d in parsed.manifests if d.media_type in mt.IMAGE_MANIFESTS]
        children = tuple(
            Manifest.objects.filter(repository_id=manifest.repository_id, digest__in=digests).order_by("digest")
        )
        if not children:
            raise ImageNotScannable(manifest.digest, "the index lists no image manifest")
        return Plan(children=children)
    if parsed.config is None or parsed.config.media_type not in CONFIG_MEDIA_TYPES:
        kind = parsed.artifact_type or (parsed.config.media_type if parsed.config else "no config")
        raise ImageNotScannable(manifest.digest, f"it is an artifact ({kind}), not a container image")
    store = get_blob_store()
    encryption = storage_encryption.of(manifest.repository)
    layers = []
    for descriptor in parsed.layers:
        if descriptor.is_foreign_layer:
            continue  # not held here (Windows base layers): nothing of ours to read
        if descriptor.media_type not in LAYER_MEDIA_TYPES:
            raise ImageNotScannable(manifest.digest, f"layer {descriptor.digest} is {descriptor.media_type}")
        layers.append(
            Layer(
                digest=descriptor.digest,
                media_type=descriptor.media_type,
                open=lambda digest=descriptor.digest: store.open_range(digest, encryption=encryption),
            )
        )
    return Plan(layers=tuple(layers))


def limits() -> Limits:
    return Limits(**settings.BERTH_SCAN_LIMITS)


# -- asking for scans ---------------------------------------------------------------


def request_scan(*, manifest: Manifest, trigger: str) -> ImageScan:
    """Mark the image's scan IN_PROGRESS and ask for it: image.scan_requested, whose
    subscriber queues the scan task once this commits."""
    now = timezone.now()
    with transaction.atomic():
        scan, _ = ImageScan.objects.select_for_update().get_or_create(
            manifest=manifest, defaults={"requested_at": now, "trigger": trigger}
        )
        scan.status, scan.description, scan.trigger, scan.requested_at = (
            ScanStatus.IN_PROGRESS,
            "the scan is queued",
            trigger,
            now,
        )
        scan.save(update_fields=["status", "description", "trigger", "requested_at"])
        outbox.publish(
            IMAGE_SCAN_REQUESTED,
            {"repositoryId": manifest.repository_id, "manifestId": manifest.pk, "digest": manifest.digest},
        )
    return scan


def scan_on_push(*, manifest_id: int) -> ImageScan | None:
    """image.pushed: scan when the repository scans on push (or continuously).
    Delivered again after a crash, it queues no second scan of a scanned image."""
    manifest = Manifest.objects.select_related("repository").filter(pk=manifest_id).first()
    if manifest is None or configuration.frequency(manifest.repository) == ScanFrequency.MANUAL:
        return None
    if manifest.artifact_type or (manifest.config_media_type and manifest.config_media_type not in CONFIG_MEDIA_TYPES):
        return None  # an artifact (a signature, an SBOM, a chart): nothing of a container's to scan
    if ImageScan.objects.filter(manifest=manifest).exists():
        return None
    return request_scan(manifest=manifest, trigger=ScanTrigger.PUSH)


def start_image_scan(
    *, repository: Repository, manifest: Manifest, actor: Actor, context: RequestContext | None = None
) -> ImageScan:
    """StartImageScan: at most once a day per image, as in Amazon ECR."""
    plan(manifest)  # refuses what cannot be scanned before anything is written
    now = timezone.now()
    with transaction.atomic():
        scan = ImageScan.objects.select_for_update().filter(manifest=manifest).first()
        if scan is not None and scan.manual_requested_at and now - scan.manual_requested_at < MANUAL_SCAN_INTERVAL:
            wait = MANUAL_SCAN_INTERVAL - (now - scan.manual_requested_at)
            raise ScanLimitExceeded(manifest.digest, int(wait.total_seconds()))
        scan = request_scan(manifest=manifest, trigger=ScanTrigger.MANUAL)
        scan.manual_requested_at = now
        scan.save(update_fields=["manual_requested_at"])
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="StartImageScan",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters={
                "registryId": repository.account_id,
                "repositoryName": repository.name,
                "imageId": {"imageDigest": manifest.digest},
            },
            response_elements={"imageScanStatus": {"status": scan.status, "description": scan.description}},
        )
    return scan


def put_scanning_configuration(
    *, account_id: str, scan_type: str, rules: list, actor: Actor, context: RequestContext | None = None
) -> ScanningConfiguration:
    """PutRegistryScanningConfiguration: replaces the account's configuration."""
    cleaned = configuration.validate(scan_type, rules)
    with transaction.atomic():
        config, _ = ScanningConfiguration.objects.update_or_create(
            account_id=account_id, defaults={"scan_type": scan_type, "rules": cleaned}
        )
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="PutRegistryScanningConfiguration",
            recipient_account_id=account_id,
            request_parameters={"scanType": scan_type, "rules": cleaned},
        )
    return config


# -- running a scan -----------------------------------------------------------------


def scan_image(*, manifest_id: int) -> ImageScan | None:
    """Run the scan of one manifest (the task's work): inventory (read once per
    digest), match, findings, the completion event. An index scans its platforms."""
    manifest = Manifest.objects.select_related("repository").filter(pk=manifest_id).first()
    if manifest is None:
        return None  # deleted before the worker got to it: its scan went with it
    scan, _ = ImageScan.objects.get_or_create(
        manifest=manifest, defaults={"requested_at": timezone.now(), "status": ScanStatus.IN_PROGRESS}
    )
    try:
        work = plan(manifest)
    except ImageNotScannable as exc:
        return _finish(scan, ScanStatus.UNSUPPORTED_IMAGE, exc.message)
    if work.children:
        for child in work.children:
            child_scan = ImageScan.objects.filter(manifest=child).first()
            if child_scan is None or child_scan.status != ScanStatus.COMPLETE or scan.trigger != ScanTrigger.PUSH:
                ImageScan.objects.update_or_create(
                    manifest=child,
                    defaults={
                        "status": ScanStatus.IN_PROGRESS,
                        "trigger": scan.trigger,
                        "requested_at": timezone.now(),
                    },
                )
                scan_image(manifest_id=child.pk)
        return _finish_index(scan, work.children)
    inventory = Inventory.objects.filter(digest=manifest.digest).first()
    if inventory is None:
        try:
            found = take_inventory(work.layers, limits())
        except InventoryError as exc:
            return _finish(scan, ScanStatus.FAILED, exc.reason)
        except OSError as exc:  # the store could not give a layer
            logger.warning("scan of %s: a layer could not be read: %s", manifest.digest, exc)
            return _finish(scan, ScanStatus.FAILED, f"a layer could not be read from storage: {exc}")
        inventory = store_inventory(manifest.digest, found)
    if scan.inventory_id != inventory.pk:
        scan.inventory = inventory
        scan.save(update_fields=["inventory"])
    match(scan)
    description = "the scan is complete"
    if inventory.unsupported:
        description += "; not read: " + "; ".join(inventory.unsupported)
    if inventory.os is None and not inventory.packages.exists():
        description += "; no operating system or package database was found"
    return _finish(scan, ScanStatus.COMPLETE, description)


def store_inventory(digest: str, found: FoundInventory) -> Inventory:
    """Keep what the layers hold, with the keys advisories are looked up under."""
    os_info = found.os
    with transaction.atomic():
        inventory, created = Inventory.objects.get_or_create(
            digest=digest,
            defaults={
                "os": None if os_info is None else dataclasses.asdict(os_info),
                "unsupported": list(found.unsupported),
                "files_seen": found.files_seen,
                "bytes_read": found.bytes_read,
            },
        )
        if not created:
            return inventory  # another worker stored it first
        rows = []
        for package in found.packages:
            keys = matcher.keys_for(package, os_info)
            rows.append(
                InventoryPackage(
                    inventory=inventory,
                    ecosystem=package.ecosystem,
                    name=package.name,
                    version=package.version,
                    source_name=package.source_name,
                    source_version=package.source_version,
                    purl=package.purl,
                    path=package.path,
                    layer_digest=package.layer_digest,
                    licenses=list(package.licenses),
                    key_ecosystem=keys[0][0] if keys else "",
                    key_name=keys[0][1] if keys else "",
                    alt_key_name=keys[1][1] if len(keys) > 1 else "",
                )
            )
        InventoryPackage.objects.bulk_create(rows, batch_size=PACKAGE_BATCH)
    return inventory


def match(scan: ImageScan) -> bool:
    """Match the scan's stored inventory against the advisories and write the
    findings that changed.
    Returns whether any finding was added, changed or removed."""
    packages = list(InventoryPackage.objects.filter(inventory_id=scan.inventory_id))
    wanted = matcher.findings_for(packages)
    current = {(f.advisory_id, f.package_id): f for f in Finding.objects.filter(scan=scan)}
    change = _Diff()
    change.add(scan, current, wanted)
    with transaction.atomic():
        change.write()
        counts = Counter(Finding.objects.filter(scan=scan).values_list("severity", flat=True))
        scan.severity_counts = {level: counts[level] for level in SEVERITIES if counts[level]}
        scan.vulnerability_source_updated_at = matcher.database_updated_at()
        scan.save(update_fields=["severity_counts", "vulnerability_source_updated_at"])
    return bool(change.scans)


@dataclass
class _Diff:
    """The findings to delete, add and update so that scans hold what they should."""

    stale: list[int] = field(default_factory=list)
    new: list[Finding] = field(default_factory=list)
    updated: list[Finding] = field(default_factory=list)
    scans: list[ImageScan] = field(default_factory=list)  # those whose findings change

    def add(self, scan: ImageScan, current: dict, wanted: dict) -> None:
        """``current`` and ``wanted``: (advisory id, package id) → Finding, → matcher.Verdict."""
        before = len(self.stale) + len(self.new) + len(self.updated)
        self.stale += [finding.pk for key, finding in current.items() if key not in wanted]
        for (advisory_id, package_id), verdict in wanted.items():
            finding = current.get((advisory_id, package_id))
            if finding is None:
                self.new.append(
                    Finding(
                        scan=scan,
                        advisory_id=advisory_id,
                        package_id=package_id,
                        severity=verdict.severity,
                        fixed_version=verdict.fixed_version,
                    )
                )
            elif (finding.severity, finding.fixed_version) != (verdict.severity, verdict.fixed_version):
                finding.severity, finding.fixed_version = verdict.severity, verdict.fixed_version
                self.updated.append(finding)
        if len(self.stale) + len(self.new) + len(self.updated) > before:
            self.scans.append(scan)

    def write(self) -> None:
        Finding.objects.filter(pk__in=self.stale).delete()
        Finding.objects.bulk_create(self.new, batch_size=PACKAGE_BATCH)
        Finding.objects.bulk_update(self.updated, ["severity", "fixed_version", "updated_at"], batch_size=PACKAGE_BATCH)


def _finish(scan: ImageScan, status: str, description: str) -> ImageScan:
    with transaction.atomic():
        scan.status, scan.description, scan.completed_at = status, description[:2000], timezone.now()
        scan.save(update_fields=["status", "description", "completed_at"])
        _announce(scan)
    return scan


def _finish_index(scan: ImageScan, children: tuple[Manifest, ...]) -> ImageScan:
    """An index's scan is its platforms': COMPLETE when all are, counts summed."""
    child_scans = list(ImageScan.objects.filter(manifest__in=children))
    totals: Counter = Counter()
    for child in child_scans:
        totals.update(child.severity_counts)
    statuses = {child.status for child in child_scans}
    if statuses <= {ScanStatus.COMPLETE, ScanStatus.UNSUPPORTED_IMAGE} and ScanStatus.COMPLETE in statuses:
        status, description = ScanStatus.COMPLETE, f"the scan of its {len(child_scans)} platform images is complete"
    elif statuses == {ScanStatus.UNSUPPORTED_IMAGE}:
        status, description = ScanStatus.UNSUPPORTED_IMAGE, "none of the index's manifests is a scannable image"
    else:
        failed = [c for c in child_scans if c.status == ScanStatus.FAILED]
        status = ScanStatus.FAILED
        description = "; ".join(f"{c.manifest.digest}: {c.description}" for c in failed) or "a platform's scan failed"
    scan.severity_counts = {level: totals[level] for level in SEVERITIES if totals[level]}
    scan.vulnerability_source_updated_at = matcher.database_updated_at()
    scan.save(update_fields=["severity_counts", "vulnerability_source_updated_at"])
    return _finish(scan, status, description)


def _completion(scan: ImageScan) -> dict:
    """What image.scan_completed (and each entry of images.rematched) says of a scan."""
    manifest = scan.manifest
    return {
        "repositoryId": manifest.repository_id,
        "accountId": manifest.repository.account_id,
        "repository": manifest.repository.name,
        "manifestId": manifest.pk,
        "digest": manifest.digest,
        "status": scan.status,
        "severityCounts": scan.severity_counts,
    }


def _completion_event(scan: ImageScan) -> events.EventDraft:
    """The audit event of a scan's end, by the system actor "scanner", with the counts."""
    repository = scan.manifest.repository
    draft = events.unstarted(
        SCANNER,
        None,
        event_name="ImageScanCompleted",
        event_source="ecr",
        recipient_account_id=repository.account_id,
        repository=repository.name,
        request_parameters={
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "imageId": {"imageDigest": scan.manifest.digest},
            "trigger": scan.trigger,
        },
    )
    draft.response_elements = {
        "imageScanStatus": {"status": scan.status, "description": scan.description},
        "findingSeverityCounts": scan.severity_counts,
    }
    return draft


def _announce(scan: ImageScan) -> None:
    """The completion as a domain event and in the audit trail, with the counts."""
    outbox.publish(IMAGE_SCAN_COMPLETED, _completion(scan))
    audit_services.record_many([_completion_event(scan)])


# -- continuous scanning ------------------------------------------------------------


def rematch(*, advisory_ids: list[str]) -> int:
    """After an import changed ``advisory_ids``: re-match, without reading a layer,
    the stored inventories of images in repositories scanned continuously that hold
    a package those advisories name, and write only the findings that changed.
    Returns the number of scans whose findings changed; each is announced as a
    completed scan (image.scan_completed, and the audit trail with its counts)."""
    ids = set(advisory_ids)
    started = time.monotonic()
    verdicts, touched = matcher.rematch_findings(ids)
    matched = time.monotonic()
    configurations: dict[str, ScanningConfiguration] = {}
    scans = []
    for chunk in matcher.chunks(sorted(touched)):
        scans_of_chunk = (
            ImageScan.objects.filter(inventory_id__in=chunk, status=ScanStatus.COMPLETE)
            .select_related("manifest__repository")
            .defer("manifest__content", "manifest__annotations", "manifest__platforms")
        )
        for scan in scans_of_chunk:
            repository = scan.manifest.repository
            if repository.account_id not in configurations:
                configurations[repository.account_id] = configuration.of_account(repository.account_id)
            if (
                configuration.frequency(repository, configurations[repository.account_id])
                == ScanFrequency.CONTINUOUS_SCAN
            ):
                scans.append(scan)
    changed = 0
    for chunk in matcher.chunks(scans):
        changed += _rematch_chunk(chunk, ids, verdicts)
    logger.info(
        "re-match of %d advisories: %d stored inventories hold their packages (matched in %.1f s), %d images "
        "scanned continuously, %d with changed findings, %.1f s in all",
        len(ids), len(touched), matched - started, len(scans), changed, time.monotonic() - started,
    )  # fmt: skip
    return changed


def _rematch_chunk(scans: list[ImageScan], ids: set[str], verdicts: dict) -> int:
    """Write the findings of ``ids`` that changed for ``scans``, in one transaction."""
    existing: dict[int, dict[tuple[str, int], Finding]] = {scan.pk: {} for scan in scans}
    for finding in Finding.objects.filter(scan_id__in=list(existing)).only(
        "id", "scan_id", "advisory_id", "package_id", "severity", "fixed_version"
    ):
        if finding.advisory_id in ids:
            existing[finding.scan_id][(finding.advisory_id, finding.package_id)] = finding
    change = _Diff()
    for scan in scans:
        change.add(scan, existing[scan.pk], verdicts.get(scan.inventory_id, {}))
    changed_scans = change.scans
    if not changed_scans:
        return 0
    now = timezone.now()
    source_updated_at = matcher.database_updated_at()
    with transaction.atomic():
        change.write()
        counts: dict[int, Counter] = {scan.pk: Counter() for scan in changed_scans}
        for row in (
            Finding.objects.filter(scan_id__in=list(counts)).values("scan_id", "severity").annotate(n=Count("id"))
        ):
            counts[row["scan_id"]][row["severity"]] = row["n"]
        for scan in changed_scans:
            scan.severity_counts = {level: counts[scan.pk][level] for level in SEVERITIES if counts[scan.pk][level]}
            scan.trigger, scan.completed_at = ScanTrigger.CONTINUOUS, now
            scan.vulnerability_source_updated_at = source_updated_at
            scan.description = "re-matched after the advisory database changed"
            # one UPDATE a scan: Django's bulk_update builds a CASE over the chunk per field, slower here
            ImageScan.objects.filter(pk=scan.pk).update(severity_counts=scan.severity_counts)
        ImageScan.objects.filter(pk__in=[scan.pk for scan in changed_scans]).update(
            trigger=ScanTrigger.CONTINUOUS,
            completed_at=now,
            vulnerability_source_updated_at=source_updated_at,
            description="re-matched after the advisory database changed",
        )
        # one domain event for the chunk (as images.pulled is for a batch of pulls), and
        # one audit event per image, appended under one lock of the chain
        outbox.publish(IMAGES_REMATCHED, {"scans": [_completion(scan) for scan in changed_scans]})
        audit_services.record_many([_completion_event(scan) for scan in changed_scans])
    return len(changed_scans)
