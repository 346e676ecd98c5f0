"""Forms of the repository policy and lifecycle policy pages (apps/console/policies.py).

The forms check only the shape of what was posted; the policies themselves are
validated by the services the API calls (apps.iam.services for a repository policy,
apps.lifecycle for a lifecycle policy), whose messages become the editor's errors."""

from __future__ import annotations

import json
import re

from django import forms

from apps.iam.policy import MAX_POLICY_CHARACTERS
from apps.lifecycle.policy import MAX_LENGTH as MAX_LIFECYCLE_CHARACTERS

# The ECR actions that act on a repository, grouped as the simulator's select offers
# them (account-level actions such as GetAuthorizationToken never meet a repository policy).
REPOSITORY_ACTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Pull", ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")),
    (
        "Push",
        ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"),
    ),
    (
        "Read",
        (
            "ecr:DescribeImages",
            "ecr:ListImages",
            "ecr:DescribeRepositories",
            "ecr:DescribeImageScanFindings",
            "ecr:DescribeImageReplicationStatus",
            "ecr:ListTagsForResource",
            "ecr:GetRepositoryPolicy",
            "ecr:GetLifecyclePolicy",
            "ecr:GetLifecyclePolicyPreview",
        ),
    ),
    (
        "Manage",
        (
            "ecr:BatchDeleteImage",
            "ecr:DeleteRepository",
            "ecr:SetRepositoryPolicy",
            "ecr:DeleteRepositoryPolicy",
            "ecr:PutLifecyclePolicy",
            "ecr:DeleteLifecyclePolicy",
            "ecr:StartLifecyclePolicyPreview",
            "ecr:PutImageTagMutability",
            "ecr:PutImageScanningConfiguration",
            "ecr:StartImageScan",
            "ecr:TagResource",
            "ecr:UntagResource",
            "ecr:ReplicateImage",
        ),
    ),
)
ACTION_CHOICES = [
    (group, [(action, action.partition(":")[2]) for action in actions]) for group, actions in REPOSITORY_ACTIONS
]
REPOSITORY_ACTION_NAMES = frozenset(action for _, actions in REPOSITORY_ACTIONS for action in actions)

DRAFT, SAVED = "draft", "saved"

_LINE_COLUMN = re.compile(r"at line (\d+) column (\d+)")
_STATEMENT = re.compile(r"^Statement (\d+)")


class RepositoryPolicyForm(forms.Form):
    policy_text = forms.CharField(
        label="Repository policy (JSON)",
        required=False,
        strip=False,
        # The policy parser refuses longer text with a message saying how long it was.
        max_length=MAX_POLICY_CHARACTERS * 2,
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "autocomplete": "off"}),
    )

    def clean_policy_text(self) -> str:
        return _lines(self.cleaned_data["policy_text"])


class SimulationForm(forms.Form):
    principal = forms.CharField(
        label="Principal",
        max_length=2048,
        help_text="An ARN: a user or role of this account, another account's root (or its 12-digit id), "
        "one of its users or roles, or * for an anonymous caller.",
        widget=forms.TextInput(attrs={"list": "simulator-principals", "autocomplete": "off", "spellcheck": "false"}),
    )
    action = forms.ChoiceField(label="Action", choices=ACTION_CHOICES, initial="ecr:BatchGetImage")
    source_ip = forms.GenericIPAddressField(
        label="Source IP (aws:SourceIp)", required=False, help_text="Optional: the caller's address."
    )
    user_agent = forms.CharField(
        label="User agent (aws:UserAgent)", required=False, max_length=512, help_text="Optional."
    )
    subject = forms.ChoiceField(
        label="Simulate",
        choices=[(DRAFT, "the text in the editor (unsaved draft)"), (SAVED, "the saved policy")],
        initial=SAVED,
        widget=forms.RadioSelect,
    )


class LifecyclePolicyForm(forms.Form):
    lifecycle_policy_text = forms.CharField(
        label="Lifecycle policy (JSON)",
        required=False,
        strip=False,
        # The lifecycle parser refuses longer text with ECR's message.
        max_length=MAX_LIFECYCLE_CHARACTERS * 2,
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "autocomplete": "off"}),
    )

    def clean_lifecycle_policy_text(self) -> str:
        return _lines(self.cleaned_data["lifecycle_policy_text"])


def _lines(text: str) -> str:
    """A textarea's text with the newlines the editor showed (browsers post CRLF)."""
    return text.replace("\r\n", "\n")


def formatted(text: str) -> str:
    """JSON text indented for the editor; text that is not JSON as it is."""
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def error_location(message: str) -> dict:
    """Where a parser's message points: ``line`` and ``column`` of malformed JSON, or
    the ``statement`` (counted from 1) a policy error names."""
    where = {}
    if found := _LINE_COLUMN.search(message):
        where["line"], where["column"] = int(found.group(1)), int(found.group(2))
    if found := _STATEMENT.match(message):
        where["statement"] = int(found.group(1))
    return where
