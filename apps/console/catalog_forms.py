"""The catalog data form of the console (`/console/repositories/<name>/-/catalog`):
Amazon ECR Public's PutRepositoryCatalogData as a page. The limits are the
service's (apps.repositories.catalog), which checks everything again when it
writes; the form's own checks only put a message beside the field at fault."""

from __future__ import annotations

from django import forms

from apps.repositories import catalog
from apps.repositories.models import (
    CATALOG_DESCRIPTION_MAX_LENGTH,
    CATALOG_TEXT_MAX_LENGTH,
    LOGO_MAX_BYTES,
    LOGO_MAX_SIDE,
    LOGO_MIN_SIDE,
    RECOGNISED_ARCHITECTURES,
    RECOGNISED_OPERATING_SYSTEMS,
)

# The service's field names (CatalogDataInvalid.field) -> the form's.
SERVICE_FIELDS = {
    "description": "description",
    "about_markdown": "about_markdown",
    "usage_markdown": "usage_markdown",
    "architectures": "architectures",
    "operating_systems": "operating_systems",
    "logo": "logo",
}


def _choices(recognised: tuple[str, ...], current: list[str]) -> list[tuple[str, str]]:
    """The recognised values, then any other value already put (through the API,
    which takes any): offered checked, so that saving the page keeps it."""
    values = list(recognised) + [value for value in current if value not in recognised]
    return [(value, value) for value in values]


class CatalogDataForm(forms.Form):
    description = forms.CharField(
        required=False,
        max_length=CATALOG_DESCRIPTION_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "catalog-description"}),
        help_text=f"A short summary shown in search results; at most {CATALOG_DESCRIPTION_MAX_LENGTH:,} characters.",
    )
    about_markdown = forms.CharField(
        label="About",
        required=False,
        max_length=CATALOG_TEXT_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "data-preview": "about"}),
        help_text=f"Markdown: what the image is. At most {CATALOG_TEXT_MAX_LENGTH:,} characters.",
    )
    usage_markdown = forms.CharField(
        label="Usage",
        required=False,
        max_length=CATALOG_TEXT_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "data-preview": "usage"}),
        help_text=f"Markdown: how to run it. At most {CATALOG_TEXT_MAX_LENGTH:,} characters.",
    )
    operating_systems = forms.MultipleChoiceField(
        label="Operating systems", required=False, widget=forms.CheckboxSelectMultiple
    )
    architectures = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    logo = forms.FileField(
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}),
        help_text=(
            f"PNG or JPEG, at most {LOGO_MAX_BYTES // 1000:,} kB, each side {LOGO_MIN_SIDE} to {LOGO_MAX_SIDE} pixels."
        ),
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    def __init__(self, *args, current=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["operating_systems"].choices = _choices(
            RECOGNISED_OPERATING_SYSTEMS, list(current.operating_systems) if current is not None else []
        )
        self.fields["architectures"].choices = _choices(
            RECOGNISED_ARCHITECTURES, list(current.architectures) if current is not None else []
        )

    def clean_logo(self) -> bytes | None:
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        if upload.size > LOGO_MAX_BYTES:
            # Refused before reading it: the service's own message, the same as the API's.
            raise forms.ValidationError(
                f"the logo is {upload.size:,} bytes; it may be at most {LOGO_MAX_BYTES:,}", code="logo_too_large"
            )
        data = upload.read()
        try:
            catalog.inspect_logo(data)
        except catalog.LogoInvalid as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None
        return data

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("logo") and cleaned.get("remove_logo"):
            self.add_error("remove_logo", "Upload a new logo or remove the logo, not both.")
        return cleaned

    @classmethod
    def initial_from(cls, data) -> dict:
        return {
            "description": data.description,
            "about_markdown": data.about_markdown,
            "usage_markdown": data.usage_markdown,
            "operating_systems": list(data.operating_systems),
            "architectures": list(data.architectures),
        }


class PreviewForm(forms.Form):
    """What the live preview renders: one Markdown text, as long as the service takes."""

    text = forms.CharField(required=False, max_length=CATALOG_TEXT_MAX_LENGTH, strip=False)
