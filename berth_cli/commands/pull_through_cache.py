"""`berth pull-through-cache`: Amazon ECR's pull-through cache rule calls."""

from __future__ import annotations

from urllib.parse import quote

import click

from ..context import Failure, Session, pass_session
from ..output import Activity, Column, emit, fields, output_option, table, when

RULE_COLUMNS = [
    Column("Prefix", "ecrRepositoryPrefix"),
    Column("Upstream", "upstreamRegistryUrl"),
    Column("Upstream prefix", "upstreamRepositoryPrefix"),
    Column("User", lambda rule: (rule.get("credentials") or {}).get("username") or "-"),
    Column("Re-check (s)", "tagRecheckSeconds"),
    Column("Created", "createdAt", when),
]


def _rule_path(prefix: str, *rest: str) -> str:
    path = f"/pull-through-cache-rules/{quote(prefix, safe='/')}"
    return f"{path}/-/{'/'.join(rest)}" if rest else path


def _credentials(username: str | None, password_stdin: bool) -> dict | None:
    if username is None:
        if password_stdin:
            raise click.UsageError("--password-stdin goes with --username")
        return None
    if not password_stdin:
        raise click.UsageError("--username needs the password on stdin: --password-stdin")
    password = click.get_text_stream("stdin").read().rstrip("\r\n")
    if not password:
        raise click.UsageError("no password on stdin")
    return {"username": username, "password": password}


_username = click.option("--username", help="the upstream's user (its password comes on stdin: --password-stdin)")
_password_stdin = click.option("--password-stdin", is_flag=True, help="read the upstream's password from stdin")
_recheck = click.option(
    "--tag-recheck-seconds", type=click.IntRange(min=1), help="seconds between re-checks of a cached tag upstream"
)
_upstream_prefix = click.option(
    "--upstream-repository-prefix", help="the upstream repositories' prefix (ROOT: none, the default)"
)


@click.group("pull-through-cache", short_help="Create, list, update, delete and validate pull-through cache rules.")
def pull_through_cache() -> None:
    """Pull-through cache rules: a pull of <account>/<prefix>/<path>:<tag> that Berth lacks
    fetches <path> from the rule's upstream registry, serves it while storing it, and
    serves it locally afterwards (tags are re-checked upstream now and then)."""


@pull_through_cache.command("create")
@click.argument("prefix")
@click.option("--upstream-registry-url", required=True, help="https://host[:port] (http:// for one without TLS)")
@_upstream_prefix
@_username
@_password_stdin
@_recheck
@output_option
@pass_session
def create(
    session: Session,
    prefix: str,
    upstream_registry_url: str,
    upstream_repository_prefix: str | None,
    username: str | None,
    password_stdin: bool,
    tag_recheck_seconds: int | None,
    output: str,
) -> None:
    """Create a rule caching the upstream registry under PREFIX."""
    body = {"ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": upstream_registry_url}
    if upstream_repository_prefix is not None:
        body["upstreamRepositoryPrefix"] = upstream_repository_prefix
    credentials = _credentials(username, password_stdin)
    if credentials is not None:
        body["credentials"] = credentials
    if tag_recheck_seconds is not None:
        body["tagRecheckSeconds"] = tag_recheck_seconds
    with Activity(f"Creating the pull-through cache rule {prefix}"):
        rule = session.client.post("/pull-through-cache-rules", body)
    emit(rule, output, lambda rule: f"Created the rule {rule['ecrRepositoryPrefix']} -> {rule['upstreamRegistryUrl']}.")


@pull_through_cache.command("list")
@output_option
@pass_session
def list_rules(session: Session, output: str) -> None:
    """List the account's rules."""
    rules, token = [], None
    with Activity("Listing pull-through cache rules"):
        while True:
            page = session.client.get("/pull-through-cache-rules", nextToken=token)
            rules += page["pullThroughCacheRules"]
            token = page.get("nextToken")
            if not token:
                break
    emit(rules, output, lambda rules: table(rules, RULE_COLUMNS) if rules else "No pull-through cache rules.")


@pull_through_cache.command("describe")
@click.argument("prefix")
@output_option
@pass_session
def describe(session: Session, prefix: str, output: str) -> None:
    """Show the rule for PREFIX."""
    with Activity(f"Describing the pull-through cache rule {prefix}"):
        rule = session.client.get(_rule_path(prefix))
    emit(rule, output, lambda rule: fields(rule, RULE_COLUMNS))


@pull_through_cache.command("update")
@click.argument("prefix")
@click.option("--upstream-registry-url", help="a new upstream address")
@_upstream_prefix
@_username
@_password_stdin
@click.option("--remove-credentials", is_flag=True, help="the upstream needs no credentials any more")
@_recheck
@output_option
@pass_session
def update(
    session: Session,
    prefix: str,
    upstream_registry_url: str | None,
    upstream_repository_prefix: str | None,
    username: str | None,
    password_stdin: bool,
    remove_credentials: bool,
    tag_recheck_seconds: int | None,
    output: str,
) -> None:
    """Change the rule for PREFIX: what is given replaces what it had."""
    body = {}
    if upstream_registry_url is not None:
        body["upstreamRegistryUrl"] = upstream_registry_url
    if upstream_repository_prefix is not None:
        body["upstreamRepositoryPrefix"] = upstream_repository_prefix
    credentials = _credentials(username, password_stdin)
    if credentials is not None and remove_credentials:
        raise click.UsageError("give new credentials or --remove-credentials, not both")
    if credentials is not None or remove_credentials:
        body["credentials"] = credentials
    if tag_recheck_seconds is not None:
        body["tagRecheckSeconds"] = tag_recheck_seconds
    if not body:
        raise click.UsageError("nothing to change: give at least one option")
    with Activity(f"Updating the pull-through cache rule {prefix}"):
        rule = session.client.patch(_rule_path(prefix), body)
    emit(rule, output, lambda rule: f"Updated the rule {rule['ecrRepositoryPrefix']}.")


@pull_through_cache.command("delete")
@click.argument("prefix")
@pass_session
def delete(session: Session, prefix: str) -> None:
    """Delete the rule for PREFIX (its repositories stay, with what they cached)."""
    with Activity(f"Deleting the pull-through cache rule {prefix}"):
        session.client.delete(_rule_path(prefix))
    click.echo(f"Deleted the pull-through cache rule {prefix}.")


@pull_through_cache.command("validate")
@click.argument("prefix")
@output_option
@pass_session
def validate(session: Session, prefix: str, output: str) -> None:
    """Check that the upstream of PREFIX's rule answers and takes its credentials."""
    with Activity(f"Validating the pull-through cache rule {prefix}"):
        result = session.client.post(_rule_path(prefix, "validate"))
    if result["isValid"]:
        emit(result, output, lambda result: f"{result['upstreamRegistryUrl']}: valid.")
        return
    if output == "json":
        emit(result, output, str)
    raise Failure(f"{result['upstreamRegistryUrl']}: not valid: {result['failure']}")
