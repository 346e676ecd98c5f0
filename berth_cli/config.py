"""Where the client finds its endpoint and access key.

The credentials file is INI, one section per profile (`[default]` unless
`--profile`/`BERTH_PROFILE` names another), written with mode 0600 because it holds
a secret. The environment overrides the file field by field: `BERTH_ENDPOINT`,
`BERTH_ACCESS_KEY_ID`, `BERTH_SECRET_ACCESS_KEY`, and `BERTH_SESSION_TOKEN` for
temporary credentials (`berth sts assume-role --export`). A session token goes
with its key id: an access key id from the environment never takes the file's."""

from __future__ import annotations

import configparser
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROFILE = "default"
DEFAULT_ENDPOINT = "http://127.0.0.1:5000"
ENV_ENDPOINT = "BERTH_ENDPOINT"
ENV_ACCESS_KEY_ID = "BERTH_ACCESS_KEY_ID"
ENV_SECRET_ACCESS_KEY = "BERTH_SECRET_ACCESS_KEY"
ENV_SESSION_TOKEN = "BERTH_SESSION_TOKEN"
ENV_PROFILE = "BERTH_PROFILE"


class ConfigError(Exception):
    """The client has no endpoint or key to use, or cannot read its file."""


@dataclass(frozen=True)
class Credentials:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    session_token: str = ""  # temporary credentials (AssumeRole) only


def credentials_path(environ: Mapping[str, str] = os.environ) -> Path:
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME") or Path.home(), ".config")
    return Path(config_home) / "berth" / "credentials"


def normalize_endpoint(endpoint: str) -> str:
    endpoint = endpoint.strip().rstrip("/")
    if not endpoint:
        raise ConfigError("the endpoint is empty")
    if "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    scheme = endpoint.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"the endpoint must be an http:// or https:// URL, not {endpoint}")
    return endpoint


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as file:
            parser.read_file(file)
    except FileNotFoundError:
        pass
    except (OSError, configparser.Error) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parser


def stored_profile(profile: str = DEFAULT_PROFILE, *, path: Path | None = None) -> dict[str, str]:
    """The profile's fields as the file has them (empty when it has none)."""
    parser = _read(path or credentials_path())
    return dict(parser[profile]) if parser.has_section(profile) else {}


def resolve(
    profile: str = DEFAULT_PROFILE,
    *,
    endpoint: str | None = None,
    environ: Mapping[str, str] = os.environ,
    path: Path | None = None,
) -> Credentials:
    """The credentials to use: an explicit endpoint, then the environment, then the file."""
    stored = stored_profile(profile, path=path or credentials_path(environ))
    chosen_endpoint = endpoint or environ.get(ENV_ENDPOINT) or stored.get("endpoint")
    key_id = environ.get(ENV_ACCESS_KEY_ID) or stored.get("access_key_id")
    secret = environ.get(ENV_SECRET_ACCESS_KEY) or stored.get("secret_access_key")
    if environ.get(ENV_ACCESS_KEY_ID):
        session_token = environ.get(ENV_SESSION_TOKEN, "")
    else:
        session_token = environ.get(ENV_SESSION_TOKEN) or stored.get("session_token", "")
    missing = [
        name
        for name, value in (("endpoint", chosen_endpoint), ("access key id", key_id), ("secret access key", secret))
        if not value
    ]
    if missing:
        raise ConfigError(
            f"no {', '.join(missing)} for profile {profile!r}: run `berth configure`, "
            f"or set {ENV_ENDPOINT}, {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}"
        )
    return Credentials(normalize_endpoint(chosen_endpoint), key_id, secret, session_token)


def save(credentials: Credentials, profile: str = DEFAULT_PROFILE, *, path: Path | None = None) -> Path:
    """Store the profile, keeping the file's other profiles; the file is never readable by others,
    not even for a moment (written to a 0600 temporary file, then renamed over)."""
    path = path or credentials_path()
    parser = _read(path)
    parser[profile] = {
        "endpoint": credentials.endpoint,
        "access_key_id": credentials.access_key_id,
        "secret_access_key": credentials.secret_access_key,
    }
    if credentials.session_token:
        parser[profile]["session_token"] = credentials.session_token
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            parser.write(file)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
