"""Fixtures for the apps' own tests (Django test client, test database)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.accounts.models import Account
from apps.audit.events import Actor
from apps.registry import traffic

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fast_hashing_and_fresh_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A fresh key prefix instead of cache.clear(): clearing Redis would also flush
    # whatever else shares the database (a live server's Celery queue).
    backend = caches["default"]
    previous = backend.key_prefix
    backend.key_prefix = f"test-{uuid.uuid4().hex}"
    yield
    backend.key_prefix = previous


@pytest.fixture(autouse=True)
def _fresh_traffic_tallies():
    """Served-bytes tallies are per process: each test counts from nothing, and no
    flush falls due in the middle of one that counts queries."""
    traffic.reset()
    yield
    traffic.reset()


@dataclass
class Tenant:
    account: Account
    username: str
    password: str = PASSWORD

    @property
    def id(self) -> str:
        return self.account.id

    @property
    def alias(self) -> str:
        return self.account.default_alias


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs the block as if its transactions committed: the
    domain events it publishes reach their subscribers as it ends. (A test runs in a
    transaction that never commits, where nothing would be delivered.)"""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def make_tenant(db):
    counter = iter(range(1000))

    def make(name: str | None = None) -> Tenant:
        n = next(counter)
        username = f"{name or 'user'}{n}-{os.getpid()}"
        account = account_services.create_account(name=name or f"tenant{n}", username=username, password=PASSWORD)
        return Tenant(account=account, username=username)

    return make


@pytest.fixture
def tenant(make_tenant) -> Tenant:
    return make_tenant("alice")


@pytest.fixture
def other_tenant(make_tenant) -> Tenant:
    return make_tenant("mallory")


class RegistryClient:
    """Django's test client speaking the registry protocol: fetches a token for the
    scope it needs, like docker does."""

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.client = Client()
        self.credentials = credentials

    def token(self, *scopes: str) -> str:
        headers = {}
        if self.credentials:
            raw = f"{self.credentials[0]}:{self.credentials[1]}".encode()
            headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(raw).decode()
        query = "&".join(f"scope={s}" for s in scopes)
        response = self.client.get(f"/token?service=berth-registry&{query}", **headers)
        assert response.status_code == 200, response.content
        return response.json()["token"]

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str | None = None,
        data: bytes = b"",
        content_type: str = "application/octet-stream",
        headers: dict | None = None,
        token: str | None = None,
    ):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if token is None and scope is not None:
            token = self.token(scope)
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return self.client.generic(method, path, data=data, content_type=content_type, **extra)

    # conveniences over the protocol
    def push_blob(self, name: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        response = self.request(
            "POST", f"/v2/{name}/blobs/uploads/?digest={digest}", scope=f"repository:{name}:pull,push", data=data
        )
        assert response.status_code == 201, response.content
        return digest

    def push_manifest(self, name: str, reference: str, manifest: dict | bytes, media_type: str | None = None):
        body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        media_type = (
            media_type
            or (manifest.get("mediaType") if isinstance(manifest, dict) else None)
            or "application/vnd.oci.image.manifest.v1+json"
        )
        return self.request(
            "PUT",
            f"/v2/{name}/manifests/{reference}",
            scope=f"repository:{name}:pull,push",
            data=body,
            content_type=media_type,
        )

    def push_image(self, name: str, reference: str, *, layers: int = 1, seed: bytes = b"") -> tuple[str, dict]:
        layer_blobs = [os.urandom(1024) + seed + bytes([i]) for i in range(layers)]
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": "2026-01-02T03:04:05Z",
                "rootfs": {
                    "type": "layers",
                    "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest() for data in layer_blobs],
                },
                "config": {"Labels": {"seed": seed.hex()}},
            }
        ).encode()
        config_digest = self.push_blob(name, config)
        layer_descriptors = [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": self.push_blob(name, data),
                "size": len(data),
            }
            for data in layer_blobs
        ]
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": layer_descriptors,
        }
        response = self.push_manifest(name, reference, manifest)
        assert response.status_code == 201, response.content
        return response["Docker-Content-Digest"], manifest


@pytest.fixture
def registry_client():
    def make(tenant: Tenant | None = None, *, password: str | None = None) -> RegistryClient:
        if tenant is None:
            return RegistryClient(None)
        return RegistryClient((tenant.username, password or tenant.password))

    return make


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def api_client():
    """DRF's test client for the management API, signed with a new access key of the
    tenant's user (each call takes one of the user's two active key slots)."""

    def make(tenant: Tenant | None = None) -> APIClient:
        client = APIClient()
        if tenant is not None:
            user = get_user_model().objects.get(username=tenant.username)
            new_key = account_services.create_access_key(actor=Actor.system("test"), user=user)
            client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))
        return client

    return make
