"""The console's repository forms: creating a repository, its settings, deleting it.

They check what a form can see, with the very rules the services apply
(apps.repositories.services and .mutability), so a mistake is shown on its field
before anything is asked of the policies; the services check again, and the views
show what they refuse on the same fields. The settings are those of Amazon ECR's
CreateRepository / PutImageTagMutability / PutImageScanningConfiguration /
TagResource, plus Berth's visibility. There is no encryption setting: a repository's
layers are stored as the blob store keeps every blob (encryptionConfiguration exists
only on repository creation templates, where it can only be AES256)."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings

from apps.repositories import services
from apps.repositories.models import (
    REPOSITORY_NAME_MAX_LENGTH,
    RESOURCE_TAGS_PER_REPOSITORY,
    Repository,
    TagMutability,
    Visibility,
)
from apps.repositories.mutability import MAX_EXCLUSION_FILTERS, TagMutabilityInvalid
from apps.repositories.mutability import validate_tag_mutability as _validate_tag_mutability

# Exclusion filters are written one a line, or separated by commas or spaces.
_FILTER_SEPARATORS = re.compile(r"[\s,]+")
_TEXTAREA_LIMIT = 100_000  # characters; far above 200 tags of 128 + 256


def update_actions(changes: dict) -> list[str]:
    """The ECR operations a settings change performs, as the management API's
    repository update names them (apps/api/repositories/views.py `_update_actions`):
    making a repository public lets everyone pull it, as a repository policy
    granting `*` would, so it takes ecr:SetRepositoryPolicy; a change of nothing
    only describes."""
    actions = []
    if "imageTagMutability" in changes or "imageTagMutabilityExclusionFilters" in changes:
        actions.append("ecr:PutImageTagMutability")
    if "scanOnPush" in changes:
        actions.append("ecr:PutImageScanningConfiguration")
    if "tags" in changes:
        actions.append("ecr:TagResource")
    if "visibility" in changes:
        actions.append("ecr:SetRepositoryPolicy")
    return actions or ["ecr:DescribeRepositories"]


def create_actions(*, visibility: str, resource_tags: dict) -> list[str]:
    """What CreateRepository needs besides itself, as the API asks: ecr:TagResource
    for resource tags, ecr:SetRepositoryPolicy for a public repository."""
    actions = ["ecr:TagResource"] if resource_tags else []
    if visibility == Visibility.PUBLIC:
        actions.append("ecr:SetRepositoryPolicy")
    return actions


def filters_text(filters: list[str]) -> str:
    return "\n".join(filters)


def tags_text(tags: dict[str, str]) -> str:
    return "\n".join(f"{key}={value}" for key, value in sorted(tags.items()))


class _PlainLabels:
    """Labels read as written ("Name", not Django's "Name:")."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RepositorySettingsForm(_PlainLabels, forms.Form):
    """Visibility, tag mutability with its exclusion filters, scan on push and
    resource tags. ``cleaned_data`` holds ``exclusion_filters`` as a list and
    ``resource_tags`` as a dict."""

    visibility = forms.ChoiceField(
        choices=Visibility.choices,
        initial=Visibility.PRIVATE,
        widget=forms.RadioSelect,
        help_text="Anyone may pull a public repository, without signing in, through the account's alias; "
        "a private one is reached only through the account id, by those the policies allow.",
    )
    image_tag_mutability = forms.ChoiceField(
        label="Tag mutability",
        choices=TagMutability.choices,
        initial=TagMutability.MUTABLE,
        widget=forms.RadioSelect,
        help_text="An immutable tag, once pushed, cannot be pushed again with other content "
        "(the same content again is fine).",
    )
    exclusion_filters = forms.CharField(
        label="Exclusion filters",
        required=False,
        max_length=_TEXTAREA_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "off"}),
        help_text=f"With “except tags matching a filter”: up to {MAX_EXCLUSION_FILTERS} tag patterns, one a line "
        "(latest, dev-*); * is the only wildcard. Matching tags take the opposite rule.",
    )
    scan_on_push = forms.BooleanField(
        label="Scan images for vulnerabilities when they are pushed",
        required=False,
    )
    resource_tags = forms.CharField(
        label="Resource tags",
        required=False,
        max_length=_TEXTAREA_LIMIT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "off"}),
        help_text=f"Optional key=value metadata, one a line (team=payments), up to {RESOURCE_TAGS_PER_REPOSITORY}; "
        "policies may match on them. Not image tags.",
    )

    def __init__(self, *args, current_tags: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_tags = current_tags or {}

    def clean_exclusion_filters(self) -> list[str]:
        text = self.cleaned_data.get("exclusion_filters") or ""
        return [pattern for pattern in _FILTER_SEPARATORS.split(text) if pattern]

    def clean_resource_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for number, line in enumerate((self.cleaned_data.get("resource_tags") or "").splitlines(), start=1):
            if not line.strip():
                continue
            key, separator, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if not separator or not key:
                raise forms.ValidationError(f"line {number}: write each tag as key=value", code="invalid")
            if key in tags:
                raise forms.ValidationError(f"line {number}: the key {key[:128]!r} is given twice", code="unique")
            tags[key] = value
        try:
            services.validate_resource_tags(tags)
        except services.ResourceTagsInvalid as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None
        return tags

    def clean(self):
        cleaned = super().clean()
        mutability = cleaned.get("image_tag_mutability")
        filters = cleaned.get("exclusion_filters")
        if mutability and filters is not None:
            try:
                cleaned["exclusion_filters"] = _validate_tag_mutability(mutability, filters)
            except TagMutabilityInvalid as exc:
                self.add_error("exclusion_filters", forms.ValidationError(str(exc), code=exc.code))
        return cleaned

    @classmethod
    def for_repository(cls, repository: Repository, data=None) -> RepositorySettingsForm:
        """The form filled in with the repository's current settings (its resource
        tags prefetched or read here)."""
        tags = current_tags(repository)
        initial = {
            "visibility": repository.visibility,
            "image_tag_mutability": repository.image_tag_mutability,
            "exclusion_filters": filters_text(repository.image_tag_mutability_exclusion_filters or []),
            "scan_on_push": repository.scan_on_push,
            "resource_tags": tags_text(tags),
        }
        return cls(data, initial=initial, current_tags=tags)

    def changes(self, repository: Repository) -> dict:
        """What differs from the repository's settings (of a form made with
        for_repository), in the management API's words (UpdateRepository's fields):
        only what the user changed is asked for."""
        data = self.cleaned_data
        changes: dict = {}
        if data["visibility"] != repository.visibility:
            changes["visibility"] = data["visibility"]
        if data["image_tag_mutability"] != repository.image_tag_mutability or data["exclusion_filters"] != list(
            repository.image_tag_mutability_exclusion_filters or []
        ):
            changes["imageTagMutability"] = data["image_tag_mutability"]
            changes["imageTagMutabilityExclusionFilters"] = data["exclusion_filters"]
        if data["scan_on_push"] != repository.scan_on_push:
            changes["scanOnPush"] = data["scan_on_push"]
        if data["resource_tags"] != self.current_tags:
            changes["tags"] = data["resource_tags"]
        return changes


def current_tags(repository: Repository) -> dict[str, str]:
    return {tag.key: tag.value for tag in repository.resource_tags.all()}


class CreateRepositoryForm(RepositorySettingsForm):
    name = forms.CharField(
        label="Repository name",
        max_length=REPOSITORY_NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
        help_text="Lowercase letters and digits, separated by . _ __ or -; a / makes a namespace (team/app). "
        "Unique in the account.",
    )

    encryption_type = forms.ChoiceField(
        label="Encryption at rest",
        choices=[("", "None"), ("AES256", "AES256"), ("KMS", "KMS (a named key)")],
        required=False,
        help_text="Chosen now, for good. AES256: the registry's key; KMS: the key named below.",
    )
    kms_key = forms.CharField(
        label="KMS key",
        required=False,
        max_length=2048,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
        help_text="With KMS only: on S3 a KMS key id, ARN or alias; otherwise a key of Berth's key ring.",
    )

    field_order = [
        "name",
        "visibility",
        "image_tag_mutability",
        "exclusion_filters",
        "scan_on_push",
        "resource_tags",
        "encryption_type",
        "kms_key",
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("encryption_type", settings.BERTH_DEFAULT_ENCRYPTION)

    def clean(self):
        data = super().clean()
        try:
            data["encryption_type"], data["kms_key"] = services.validate_encryption(
                data.get("encryption_type", ""), data.get("kms_key", "")
            )
        except services.EncryptionConfigurationInvalid as exc:
            self.add_error("kms_key" if data.get("encryption_type") == "KMS" else "encryption_type", str(exc))
        return data

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        try:
            services.validate_repository_name(name)
        except services.RepositoryNameInvalid as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None
        return name


class DeleteRepositoryForm(_PlainLabels, forms.Form):
    """The repository's name typed again; ``force`` deletes its images with it
    (Amazon ECR's DeleteRepository force)."""

    confirm = forms.CharField(
        label="Type the repository's name to confirm",
        max_length=REPOSITORY_NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
    )
    force = forms.BooleanField(label="Delete its images too", required=False)

    def __init__(self, *args, repository: Repository, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.repository = repository

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"]
        if typed != self.repository.name:
            raise forms.ValidationError(
                f"Type the name {self.repository.name} exactly to delete the repository.", code="mismatch"
            )
        return typed
