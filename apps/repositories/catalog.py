"""Catalog data of public repositories (Amazon ECR Public's PutRepositoryCatalogData
and GetRepositoryCatalogData): its rules, the Markdown rendering and logo checks
it needs, and its one write and its reads.

ECR Public has no private repositories, so catalog data is put on public ones only;
what a repository made private keeps is shown again once it is public."""

from __future__ import annotations

import re
from collections.abc import Sequence

import nh3
from django.db import transaction
from markdown_it import MarkdownIt

from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel import images
from apps.kernel.requests import RequestContext

from . import services
from .models import (
    CATALOG_BADGE_MAX_LENGTH,
    CATALOG_BADGES_MAX,
    CATALOG_DESCRIPTION_MAX_LENGTH,
    CATALOG_TEXT_MAX_LENGTH,
    Repository,
    RepositoryCatalogData,
)


class CatalogDataInvalid(ValueError):
    """Input outside ECR Public's limits; ``field`` names the keyword argument at fault."""

    def __init__(self, message: str, *, field: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


class LogoInvalid(CatalogDataInvalid):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, field="logo", code=code)


class RepositoryNotPublic(ValueError):
    pass


# -- Markdown ---------------------------------------------------------------------------

# CommonMark plus tables. Raw HTML in the source is not passed through: it is shown as
# the text it is. markdown-it already refuses javascript:, vbscript: and file: links;
# the sanitizer below is the second wall, and the one that decides what HTML may stay.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img", "li", "ol", "p",
    "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
}
_LINK_REL = "nofollow noopener noreferrer ugc"
_URL_SCHEMES = {"http", "https", "mailto"}
# A fenced block's info string becomes `class="language-<info>"`: the only class kept.
_LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+.#-]{1,40}$")


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "code" and attribute == "class":
        return value if _LANGUAGE_CLASS.match(value) else None
    return value


def render_markdown(text: str) -> str:
    """Markdown as HTML that is safe to put in a page as it is."""
    if not text:
        return ""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        # The page's own h1 is the repository's name: the text's headings sit a level under it.
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return nh3.clean(
        _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        # Table cells keep their alignment, and nothing else of a style.
        filter_style_properties={"text-align"},
        url_schemes=_URL_SCHEMES,
        link_rel=_LINK_REL,
        strip_comments=True,
    )


# -- the logo ---------------------------------------------------------------------------

# The checks are the kernel's (a publisher's logo on the accounts floor takes them too).
Logo = images.Logo


def inspect_logo(data: bytes) -> Logo:
    """The logo if it is a PNG or JPEG image within ECR Public's limits
    (apps.kernel.images.inspect_logo); LogoInvalid otherwise."""
    try:
        return images.inspect_logo(data)
    except images.ImageInvalid as exc:
        raise LogoInvalid(str(exc), code=exc.code) from None


# -- validation -------------------------------------------------------------------------


def _check_text(value: str, *, field: str, label: str, limit: int) -> str:
    if len(value) > limit:
        raise CatalogDataInvalid(
            f"the {label} is {len(value):,} characters; at most {limit:,}", field=field, code="max_length"
        )
    if "\x00" in value:
        raise CatalogDataInvalid(f"the {label} holds a NUL character", field=field, code="null_characters_not_allowed")
    return value


def check_badges(values: Sequence[str], *, field: str, label: str) -> list[str]:
    """Architectures or operating systems: at most CATALOG_BADGES_MAX, each 1 to
    CATALOG_BADGE_MAX_LENGTH characters, none twice. Any value is kept as given; the
    recognised ones (RECOGNISED_ARCHITECTURES, RECOGNISED_OPERATING_SYSTEMS) become
    badges in the gallery, as in ECR Public."""
    values = list(values)
    if len(values) > CATALOG_BADGES_MAX:
        raise CatalogDataInvalid(f"at most {CATALOG_BADGES_MAX} {label}", field=field, code="max_length")
    for value in values:
        if not isinstance(value, str) or not value.strip() or len(value) > CATALOG_BADGE_MAX_LENGTH:
            raise CatalogDataInvalid(
                f"each of the {label} is 1 to {CATALOG_BADGE_MAX_LENGTH} characters, not only spaces", field=field
            )
        _check_text(value, field=field, label=label, limit=CATALOG_BADGE_MAX_LENGTH)
    duplicates = sorted({value for value in values if values.count(value) > 1})
    if duplicates:
        raise CatalogDataInvalid(
            f"the {label} name each value once: {', '.join(duplicates)}", field=field, code="unique"
        )
    return values


