"""Forms of the console's IAM pages (apps.console.iam_pages).

They check only the shape of what was typed (lengths, a choice among the offered
ones); the grammar of names and the policy documents are the services' to judge
(apps.iam.services), whose messages the pages put on the fields they concern."""

from __future__ import annotations

import json

from django import forms

from apps.iam.models import DEFAULT_SESSION_SECONDS, MAX_SESSION_SECONDS
from apps.iam.policy import MAX_POLICY_CHARACTERS

# What the create-role form starts with: the account itself may assume the role
# (as far as its users' own policies allow sts:AssumeRole).
TRUST_POLICY_TEMPLATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:{partition}:iam::{account}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}

# What the create-policy form starts with: pulling the account's images.
POLICY_TEMPLATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Resource": "arn:{partition}:ecr:*:{account}:repository/*",
        }
    ],
}


def template_text(template: dict, *, account_id: str, partition: str) -> str:
    text = json.dumps(template, indent=2)
    return text.replace("{partition}", partition).replace("{account}", account_id)


def _document_field(label: str, help_text: str) -> forms.CharField:
    # Longer text is the policy parser's to refuse, with the length in its message.
    return forms.CharField(
        label=label,
        strip=False,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "autocapitalize": "off"}),
        max_length=MAX_POLICY_CHARACTERS * 2,
    )


class CreateUserForm(forms.Form):
    user_name = forms.CharField(
        label="User name",
        max_length=64,
        help_text="Letters, digits and _ . @ + -; unique within the account, ignoring case.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label="Console password (optional)",
        required=False,
        strip=False,
        help_text="Lets the user sign in to the console and to docker login as <account>/<user name>. "
        "Without one, the user signs in with access keys only.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class CreateRoleForm(forms.Form):
    role_name = forms.CharField(
        label="Role name",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(label="Description (optional)", required=False, max_length=1000)
    max_session_duration = forms.IntegerField(
        label="Longest session, in seconds",
        min_value=DEFAULT_SESSION_SECONDS,
        max_value=MAX_SESSION_SECONDS,
        initial=DEFAULT_SESSION_SECONDS,
        help_text=f"How long AssumeRole's credentials may last: {DEFAULT_SESSION_SECONDS} to {MAX_SESSION_SECONDS}.",
    )
    trust_policy = _document_field(
        "Trust policy",
        "Who may assume the role: a JSON policy whose Principal names accounts, users or roles, and whose "
        "Action is sts:AssumeRole.",
    )


class TrustPolicyForm(forms.Form):
    trust_policy = _document_field("Trust policy", "Replaces the role's trust policy; sessions already issued run on.")


class CreatePolicyForm(forms.Form):
    policy_name = forms.CharField(
        label="Policy name",
        max_length=128,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(label="Description (optional)", required=False, max_length=1000)
    document = _document_field(
        "Policy document",
        "An IAM identity policy (JSON): statements of Effect, Action and Resource. It is checked before it is saved.",
    )


class AttachPolicyForm(forms.Form):
    """A policy chosen among those the page offers (ARNs)."""

    policy_arn = forms.ChoiceField(label="Policy")

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy_arn"].choices = [("", "Choose a policy…"), *choices]


class ConfirmForm(forms.Form):
    """A destructive action: the user types ``word`` (a name) to confirm it."""

    confirm = forms.CharField(label="Type the name to confirm", max_length=200, strip=True)

    def __init__(self, *args, word: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.word = word

    def clean_confirm(self):
        typed = self.cleaned_data["confirm"]
        if typed != self.word:
            raise forms.ValidationError(f"Type {self.word} exactly to confirm.")
        return typed
