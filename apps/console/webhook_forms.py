"""The webhook pages' forms: an endpoint's settings and the typed confirmation of a deletion."""

from __future__ import annotations

from django import forms

from apps.webhooks.cloudevents import DELIVERED_EVENTS
from apps.webhooks.models import ALL_EVENTS, DESCRIPTION_MAX_LENGTH, URL_MAX_LENGTH

# What each delivered event means, for the checkboxes (docs/webhooks.md has the payloads).
EVENT_LABELS = {
    "image.pushed": "an image was pushed",
    "image.deleted": "an image was deleted (by a user, or expired by a lifecycle policy)",
    "tag.moved": "a tag was created or moved",
    "tag.deleted": "a tag was deleted",
    "image.scan_completed": "a scan ended",
    "images.rematched": "the advisory database changed the findings of scanned images",
    "image.replication_changed": "a replicated copy changed status",
    "alias_request.decided": "staff decided on an alias request",
}
EVENT_CHOICES = [(ALL_EVENTS, "every event (*), those added later included")] + [
    (name, f"{name}: {EVENT_LABELS.get(name, name)}") for name in DELIVERED_EVENTS
]
DELETE_WORD = "delete"


class WebhookForm(forms.Form):
    # The service checks the URL (scheme, host, where it resolves): a CharField, as in
    # the API, so that an intranet host staff allowed is not refused as malformed.
    url = forms.CharField(
        label="Payload URL",
        max_length=URL_MAX_LENGTH,
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://ci.example.com/hooks/berth"}),
        help_text="Berth POSTs each event here as a signed CloudEvent. https:// (or http://); "
        "no loopback, private or link-local address.",
    )
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event, or every event (*)."},
    )
    description = forms.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False)
    active = forms.BooleanField(required=False, initial=True, help_text="An inactive webhook gets no new deliveries.")

    def clean_url(self) -> str:
        return self.cleaned_data["url"].strip()

    def clean_events(self) -> list[str]:
        chosen = self.cleaned_data["events"]
        return [ALL_EVENTS] if ALL_EVENTS in chosen else chosen


class DeleteWebhookForm(forms.Form):
    confirm = forms.CharField(label=f"Type {DELETE_WORD} to confirm", max_length=32)

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != DELETE_WORD:
            raise forms.ValidationError(f"Type {DELETE_WORD} to delete this webhook and its delivery log.")
        return typed
