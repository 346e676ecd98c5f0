"""The audit trail page's filters (LookupEvents' own, apps.audit.selectors.EventFilters)."""

from __future__ import annotations

from datetime import UTC

from django import forms

from apps.audit.selectors import EventFilters
from apps.kernel.names import REPOSITORY_NAME_MAX_LENGTH

KINDS = [("", "reads and writes"), ("writes", "writes only"), ("reads", "reads only")]
# datetime-local inputs: minutes, in UTC (the page says so)
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class UtcDateTimeField(forms.DateTimeField):
    """A time typed without a zone is UTC, as the page shows every time."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is not None:
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return moment


class EventFilterForm(forms.Form):
    event_name = forms.CharField(
        required=False, max_length=128, label="Event name", widget=forms.TextInput(attrs={"placeholder": "PutImage"})
    )
    principal = forms.CharField(
        required=False,
        max_length=2048,
        label="Principal",
        widget=forms.TextInput(attrs={"placeholder": "user name, ARN or access key id"}),
    )
    repository = forms.CharField(required=False, max_length=REPOSITORY_NAME_MAX_LENGTH, label="Repository")
    start = UtcDateTimeField(
        required=False,
        label="From (UTC)",
        input_formats=TIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = UtcDateTimeField(
        required=False,
        label="To (UTC)",
        input_formats=TIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    kind = forms.ChoiceField(required=False, choices=KINDS, label="Kind")
    errors = forms.BooleanField(required=False, label="Errors only")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and start > end:
            self.add_error("end", "The end of the time range is before its start.")
        return data

    def filters(self) -> EventFilters:
        data = self.cleaned_data
        kind = data.get("kind") or ""
        return EventFilters(
            event_name=data.get("event_name", "").strip(),
            principal=data.get("principal", "").strip(),
            repository=data.get("repository", "").strip(),
            start_time=data.get("start"),
            end_time=data.get("end"),
            read_only={"writes": False, "reads": True}.get(kind),
            errors_only=bool(data.get("errors")),
        )
