"""The console's image pages in a real browser against a live server: a multi-arch
image pushed with skopeo, a signature and an SBOM (and a signature of the SBOM)
pushed as referrers over the registry API, the list and the image pages at a desk
and on a phone, copy buttons, adding a tag and deleting an image."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

import pytest
import requests

from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.e2e import images
from tests.e2e.conftest import need, run_isolated

# Run beside the SQLite pass in the PostgreSQL one, which ends sooner: the two passes take about as long then.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SBOM = "application/spdx+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short(digest: str) -> str:
    return digest[: len("sha256:") + 12]


class Registry:
    """One repository over the distribution API, with a pull,push token."""

    def __init__(self, berth, account, name: str) -> None:
        self.base = f"{berth.url}/v2/{account.account_id}/{name}"
        self.berth = berth
        challenge = requests.get(f"{berth.url}/v2/", timeout=10).headers["WWW-Authenticate"]
        realm = re.search(r'realm="([^"]+)"', challenge).group(1)
        service = re.search(r'service="([^"]+)"', challenge).group(1)
        answer = requests.get(
            realm,
            params={"service": service, "scope": f"repository:{account.account_id}/{name}:pull,push"},
            auth=(account.username, account.password),
            timeout=30,
        )
        answer.raise_for_status()
        body = answer.json()
        self.auth = {"Authorization": f"Bearer {body.get('token') or body['access_token']}"}

    def blob(self, data: bytes) -> str:
        digest = sha256(data)
        started = requests.post(f"{self.base}/blobs/uploads/", headers=self.auth, timeout=30)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        location = location if location.startswith("http") else self.berth.url + location
        done = requests.put(
            location,
            params={"digest": digest},
            data=data,
            headers={**self.auth, "Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert done.status_code == 201, done.text
        return digest

    def referrer(self, subject: dict, artifact_type: str) -> tuple[str, dict]:
        """Pushes an artifact whose subject is ``subject`` (a descriptor): its digest and descriptor."""
        payload = os.urandom(128)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": {"mediaType": OCI_EMPTY, "digest": self.blob(b"{}"), "size": 2},
                "layers": [{"mediaType": "application/octet-stream", "digest": self.blob(payload), "size": 128}],
                "subject": subject,
            }
        ).encode()
        digest = sha256(manifest)
        answer = requests.put(
            f"{self.base}/manifests/{digest}",
            data=manifest,
            headers={**self.auth, "Content-Type": OCI_MANIFEST},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return digest, {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest)}


@pytest.fixture
def pushed(berth, console_account, tmp_path):
    """In `web/app` of the console's account: `multi` (linux/amd64 + linux/arm64/v8)
    with a signature, an SBOM and a signature of the SBOM; `v1` (one image)."""
    need("skopeo")
    account = console_account
    berth.create_repository(account.account_id, "web/app")
    multi = images.build_multiarch_index(tmp_path / "multi", tag="multi")
    single = images.build_oci_image(tmp_path / "single", tag="v1")
    for layout, tag, extra in ((multi, "multi", ["--all"]), (single, "v1", [])):
        run_isolated(
            [
                "skopeo",
                "copy",
                "-q",
                *extra,
                "--dest-tls-verify=false",
                "--dest-creds",
                account.creds,
                f"oci:{layout.path}:{tag}",
                f"docker://{berth.host}/{account.account_id}/web/app:{tag}",
            ],
            tmp_path / "skopeo",
        )
    registry = Registry(berth, account, "web/app")
    subject = {"mediaType": images.OCI_INDEX, "digest": multi.index_digest, "size": len(multi.index)}
    signature, _ = registry.referrer(subject, SIGNATURE)
    sbom, sbom_descriptor = registry.referrer(subject, SBOM)
    sbom_signature, _ = registry.referrer(sbom_descriptor, SIGNATURE)
    return {
        "index": multi.index_digest,
        "platforms": [image.manifest_digest for image in multi.images],
        "single": single.manifest_digest,
        "signature": signature,
        "sbom": sbom,
        "sbom_signature": sbom_signature,
    }


def measured(page, url: str, *, seconds: float = 30) -> None:
    """Opens ``url`` until the worker has measured what it shows (no "measuring…" left)."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        if "measuring…" not in page.content() or time.monotonic() > deadline:
            return
        time.sleep(0.5)


