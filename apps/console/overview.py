"""Getting started (`/console`): where a new account's user lands. The account id and
aliases, the exact `docker login`, tag and push commands for this host, how the
registry takes a password, an access key (through a login password) or a role's
credentials, the form that creates the user's first access key, and a few counts.

The counts are DescribeRepositories' (filtered by the policies, as the API's listing
is); the aliases are shown in full when the caller may describe the registry
(ecr-public:DescribeRegistries, as the account settings page asks), else only the
primary one, which the console's frame shows every member anyway. The account's
quotas (docs/quotas.md), each as used / limit, are shown to who may describe all of
its repositories (ecr:DescribeRepositories on `repository/*`, as the usage API asks):
the figures are the whole account's."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import path

from apps.accounts import links
from apps.accounts import quotas as account_quotas
from apps.accounts import selectors as account_selectors
from apps.kernel.sizes import binary_size
from apps.registry import quotas
from apps.registry import selectors as registry_selectors
from apps.registry.models import Manifest
from apps.repositories.models import Repository, Visibility

from .base import ConsoleView

DESCRIBE_REPOSITORIES = "ecr:DescribeRepositories"
DESCRIBE_REGISTRIES = "ecr-public:DescribeRegistries"
CREATE_ACCESS_KEY = "iam:CreateAccessKey"
# Example names in the commands when the account has no repository of that kind yet.
EXAMPLE_PRIVATE = "my-app"
EXAMPLE_PUBLIC = "my-tool"


def _quota_rows(account_id: str) -> list[dict]:
    rows = []
    for figure in quotas.figures(account_id):
        said = binary_size if figure.quota == account_quotas.STORAGE_BYTES else str
        rows.append(
            {
                "key": figure.quota,
                "label": figure.label,
                "used": said(figure.used),
                "limit": "unlimited" if figure.limit is None else said(figure.limit),
                "full": figure.limit is not None and figure.used >= figure.limit,
                "repository": figure.repository,
            }
        )
    return rows


class Overview(ConsoleView):
    section = "overview"
    template_name = "console/overview.html"

    def get(self, request):
        account = self.account
        # Each repository with its image count (DescribeRepositories' imageCount), in the one query.
        images = (
            Manifest.objects.filter(repository=OuterRef("pk"), media_type__in=registry_selectors.IMAGE_MANIFEST_TYPES)
            .values("repository")
            .annotate(count=Count("pk"))
            .values("count")
        )
        everything = (
            Repository.objects.filter(account=account)
            .annotate(image_count=Coalesce(Subquery(images), 0))
            .order_by("name")
        )
        repositories = self.permitted(DESCRIBE_REPOSITORIES, everything)
        private = [repository for repository in repositories if repository.visibility == Visibility.PRIVATE]
        public = [repository for repository in repositories if repository.visibility == Visibility.PUBLIC]
        aliases = list(account_selectors.aliases_of(account)) if self.allowed(DESCRIBE_REGISTRIES) else None
        primary = next((alias.name for alias in aliases or () if alias.is_primary), None)
        if primary is not None:  # the frame's primary alias, without asking again
            self.__dict__["primary_alias"] = primary
        may_create_key = not self.caller.is_role_session and self.allowed(
            CREATE_ACCESS_KEY, resource_arn=self.caller.arn
        )
        context = {
            "sign_in_name": request.user.get_username(),
            "is_root": self.caller.is_root,
            "aliases": aliases,
            "repository_count": len(repositories),
            "private_count": len(private),
            "public_count": len(public),
            "image_count": sum(repository.image_count for repository in repositories),
            "private_example": private[0].name if private else EXAMPLE_PRIVATE,
            "public_example": public[0].name if public else EXAMPLE_PUBLIC,
            "has_public": bool(public),
            "create_on_push": account.create_on_push,
            "has_access_keys": account_selectors.access_keys_of(request.user).exists(),
            "may_create_key": may_create_key,
            "endpoint": links.site_url(request),
            "login_password_hours": max(1, settings.BERTH_LOGIN_PASSWORD_TTL // 3600),
            "quotas": _quota_rows(account.pk)
            if self.allowed(DESCRIBE_REPOSITORIES, resource_arn=self.repository_arn("*"))
            else None,
        }
        return self.render(context)


urlpatterns = [
    path("", Overview.as_view(), name="overview"),
]
