"""The console's image pages: a repository's images and tags, one image (platforms,
layers, config, scan, copies, referrers as a tree), and its writes (add a tag,
remove a tag, delete the image), within the query budget, through the registry's
services with their audit events, for the account's own repositories only."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam import services as iam_services
from apps.registry.models import Manifest, Tag
from apps.replication.models import ImageReplication, ReplicationStatus
from apps.repositories import services as repository_services
from apps.repositories.models import Repository, TagMutability, Visibility
from apps.scanning.models import ImageScan, ScanStatus

from .conftest import PAGE_QUERY_BUDGET

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SBOM = "application/spdx+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short(digest: str) -> str:
    return digest[: len("sha256:") + 12]


class Pusher:
    """Pushes images, indexes and referrers to one repository through /v2/."""

    def __init__(self, client, tenant, repository: str) -> None:
        self.client = client
        self.name = f"{tenant.id}/{repository}"

    def image(self, reference: str | None = None, *, arch: str = "amd64", layer_sizes=(2048,), labels=None):
        """An image manifest (by digest when ``reference`` is None): (digest, its layers' and config's bytes)."""
        layers = [os.urandom(size) for size in layer_sizes]
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "created": "2026-01-02T03:04:05Z",
                "config": {"Labels": labels or {}, "Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "User": "app"},
                "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
            }
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": self.client.push_blob(self.name, config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": GZIP_LAYER, "digest": self.client.push_blob(self.name, layer), "size": len(layer)}
                for layer in layers
            ],
        }
        return self.manifest(manifest, reference), len(config) + sum(layer_sizes)

    def manifest(self, manifest: dict, reference: str | None = None) -> str:
        body = json.dumps(manifest).encode()
        response = self.client.push_manifest(self.name, reference or sha256(body), body, manifest["mediaType"])
        assert response.status_code == 201, response.content
        return response["Docker-Content-Digest"]

    def tag(self, digest: str, tag: str) -> None:
        """Push the stored manifest ``digest`` again under ``tag``."""
        stored = Manifest.objects.get(digest=digest, repository__name=self.name.split("/", 1)[1])
        response = self.client.push_manifest(self.name, tag, bytes(stored.content), stored.media_type)
        assert response.status_code == 201, response.content

    def index(self, reference: str, platforms: dict[str, str]) -> str:
        manifests = []
        for digest, arch in platforms.items():
            stored = Manifest.objects.get(digest=digest, repository__name=self.name.split("/", 1)[1])
            manifests.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": stored.size,
                    "platform": {"os": "linux", "architecture": arch},
                }
            )
        return self.manifest({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}, reference)

    def referrer(self, subject: str, artifact_type: str) -> str:
        stored = Manifest.objects.get(digest=subject, repository__name=self.name.split("/", 1)[1])
        empty = self.client.push_blob(self.name, b"{}")
        payload = os.urandom(64)
        return self.manifest(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
                "layers": [
                    {
                        "mediaType": "application/octet-stream",
                        "digest": self.client.push_blob(self.name, payload),
                        "size": 64,
                    }
                ],
                "subject": {"mediaType": stored.media_type, "digest": subject, "size": stored.size},
            }
        )


@pytest.fixture(autouse=True)
def _reads_spooled_as_on_a_server(settings):
    """The tests write each read event to the trail at once, in the request's queries,
    where a server spools it for the ingester (no query): left out here, the budget
    counts what the page costs a server. Writes are recorded as ever."""
    settings.BERTH_AUDIT_READ_EVENTS = False


@pytest.fixture
def repository(tenant, committed):
    with committed():
        return repository_services.create_repository(account=tenant.account, name="team/app", actor=ACTOR)


@pytest.fixture
def pusher(tenant, registry_client, repository):
    return Pusher(registry_client(tenant), tenant, "team/app")


def images_url(name: str = "team/app") -> str:
    return f"/console/repositories/{name}"


def image_url(digest: str, name: str = "team/app") -> str:
    return f"/console/repositories/{name}/-/images/{digest}"


def scanned(digest: str, repository, **counts) -> None:
    manifest = Manifest.objects.get(repository=repository, digest=digest)
    ImageScan.objects.create(
        manifest=manifest,
        status=ScanStatus.COMPLETE,
        requested_at=timezone.now(),
        completed_at=timezone.now(),
        severity_counts=counts,
        description="done",
    )


def replicated(digest: str, repository, region: str, status: str = ReplicationStatus.COMPLETE, **extra) -> None:
    ImageReplication.objects.create(
        repository=repository,
        image_digest=digest,
        destination_region=region,
        destination_registry_id=repository.account_id,
        status=status,
        **extra,
    )


# -- the list ---------------------------------------------------------------------------------


def test_the_list_shows_every_image_once_within_the_budget(root_client, within_budget, pusher, repository, committed):
    with committed():
        tagged = []
        for n in range(26):
            digest, _ = pusher.image(f"v{n}")
            tagged.append(digest)
        pusher.tag(tagged[3], "also-v3")
        amd, amd_size = pusher.image(arch="amd64", layer_sizes=(4096, 1024))
        arm, arm_size = pusher.image(arch="arm64", layer_sizes=(3000,))
        index = pusher.index("multi", {amd: "amd64", arm: "arm64"})
        signature = pusher.referrer(index, SIGNATURE)
        loose, _ = pusher.image()  # untagged, listed by no index: an image of its own
    for n, digest in enumerate(tagged):
        scanned(digest, repository, HIGH=n % 3, LOW=1)
        replicated(digest, repository, "eu-west-1")
        replicated(
            digest, repository, "us-east-1", ReplicationStatus.FAILED, failure_code="AccessDenied", failure_reason="no"
        )

    page = within_budget(root_client, images_url()).content.decode()
    second = within_budget(root_client, images_url() + "?page=2").content.decode()
    both = page + second

    rows = re.findall(r'<tr class="image-row">', page)
    assert len(rows) == 25  # a page
    assert "28 images" in page  # 26 tagged, the index and the loose image; entries and referrers are no rows
    for digest in (amd, arm, signature):
        assert f'/-/images/{digest}"' not in both
    for digest in (index, loose, *tagged):
        assert both.count(f'<a href="/console/repositories/team/app/-/images/{digest}" title') == 1
    # newest first: the loose image, then the index
    assert page.index(short(loose)) < page.index(short(index)) < page.index(short(tagged[25]))
    assert '<li class="tag">also-v3</li>' in both and '<li class="tag">v3</li>' in both
    assert "Multi-arch index" in page and "untagged" in page
    assert "1 high" in page and "1 low" in page
    assert "eu-west-1" in page and "failed" in page and "complete" in page
    assert "1 attestation" not in page
    # copy buttons for pull by tag and by digest
    assert f"docker pull testserver/{repository.account_id}/team/app:multi" in page
    assert f"docker pull testserver/{repository.account_id}/team/app@{index}" in page
    assert 'data-copy-target="pull-' in page


def test_an_index_shows_each_platforms_size_not_their_sum(root_client, within_budget, pusher, committed):
    with committed():
        amd, amd_size = pusher.image(arch="amd64", layer_sizes=(300 * 1024,))
        arm, arm_size = pusher.image(arch="arm64", layer_sizes=(100 * 1024,))
        index = pusher.index("multi", {amd: "amd64", arm: "arm64"})
    assert Manifest.objects.get(digest=index).total_size == amd_size + arm_size  # what the API's DescribeImages says

    listed = within_budget(root_client, images_url()).content.decode()
    shown = within_budget(root_client, image_url(index)).content.decode()
    for page in (listed, shown):
        assert "linux/amd64" in page and "linux/arm64" in page
        assert "300." in page and "100." in page  # each platform's KiB
        assert "400." not in page  # never their sum
    assert f"/-/images/{amd}" in shown and f"/-/images/{arm}" in shown


def test_filter_by_tag_and_sort(root_client, within_budget, pusher, committed):
    with committed():
        small, _ = pusher.image("release-1.0", layer_sizes=(1024,))
        big, _ = pusher.image("release-2.0", layer_sizes=(200 * 1024,))
        other, _ = pusher.image("nightly", layer_sizes=(50 * 1024,))

    def order(page: str) -> list[str]:
        found = re.findall(r"/-/images/(sha256:[0-9a-f]{64})\" title", page)
        return list(dict.fromkeys(found))

    filtered = within_budget(root_client, images_url() + "?tag=RELEASE").content.decode()
    assert order(filtered) == [big, small]
    assert "2 images with a tag containing" in filtered
    assert order(within_budget(root_client, images_url() + "?sort=tag").content.decode()) == [other, small, big]
    assert order(within_budget(root_client, images_url() + "?sort=size").content.decode()) == [big, other, small]
    assert order(within_budget(root_client, images_url() + "?sort=pushed").content.decode()) == [other, big, small]
    nothing = within_budget(root_client, images_url() + "?tag=nope").content.decode()
    assert "No image has a tag containing “nope”" in nothing


def test_a_sort_it_does_not_know_is_a_readable_400(root_client, within_budget, pusher, committed):
    with committed():
        pusher.image("v1")
    response = within_budget(root_client, images_url() + "?sort=colour", status=400)
    assert "Sort by: Select a valid choice" in response.content.decode()


def test_an_empty_repository_says_how_to_push(root_client, within_budget, repository):
    page = within_budget(root_client, images_url()).content.decode()
    assert "No images yet" in page
    assert f"docker push testserver/{repository.account_id}/team/app:latest" in page


def test_a_public_repository_offers_the_alias_address_too(root_client, within_budget, tenant, pusher, committed):
    Repository.objects.filter(account=tenant.account, name="team/app").update(visibility=Visibility.PUBLIC)
    with committed():
        digest, _ = pusher.image("v1")
    page = within_budget(root_client, images_url()).content.decode()
    alias = tenant.account.primary_alias
    assert f"docker pull testserver/{alias}/team/app:v1" in page
    assert f"docker pull testserver/{tenant.id}/team/app:v1" in page
    image = within_budget(root_client, image_url(digest)).content.decode()
    assert f"docker pull testserver/{alias}/team/app@{digest}" in image


# -- one image --------------------------------------------------------------------------------


def test_an_image_page_within_the_budget(root_client, within_budget, pusher, repository, committed):
    with committed():
        digest, size = pusher.image("v1", layer_sizes=(2048, 4096), labels={"org.opencontainers.image.title": "app"})
        pusher.tag(digest, "stable")
    scanned(digest, repository, CRITICAL=2, HIGH=1)
    replicated(digest, repository, "eu-west-1")
    replicated(
        digest, repository, "us-east-1", ReplicationStatus.FAILED, failure_code="AccessDenied", failure_reason="denied"
    )
    Manifest.objects.filter(digest=digest).update(last_pulled_at=timezone.now() - timedelta(hours=3))

    page = within_budget(root_client, image_url(digest)).content.decode()
    assert digest in page and OCI_MANIFEST in page
    assert '<li class="tag">stable' in page and '<li class="tag">v1' in page
    assert "2 layers" in page and "4.0\xa0KiB" in page and "2.0\xa0KiB" in page
    assert "org.opencontainers.image.title" in page and "/bin/app" in page and "linux/amd64" in page
    assert "2 critical" in page and "1 high" in page
    assert "eu-west-1" in page and "AccessDenied: denied" in page
    assert "3\xa0hours ago" in page or "3 hours ago" in page
    assert f"docker pull testserver/{repository.account_id}/team/app:stable" in page
    assert f"docker pull testserver/{repository.account_id}/team/app@{digest}" in page
    assert 'data-copy-target="pull-digest-1"' in page and 'data-copy-target="image-digest"' in page
    assert 'data-confirm-word="' + short(digest) + '"' in page


def test_the_referrers_show_as_a_tree(root_client, within_budget, pusher, committed):
    with committed():
        amd, _ = pusher.image(arch="amd64")
        arm, _ = pusher.image(arch="arm64")
        index = pusher.index("multi", {amd: "amd64", arm: "arm64"})
        signature = pusher.referrer(index, SIGNATURE)
        sbom = pusher.referrer(index, SBOM)
        sbom_signature = pusher.referrer(sbom, SIGNATURE)
        countersignature = pusher.referrer(sbom_signature, SIGNATURE)
        platform_signature = pusher.referrer(amd, SIGNATURE)

    response = within_budget(root_client, image_url(index))
    tree = response.context["referrers"]
    assert [(node.manifest.digest, node.kind) for node in tree] == [(signature, "Signature"), (sbom, "SBOM")]
    assert tree[0].children == []
    (nested,) = tree[1].children
    assert (nested.manifest.digest, nested.kind) == (sbom_signature, "Signature")
    assert [node.manifest.digest for node in nested.children] == [countersignature]
    entries = {entry.digest: entry for entry in response.context["platform_entries"]}
    assert [node.manifest.digest for node in entries[amd].referrers] == [platform_signature]
    page = response.content.decode()
    assert page.count('<ul class="referrer-tree">') == 4  # the index's three levels, the amd64 image's one
    assert SBOM in page and SIGNATURE in page

    # a listed image counts its direct referrers
    listed = within_budget(root_client, images_url()).content.decode()
    assert f'/-/images/{index}#referrers" aria-label="2 referrers">2</a>' in listed
    # and the SBOM's own page shows what refers to it
    sbom_page = within_budget(root_client, image_url(sbom)).content.decode()
    assert short(countersignature) in sbom_page and f"/-/images/{index}" in sbom_page


def test_a_scanned_image_lists_its_most_severe_findings(tenant, root_client, within_budget, registry_client, committed):
    from apps.scanning import vulndb
    from apps.scanning.tests.test_scans import FIXTURES, debian_python_layers, push

    with committed():
        vulndb.import_paths([str(FIXTURES)])
        repository_services.create_repository(account=tenant.account, name="team/app", scan_on_push=True, actor=ACTOR)
        digest = push(registry_client(tenant), f"{tenant.id}/team/app", "v1", debian_python_layers())
    scan = ImageScan.objects.get(manifest__digest=digest)
    assert scan.status == "COMPLETE" and scan.severity_counts
    response = within_budget(root_client, image_url(digest))
    findings = response.context["top_findings"]
    assert findings and len(findings) <= 10
    page = response.content.decode()
    first = findings[0]
    assert first.advisory_id in page and first.package.name in page and first.package.version in page
    ranks = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
    assert [ranks.index(f.severity) for f in findings] == sorted(ranks.index(f.severity) for f in findings)
    assert any(f.fixed_version and f.fixed_version in page for f in findings)


def test_an_unknown_or_malformed_digest_is_not_found(root_client, within_budget, pusher, committed):
    with committed():
        pusher.image("v1")
    within_budget(root_client, image_url("sha256:" + "0" * 64), status=404)
    within_budget(root_client, image_url("sha256:nothex"), status=404)


# -- writes ----------------------------------------------------------------------------------


def events(name: str) -> list[Event]:
    return list(Event.objects.filter(event_name=name).order_by("sequence"))


def test_retag_points_a_new_tag_at_the_image_with_its_audit_event(root_client, pusher, tenant, committed):
    with committed():
        digest, _ = pusher.image("v1")
    before = len(events("PutImage"))
    response = root_client.post(image_url(digest), {"action": "retag", "tag": "stable"})
    assert response.status_code == 302 and response["Location"] == image_url(digest)
    assert Tag.objects.get(repository__name="team/app", name="stable").manifest.digest == digest
    recorded = events("PutImage")[before:]
    assert len(recorded) == 1 and recorded[0].actor_account_id == tenant.id and recorded[0].image_tag == "stable"
    page = root_client.get(response["Location"]).content.decode()
    assert f"Tagged image {short(digest)} as stable." in page


def test_retag_refuses_what_a_tag_cannot_be(root_client, pusher, committed):
    with committed():
        digest, _ = pusher.image("v1")
    response = root_client.post(image_url(digest), {"action": "retag", "tag": "-bad tag"})
    assert response.status_code == 400 and "A tag is 1 to 300 letters" in response.content.decode()
    response = root_client.post(image_url(digest), {"action": "retag", "tag": "v1"})
    assert response.status_code == 400 and "already tagged v1" in response.content.decode()
    assert list(Tag.objects.filter(repository__name="team/app").values_list("name", flat=True)) == ["v1"]


def test_an_immutable_tag_is_refused_with_a_message(root_client, tenant, pusher, committed):
    with committed():
        first, _ = pusher.image("v1")
        second, _ = pusher.image("v2")
    Repository.objects.filter(account=tenant.account, name="team/app").update(
        image_tag_mutability=TagMutability.IMMUTABLE
    )
    before = len(events("PutImage"))
    response = root_client.post(image_url(second), {"action": "retag", "tag": "v1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Tag v1 is immutable in this repository" in page and short(first) in page
    assert Tag.objects.get(repository__name="team/app", name="v1").manifest.digest == first
    (refused,) = events("PutImage")[before:]  # the refusal is in the trail, the change is not
    assert refused.error_code == "image_tag_already_exists" and "Tag v1 is immutable" in refused.error_message


def test_a_mutable_tag_moves_here(root_client, pusher, committed):
    with committed():
        first, _ = pusher.image("v1")
        second, _ = pusher.image("v2")
    response = root_client.post(image_url(second), {"action": "retag", "tag": "v1"})
    assert response.status_code == 302
    assert Tag.objects.get(repository__name="team/app", name="v1").manifest.digest == second


def test_remove_a_tag_keeps_the_image(root_client, pusher, committed):
    with committed():
        digest, _ = pusher.image("v1")
        pusher.tag(digest, "v2")
    before = len(events("BatchDeleteImage"))
    response = root_client.post(image_url(digest), {"action": "untag", "tag": "v1"})
    assert response.status_code == 302
    assert list(Tag.objects.filter(repository__name="team/app").values_list("name", flat=True)) == ["v2"]
    assert len(events("BatchDeleteImage")) == before + 1
    response = root_client.post(image_url(digest), {"action": "untag", "tag": "v2"})
    assert response.status_code == 302 and Manifest.objects.filter(digest=digest).exists()
    assert "the image stays, untagged" in root_client.get(image_url(digest)).content.decode()
    response = root_client.post(image_url(digest), {"action": "untag", "tag": "v9"})
    assert response.status_code == 400 and "This image is not tagged v9." in response.content.decode()


def test_delete_asks_for_the_short_digest_then_deletes_with_its_referrers(root_client, pusher, committed):
    with committed():
        digest, _ = pusher.image("v1")
        signature = pusher.referrer(digest, SIGNATURE)
    response = root_client.post(image_url(digest), {"action": "delete", "confirm": "yes", "with_dependents": "on"})
    assert response.status_code == 400 and f"Type {short(digest)} to delete this image." in response.content.decode()
    assert Manifest.objects.filter(digest=digest).exists()

    before = len(events("BatchDeleteImage"))
    response = root_client.post(
        image_url(digest), {"action": "delete", "confirm": short(digest), "with_dependents": "on"}
    )
    assert response.status_code == 302 and response["Location"] == images_url()
    assert not Manifest.objects.filter(digest__in=[digest, signature]).exists()
    recorded = events("BatchDeleteImage")[before:]
    assert len(recorded) == 1 and recorded[0].request_parameters["withDependents"] is True
    page = root_client.get(images_url()).content.decode()
    assert f"Deleted image {short(digest)} (tag v1), and 1 manifest only it held." in page


def test_an_image_an_index_lists_is_not_deleted(root_client, pusher, committed):
    with committed():
        amd, _ = pusher.image(arch="amd64")
        arm, _ = pusher.image(arch="arm64")
        index = pusher.index("multi", {amd: "amd64", arm: "arm64"})
    response = root_client.post(image_url(amd), {"action": "delete", "confirm": short(amd)})
    assert response.status_code == 400
    assert f"is referenced by manifest list {index}" in response.content.decode()
    assert Manifest.objects.filter(digest=amd).exists()
    # deleting the index with its dependents takes the entries only it listed
    response = root_client.post(
        image_url(index), {"action": "delete", "confirm": short(index), "with_dependents": "on"}
    )
    assert response.status_code == 302
    assert not Manifest.objects.filter(digest__in=[index, amd, arm]).exists()


def test_an_unknown_action_is_a_400(root_client, pusher, committed):
    with committed():
        digest, _ = pusher.image("v1")
    response = root_client.post(image_url(digest), {"action": "paint"})
    assert response.status_code == 400 and "The form asked for nothing this page does." in response.content.decode()


# -- whose, and who may ----------------------------------------------------------------------


def test_another_accounts_repository_and_images_are_never_found(
    root_client, within_budget, other_tenant, registry_client, pusher, committed
):
    with committed():
        repository_services.create_repository(account=other_tenant.account, name="their/app", actor=ACTOR)
        theirs, _ = Pusher(registry_client(other_tenant), other_tenant, "their/app").image("v1")
        mine, _ = pusher.image("v1")
    within_budget(root_client, images_url("their/app"), status=404)
    within_budget(root_client, image_url(theirs, "their/app"), status=404)
    within_budget(root_client, image_url(theirs), status=404)  # under my repository's name
    response = root_client.post(image_url(theirs, "their/app"), {"action": "delete", "confirm": short(theirs)})
    assert response.status_code == 404 and Manifest.objects.filter(digest=theirs).exists()
    assert within_budget(root_client, image_url(mine)).status_code == 200


@pytest.fixture
def iam_client(client, tenant):
    def make(*actions: str):
        user = iam_services.create_user(account=tenant.account, username=f"u{len(actions)}", actor=ACTOR)
        if actions:
            document = json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
            )
            policy = iam_services.create_policy(
                account=tenant.account, name=f"p{len(actions)}", document=document, actor=ACTOR
            )
            iam_services.attach_policy(account=tenant.account, managed_policy=policy, user=user, actor=ACTOR)
        client.force_login(get_user_model().objects.get(pk=user.pk))
        return client

    return make


def test_an_iam_user_without_describe_images_gets_the_403_page(iam_client, pusher, committed):
    with committed():
        digest, _ = pusher.image("v1")
    client = iam_client("ecr:ListImages")
    for url in (images_url(), image_url(digest)):
        response = client.get(url)
        assert response.status_code == 403
        assert "ecr:DescribeImages" in response.content.decode()


def test_an_iam_reader_sees_no_write_forms_and_cannot_write(iam_client, within_budget, pusher, committed):
    with committed():
        digest, _ = pusher.image("v1")
    client = iam_client("ecr:DescribeImages")
    page = within_budget(client, image_url(digest), budget=PAGE_QUERY_BUDGET + 2).content.decode()
    assert 'name="action" value="retag"' not in page and 'name="action" value="delete"' not in page
    assert "Replication" not in page  # no ecr:DescribeImageReplicationStatus
    response = client.post(image_url(digest), {"action": "retag", "tag": "stable"})
    assert response.status_code == 403 and "ecr:PutImage" in response.content.decode()
    response = client.post(image_url(digest), {"action": "delete", "confirm": short(digest)})
    assert response.status_code == 403 and "ecr:BatchDeleteImage" in response.content.decode()
    assert not Tag.objects.filter(name="stable").exists() and Manifest.objects.filter(digest=digest).exists()


def test_a_helm_chart_shows_its_chart_and_pulls_with_helm(root_client, within_budget, pusher, repository, committed):
    chart_config = json.dumps({"name": "web", "version": "1.2.3", "appVersion": "4.5", "apiVersion": "v2"}).encode()
    chart = os.urandom(512)
    with committed():
        digest = pusher.manifest(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.cncf.helm.config.v1+json",
                    "digest": pusher.client.push_blob(pusher.name, chart_config),
                    "size": len(chart_config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                        "digest": pusher.client.push_blob(pusher.name, chart),
                        "size": len(chart),
                    }
                ],
            },
            "1.2.3",
        )
    listed = within_budget(root_client, images_url()).content.decode()
    assert "Helm chart" in listed
    assert f"helm pull oci://testserver/{repository.account_id}/team/app --version 1.2.3" in listed
    shown = within_budget(root_client, image_url(digest)).content.decode()
    assert "<dt>Chart</dt><dd>web</dd>" in shown and "<dt>App version</dt><dd>4.5</dd>" in shown
    assert f"helm pull oci://testserver/{repository.account_id}/team/app@{digest}" in shown


def test_a_page_past_the_last_leads_to_the_last(root_client, within_budget, pusher, committed):
    with committed():
        digest, _ = pusher.image("release-1")
    response = within_budget(root_client, images_url() + "?tag=release&sort=tag&page=9", status=302)
    assert response["Location"] == images_url() + "?tag=release&sort=tag&page=1"
    page = within_budget(root_client, response["Location"]).content.decode()
    assert short(digest) in page and "1 image with a tag" in page
