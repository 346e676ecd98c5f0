"""The policies built into Berth, and the root user of every existing account (its
earliest member)."""
import json

from django.db import migrations

READ_ONLY_ACTIONS = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:GetLifecyclePolicy",
    "ecr:GetLifecyclePolicyPreview",
    "ecr:ListTagsForResource",
    "ecr:DescribeImageScanFindings",
    "ecr-public:GetAuthorizationToken",
    "ecr-public:BatchCheckLayerAvailability",
    "ecr-public:GetRepositoryPolicy",
    "ecr-public:DescribeRepositories",
    "ecr-public:DescribeRegistries",
    "ecr-public:DescribeImages",
    "ecr-public:DescribeImageTags",
    "ecr-public:GetRepositoryCatalogData",
    "ecr-public:GetRegistryCatalogData",
    "ecr-public:ListTagsForResource",
    "sts:GetServiceBearerToken",
]
PUSH_ACTIONS = [
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr-public:InitiateLayerUpload",
    "ecr-public:UploadLayerPart",
    "ecr-public:CompleteLayerUpload",
    "ecr-public:PutImage",
]


def _document(actions: list[str]) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}, indent=2
    )


BUILTIN_POLICIES = {
    "BerthRegistryFullAccess": (
        "Every registry action, and the audit trail: like AmazonEC2ContainerRegistryFullAccess.",
        _document(["ecr:*", "ecr-public:*", "sts:GetServiceBearerToken", "cloudtrail:LookupEvents"]),
    ),
    "BerthRegistryPowerUser": (
        "Push, pull, describe and list; no deletes and no policy changes: like "
        "AmazonEC2ContainerRegistryPowerUser.",
        _document(READ_ONLY_ACTIONS + PUSH_ACTIONS),
    ),
    "BerthRegistryReadOnly": (
        "Pull, describe and list: like AmazonEC2ContainerRegistryReadOnly.",
        _document(READ_ONLY_ACTIONS),
    ),
}


def create_builtin_policies(apps, schema_editor):
    ManagedPolicy = apps.get_model("iam", "ManagedPolicy")
    for name, (description, document) in BUILTIN_POLICIES.items():
        ManagedPolicy.objects.update_or_create(
            account=None, name=name, defaults={"description": description, "document": document, "path": "/"}
        )


def mark_root_users(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    Membership = apps.get_model("accounts", "Membership")
    RootUser = apps.get_model("iam", "RootUser")
    for account in Account.objects.filter(root_user__isnull=True).iterator():
        first = Membership.objects.filter(account=account).order_by("created_at", "pk").first()
        if first is not None and not RootUser.objects.filter(user_id=first.user_id).exists():
            RootUser.objects.create(account=account, user_id=first.user_id)


class Migration(migrations.Migration):

    dependencies = [
        ("iam", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_builtin_policies, migrations.RunPython.noop),
        migrations.RunPython(mark_root_users, migrations.RunPython.noop),
    ]
