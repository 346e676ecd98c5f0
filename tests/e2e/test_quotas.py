"""A real client meets a quota (docs/quotas.md): skopeo's push past the account's
storage quota is refused with DENIED, and skopeo prints the registry's message,
which names the quota, its limit and the current figure."""

from __future__ import annotations

import secrets
import textwrap

import pytest

from . import images as I
from .test_clients import copy

pytestmark = pytest.mark.e2e


def test_skopeo_push_past_the_storage_quota_is_denied_with_the_quota_named(berth, tmp_path):
    username, password = f"e2e-{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    # The account and its quota in one start of the server's code (staff set quotas in the admin).
    made = berth.cli(
        "shell",
        "-c",
        textwrap.dedent(f"""
            from apps.accounts.services import create_account, set_account_quota
            from apps.audit.events import Actor
            account = create_account(name="E2E Quota Co", username="{username}", password="{password}")
            set_account_quota(account=account, storage_bytes=1000, repositories=None, images_per_repository=None,
                              actor=Actor.staff("e2e"))
            print("account", account.pk)
        """),
    )
    account_id = made.stdout.split("account ")[-1].strip()
    image = I.build_oci_image(tmp_path / "image", tag="v1")
    ref = f"{berth.host}/{account_id}/over-quota:v1"
    refused = copy(
        tmp_path, f"oci:{image.path}:v1", f"docker://{ref}", dest_creds=f"{username}:{password}", check=False
    )
    assert refused.returncode != 0
    output = " ".join((refused.stderr + refused.stdout).split())
    assert "denied" in output.lower(), output
    assert f"quota exceeded: storage bytes of account {account_id}: limit 1000 bytes" in output, output
