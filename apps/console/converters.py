"""The console's path converter for repository names: ECR's repository name grammar
(`team/app`), so that `/console/repositories/team/app/-/settings` can never be read
as a repository named `team/app/-/settings` (a path component is never `-`)."""

from django.urls import register_converter

from apps.kernel.names import REPOSITORY_NAME_PATTERN


class RepositoryNameConverter:
    regex = REPOSITORY_NAME_PATTERN.removeprefix("^").removesuffix("$").replace("(", "(?:")

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RepositoryNameConverter, "repo")
