"""The window of the insights pages: the last 7, 30 or 90 days (GET `days`)."""

from __future__ import annotations

from django import forms

WINDOWS = (7, 30, 90)


class WindowForm(forms.Form):
    DEFAULT_DAYS = 30

    days = forms.TypedChoiceField(
        label="Window",
        choices=[(days, f"Last {days} days") for days in WINDOWS],
        coerce=int,
        required=False,
        empty_value=DEFAULT_DAYS,
        error_messages={"invalid_choice": "Choose a window of 7, 30 or 90 days (%(value)s is not one)."},
    )
