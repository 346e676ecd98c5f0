"""`berth repo`: Amazon ECR's repository calls, and ECR Public's catalog data."""

from __future__ import annotations

import base64

import click

from ..client import repository_path
from ..context import Session, pass_session
from ..output import Activity, Column, emit, fields, output_option, plain, size, table, when
from .lifecycle_policies import lifecycle_policy
from .repository_policies import repository_policy

MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
PAGE_SIZE = 100


def _resource_tags(repository: dict) -> str:
    return plain({tag["key"]: tag["value"] for tag in repository.get("tags") or []})


def _encryption(repository: dict) -> str:
    configuration = repository.get("encryptionConfiguration")
    if not configuration:
        return "none"
    key = configuration.get("kmsKey")
    return f"{configuration['encryptionType']} ({key})" if key else configuration["encryptionType"]


LIST_COLUMNS = [
    Column("Name", "name"),
    Column("Visibility", "visibility"),
    Column("Tag mutability", "imageTagMutability"),
    Column("Images", "imageCount"),
    Column("Size", "totalSize", size),
    Column("Referenced", "referencedBytes", size),
    Column("Exclusive", "exclusiveBytes", size),
    Column("Created", "createdAt", when),
]
DESCRIBE_COLUMNS = [
    Column("Name", "name"),
    Column("URI", "uri"),
    Column("Account", "accountId"),
    Column("Visibility", "visibility"),
    Column("Tag mutability", "imageTagMutability"),
    Column("Exclusion filters", "imageTagMutabilityExclusionFilters"),
    Column("Scan on push", "scanOnPush"),
    Column("Encryption", _encryption),
    Column("Images", "imageCount"),
    Column("Size", "totalSize", size),
    Column("Referenced", "referencedBytes", size),
    Column("Exclusive", "exclusiveBytes", size),
    Column("Resource tags", _resource_tags),
    Column("Created", "createdAt", when),
    Column("Updated", "updatedAt", when),
]


def _describe(repository: dict) -> str:
    return fields(repository, DESCRIBE_COLUMNS)


def _parse_resource_tags(pairs: tuple[str, ...]) -> list[dict]:
    tags = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--tag")
        tags.append({"key": key, "value": value})
    return tags


@click.group("repo", short_help="Create, list, describe, change and delete repositories.")
def repo() -> None:
    """Create, list, describe, change and delete repositories."""


repo.add_command(repository_policy)
repo.add_command(lifecycle_policy)


@repo.command(short_help="Create a repository.")
@click.argument("name")
@click.option("--public", "visibility", flag_value="public", help="anyone may pull it, through your alias")
@click.option("--private", "visibility", flag_value="private", default=True, help="only your account (the default)")
@click.option("--image-tag-mutability", type=click.Choice(MUTABILITY), default="MUTABLE", show_default=True)
@click.option(
    "--exclusion-filter",
    "exclusion_filters",
    multiple=True,
    metavar="FILTER",
    help="tags taking the opposite rule with *_WITH_EXCLUSION (`latest`, `dev-*`); repeat for more",
)
@click.option(
    "--scan-on-push/--no-scan-on-push",
    default=False,
    show_default=True,
    help="Stored now; takes effect when Berth scans images (a later release).",
)
@click.option("--tag", "resource_tags", multiple=True, metavar="KEY=VALUE", help="a resource tag; repeat for more")
@click.option(
    "--encryption",
    type=click.Choice(["none", "AES256", "KMS"]),
    default=None,
    help="encryption at rest, for good (default: the server's, BERTH_DEFAULT_ENCRYPTION); KMS needs --kms-key",
)
@click.option(
    "--kms-key", metavar="KEY", help="with --encryption KMS: the key (S3: id, ARN or alias; else a key ring name)"
)
@output_option
@pass_session
def create(
    session: Session,
    name: str,
    visibility: str,
    image_tag_mutability: str,
    exclusion_filters: tuple[str, ...],
    scan_on_push: bool,
    resource_tags: tuple[str, ...],
    encryption: str | None,
    kms_key: str | None,
    output: str,
) -> None:
    """Create the repository NAME (it may contain '/': team/app)."""
    if kms_key and encryption != "KMS":
        raise click.UsageError("--kms-key goes with --encryption KMS")
    body = {
        "name": name,
        "visibility": visibility,
        "imageTagMutability": image_tag_mutability,
        "imageTagMutabilityExclusionFilters": list(exclusion_filters),
        "scanOnPush": scan_on_push,
        "tags": _parse_resource_tags(resource_tags),
    }
    if encryption == "none":
        body["encryptionConfiguration"] = None
    elif encryption is not None:
        body["encryptionConfiguration"] = {"encryptionType": encryption, **({"kmsKey": kms_key} if kms_key else {})}
    with Activity(f"Creating repository {name}"):
        repository = session.client.post("/repositories", body)
    emit(repository, output, _describe)


