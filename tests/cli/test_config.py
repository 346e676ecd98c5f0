"""The credentials file and the environment that overrides it."""

import stat

import pytest

from berth_cli import config


@pytest.fixture
def path(tmp_path):
    return tmp_path / "home" / ".config" / "berth" / "credentials"


def test_saved_file_is_private_and_round_trips(path):
    saved = config.save(config.Credentials("http://127.0.0.1:5000", "BKIAAAAAAAAAAAAAAAAA", "s3cret"), path=path)

    assert saved == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert config.resolve(environ={}, path=path) == config.Credentials(
        "http://127.0.0.1:5000", "BKIAAAAAAAAAAAAAAAAA", "s3cret"
    )


def test_saving_a_profile_keeps_the_others(path):
    config.save(config.Credentials("http://a.example", "BKIA1", "one"), "default", path=path)
    config.save(config.Credentials("http://b.example", "BKIA2", "two"), "staging", path=path)
    config.save(config.Credentials("http://a.example", "BKIA3", "three"), "default", path=path)

    assert config.resolve("staging", environ={}, path=path).access_key_id == "BKIA2"
    assert config.resolve("default", environ={}, path=path).access_key_id == "BKIA3"
    assert not list(path.parent.glob(".credentials-*"))


def test_secrets_with_percent_signs_are_kept_as_they_are(path):
    config.save(config.Credentials("http://a.example", "BKIA1", "50%_off%(x)s"), path=path)

    assert config.resolve(environ={}, path=path).secret_access_key == "50%_off%(x)s"


def test_environment_overrides_the_file_field_by_field(path):
    config.save(config.Credentials("http://file.example", "BKIAFILE", "file-secret"), path=path)

    resolved = config.resolve(environ={config.ENV_ENDPOINT: "https://env.example/"}, path=path)
    assert resolved == config.Credentials("https://env.example", "BKIAFILE", "file-secret")

    environ = {config.ENV_ACCESS_KEY_ID: "BKIAENV", config.ENV_SECRET_ACCESS_KEY: "env-secret"}
    assert config.resolve(environ=environ, path=path) == config.Credentials(
        "http://file.example", "BKIAENV", "env-secret"
    )


def test_environment_alone_is_enough(path):
    environ = {
        config.ENV_ENDPOINT: "registry.example.com",
        config.ENV_ACCESS_KEY_ID: "BKIAENV",
        config.ENV_SECRET_ACCESS_KEY: "env-secret",
    }
    assert config.resolve(environ=environ, path=path).endpoint == "https://registry.example.com"


def test_an_explicit_endpoint_wins(path):
    config.save(config.Credentials("http://file.example", "BKIA1", "one"), path=path)
    environ = {config.ENV_ENDPOINT: "http://env.example"}

    assert config.resolve(endpoint="http://flag.example", environ=environ, path=path).endpoint == "http://flag.example"


def test_nothing_configured_says_how_to_configure(path):
    with pytest.raises(config.ConfigError, match="berth configure") as error:
        config.resolve("ci", environ={config.ENV_ENDPOINT: "http://x.example"}, path=path)
    assert "access key id, secret access key for profile 'ci'" in str(error.value)


def test_the_file_lives_under_home_or_xdg_config_home(tmp_path):
    assert config.credentials_path({"HOME": str(tmp_path)}) == tmp_path / ".config" / "berth" / "credentials"
    assert config.credentials_path({"HOME": "/nowhere", "XDG_CONFIG_HOME": str(tmp_path)}) == (
        tmp_path / "berth" / "credentials"
    )


@pytest.mark.parametrize("endpoint", ["ftp://x.example", "", "   "])
def test_endpoints_must_be_http(endpoint):
    with pytest.raises(config.ConfigError):
        config.normalize_endpoint(endpoint)


def test_an_unreadable_file_is_a_config_error(path):
    path.parent.mkdir(parents=True)
    path.write_text("this is not ini\n")

    with pytest.raises(config.ConfigError, match="cannot read"):
        config.resolve(environ={}, path=path)
