"""The client half of the `berth` command: its click application.

`berth_cli.dispatch` hands it the client command groups (CLIENT_COMMANDS); the
server commands (`berth serve`, `berth migrate`, ...) stay Django's."""

from __future__ import annotations

import click

from . import config
from .client import ApiError, ClientError
from .commands.access_keys import access_keys
from .commands.audit import audit
from .commands.configure import configure
from .commands.creation_templates import templates  # noqa: F401  (attaches `berth registry templates`)
from .commands.iam import iam
from .commands.images import images
from .commands.login import get_login_password, login
from .commands.pull_through_cache import pull_through_cache
from .commands.registry import registry
from .commands.replication import backfill, replication
from .commands.repositories import repo
from .commands.sts import sts
from .commands.usage import usage
from .commands.webhooks import webhooks
from .context import Failure, Session

VERSION = "0.1.0"


class BerthGroup(click.Group):
    """Turns what goes wrong talking to the server into `berth: error: ...` and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            raise Failure.from_api(exc) from None
        except (ClientError, config.ConfigError) as exc:
            raise Failure(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order a new user needs them


@click.group(
    cls=BerthGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--profile",
    envvar=config.ENV_PROFILE,
    default=config.DEFAULT_PROFILE,
    show_default=True,
    help="which stored endpoint and key to use (BERTH_PROFILE)",
)
@click.version_option(VERSION, "--version", prog_name="berth")
@click.pass_context
def cli(ctx: click.Context, profile: str) -> None:
    """Berth's command line client: repositories, images, access keys and registry logins,
    through a Berth server's API. Start with `berth configure`."""
    ctx.obj = Session(profile=profile)


for command in (
    configure,
    get_login_password,
    login,
    repo,
    images,
    registry,
    access_keys,
    iam,
    sts,
    audit,
    usage,
    pull_through_cache,
    webhooks,
):
    cli.add_command(command)

for command in (replication, backfill):
    registry.add_command(command)

CLIENT_COMMANDS = frozenset(cli.commands)


def main(args: list[str] | None = None) -> None:
    cli.main(args=args, prog_name="berth")
