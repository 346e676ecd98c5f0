"""`berth images`: Amazon ECR's image calls on one repository."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ..client import repository_path
from ..context import Failure, Session, pass_session
from ..output import Activity, Column, emit, output_option, short_digest, size, table, when

PAGE_SIZE = 100
BATCH_SIZE = 100  # image ids the API takes in one call
TAG_STATUSES = ("TAGGED", "UNTAGGED", "ANY")


def image_id(reference: str) -> dict:
    """`sha256:...` names a digest; anything else a tag."""
    return {"imageDigest": reference} if ":" in reference else {"imageTag": reference}


def _batches(references: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [references[start : start + BATCH_SIZE] for start in range(0, len(references), BATCH_SIZE)]


def _describe_id(identifier: dict) -> str:
    return identifier.get("imageTag") or identifier.get("imageDigest") or "?"


MEDIA_TYPES = {
    "application/vnd.oci.image.manifest.v1+json": "OCI image",
    "application/vnd.oci.image.index.v1+json": "OCI index",
    "application/vnd.docker.distribution.manifest.v2+json": "Docker v2",
    "application/vnd.docker.distribution.manifest.list.v2+json": "Docker list",
    "application/vnd.docker.distribution.manifest.v1+prettyjws": "Docker v1",
    "application/vnd.docker.distribution.manifest.v1+json": "Docker v1",
}


def _kind(image: dict) -> str:
    media_type = image.get("imageManifestMediaType") or ""
    artifact = image.get("artifactMediaType") or ""
    kind = MEDIA_TYPES.get(media_type, media_type)
    if artifact and "image.config" not in artifact and "container.image" not in artifact:
        kind = f"{kind} ({artifact})"
    return kind


def _platforms(image: dict) -> str:
    return ", ".join(
        "/".join(part for part in (platform.get("os"), platform.get("architecture"), platform.get("variant")) if part)
        for platform in image.get("platforms") or []
    )


LIST_COLUMNS = [Column("Tag", "imageTag"), Column("Digest", "imageDigest")]
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
FINDINGS_FAIL_EXIT = 3  # --fail-on: findings at or above the severity exist


def _vulnerabilities(image: dict) -> str:
    status = (image.get("imageScanStatus") or {}).get("status")
    if not status:
        return ""
    counts = (image.get("imageScanFindingsSummary") or {}).get("findingSeverityCounts") or {}
    if status != "COMPLETE":
        return status.lower().replace("_", " ")
    return " ".join(f"{level[0]}:{counts[level]}" for level in SEVERITIES if counts.get(level)) or "none found"


DETAIL_COLUMNS = [
    Column("Digest", "imageDigest", short_digest),
    Column("Tags", "imageTags"),
    Column("Type", _kind),
    Column("Platforms", _platforms),
    Column("Size", "imageSizeInBytes", size),
    Column("Pushed", "imagePushedAt", when),
    Column("Last pulled", "lastRecordedPullTime", when),
    Column("Vulnerabilities", _vulnerabilities),
]


def _attribute(finding: dict, key: str) -> str:
    return next((a.get("value", "") for a in finding.get("attributes") or [] if a.get("key") == key), "")


FINDING_COLUMNS = [
    Column("Severity", "severity"),
    Column("Advisory", "name"),
    Column("Aliases", lambda f: _attribute(f, "aliases")),
    Column("Package", lambda f: _attribute(f, "package_name")),
    Column("Installed", lambda f: _attribute(f, "package_version")),
    Column("Fixed in", lambda f: _attribute(f, "fixed_in_version")),
]


@click.group(short_help="List, describe, delete and tag images.")
def images() -> None:
    """List, describe, delete and tag the images of a repository."""


@images.command("list", short_help="List image ids: one per tag, one per untagged image.")
@click.argument("repository")
@click.option("--tag-status", type=click.Choice(TAG_STATUSES, case_sensitive=False), help="only tagged or untagged")
@click.option("--page-size", type=click.IntRange(1, 1000), default=PAGE_SIZE, show_default=True)
@output_option
@pass_session
def list_(session: Session, repository: str, tag_status: str | None, page_size: int, output: str) -> None:
    """List every image of REPOSITORY: one line per tag, and one per untagged digest."""
    with Activity(f"Listing images of {repository}", unit="image ids") as activity:
        image_ids = list(
            session.client.pages(
                repository_path(repository, "images"),
                "imageIds",
                params={"tagStatus": tag_status and tag_status.upper(), "max_results": page_size},
                on_page=activity.advance,
            )
        )
    emit({"imageIds": image_ids}, output, lambda data: table(data["imageIds"], LIST_COLUMNS))


@images.command(short_help="Digest, tags, type, platforms, size, push and pull times.")
@click.argument("repository")
@click.argument("references", nargs=-1, metavar="[TAG|DIGEST]...")
@click.option("--tag-status", type=click.Choice(TAG_STATUSES, case_sensitive=False), help="only tagged or untagged")
@click.option("--page-size", type=click.IntRange(1, 1000), default=PAGE_SIZE, show_default=True)
@output_option
@pass_session
def describe(
    session: Session,
    repository: str,
    references: tuple[str, ...],
    tag_status: str | None,
    page_size: int,
    output: str,
) -> None:
    """Describe images of REPOSITORY, all of them or those named: digest, tags, type, platforms,
    size, push and last pull times."""
    if references and tag_status:
        raise click.UsageError("--tag-status applies when no TAG or DIGEST is named")
    path = repository_path(repository, "images", "describe")
    with Activity(f"Describing images of {repository}", unit="images") as activity:
        if references:
            details = [
                detail
                for batch in _batches(references)
                for detail in session.client.post(path, {"imageIds": [image_id(reference) for reference in batch]})[
                    "imageDetails"
                ]
            ]
        else:
            details = list(
                session.client.pages(
                    path,
                    "imageDetails",
                    params={"tagStatus": tag_status and tag_status.upper(), "max_results": page_size},
                    on_page=activity.advance,
                )
            )
    emit({"imageDetails": details}, output, lambda data: table(data["imageDetails"], DETAIL_COLUMNS))


@images.command(short_help="Delete images by tag or digest.")
@click.argument("repository")
@click.argument("references", nargs=-1, required=True, metavar="TAG|DIGEST...")
@click.option(
    "--with-dependents",
    is_flag=True,
    help="Also delete what only these images held: their signatures and SBOMs, and an index's untagged entries.",
)
@output_option
@pass_session
def delete(session: Session, repository: str, references: tuple[str, ...], with_dependents: bool, output: str) -> None:
    """Delete images of REPOSITORY by tag (the tag only, while others point at the image) or by digest
    (the image and every tag on it). Exits 1 if any could not be deleted."""
    result: dict = {"imageIds": [], "failures": []}
    with Activity(f"Deleting from {repository}", total=len(references)) as activity:
        for batch in _batches(references):
            answer = session.client.post(
                repository_path(repository, "images", "batch-delete"),
                {"imageIds": [image_id(reference) for reference in batch], "withDependents": with_dependents},
            )
            result["imageIds"] += answer.get("imageIds") or []
            result["failures"] += answer.get("failures") or []
            activity.advance(len(batch))
    failures = result.get("failures") or []
    emit(result, output, lambda data: table(data.get("imageIds") or [], LIST_COLUMNS) if data.get("imageIds") else "")
    if failures:
        raise Failure(
            f"{len(failures)} of {len(references)} could not be deleted",
            [
                f"  {_describe_id(failure.get('imageId') or {})}: {failure.get('failureReason')} "
                f"({failure.get('failureCode')})"
                for failure in failures
            ],
        )


@images.command(short_help="Tag an image already in the repository.")
@click.argument("repository")
@click.argument("source", metavar="TAG|DIGEST")
@click.argument("new_tags", nargs=-1, required=True, metavar="NEW_TAG...")
@output_option
@pass_session
def tag(session: Session, repository: str, source: str, new_tags: tuple[str, ...], output: str) -> None:
    """Give the image SOURCE (a tag or digest of REPOSITORY) more tags, without pulling or pushing it."""
    with Activity(f"Tagging {source} in {repository}"):
        found = session.client.post(
            repository_path(repository, "images", "batch-get"), {"imageIds": [image_id(source)]}
        )
        if not found.get("images"):
            failure = (found.get("failures") or [{}])[0]
            raise Failure(
                f"{source}: {failure.get('failureReason') or 'no such image'} "
                f"({failure.get('failureCode') or 'ImageNotFound'})"
            )
        image = found["images"][0]
        tagged = [
            session.client.post(
                repository_path(repository, "images"),
                {
                    "imageManifest": image["imageManifest"],
                    "imageManifestMediaType": image["imageManifestMediaType"],
                    "imageDigest": image["imageId"]["imageDigest"],
                    "imageTag": new_tag,
                },
            )
            for new_tag in new_tags
        ]
    emit(
        {"images": tagged},
        output,
        lambda data: "\n".join(
            f"Tagged {item['imageId']['imageDigest']} as {item['imageId']['imageTag']}." for item in data["images"]
        ),
    )


@images.command(short_help="Scan an image for known vulnerabilities now.")
@click.argument("repository")
@click.argument("reference", metavar="TAG|DIGEST")
@click.option("--wait/--no-wait", default=True, show_default=True, help="wait until the scan ends")
@click.option("--timeout", type=click.IntRange(1, 3600), default=300, show_default=True, help="seconds to wait")
@output_option
@pass_session
def scan(session: Session, repository: str, reference: str, wait: bool, timeout: int, output: str) -> None:
    """Scan the image REFERENCE of REPOSITORY (StartImageScan; once a day per image) and, unless
    --no-wait, wait for its status: COMPLETE, FAILED or UNSUPPORTED_IMAGE, with the severity counts."""
    with Activity(f"Scanning {reference} in {repository}"):
        started = session.client.post(repository_path(repository, "images", "scan"), {"imageId": image_id(reference)})
        result = started
        if wait:
            result = _wait_for_scan(session, repository, started["imageId"]["imageDigest"], timeout)
    emit(result, output, _scan_text)


def _wait_for_scan(session: Session, repository: str, digest: str, timeout: int) -> dict:
    deadline = time.monotonic() + timeout
    delay = 0.5
    while True:
        answer = session.client.get(
            repository_path(repository, "images", "scan-findings"), imageDigest=digest, max_results=1
        )
        if answer["imageScanStatus"]["status"] not in ("IN_PROGRESS", "PENDING"):
            return answer
        if time.monotonic() > deadline:
            raise Failure(f"the scan of {digest} did not end within {timeout} s; it goes on: berth images findings")
        time.sleep(delay)
        delay = min(delay * 2, 5)


def _scan_text(data: dict) -> str:
    status = data["imageScanStatus"]
    lines = [f"{data['imageId'].get('imageDigest')}: {status['status']} ({status['description']})"]
    counts = (data.get("imageScanFindings") or {}).get("findingSeverityCounts")
    if counts is not None:
        lines.append(
            "  " + (", ".join(f"{counts[level]} {level}" for level in SEVERITIES if counts.get(level)) or "no findings")
        )
    return "\n".join(lines)


@images.command(short_help="Vulnerabilities found in an image; --fail-on for CI.")
@click.argument("repository")
@click.argument("reference", metavar="TAG|DIGEST")
@click.option("--severity", type=click.Choice(SEVERITIES, case_sensitive=False), help="at this severity or above")
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    help=f"exit {FINDINGS_FAIL_EXIT} when findings at this severity or above exist (for CI pipelines)",
)
@output_option
@pass_session
def findings(
    session: Session, repository: str, reference: str, severity: str | None, fail_on: str | None, output: str
) -> None:
    """The findings of the last scan of the image REFERENCE of REPOSITORY, most severe first: the advisory,
    its aliases (the CVE), the package, the installed version and the version that fixes it."""
    path = repository_path(repository, "images", "scan-findings")
    params = {**image_id(reference), "severity": severity and severity.upper(), "max_results": 1000}
    with Activity(f"Reading the findings of {reference}", unit="findings") as activity:
        first = session.client.get(path, **params)
        result = dict(first)
        scan_findings = first.get("imageScanFindings")
        if scan_findings is not None:
            items = list(scan_findings.get("findings") or [])
            activity.advance(len(items))
            token = first.get("next")
            while token:
                page = session.client.get(path, **params, next=token)
                more = (page.get("imageScanFindings") or {}).get("findings") or []
                items += more
                activity.advance(len(more))
                token = page.get("next")
            result["imageScanFindings"] = {**scan_findings, "findings": items}
        result.pop("next", None)
    emit(result, output, _findings_text)
    if fail_on and scan_findings is not None:
        counts = scan_findings.get("findingSeverityCounts") or {}
        at_or_above = SEVERITIES[: SEVERITIES.index(fail_on.upper()) + 1]
        found = sum(counts.get(level, 0) for level in at_or_above)
        if found:
            click.echo(f"berth: {found} findings at {fail_on.upper()} or above", err=True)
            raise SystemExit(FINDINGS_FAIL_EXIT)
    if fail_on and scan_findings is None:
        raise Failure(f"the image has no complete scan ({result['imageScanStatus']['status']}): nothing to judge")


def _findings_text(data: dict) -> str:
    text = _scan_text(data)
    items = (data.get("imageScanFindings") or {}).get("findings") or []
    return text + ("\n\n" + table(items, FINDING_COLUMNS) if items else "")


@images.command(short_help="An image's SBOM (CycloneDX or SPDX), exported or attached.")
@click.argument("repository")
@click.argument("reference", metavar="TAG|DIGEST")
@click.option(
    "--format", "sbom_format", type=click.Choice(("cyclonedx", "spdx")), default="cyclonedx", show_default=True
)
@click.option("--attach", is_flag=True, help="push it beside the image as an OCI referrer instead of printing it")
@click.option("--file", "path", type=click.Path(dir_okay=False, writable=True), help="write the document here")
@pass_session
def sbom(session: Session, repository: str, reference: str, sbom_format: str, attach: bool, path: str | None) -> None:
    """The packages the last scan of REFERENCE found, as a CycloneDX or SPDX JSON document; with --attach,
    pushed beside the image as an OCI referrer (the referrers API and `oras discover` list it)."""
    if attach:
        with Activity(f"Attaching the {sbom_format} SBOM of {reference}"):
            answer = session.client.post(
                repository_path(repository, "images", "sbom"),
                {"imageId": image_id(reference), "sbomFormat": sbom_format},
            )
        for referrer in answer["referrers"]:
            click.echo(
                f"Attached {referrer['imageDigest']} ({referrer['artifactType']}) to {referrer['subjectDigest']}."
            )
        return
    with Activity(f"Reading the {sbom_format} SBOM of {reference}"):
        document = session.client.get(
            repository_path(repository, "images", "sbom"), **image_id(reference), sbomFormat=sbom_format
        )
    text = json.dumps(document, indent=2)
    if path:
        Path(path).write_text(text + "\n")
        click.echo(f"Wrote {path}.", err=True)
    else:
        click.echo(text)


REPLICATION_COLUMNS = [
    Column("Region", "region"),
    Column("Registry", "registryId"),
    Column("Endpoint", lambda row: row.get("endpoint") or "-"),
    Column("Status", "status"),
    Column("Attempts", "attempts"),
    Column("Failure", lambda row: row.get("failureCode") or ""),
    Column("Reason", lambda row: row.get("failureReason") or ""),
]


def _replication_text(data: dict) -> str:
    statuses = data["replicationStatuses"]
    if not statuses:
        return f"{data['imageId']['imageDigest']} is replicated nowhere (no rule matches its repository)."
    return table(statuses, REPLICATION_COLUMNS)


@images.command("replication-status", short_help="Where an image has replicated to; --retry its failed copies.")
@click.argument("repository")
@click.option("--tag", help="the image's tag")
@click.option("--digest", help="the image's digest")
@click.option("--retry", is_flag=True, help="start its FAILED copies over")
@output_option
@pass_session
def replication_status(
    session: Session, repository: str, tag: str | None, digest: str | None, retry: bool, output: str
) -> None:
    """Each destination's copy of the image: IN_PROGRESS, COMPLETE or FAILED with the reason."""
    if (tag is None) == (digest is None):
        raise Failure("give the image as --tag or --digest (one of them)")
    wanted = {"imageTag": tag} if tag is not None else {"imageDigest": digest}
    path = repository_path(repository, "images", "replication-status")
    with Activity(f"Reading the replication status of {repository}"):
        if retry:
            data = session.client.post(f"{path}/retry", {"imageId": wanted})
        else:
            data = session.client.get(path, **wanted)
    emit(data, output, _replication_text)
