"""Forms of the console's image pages: the list's filter and sort, adding and
removing a tag, deleting an image. They check what a form can see; the registry's
services judge the rest (tag mutability, an index that lists the image), and their
refusals are shown on the form."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.core.validators import RegexValidator

from apps.kernel.names import TAG_MAX_LENGTH, TAG_PATTERN
from apps.registry.selectors import ImageOrder

TAG_RULE = (
    f"1 to {TAG_MAX_LENGTH} letters, digits, '_', '.' and '-', not starting with '.' or '-' (the OCI tag grammar)"
)


def short_digest(digest: str) -> str:
    """sha256:0123456789ab… -> sha256:0123456789ab: what the pages show and a delete asks to type."""
    algorithm, _, hex_digits = digest.partition(":")
    return f"{algorithm}:{hex_digits[:12]}" if hex_digits else digest


class _PlainLabels:
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ImagesFilterForm(_PlainLabels, forms.Form):
    """GET `tag` (a part of a tag, any case), `sort`, `page`."""

    tag = forms.CharField(
        label="Tag contains",
        required=False,
        max_length=TAG_MAX_LENGTH,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. 1.2 or latest"}),
    )
    sort = forms.ChoiceField(label="Sort by", choices=ImageOrder.choices, required=False)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def page_query(self, *, page: int | None = None) -> str:
        """The filter's part of a page link's query (with `page` when given)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        kept = {key: data[key] for key in ("tag", "sort") if data.get(key)}
        if page is not None:
            kept["page"] = page
        return urlencode(kept)


class RetagForm(_PlainLabels, forms.Form):
    tag = forms.CharField(
        label="Add a tag",
        max_length=TAG_MAX_LENGTH,
        validators=[RegexValidator(TAG_PATTERN, message=f"A tag is {TAG_RULE}.")],
        help_text="Points the tag at this image, as a push of the same manifest with that tag would (ECR's PutImage). "
        "A tag that names another image moves here, unless the repository's tags are immutable.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, tags: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_tags = set(tags)

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"]
        if tag in self.current_tags:
            raise forms.ValidationError(f"This image is already tagged {tag}.")
        return tag


class RemoveTagForm(forms.Form):
    tag = forms.CharField(max_length=TAG_MAX_LENGTH)


class DeleteImageForm(_PlainLabels, forms.Form):
    confirm = forms.CharField(
        label="Type the image's short digest to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    with_dependents = forms.BooleanField(
        label="Also delete its referrers (signatures, SBOMs, attestations) and the platform images only it lists",
        required=False,
        initial=True,
    )

    def __init__(self, *args, digest: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.word = short_digest(digest)

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.word:
            raise forms.ValidationError(f"Type {self.word} to delete this image.")
        return typed
