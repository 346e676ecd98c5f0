"""A repository's images in the console: the list of images and tags
(`/console/repositories/<name>`), one image (`.../-/images/<digest>`) with its
platforms, layers, config, scan, copies and referrers, and its writes: add a tag
(ECR's PutImage with the image's own manifest), remove a tag, delete the image
(ECR's BatchDeleteImage).

Every page authorizes as the management API does for the same operation
(``ecr:DescribeImages`` to read; ``ecr:PutImage`` and ``ecr:BatchDeleteImage`` to
write; findings and copies are shown to a caller allowed
``ecr:DescribeImageScanFindings`` / ``ecr:DescribeImageReplicationStatus``) and
reads through the registry's, scanner's and replication's selectors in a fixed
number of queries, whatever the number of images, tags, scans and copies."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count, Window
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse

from apps.audit import events as audit_events
from apps.audit.models import ERROR_MESSAGE_MAX_LENGTH
from apps.gallery.models import Kind
from apps.gallery.services import kind_of
from apps.iam import enforcement
from apps.kernel.digests import DigestInvalid, parse_digest
from apps.kernel.errors import DomainError
from apps.kernel.sizes import binary_size
from apps.registry import image_details
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.registry.content import media_types as mt
from apps.registry.content.manifests import Descriptor, parse_manifest
from apps.registry.exceptions import TagImmutable
from apps.registry.models import Manifest
from apps.registry.selectors import ImageOrder
from apps.replication import selectors as replication_selectors
from apps.replication.models import ImageReplication
from apps.repositories.selectors import registry_host
from apps.scanning import selectors as scanning_selectors
from apps.scanning.models import SEVERITIES, ImageScan, ScanStatus

from .base import ConsoleView, Refused
from .images_forms import DeleteImageForm, ImagesFilterForm, RemoveTagForm, RetagForm, short_digest

IMAGES_PER_PAGE = 25
TOP_FINDINGS = 10
# BuildKit lists an image's attestations in its index, as entries of platform unknown/unknown.
_REFERENCE_TYPE = "vnd.docker.reference.type"
_REFERENCE_DIGEST = "vnd.docker.reference.digest"
_IMAGE_CONFIGS = (mt.OCI_CONFIG, mt.DOCKER_CONFIG)


# -- what a row or a page shows of an image -------------------------------------------------


def image_kind(manifest: Manifest) -> tuple[str, str]:
    """(key, label): an image, a multi-arch index, a Helm chart or another artifact."""
    if manifest.media_type in mt.INDEXES:
        return "index", "Multi-arch index"
    kind = kind_of(
        media_type=manifest.media_type,
        config_media_type=manifest.config_media_type,
        artifact_type=manifest.artifact_type,
    )
    if kind == Kind.HELM_CHART:
        return "helm", "Helm chart"
    if kind == Kind.IMAGE:
        return "image", "Image"
    return "artifact", "Artifact"


def platform_label(platform: dict | None) -> str:
    """{"os": "linux", "architecture": "arm64", "variant": "v8"} -> "linux/arm64/v8"."""
    if not platform:
        return ""
    parts = (platform.get("os", ""), platform.get("architecture", ""), platform.get("variant", ""))
    return "/".join(part for part in parts if isinstance(part, str) and part)


def referrer_kind(artifact_type: str) -> str:
    """What a referrer is, read from its artifact type (or its config's media type)."""
    lowered = artifact_type.lower()
    if any(word in lowered for word in ("signature", "sigstore", "notary", "cosign")):
        return "Signature"
    if any(word in lowered for word in ("spdx", "cyclonedx", "sbom", "syft")):
        return "SBOM"
    if any(word in lowered for word in ("in-toto", "attestation", "provenance", "vex", "slsa")):
        return "Attestation"
    return "Artifact"


def _size(value: int | None) -> str:
    return binary_size(value) if value is not None else ""


@dataclass
class ScanSummary:
    status: str
    description: str
    complete: bool
    counts: list[tuple[str, int]]
    completed_at: object = None

    @property
    def status_text(self) -> str:
        return {
            ScanStatus.PENDING: "Scan pending",
            ScanStatus.IN_PROGRESS: "Scanning",
            ScanStatus.FAILED: "Scan failed",
            ScanStatus.UNSUPPORTED_IMAGE: "Not scannable",
            ScanStatus.FINDINGS_UNAVAILABLE: "Findings unavailable",
        }.get(self.status, self.status)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)


