"""Secure cookies and HSTS follow an https BERTH_PUBLIC_URL unless told otherwise
(the settings are computed when they are imported: each case imports them afresh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

NAMES = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
]


def imported_settings(tmp_path, **environment: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {NAMES!r}}}))"
    )
    env = {key: value for key, value in os.environ.items() if key not in NAMES and key != "BERTH_PUBLIC_URL"}
    env.update(DJANGO_SETTINGS_MODULE="registry_project.settings", BERTH_DATA_DIR=str(tmp_path), **environment)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (
            {"BERTH_PUBLIC_URL": "https://registry.example.com"},
            {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SECURE_HSTS_SECONDS": 31536000},
        ),
        (
            {"BERTH_PUBLIC_URL": "http://registry.internal"},
            {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0},
        ),
        ({}, {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0}),
        (
            {
                "BERTH_PUBLIC_URL": "https://registry.example.com",
                "SESSION_COOKIE_SECURE": "false",
                "SECURE_HSTS_SECONDS": "300",
                "SECURE_HSTS_PRELOAD": "true",
                "SECURE_SSL_REDIRECT": "true",
            },
            {
                "SESSION_COOKIE_SECURE": False,
                "CSRF_COOKIE_SECURE": True,
                "SECURE_HSTS_SECONDS": 300,
                "SECURE_HSTS_PRELOAD": True,
                "SECURE_SSL_REDIRECT": True,
            },
        ),
    ],
)
def test_cookies_and_hsts_follow_the_public_url(tmp_path, environment, expected):
    defaults = {
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
    }
    assert imported_settings(tmp_path, **environment) == {**defaults, **expected}