@repo.command("list")
@click.option("--prefix", "name_prefix", help="only names starting with this")
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=PAGE_SIZE,
    show_default=True,
    help="repositories fetched per request; every page is fetched",
)
@output_option
@pass_session
def list_(session: Session, name_prefix: str | None, page_size: int, output: str) -> None:
    """List all your repositories."""
    with Activity("Listing repositories", unit="repositories") as activity:
        repositories = list(
            session.client.pages(
                "/repositories",
                "repositories",
                params={"max_results": page_size, "name_prefix": name_prefix},
                on_page=activity.advance,
            )
        )
    emit({"repositories": repositories}, output, lambda data: table(data["repositories"], LIST_COLUMNS))


@repo.command(short_help="Show a repository's URI, settings, images and size.")
@click.argument("name")
@output_option
@pass_session
def describe(session: Session, name: str, output: str) -> None:
    """Show one repository: its URI, settings, image count and size."""
    with Activity(f"Describing repository {name}"):
        repository = session.client.get(repository_path(name))
    emit(repository, output, _describe)


@repo.command(short_help="Delete a repository (--force: with its images).")
@click.argument("name")
@click.option("--force", is_flag=True, help="delete the repository's images with it")
@pass_session
def delete(session: Session, name: str, force: bool) -> None:
    """Delete a repository; one that holds images needs --force."""
    with Activity(f"Deleting repository {name}"):
        session.client.delete(repository_path(name), force="true" if force else None)
    click.echo(f"Deleted repository {name}.")


@repo.command("set-tag-mutability", short_help="Make tags mutable or immutable.")
@click.argument("name")
@click.argument("mutability", type=click.Choice(MUTABILITY, case_sensitive=False))
@click.option(
    "--exclusion-filter",
    "exclusion_filters",
    multiple=True,
    metavar="FILTER",
    help="tags taking the opposite rule (needed with *_WITH_EXCLUSION); repeat for more",
)
@output_option
@pass_session
def set_tag_mutability(
    session: Session, name: str, mutability: str, exclusion_filters: tuple[str, ...], output: str
) -> None:
    """Set whether tags of NAME may be pushed again with other content."""
    body = {"imageTagMutability": mutability.upper(), "imageTagMutabilityExclusionFilters": list(exclusion_filters)}
    with Activity(f"Setting tag mutability of {name}"):
        setting = session.client.put(repository_path(name, "image-tag-mutability"), body)
    emit(
        {"repositoryName": name, **setting},
        output,
        lambda data: fields(
            data,
            [
                Column("Repository", "repositoryName"),
                Column("Tag mutability", "imageTagMutability"),
                Column("Exclusion filters", "imageTagMutabilityExclusionFilters"),
            ],
        ),
    )


@repo.command("set-scan-on-push", short_help="Scan each pushed image, or not (once Berth scans).")
@click.argument("name")
@click.argument("enabled", type=click.BOOL, metavar="true|false")
@output_option
@pass_session
def set_scan_on_push(session: Session, name: str, enabled: bool, output: str) -> None:
    """Turn scanning of each pushed image on or off for NAME. The setting is stored
    now and takes effect when Berth scans images (a later release)."""
    with Activity(f"Setting scan on push of {name}"):
        repository = session.client.patch(repository_path(name), {"scanOnPush": enabled})
    emit(repository, output, _describe)