def scan_summary(manifest: Manifest) -> ScanSummary | None:
    """The image's scan as DescribeImages gives it: imageScanStatus, and the severity
    counts of a complete scan (an index's: its platforms' added up)."""
    try:
        scan = manifest.scan
    except ImageScan.DoesNotExist:
        return None
    complete = scan.status == ScanStatus.COMPLETE and scan.completed_at is not None
    counts = [(level, int(scan.severity_counts.get(level) or 0)) for level in SEVERITIES] if complete else []
    return ScanSummary(
        status=scan.status,
        description=scan.description,
        complete=complete,
        counts=[(level, count) for level, count in counts if count],
        completed_at=scan.completed_at,
    )


@dataclass
class Entry:
    """A manifest an index lists: a platform's image, or an attestation of one."""

    digest: str
    platform: str
    attestation: bool
    size: int | None = None
    manifest: Manifest | None = None  # None: listed, but not in the repository (a cache still filling)
    media_type: str = ""
    attests: str = ""  # the entry an attestation is about
    referrers: list[ReferrerNode] = field(default_factory=list)

    @property
    def size_text(self) -> str:
        return _size(self.size)

    @property
    def layer_count(self) -> int | None:
        return self.manifest.layer_count if self.manifest is not None else None


def _listed_entry(child: Manifest) -> Entry:
    """An entry as the list shows it: from the child's own recorded details."""
    platform = (child.platforms or [None])[0]
    attestation = (platform or {}).get("os") == "unknown" or image_kind(child)[0] == "artifact"
    return Entry(
        digest=child.digest,
        platform=platform_label(platform) or "unknown platform",
        attestation=attestation,
        size=child.total_size,
        manifest=child,
        media_type=child.media_type,
    )


def _descriptor_entry(descriptor: Descriptor, child: Manifest | None) -> Entry:
    """An entry as the image page shows it: the index's descriptor (its platform and
    annotations), with the child's measured size."""
    platform = descriptor.platform or ((child.platforms or [None])[0] if child is not None else None)
    attestation = descriptor.annotations.get(_REFERENCE_TYPE) == "attestation-manifest" or (
        (platform or {}).get("os") == "unknown"
    )
    return Entry(
        digest=descriptor.digest,
        platform=platform_label(platform) or "unknown platform",
        attestation=attestation,
        size=child.total_size if child is not None else None,
        manifest=child,
        media_type=descriptor.media_type,
        attests=descriptor.annotations.get(_REFERENCE_DIGEST, ""),
    )


def _sorted_entries(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda entry: (entry.attestation, entry.platform, entry.digest))


@dataclass
class PullCommands:
    """`docker pull` lines for an image: through the account id, and for a public
    repository through the account's primary alias too."""

    by_tag: list[str]
    by_digest: list[str]


def pull_commands(
    repository, *, host: str, alias: str, digest: str, tag: str | None, helm: bool = False
) -> PullCommands:
    namespaces = [repository.account_id] + ([alias] if repository.is_public and alias else [])
    addresses = [f"{host}/{namespace}/{repository.name}" for namespace in namespaces]
    if helm:  # a chart pulls with Helm, not Docker
        return PullCommands(
            by_tag=[f"helm pull oci://{address} --version {tag}" for address in addresses] if tag else [],
            by_digest=[f"helm pull oci://{address}@{digest}" for address in addresses],
        )
    return PullCommands(
        by_tag=[f"docker pull {address}:{tag}" for address in addresses] if tag else [],
        by_digest=[f"docker pull {address}@{digest}" for address in addresses],
    )


@dataclass
class ImageRow:
    manifest: Manifest
    tags: list[str]
    kind: str
    kind_label: str
    entries: list[Entry]
    scan: ScanSummary | None
    replications: list[ImageReplication]
    pull: PullCommands

    @property
    def platforms(self) -> list[Entry]:
        return [entry for entry in self.entries if not entry.attestation]

    @property
    def attestation_count(self) -> int:
        return sum(1 for entry in self.entries if entry.attestation)

    @property
    def is_index(self) -> bool:
        return self.kind == "index"

    @property
    def size_text(self) -> str:
        return _size(self.manifest.total_size)

    @property
    def own_platform(self) -> str:
        return platform_label((self.manifest.platforms or [None])[0])


