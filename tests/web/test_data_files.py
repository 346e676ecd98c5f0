"""Signing keys and the generated secret key are 0600 in 0700 directories, whatever
the umask of the process that makes them; settings make every later file private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from apps.kernel.datadir import keep_private
from apps.kernel.secrets import data_dir_secret
from apps.registry.keys import load_or_create_pem


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_signing_key_and_its_new_directory_are_private(tmp_path, loose_umask):
    key_file = tmp_path / "keys" / "schema1-signing-key.pem"

    load_or_create_pem(key_file, lambda: ec.generate_private_key(ec.SECP256R1()))

    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]  # no temporary file left


def test_the_generated_secret_key_and_a_new_data_dir_are_private(tmp_path, loose_umask):
    data_dir = tmp_path / "var"

    secret = data_dir_secret(data_dir, "secret_key")

    assert len(secret) >= 48 and data_dir_secret(data_dir, "secret_key") == secret
    assert mode(data_dir / "secret_key") == 0o600
    assert mode(data_dir) == 0o700


def test_an_existing_loose_data_dir_is_tightened_and_new_files_are_private(tmp_path, loose_umask):
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)

    keep_private([data_dir, tmp_path / "not-there"])
    (data_dir / "blobs").mkdir()
    (data_dir / "berth.sqlite3").write_bytes(b"")

    assert mode(data_dir) == 0o700
    assert mode(data_dir / "blobs") == 0o700
    assert mode(data_dir / "berth.sqlite3") == 0o600


def test_importing_the_settings_makes_the_process_private(tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    code = (
        "import os; os.umask(0o022); import django; django.setup(); "
        "from django.conf import settings; print(oct(os.umask(0)), settings.FILE_UPLOAD_PERMISSIONS)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "registry_project.settings", "BERTH_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.split() == ["0o77", str(0o600)]
    assert mode(data_dir) == 0o700
