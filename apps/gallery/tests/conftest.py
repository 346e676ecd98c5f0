"""Fixtures for the gallery's tests: public repositories with catalog data and tags."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from apps.audit.events import Actor
from apps.registry.content import media_types as mt
from apps.registry.models import Manifest, Tag
from apps.repositories import catalog
from apps.repositories import services as repository_services
from apps.repositories.models import Repository, Visibility

from .. import services

_counter = itertools.count()


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings):
    # The pages name static files; the tests run without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def add_tag(
    repository: Repository,
    tag: str,
    *,
    config_media_type: str = mt.OCI_CONFIG,
    media_type: str = mt.OCI_MANIFEST,
    artifact_type: str = "",
    platforms: list | None = None,
    total_size: int = 1234,
) -> Tag:
    """A stored manifest tagged ``tag``, as a push leaves it once its details are
    recorded and the gallery has heard of both."""
    n = next(_counter)
    digest = "sha256:" + hashlib.sha256(f"{repository.pk}-{tag}-{n}".encode()).hexdigest()
    manifest = Manifest.objects.create(
        repository=repository,
        digest=digest,
        media_type=media_type,
        size=100,
        content=b"{}",
        config_media_type=config_media_type,
        artifact_type=artifact_type,
        total_size=total_size,
        platforms=platforms if platforms is not None else [{"os": "linux", "architecture": "amd64"}],
    )
    created = Tag.objects.create(repository=repository, name=tag, manifest=manifest)
    services.refresh_entry(repository_id=repository.pk)
    return created


@pytest.fixture
def publish(committed):
    """A public repository with catalog data and, by default, a `latest` tag."""

    def make(
        account,
        name: str,
        *,
        description: str = "",
        about: str = "",
        usage: str = "",
        operating_systems=None,
        architectures=None,
        tags=("latest",),
        visibility=Visibility.PUBLIC,
        **tag_options,
    ):
        with committed():
            repository = repository_services.create_repository(
                actor=Actor.system("test"), account=account, name=name, visibility=Visibility.PUBLIC
            )
            catalog.put_repository_catalog_data(
                actor=Actor.system("test"),
                repository=repository,
                description=description,
                about_markdown=about,
                usage_markdown=usage,
                operating_systems=operating_systems or [],
                architectures=architectures or [],
            )
            for tag in tags:
                add_tag(repository, tag, **tag_options)
            if visibility != Visibility.PUBLIC:
                repository_services.update_repository(
                    repository=repository, visibility=visibility, actor=Actor.staff("operator")
                )
        repository.refresh_from_db()
        return repository

    return make
