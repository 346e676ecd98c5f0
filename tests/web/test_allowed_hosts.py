"""ALLOWED_HOSTS follows BERTH_PUBLIC_URL, `berth serve` warns when it listens where
its host names cannot reach it, and a request for another host gets a clear 400."""

from __future__ import annotations

import logging
import os

import pytest
from django.test import Client

from registry_project.hosts import LOOPBACK_HOSTS, allowed_hosts, bind_warning
from registry_project.management.commands import serve


def test_unset_allowed_hosts_follow_the_public_url_else_loopback():
    assert allowed_hosts("", "") == ["localhost", "127.0.0.1", "[::1]"]
    assert allowed_hosts("", "https://registry.example.com") == ["registry.example.com"]
    assert allowed_hosts("", "https://Registry.Example.com:8443/base") == ["registry.example.com"]
    assert allowed_hosts("", "http://[2001:db8::7]:5000") == ["[2001:db8::7]"]


def test_allowed_hosts_when_set_win():
    assert allowed_hosts("a.example, b.example", "https://registry.example.com") == ["a.example", "b.example"]
    assert allowed_hosts("*", "") == ["*"]
    assert allowed_hosts(" , ", "") == list(LOOPBACK_HOSTS)


@pytest.mark.parametrize("bind", ["0.0.0.0:5000", "[::]:5000", "10.1.2.3:5000", "registry.example.com:80", ":5000"])
def test_a_bind_beyond_loopback_without_host_settings_warns(bind):
    warning = bind_warning(bind, configured="", public_url="")
    assert warning is not None
    assert bind in warning and "BERTH_PUBLIC_URL" in warning and "ALLOWED_HOSTS" in warning


@pytest.mark.parametrize(
    "bind", ["127.0.0.1:5000", "localhost:5000", "[::1]:5000", "127.0.0.5:80", "unix:/run/berth.sock"]
)
def test_a_loopback_bind_does_not_warn(bind):
    assert bind_warning(bind, configured="", public_url="") is None


def test_either_setting_silences_the_warning():
    assert bind_warning("0.0.0.0:5000", configured="registry.example.com", public_url="") is None
    assert bind_warning("0.0.0.0:5000", configured="", public_url="https://registry.example.com") is None


def test_serve_logs_the_warning_at_start(monkeypatch, caplog, settings):
    monkeypatch.delenv("ALLOWED_HOSTS", raising=False)
    # serve sets these for its children when unset: keep them from outliving the test.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", os.environ["DJANGO_SETTINGS_MODULE"])
    monkeypatch.setenv("BERTH_AUDIT_WRITER", os.environ.get("BERTH_AUDIT_WRITER", "thread"))
    settings.BERTH_PUBLIC_URL = ""
    started = []
    # Everything after the warning (migrate, collectstatic, the children) is not this test's business.
    monkeypatch.setattr(serve, "call_command", lambda *args, **kwargs: None)
    monkeypatch.setattr(serve, "run_together", lambda commands, stdout, **options: started.append(commands) or 0)

    with caplog.at_level(logging.WARNING), pytest.raises(SystemExit):
        serve.Command().handle(bind="0.0.0.0:5000", workers=1, threads=1, no_worker=True)

    assert started, "serve went on to start its processes"
    assert any(
        "0.0.0.0:5000" in record.getMessage() and "BERTH_PUBLIC_URL" in record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
    )


@pytest.fixture
def loopback_only(settings):
    # What the settings compute with neither ALLOWED_HOSTS nor BERTH_PUBLIC_URL (plus the test client's name).
    settings.ALLOWED_HOSTS = [*allowed_hosts("", ""), "testserver"]


@pytest.mark.django_db
def test_another_host_gets_a_clear_400_on_every_surface(loopback_only):
    client = Client(HTTP_HOST="evil.example")

    registry = client.get("/v2/")
    assert registry.status_code == 400
    assert registry["Content-Type"] == "application/json"
    [error] = registry.json()["errors"]
    assert error["code"] == "DENIED" and "'evil.example'" in error["message"]

    api = client.get("/api/v1/repositories")
    assert api.status_code == 400
    assert api.json()["code"] == "disallowed_host"

    page = client.get("/")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/plain")
    assert "does not answer to the host 'evil.example'" in page.content.decode()


@pytest.mark.django_db
def test_the_loopback_names_are_served(loopback_only):
    for host in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000"):
        assert Client(HTTP_HOST=host).get("/v2/").status_code == 401, host


@pytest.mark.django_db
def test_a_refused_host_is_logged_as_one_warning_line(loopback_only, caplog):
    with caplog.at_level(logging.INFO, logger="django.security.DisallowedHost"):
        Client(HTTP_HOST="evil.example").get("/v2/")

    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "evil.example" in record.getMessage()