# -- the referrers tree --------------------------------------------------------------------


@dataclass
class ReferrerNode:
    manifest: Manifest
    kind: str
    artifact_type: str
    children: list[ReferrerNode] = field(default_factory=list)


def referrer_forest(referrers: list[Manifest], subjects: list[str]) -> dict[str, list[ReferrerNode]]:
    """The referrers hung under their subjects: for each of ``subjects``, the trees of
    what refers to it (each node's children refer to that node), oldest first."""
    nodes: dict[str, ReferrerNode] = {}
    for manifest in referrers:
        artifact_type = manifest.artifact_type or manifest.config_media_type
        nodes[manifest.digest] = ReferrerNode(manifest, referrer_kind(artifact_type), artifact_type)
    roots: dict[str, list[ReferrerNode]] = {subject: [] for subject in subjects}
    for node in nodes.values():
        subject = node.manifest.subject_digest
        if subject in roots:
            roots[subject].append(node)
        elif subject in nodes:
            nodes[subject].children.append(node)
    return roots


def _count(nodes: list[ReferrerNode]) -> int:
    return sum(1 + _count(node.children) for node in nodes)


# -- config ----------------------------------------------------------------------------------


@dataclass
class ConfigSummary:
    """What a person looks for in an image's config (or a Helm chart's)."""

    platform: str = ""
    created: object = None
    labels: list[tuple[str, str]] = field(default_factory=list)
    entrypoint: str = ""
    command: str = ""
    user: str = ""
    working_dir: str = ""
    ports: list[str] = field(default_factory=list)
    chart: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.platform or self.created or self.labels or self.entrypoint or self.command or self.chart)


def _words(value) -> str:
    if isinstance(value, list):
        return " ".join(str(part) for part in value)
    return value if isinstance(value, str) else ""


def config_summary(manifest: Manifest, config: Descriptor | None, repository=None) -> ConfigSummary:
    """``repository``: the manifest's, when the caller has it loaded."""
    summary = ConfigSummary(
        platform=platform_label((manifest.platforms or [None])[0]), created=manifest.image_created_at
    )
    if config is None or config.media_type not in (*_IMAGE_CONFIGS, mt.HELM_CONFIG):
        return summary
    document = image_details.read_config(config.digest, config.size, repository or manifest.repository)
    if config.media_type == mt.HELM_CONFIG:
        summary.chart = [
            (label, str(document[key]))
            for key, label in (
                ("name", "Chart"),
                ("version", "Version"),
                ("appVersion", "App version"),
                ("description", "Description"),
            )
            if isinstance(document.get(key), str | int | float) and document.get(key) != ""
        ]
        return summary
    settings = document.get("config") if isinstance(document.get("config"), dict) else {}
    labels = settings.get("Labels") if isinstance(settings.get("Labels"), dict) else {}
    summary.labels = sorted((str(key), str(value)) for key, value in labels.items())
    summary.entrypoint = _words(settings.get("Entrypoint"))
    summary.command = _words(settings.get("Cmd"))
    summary.user = settings.get("User") if isinstance(settings.get("User"), str) else ""
    summary.working_dir = settings.get("WorkingDir") if isinstance(settings.get("WorkingDir"), str) else ""
    ports = settings.get("ExposedPorts") if isinstance(settings.get("ExposedPorts"), dict) else {}
    summary.ports = sorted(str(port) for port in ports)
    return summary


# -- pages ------------------------------------------------------------------------------------


def counted_page(queryset, number: int, per_page: int) -> Page | None:
    """Page ``number`` of ``queryset``, counted in the page's own query (a window
    count over the whole listing): one query where Django's Paginator takes two.
    None for a page past the last (the caller sends the reader to the last)."""
    offset = (number - 1) * per_page
    rows = list(queryset.annotate(listed=Window(Count("pk")))[offset : offset + per_page])
    if not rows and number > 1:
        return None
    paginator = Paginator(queryset, per_page)
    paginator.__dict__["count"] = rows[0].listed if rows else 0  # Paginator.count is a cached_property
    return Page(rows, number, paginator)


