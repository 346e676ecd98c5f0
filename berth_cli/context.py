"""What every command shares: the profile and endpoint chosen on the command line,
the API client made from them on first use, and how a failure reaches the user."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from . import config
from .client import ApiError, Client


@dataclass
class Session:
    profile: str = config.DEFAULT_PROFILE
    endpoint: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def credentials(self) -> config.Credentials:
        return config.resolve(self.profile, endpoint=self.endpoint)

    @property
    def client(self) -> Client:
        if self._client is None:
            credentials = self.credentials()
            self._client = Client(
                credentials.endpoint,
                credentials.access_key_id,
                credentials.secret_access_key,
                credentials.session_token,
            )
        return self._client


pass_session = click.make_pass_decorator(Session, ensure=True)


class Failure(click.ClickException):
    """Printed to stderr as `berth: error: ...` with exit status 1; an API error adds
    the server's code and one line per invalid field."""

    exit_code = 1

    def __init__(self, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.details = details or []

    @classmethod
    def from_api(cls, error: ApiError) -> Failure:
        details = [
            f"  {item.get('field', '?')}: {item.get('message', '')} ({item.get('code', 'invalid')})"
            for item in error.errors
            if isinstance(item, dict)
        ]
        # a validation error's detail already joins the field messages; the lines repeat them with codes
        return cls(str(error), details if len(details) > 1 else [])

    def show(self, file=None) -> None:
        click.echo(f"berth: error: {self.format_message()}", err=True)
        for line in self.details:
            click.echo(line, err=True)
