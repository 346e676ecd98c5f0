"""`berth registry templates`: Amazon ECR's repository creation templates, the
settings of the repositories replication and the pull-through cache create."""

from __future__ import annotations

from urllib.parse import quote

import click

from ..context import Session, pass_session
from ..output import Activity, Column, emit, fields, output_option, plain, table, when
from .registry import registry

TEMPLATES_PATH = "/repository-creation-templates"
APPLIED_FOR = ("REPLICATION", "PULL_THROUGH_CACHE")
MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
PAGE_SIZE = 100


def _template_path(prefix: str) -> str:
    return f"{TEMPLATES_PATH}/{quote(prefix, safe='/')}"


def _resource_tags(template: dict) -> str:
    return plain({tag["key"]: tag["value"] for tag in template.get("resourceTags") or []})


def _present(text: str) -> str:
    return "yes" if text else "-"


LIST_COLUMNS = [
    Column("Prefix", "prefix"),
    Column("Applied for", "appliedFor"),
    Column("Tag mutability", "imageTagMutability"),
    Column("Repository policy", lambda template: _present(template.get("repositoryPolicy"))),
    Column("Lifecycle policy", lambda template: _present(template.get("lifecyclePolicy"))),
    Column("Description", "description"),
]
DESCRIBE_COLUMNS = [
    Column("Prefix", "prefix"),
    Column("Description", "description"),
    Column("Applied for", "appliedFor"),
    Column("Tag mutability", "imageTagMutability"),
    Column("Exclusion filters", "imageTagMutabilityExclusionFilters"),
    Column("Resource tags", _resource_tags),
    Column("Encryption", "encryptionConfiguration.encryptionType"),
    Column("Repository policy", "repositoryPolicy"),
    Column("Lifecycle policy", "lifecyclePolicy"),
    Column("Created", "createdAt", when),
    Column("Updated", "updatedAt", when),
]


def _describe(answer: dict) -> str:
    return fields(answer["repositoryCreationTemplate"], DESCRIBE_COLUMNS)


def _parse_resource_tags(pairs: tuple[str, ...]) -> list[dict]:
    tags = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--tag")
        tags.append({"key": key, "value": value})
    return tags


def _settings_options(function):
    """The options create and update share; update sends only those given."""
    for option in reversed(
        [
            click.option("--description", help="what the template is for (at most 256 characters)"),
            click.option("--image-tag-mutability", type=click.Choice(MUTABILITY)),
            click.option(
                "--exclusion-filter",
                "exclusion_filters",
                multiple=True,
                metavar="FILTER",
                help="tags taking the opposite rule with *_WITH_EXCLUSION; repeat for more",
            ),
            click.option(
                "--tag", "resource_tags", multiple=True, metavar="KEY=VALUE", help="a resource tag; repeat for more"
            ),
            click.option(
                "--repository-policy",
                "repository_policy",
                type=click.File("r"),
                help="a file holding the repository policy's JSON ('-' for stdin)",
            ),
            click.option(
                "--lifecycle-policy",
                "lifecycle_policy",
                type=click.File("r"),
                help="a file holding the lifecycle policy's JSON ('-' for stdin)",
            ),
            click.option(
                "--encryption-type",
                type=click.Choice(["AES256", "KMS"]),
                help="the created repositories' encryption at rest (KMS needs --kms-key)",
            ),
            click.option(
                "--kms-key", help="with --encryption-type KMS: the key (S3: id, ARN or alias; else a key ring name)"
            ),
        ]
    ):
        function = option(function)
    return function


def _body(settings: dict) -> dict:
    body = {}
    if settings["description"] is not None:
        body["description"] = settings["description"]
    if settings["image_tag_mutability"] is not None:
        body["imageTagMutability"] = settings["image_tag_mutability"]
    if settings["exclusion_filters"]:
        body["imageTagMutabilityExclusionFilters"] = list(settings["exclusion_filters"])
    if settings["resource_tags"]:
        body["resourceTags"] = _parse_resource_tags(settings["resource_tags"])
    if settings["repository_policy"] is not None:
        body["repositoryPolicy"] = settings["repository_policy"].read()
    if settings["lifecycle_policy"] is not None:
        body["lifecyclePolicy"] = settings["lifecycle_policy"].read()
    if settings["encryption_type"] is not None:
        body["encryptionConfiguration"] = {"encryptionType": settings["encryption_type"]}
        if settings.get("kms_key"):
            body["encryptionConfiguration"]["kmsKey"] = settings["kms_key"]
    elif settings.get("kms_key"):
        raise click.UsageError("--kms-key goes with --encryption-type KMS")
    return body


