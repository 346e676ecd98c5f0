"""The registry tests' fixtures: a signed-in client and a repository name, and a
local S3 (moto's server) for the blob store tests: nothing leaves 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from apps.registry.storage import get_blob_store

REGION = "us-east-1"


@pytest.fixture
def alice(tenant, registry_client):
    """A registry client signed in as the tenant's owner."""
    return registry_client(tenant)


@pytest.fixture
def repo(tenant):
    """A repository name in the tenant's account (created by the first push)."""
    return f"{tenant.id}/app"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto_server(env: dict) -> tuple[subprocess.Popen, str]:
    script = Path(sys.executable).with_name("moto_server")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
    # The port is free when chosen but another process may take it before moto
    # binds it: then moto exits, and we try another.
    for _ in range(3):
        port = _free_port()
        process = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{port}"
        session = requests.Session()
        session.trust_env = False
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                # moto's first answer loads its backends: seconds on a busy host
                session.get(endpoint, timeout=10)
                return process, endpoint
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or not answering yet
                time.sleep(0.05)
        process.kill()
        process.wait()
    raise RuntimeError("moto_server did not start")


@pytest.fixture(scope="session")
def moto_endpoint():
    """The URL of a moto S3 server that lives for the whole test session."""
    fake_aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        # No profile, config file or instance metadata may leak into the tests.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"])),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in fake_aws.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        process, endpoint = start_moto_server(dict(os.environ))
        try:
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def s3_settings(settings, moto_endpoint):
    """Django settings for BLOB_STORAGE='s3' against a fresh bucket; yields its name."""
    bucket = f"berth-test-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    settings.BLOB_STORAGE = "s3"
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = moto_endpoint
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_LOCATION = ""
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    settings.BERTH_S3_REDIRECT = True
    settings.BERTH_S3_REDIRECT_EXPIRY = 300
    get_blob_store.cache_clear()
    yield bucket
    get_blob_store.cache_clear()


@pytest.fixture
def http():
    """requests without proxies from the environment: moto is on 127.0.0.1."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()