def test_the_list_and_the_image_page(console, pushed, artifacts):
    list_url = "/console/repositories/web/app"
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = console(viewport=viewport)
        measured(page, list_url)
        assert page.title().startswith("web/app · Images")
        rows = page.locator("tbody.image")
        assert rows.count() == 2  # the index and the single image; entries and referrers live on their pages
        assert "measuring…" not in page.content()
        index_row = rows.filter(has_text="multi")
        assert index_row.get_by_text("Multi-arch index").is_visible()
        assert (
            index_row.get_by_text("linux/amd64").is_visible() and index_row.get_by_text("linux/arm64/v8").is_visible()
        )
        assert index_row.get_by_role("link", name="2 referrers").is_visible()  # its two referrers
        for digest in pushed["platforms"] + [pushed["signature"], pushed["sbom"]]:
            assert short(digest) not in page.content()
        # the copy buttons are there once the script runs
        copy = index_row.get_by_role("button", name=re.compile("Copy the digest"))
        assert copy.is_visible()
        index_row.locator("details.pull-commands summary").click()
        command = index_row.locator("details.pull-commands code").first
        assert command.is_visible() and command.inner_text().endswith("/web/app:multi")
        assert index_row.locator("details.pull-commands .copy-button").first.is_visible()
        shoot(page, artifacts, f"console-images-list-{name}")

        # the index's page: each platform with its own digest and size, the referrers as a tree
        index_row.get_by_role("link", name=short(pushed["index"])).click()
        page.wait_for_url(f"**/-/images/{pushed['index']}")
        platforms = page.locator("table.entries-table tbody tr")
        assert platforms.count() == 2
        for digest in pushed["platforms"]:
            assert page.get_by_role("link", name=short(digest)).first.is_visible()
        tree = page.locator("#referrers > ul.referrer-tree")
        assert tree.locator(":scope > li").count() == 2  # the signature and the SBOM
        sbom_item = tree.locator(":scope > li").filter(has_text=short(pushed["sbom"]))
        assert sbom_item.locator("ul.referrer-tree").get_by_text(short(pushed["sbom_signature"])).is_visible()
        assert page.get_by_text(SBOM).first.is_visible()
        assert page.locator("#pull-digest-1").inner_text().endswith(f"@{pushed['index']}")
        assert page.get_by_role("button", name="Copy").first.is_visible()
        shoot(page, artifacts, f"console-image-index-{name}")

        # a platform's own page: its layers
        page.get_by_role("link", name=short(pushed["platforms"][0])).first.click()
        page.wait_for_url(f"**/-/images/{pushed['platforms'][0]}")
        assert page.locator("table.layers-table tbody tr").count() >= 1
        shoot(page, artifacts, f"console-image-platform-{name}")


def test_add_a_tag_then_delete_the_image(console, pushed, artifacts):
    page = console(viewport=DESKTOP)
    single = pushed["single"]
    page.goto(f"/console/repositories/web/app/-/images/{single}")
    page.get_by_label("Add a tag").fill("stable")
    page.get_by_role("button", name="Add tag").click()
    page.wait_for_url(f"**/-/images/{single}")
    assert page.get_by_text(f"Tagged image {short(single)} as stable.").is_visible()
    assert page.locator(".tag-list .tag").filter(has_text="stable").is_visible()

    # a tag the grammar refuses is said beside the field
    page.get_by_label("Add a tag").fill("-nope")
    page.get_by_role("button", name="Add tag").click()
    assert page.locator(".retag-form .errorlist").get_by_text(re.compile("A tag is 1 to 300")).is_visible()
    shoot(page, artifacts, "console-image-retag-error")

    # removing one tag keeps the image
    page.goto(f"/console/repositories/web/app/-/images/{single}")
    page.get_by_role("button", name="Remove tag v1").click()
    assert page.get_by_text(f"Removed tag v1 from image {short(single)}.").is_visible()

    # the delete button wakes once the short digest is typed
    delete = page.get_by_role("button", name="Delete image")
    assert delete.is_disabled()
    page.get_by_label(re.compile("to confirm")).fill(short(single))
    assert delete.is_enabled()
    shoot(page, artifacts, "console-image-delete")
    delete.click()
    page.wait_for_url("**/console/repositories/web/app")
    assert page.get_by_text(f"Deleted image {short(single)} (tag stable).").is_visible()
    assert page.locator("tbody.image").count() == 1
    phone = console(viewport=PHONE)
    phone.goto("/console/repositories/web/app")
    shoot(phone, artifacts, "console-images-after-delete")