@registry.group("templates")
def templates() -> None:
    """Repository creation templates: the settings (tag mutability, resource tags,
    repository and lifecycle policies) of the repositories replication and the
    pull-through cache create, chosen by the longest matching prefix (ROOT: any)."""


@templates.command("create")
@click.argument("prefix")
@click.option(
    "--applied-for",
    "applied_for",
    type=click.Choice(APPLIED_FOR),
    multiple=True,
    required=True,
    help="which creations it applies to; repeat for both",
)
@_settings_options
@output_option
@pass_session
def create(session: Session, prefix: str, applied_for: tuple[str, ...], output: str, **settings) -> None:
    """Create the template for PREFIX: ROOT (every repository) or a namespace (prod applies to prod/...)."""
    body = {"prefix": prefix, "appliedFor": list(applied_for), **_body(settings)}
    with Activity(f"Creating the repository creation template {prefix}"):
        created = session.client.post(TEMPLATES_PATH, body)
    emit(created, output, _describe)


@templates.command("list")
@click.option("--prefix", "prefixes", multiple=True, help="only this prefix's template; repeat for more")
@output_option
@pass_session
def list_(session: Session, prefixes: tuple[str, ...], output: str) -> None:
    """List the registry's repository creation templates."""
    params: dict = {"maxResults": PAGE_SIZE}
    if prefixes:
        params["prefixes"] = list(prefixes)
    found: list[dict] = []
    with Activity("Listing repository creation templates"):
        while True:
            page = session.client.get(TEMPLATES_PATH, **params)
            found += page["repositoryCreationTemplates"]
            if not page.get("nextToken"):
                break
            params["nextToken"] = page["nextToken"]
    emit(
        {"registryId": page["registryId"], "repositoryCreationTemplates": found},
        output,
        lambda data: table(data["repositoryCreationTemplates"], LIST_COLUMNS),
    )


@templates.command("describe")
@click.argument("prefix")
@output_option
@pass_session
def describe(session: Session, prefix: str, output: str) -> None:
    """Show the template for PREFIX, its policies in full."""
    with Activity(f"Describing the repository creation template {prefix}"):
        found = session.client.get(_template_path(prefix))
    emit(found, output, _describe)


@templates.command("update")
@click.argument("prefix")
@click.option(
    "--applied-for", "applied_for", type=click.Choice(APPLIED_FOR), multiple=True, help="replaces what it applies to"
)
@click.option("--no-repository-policy", is_flag=True, help="remove the template's repository policy")
@click.option("--no-lifecycle-policy", is_flag=True, help="remove the template's lifecycle policy")
@_settings_options
@output_option
@pass_session
def update(
    session: Session,
    prefix: str,
    applied_for: tuple[str, ...],
    no_repository_policy: bool,
    no_lifecycle_policy: bool,
    output: str,
    **settings,
) -> None:
    """Change the template for PREFIX: what is given replaces what it had, the rest stays."""
    body = _body(settings)
    if applied_for:
        body["appliedFor"] = list(applied_for)
    if no_repository_policy:
        body["repositoryPolicy"] = ""
    if no_lifecycle_policy:
        body["lifecyclePolicy"] = ""
    if not body:
        raise click.UsageError("say what to change (see --help)")
    with Activity(f"Updating the repository creation template {prefix}"):
        updated = session.client.patch(_template_path(prefix), body)
    emit(updated, output, _describe)


@templates.command("delete")
@click.argument("prefix")
@output_option
@pass_session
def delete(session: Session, prefix: str, output: str) -> None:
    """Delete the template for PREFIX (repositories created from it keep their settings)."""
    with Activity(f"Deleting the repository creation template {prefix}"):
        deleted = session.client.delete(_template_path(prefix))
    emit(deleted, output, lambda _: f"Deleted the repository creation template {prefix}.")
