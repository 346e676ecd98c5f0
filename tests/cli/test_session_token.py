"""Temporary credentials in the client: the session token comes from the
environment or the profile, goes with its own key id, and is sent as
X-Berth-Security-Token."""

from __future__ import annotations

from berth_cli import config
from berth_cli.client import SECURITY_TOKEN_HEADER, Client


def test_a_profile_keeps_its_session_token(tmp_path):
    path = tmp_path / "credentials"
    config.save(config.Credentials("http://127.0.0.1:5000", "BSIAAAAAAAAAAAAAAAAA", "s3cret", "bst1.a.b"), path=path)
    assert "session_token = bst1.a.b\n" in path.read_text()
    assert config.resolve(environ={}, path=path).session_token == "bst1.a.b"
    config.save(config.Credentials("http://127.0.0.1:5000", "BKIAAAAAAAAAAAAAAAAA", "other"), path=path)
    assert "session_token" not in path.read_text()
    assert config.resolve(environ={}, path=path).session_token == ""


def test_the_environment_token_goes_with_the_environment_key(tmp_path):
    path = tmp_path / "credentials"
    config.save(config.Credentials("http://127.0.0.1:5000", "BSIAFILE000000000000", "file", "bst1.file.x"), path=path)
    environ = {config.ENV_ACCESS_KEY_ID: "BKIAENV0000000000000", config.ENV_SECRET_ACCESS_KEY: "env"}
    assert config.resolve(environ=environ, path=path).session_token == ""
    environ[config.ENV_SESSION_TOKEN] = "bst1.env.y"
    assert config.resolve(environ=environ, path=path).session_token == "bst1.env.y"


def test_the_client_sends_the_token_header():
    assert Client("http://127.0.0.1:5000", "BSIA", "s", "bst1.t.m").session.headers[SECURITY_TOKEN_HEADER] == "bst1.t.m"
    assert SECURITY_TOKEN_HEADER not in Client("http://127.0.0.1:5000", "BKIA", "s").session.headers