class _ImagesView(ConsoleView):
    section = "repositories"

    def _host(self) -> str:
        return registry_host(self.request)


class RepositoryImages(_ImagesView):
    """The repository's images and tags, filtered by tag and sorted, a page at a time."""

    template_name = "console/images/list.html"

    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DescribeImages")
        self.authorize("ecr:DescribeImages", repository=repository)
        filters = ImagesFilterForm(request.GET)
        context = {"repository": repository, "tab": "images", "filters": filters}
        if not filters.is_valid():
            return self.render({**context, "rows": [], "invalid": True}, status=400)
        query = filters.cleaned_data
        images = registry_selectors.repository_images(
            repository, tag_contains=query["tag"], order=query["sort"] or ImageOrder.PUSHED
        ).select_related("scan")
        page = counted_page(images, query["page"] or 1, IMAGES_PER_PAGE)
        if page is None:  # past the last page: to the last one
            last = Paginator(images, IMAGES_PER_PAGE).num_pages
            return redirect(f"{request.path}?{filters.page_query(page=last)}")
        manifests = list(page.object_list)
        can_see_replication = self.allowed("ecr:DescribeImageReplicationStatus", repository=repository)
        replications = {}
        if can_see_replication and manifests:
            replications = replication_selectors.statuses_by_image(repository, [m.digest for m in manifests])
        host = self._host()
        alias = self.primary_alias if repository.is_public else ""
        rows = []
        for manifest in manifests:
            tags = registry_selectors.tag_names_of(manifest)
            kind, label = image_kind(manifest)
            rows.append(
                ImageRow(
                    manifest=manifest,
                    tags=tags,
                    kind=kind,
                    kind_label=label,
                    entries=_sorted_entries([_listed_entry(ref.child) for ref in manifest.child_refs.all()]),
                    scan=scan_summary(manifest),
                    replications=replications.get(manifest.digest, []),
                    pull=pull_commands(
                        repository,
                        host=host,
                        alias=alias,
                        digest=manifest.digest,
                        tag=tags[0] if tags else None,
                        helm=kind == "helm",
                    ),
                )
            )
        return self.render(
            {
                **context,
                "page": page,
                "rows": rows,
                "page_query": filters.page_query(),
                "filtered": bool(query["tag"]),
                "sort": query["sort"] or ImageOrder.PUSHED,
                "can_see_replication": can_see_replication,
                "push_address": f"{host}/{repository.account_id}/{repository.name}",
            }
        )


@dataclass
class ImageFound:
    manifest: Manifest
    children: dict[str, Manifest]

    @property
    def tags(self) -> list[str]:
        return registry_selectors.tag_names_of(self.manifest)