@repo.group("catalog-data", short_help="A public repository's gallery page.")
def catalog_data() -> None:
    """A public repository's gallery page: description, About and Usage (Markdown), platforms, logo."""


CATALOG_COLUMNS = [
    Column("Repository", "repositoryName"),
    Column("Description", "description"),
    Column("Architectures", "architectures"),
    Column("Operating systems", "operatingSystems"),
    Column("Logo", "logoUrl"),
    Column("Updated", "updatedAt", when),
]


def _catalog_renderer(name: str):
    def render(catalog: dict) -> str:
        sections = [fields({"repositoryName": name, **catalog}, CATALOG_COLUMNS)]
        for title, key in (("About", "aboutText"), ("Usage", "usageText")):
            text = (catalog.get(key) or "").rstrip()
            if text:
                sections.append(f"--- {title} ---\n{text}")
        return "\n\n".join(sections)

    return render


@catalog_data.command("put", short_help="Set the page from options and Markdown files.")
@click.argument("name")
@click.option("--description", help="one line shown in search results")
@click.option("--about", type=click.File("r", encoding="utf-8"), help="a Markdown file for the About tab ('-': stdin)")
@click.option("--usage", type=click.File("r", encoding="utf-8"), help="a Markdown file for the Usage tab ('-': stdin)")
@click.option("--architecture", "architectures", multiple=True, help="e.g. x86-64, ARM 64; repeat for more")
@click.option("--operating-system", "operating_systems", multiple=True, help="e.g. Linux, Windows; repeat for more")
@click.option("--logo", type=click.File("rb"), help="a PNG or JPEG logo, 60 to 2,048 pixels a side")
@click.option("--remove-logo", is_flag=True, help="take the logo away")
@output_option
@pass_session
def catalog_put(
    session: Session,
    name: str,
    description: str | None,
    about,
    usage,
    architectures: tuple[str, ...],
    operating_systems: tuple[str, ...],
    logo,
    remove_logo: bool,
    output: str,
) -> None:
    """Set the gallery page of the public repository NAME from options and Markdown files;
    what is left out stays as it is, an empty file clears its text.

    \b
    berth repo catalog-data put tools/cli --description "Our CLI" --about ABOUT.md --usage USAGE.md \\
        --architecture x86-64 --architecture "ARM 64" --operating-system Linux --logo logo.png
    """
    body: dict = {}
    if description is not None:
        body["description"] = description
    if about is not None:
        body["aboutText"] = about.read()
    if usage is not None:
        body["usageText"] = usage.read()
    if architectures:
        body["architectures"] = list(architectures)
    if operating_systems:
        body["operatingSystems"] = list(operating_systems)
    if logo is not None and remove_logo:
        raise click.UsageError("--logo and --remove-logo contradict each other")
    if logo is not None:
        body["logoImageBlob"] = base64.b64encode(logo.read()).decode("ascii")
    if remove_logo:
        body["logoImageBlob"] = None
    if not body:
        raise click.UsageError(
            "nothing to put: give --description, --about, --usage, --architecture, --operating-system or --logo"
        )
    with Activity(f"Putting catalog data of {name}"):
        catalog = session.client.put(repository_path(name, "catalog-data"), body)
    emit(catalog, output, _catalog_renderer(name))


@catalog_data.command("get", short_help="Show the page's data and Markdown.")
@click.argument("name")
@output_option
@pass_session
def catalog_get(session: Session, name: str, output: str) -> None:
    """Show NAME's catalog data, About and Usage as the Markdown they were put as."""
    with Activity(f"Getting catalog data of {name}"):
        catalog = session.client.get(repository_path(name, "catalog-data"))
    emit(catalog, output, _catalog_renderer(name))
