"""Berth's data files are its own user's alone: after a push (chunked and
monolithic uploads), pulls, the audit events they leave and the Celery task a push
starts, nothing under a live server's data directory is open to group or others."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time

import requests

from .test_http import bearer

WAIT_SECONDS = 60


def wait_until_done(berth, query: str) -> bool:
    """Whether `query` (Python run by `berth shell`, printing `done` or not) prints
    `done` within WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        # --no-imports: Django's shell would print a line of its own about what it imported
        if berth.cli("shell", "--no-imports", "-c", query).stdout.split() == ["done"]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def test_nothing_under_the_data_dir_is_open_to_group_or_others(berth):
    account = berth.create_account("private files")
    name = f"{account.account_id}/modes"
    headers = bearer(berth, account, f"repository:{name}:pull,push")
    url = f"{berth.url}/v2/{name}"

    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    response = requests.post(f"{url}/blobs/uploads/?digest={config_digest}", data=config, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    layer = os.urandom(64 * 1024)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    session = requests.post(f"{url}/blobs/uploads/", headers=headers, timeout=30)
    assert session.status_code == 202, session.text
    chunk = requests.patch(
        berth.url + session.headers["Location"],
        data=layer,
        timeout=30,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert chunk.status_code == 202, chunk.text
    done = requests.put(
        berth.url + chunk.headers["Location"], params={"digest": layer_digest}, headers=headers, timeout=30
    )
    assert done.status_code == 201, done.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": len(layer)}
        ],
    }
    pushed = requests.put(
        f"{url}/manifests/v1",
        data=json.dumps(manifest),
        timeout=30,
        headers={**headers, "Content-Type": manifest["mediaType"]},
    )
    assert pushed.status_code == 201, pushed.text
    digest = pushed.headers["Docker-Content-Digest"]

    pulled = requests.get(f"{url}/manifests/v1", headers={**headers, "Accept": manifest["mediaType"]}, timeout=30)
    assert pulled.status_code == 200
    assert requests.get(f"{url}/blobs/{layer_digest}", headers=headers, timeout=30).content == layer

    # The worker ran the push's task, and the audit writer wrote the pulls to the trail.
    assert wait_until_done(
        berth,
        (
            "from apps.registry.models import Manifest; "
            f"print('done' if Manifest.objects.get(digest='{digest}').platforms else 'waiting')"
        ),
    )
    assert wait_until_done(
        berth,
        (
            "from apps.audit.models import Event; "
            f"print('done' if Event.objects.filter(repository='modes', recipient_account_id='{account.account_id}', "
            "event_name='GetDownloadUrlForLayer').exists() else 'waiting')"
        ),
    )

    open_to_others = []
    for directory, _subdirectories, files in os.walk(berth.data_dir):
        for entry in [directory, *(os.path.join(directory, name) for name in files)]:
            mode = stat.S_IMODE(os.lstat(entry).st_mode)
            if mode & 0o077:
                open_to_others.append(f"{oct(mode)} {os.path.relpath(entry, berth.data_dir)}")
    assert open_to_others == []
    written = {
        os.path.relpath(os.path.join(d, f), berth.data_dir).split(os.sep)[0]
        for d, _, files in os.walk(berth.data_dir)
        for f in files
    }
    assert {"blobs", "static", "audit-spool", "secret_key", "token-signing-key.pem"} <= written, written