class ImageDetail(_ImagesView):
    """One image: what it is, its platforms or layers, config, scan, copies and
    referrers; the forms to tag it, untag it and delete it."""

    template_name = "console/images/image.html"

    def get(self, request, name: str, digest: str):
        repository = self.repository_named(name, action="ecr:DescribeImages")
        self.authorize("ecr:DescribeImages", repository=repository, imageIds=[{"imageDigest": digest[:100]}])
        return self._page(repository, self._image(repository, digest))

    def post(self, request, name: str, digest: str):
        action = request.POST.get("action", "")
        if action == "retag":
            return self._retag(name, digest)
        if action == "untag":
            return self._untag(name, digest)
        if action == "delete":
            return self._delete(name, digest)
        repository = self.repository_named(name, action="ecr:DescribeImages")
        self.authorize("ecr:DescribeImages", repository=repository)
        found = self._image(repository, digest)
        return self._page(repository, found, problem="The form asked for nothing this page does.", status=400)

    # -- reading ------------------------------------------------------------------------------

    @staticmethod
    def _image(repository, digest: str) -> ImageFound:
        try:
            parse_digest(digest)
        except DigestInvalid:
            raise Http404(f"{digest[:100]} is not an image digest.") from None
        found = list(registry_selectors.image_with_entries(repository, digest).select_related("scan"))
        image = next((manifest for manifest in found if manifest.digest == digest), None)
        if image is None:
            raise Http404(f"There is no image {digest} in repository {repository.name}.")
        return ImageFound(image, {m.digest: m for m in found if m.pk != image.pk})

    def _page(self, repository, found: ImageFound, *, status: int = 200, problem: str = "", **forms):
        image = found.manifest
        tags = found.tags
        kind, kind_label = image_kind(image)
        try:
            parsed = parse_manifest(bytes(image.content), image.media_type)
        except DomainError:
            parsed = None  # schema 1, or a type the parser does not take apart
        entries: list[Entry] = []
        layers: list[Descriptor] = []
        config = ConfigSummary(platform=platform_label((image.platforms or [None])[0]), created=image.image_created_at)
        if parsed is not None and parsed.is_index:
            entries = [_descriptor_entry(d, found.children.get(d.digest)) for d in parsed.manifests]
        elif parsed is not None:
            layers = list(parsed.layers)
            config = config_summary(image, parsed.config, repository)
        # Findings: the image's own, an index's platforms'.
        scan = scan_summary(image)
        top_findings = []
        can_see_findings = self.allowed("ecr:DescribeImageScanFindings", repository=repository)
        if scan is not None and scan.complete and scan.total and can_see_findings:
            platforms = (
                [child for child in found.children.values() if child.media_type not in mt.INDEXES]
                if kind == "index"
                else [image]
            )
            top_findings = list(scanning_selectors.findings(image, platforms=platforms)[:TOP_FINDINGS])
        # Referrers of the image, and of each entry of an index.
        subjects = [image.digest, *found.children]
        forest = referrer_forest(registry_selectors.referrer_tree(repository, subjects), subjects)
        for entry in entries:
            entry.referrers = forest.get(entry.digest, [])
        can_see_replication = self.allowed("ecr:DescribeImageReplicationStatus", repository=repository)
        replications = replication_selectors.image_statuses(repository, image.digest) if can_see_replication else []
        host = self._host()
        alias = self.primary_alias if repository.is_public else ""
        can_put = self.allowed("ecr:PutImage", repository=repository)
        can_delete = self.allowed("ecr:BatchDeleteImage", repository=repository)
        context = {
            "repository": repository,
            "tab": "images",
            "image": image,
            "short": short_digest(image.digest),
            "tags": tags,
            "kind": kind,
            "kind_label": kind_label,
            "parsed": parsed,
            "platform_entries": _sorted_entries([e for e in entries if not e.attestation]),
            "attestation_entries": [e for e in entries if e.attestation],
            "layers": layers,
            "layers_size": sum(layer.size for layer in layers),
            "config_blob": parsed.config if parsed is not None else None,
            "config": config,
            "scan": scan,
            "can_see_findings": can_see_findings,
            "top_findings": top_findings,
            "referrers": forest[image.digest],
            "referrer_count": _count(forest[image.digest]),
            "entry_referrer_count": sum(_count(forest.get(e.digest, [])) for e in entries),
            "can_see_replication": can_see_replication,
            "replications": replications,
            "pull": pull_commands(
                repository, host=host, alias=alias, digest=image.digest, tag=(tags or [None])[0], helm=kind == "helm"
            ),
            "can_put": can_put,
            "can_delete": can_delete,
            "retag_form": forms.get("retag_form") or RetagForm(tags=tags),
            "untag_form": forms.get("untag_form"),
            "delete_form": forms.get("delete_form") or DeleteImageForm(digest=image.digest),
            "problem": problem,
        }
        return self.render(context, status=status)

    def _ensure_readable(self, repository) -> None:
        """A form sent back with errors shows the image again: only to who may read it."""
        if not self.allowed("ecr:DescribeImages", repository=repository):
            arn = self.repository_arn(repository.name)
            raise Refused(
                enforcement.NotAuthorized(
                    f"{self.caller.arn} is not authorized to perform ecr:DescribeImages on {arn}",
                    action="ecr:DescribeImages",
                    resource_arn=arn,
                )
            )

    def _failed(self, code: str, form) -> None:
        """The trail's record of a refused write says why, as the API's would (its error code)."""
        draft = audit_events.current(self.request)
        if draft is not None and not draft.error_code:
            errors = [str(error) for errors in form.errors.values() for error in errors]
            draft.error_code, draft.error_message = code, " ".join(errors)[:ERROR_MESSAGE_MAX_LENGTH]

    def _back(self, repository, digest: str):
        return redirect(reverse("console:image", kwargs={"name": repository.name, "digest": digest}))

    # -- writing ------------------------------------------------------------------------------

    def _retag(self, name: str, digest: str):
        repository = self.repository_named(name, action="ecr:PutImage")
        self.authorize("ecr:PutImage", repository=repository)
        found = self._image(repository, digest)
        form = RetagForm(self.request.POST, tags=found.tags)
        if form.is_valid():
            tag = form.cleaned_data["tag"]
            try:
                _, changed = registry_services.put_image(
                    repository=repository,
                    body=bytes(found.manifest.content),
                    media_type=found.manifest.media_type,
                    tag=tag,
                    digest=found.manifest.digest,
                    actor=self.actor,
                    context=self.context,
                )
            except TagImmutable as refusal:
                code = "image_tag_already_exists"
                form.add_error(
                    "tag",
                    f"Tag {tag} is immutable in this repository and already names image "
                    f"{short_digest(refusal.current)}: it cannot be moved to this one. Choose another tag, or "
                    "change the repository's tag mutability in its settings.",
                )
            except DomainError as refusal:
                code = "invalid"
                form.add_error("tag", str(refusal))
            else:
                if changed:
                    self.done(f"Tagged image {short_digest(digest)} as {tag}.")
                    return self._back(repository, digest)
                code = "image_already_exists"
                form.add_error("tag", f"This image is already tagged {tag}.")
        else:
            code = "invalid"
        self._failed(code, form)
        self._ensure_readable(repository)
        return self._page(repository, found, retag_form=form, status=400)

    def _untag(self, name: str, digest: str):
        repository = self.repository_named(name, action="ecr:BatchDeleteImage")
        self.authorize("ecr:BatchDeleteImage", repository=repository)
        found = self._image(repository, digest)
        form = RemoveTagForm(self.request.POST)
        if form.is_valid():
            tag = form.cleaned_data["tag"]
            if tag not in found.tags:
                form.add_error("tag", f"This image is not tagged {tag}.")
            else:
                registry_services.delete_tag(repository=repository, tag=tag, actor=self.actor, context=self.context)
                left = "" if len(found.tags) > 1 else "; the image stays, untagged"
                self.done(f"Removed tag {tag} from image {short_digest(digest)}{left}.")
                return self._back(repository, digest)
        self._failed("image_not_found" if "tag" in form.cleaned_data else "invalid", form)
        self._ensure_readable(repository)
        return self._page(repository, found, untag_form=form, status=400)

    def _delete(self, name: str, digest: str):
        repository = self.repository_named(name, action="ecr:BatchDeleteImage")
        self.authorize("ecr:BatchDeleteImage", repository=repository)
        found = self._image(repository, digest)
        form = DeleteImageForm(self.request.POST, digest=digest)
        if form.is_valid():
            done = registry_services.batch_delete_image(
                repository=repository,
                image_ids=[(digest, None)],
                cascade=form.cleaned_data["with_dependents"],
                actor=self.actor,
                context=self.context,
            )
            if not done.failures:
                removed = {removed_digest for removed_digest, _ in done.removed} - {digest}
                tags = [tag for removed_digest, tag in done.removed if removed_digest == digest and tag]
                text = f"Deleted image {short_digest(digest)}"
                if tags:
                    text += f" (tags {', '.join(tags)})" if len(tags) > 1 else f" (tag {tags[0]})"
                if removed:
                    text += f", and {len(removed)} {'manifest' if len(removed) == 1 else 'manifests'} only it held"
                self.done(text + ".")
                return redirect(reverse("console:repository-images", kwargs={"name": repository.name}))
            for _, _, failure in done.failures:
                form.add_error(None, failure.reason)
            self._failed(done.failures[0][2].code, form)
        else:
            self._failed("invalid", form)
        self._ensure_readable(repository)
        return self._page(repository, found, delete_form=form, status=400)


urlpatterns = [
    path("/repositories/<repo:name>", RepositoryImages.as_view(), name="repository-images"),
    path("/repositories/<repo:name>/-/images/<str:digest>", ImageDetail.as_view(), name="image"),
]