# -- the write --------------------------------------------------------------------------


def put_repository_catalog_data(
    *,
    repository: Repository,
    description: str | None = None,
    about_markdown: str | None = None,
    usage_markdown: str | None = None,
    architectures: Sequence[str] | None = None,
    operating_systems: Sequence[str] | None = None,
    logo: bytes | None = None,
    remove_logo: bool = False,
    actor: Actor,
    context: RequestContext | None = None,
) -> RepositoryCatalogData:
    """Amazon ECR Public's PutRepositoryCatalogData: creates the repository's catalog
    data or changes the fields given (None leaves one as it is; an empty text or list
    clears it). The Markdown texts are rendered and sanitized here, once per write.
    Recorded in the audit trail, naming the fields put (not their texts)."""
    if logo is not None and remove_logo:
        raise ValueError("give a new logo or remove the logo, not both")
    if description is not None:
        _check_text(description, field="description", label="description", limit=CATALOG_DESCRIPTION_MAX_LENGTH)
    if about_markdown is not None:
        _check_text(about_markdown, field="about_markdown", label="about text", limit=CATALOG_TEXT_MAX_LENGTH)
    if usage_markdown is not None:
        _check_text(usage_markdown, field="usage_markdown", label="usage text", limit=CATALOG_TEXT_MAX_LENGTH)
    if architectures is not None:
        architectures = check_badges(architectures, field="architectures", label="architectures")
    if operating_systems is not None:
        operating_systems = check_badges(operating_systems, field="operating_systems", label="operating systems")
    inspected = inspect_logo(logo) if logo is not None else None

    with transaction.atomic():
        # Locked: the visibility is read in the same transaction that writes, and two
        # first writes do not race to create the row.
        locked = Repository.objects.select_for_update().filter(pk=repository.pk).first()
        if locked is None:
            raise Repository.DoesNotExist(f"repository {repository} was deleted")
        if not locked.is_public:
            raise RepositoryNotPublic(
                f"repository {locked.name} is private: catalog data is for public repositories "
                "(ECR Public has no private ones); make it public first"
            )
        catalog, _ = RepositoryCatalogData.objects.get_or_create(repository=locked)
        if description is not None:
            catalog.description = description
        if about_markdown is not None:
            catalog.about_markdown = about_markdown
            catalog.about_html = render_markdown(about_markdown)
        if usage_markdown is not None:
            catalog.usage_markdown = usage_markdown
            catalog.usage_html = render_markdown(usage_markdown)
        if architectures is not None:
            catalog.architectures = architectures
        if operating_systems is not None:
            catalog.operating_systems = operating_systems
        if inspected is not None:
            catalog.logo = inspected.data
            catalog.logo_content_type = inspected.content_type
            catalog.logo_width, catalog.logo_height = inspected.width, inspected.height
            catalog.logo_digest = inspected.digest
        elif remove_logo:
            catalog.logo, catalog.logo_content_type = None, ""
            catalog.logo_width = catalog.logo_height = None
            catalog.logo_digest = ""
        catalog.save()
        services.publish_changed(locked, ["catalogData"])
        given = {
            "description": description,
            "aboutText": about_markdown,
            "usageText": usage_markdown,
            "architectures": architectures,
            "operatingSystems": operating_systems,
        }
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="PutRepositoryCatalogData",
            event_source="ecr-public",
            recipient_account_id=locked.account_id,
            repository=locked.name,
            request_parameters={
                "registryId": locked.account_id,
                "repositoryName": locked.name,
                "catalogData": [name for name, value in given.items() if value is not None]
                + (["logoImageBlob"] if logo is not None or remove_logo else []),
            },
            response_elements={"logoDigest": catalog.logo_digest} if inspected is not None else None,
        )
    return catalog


# -- the reads --------------------------------------------------------------------------


def catalog_data_of(repository: Repository) -> RepositoryCatalogData:
    """The repository's catalog data without the logo's bytes; an empty, unsaved one
    when none was ever put (GetRepositoryCatalogData answers with empty fields then)."""
    found = RepositoryCatalogData.objects.defer("logo").filter(repository=repository).first()
    return found or RepositoryCatalogData(repository=repository)


def logo_of(repository: Repository) -> RepositoryCatalogData | None:
    """The catalog data with the logo's bytes; None when the repository has no logo."""
    return RepositoryCatalogData.objects.filter(repository=repository, logo__isnull=False).first()
