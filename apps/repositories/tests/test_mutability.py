"""Image tag mutability: the rule, and the registry enforcing it on pushes."""

from __future__ import annotations

import json

import pytest

from apps.audit.events import Actor
from apps.registry.models import Manifest, Tag, TagHistory
from apps.repositories import selectors, services
from apps.repositories.models import Repository, TagMutability
from apps.repositories.mutability import TagMutabilityInvalid, tag_is_immutable, validate_tag_mutability


def settings_of(mutability: str, filters: list[str] = ()) -> Repository:
    return Repository(image_tag_mutability=mutability, image_tag_mutability_exclusion_filters=list(filters))


@pytest.mark.parametrize(
    "mutability, filters, tag, immutable",
    [
        (TagMutability.MUTABLE, [], "latest", False),
        (TagMutability.IMMUTABLE, [], "latest", True),
        (TagMutability.IMMUTABLE, [], "v1.0", True),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["latest"], "latest", False),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["latest"], "latest-1", True),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["latest", "dev-*"], "dev-feature.x", False),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["dev-*"], "dev-", False),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["dev-*"], "v1-dev-1", True),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["*-rc"], "1.0-rc", False),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["Latest"], "latest", True),  # case matters, as in tags
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, ["v1.0"], "v1x0", True),  # '.' is a dot, not any character
        (TagMutability.MUTABLE_WITH_EXCLUSION, ["release-*"], "release-2", True),
        (TagMutability.MUTABLE_WITH_EXCLUSION, ["release-*"], "latest", False),
        (TagMutability.MUTABLE_WITH_EXCLUSION, ["*"], "anything", True),
    ],
)
def test_tag_is_immutable(mutability, filters, tag, immutable):
    assert tag_is_immutable(settings_of(mutability, filters), tag) is immutable


def test_validate_tag_mutability():
    assert validate_tag_mutability(TagMutability.MUTABLE, []) == []
    assert validate_tag_mutability(TagMutability.IMMUTABLE_WITH_EXCLUSION, ["latest", "dev-*", "latest"]) == [
        "latest",
        "dev-*",
    ]
    cases = [
        (TagMutability.IMMUTABLE, ["latest"], "invalid"),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, [], "required"),
        (TagMutability.MUTABLE_WITH_EXCLUSION, ["a", "b", "c", "d", "e", "f"], "max_length"),
        (TagMutability.MUTABLE_WITH_EXCLUSION, ["dev-?"], "invalid"),
        (TagMutability.MUTABLE_WITH_EXCLUSION, ["x" * 129], "invalid"),
        (TagMutability.MUTABLE_WITH_EXCLUSION, [""], "invalid"),
        ("SOMETIMES", [], "invalid_choice"),
    ]
    for mutability, filters, code in cases:
        with pytest.raises(TagMutabilityInvalid) as caught:
            validate_tag_mutability(mutability, filters)
        assert caught.value.code == code, (mutability, filters)


@pytest.mark.django_db
def test_the_registry_reads_the_settings_it_enforces(tenant):
    services.create_repository(
        actor=Actor.system("test"),
        account=tenant.account,
        name="app",
        image_tag_mutability=TagMutability.IMMUTABLE_WITH_EXCLUSION,
        image_tag_mutability_exclusion_filters=["latest"],
        scan_on_push=True,
    )
    found = selectors.find_repository(f"{tenant.id}/app")
    assert found.image_tag_mutability == TagMutability.IMMUTABLE_WITH_EXCLUSION
    assert found.image_tag_mutability_exclusion_filters == ["latest"]
    assert found.scan_on_push is True
    assert found.created_at is not None  # deferred, loaded when read


# -- through the V2 API -------------------------------------------------------------


def error(response) -> dict:
    return json.loads(response.content)["errors"][0]


@pytest.fixture
def alice(tenant, registry_client):
    return registry_client(tenant)


def make_repository(tenant, mutability, filters=()):
    return services.create_repository(
        actor=Actor.system("test"),
        account=tenant.account,
        name="app",
        image_tag_mutability=mutability,
        image_tag_mutability_exclusion_filters=list(filters),
    )


@pytest.mark.django_db
def test_an_immutable_tag_cannot_move(tenant, alice):
    make_repository(tenant, TagMutability.IMMUTABLE)
    name = f"{tenant.id}/app"
    first, first_manifest = alice.push_image(name, "v1", seed=b"one")
    _, second_manifest = alice.push_image(name, "other", seed=b"two")
    moved = alice.push_manifest(name, "v1", second_manifest)
    assert moved.status_code == 400
    assert error(moved)["code"] == "TAG_INVALID"
    assert "v1" in error(moved)["message"] and name in error(moved)["message"]
    assert "immutable" in error(moved)["message"]
    assert Tag.objects.get(repository__name="app", name="v1").manifest.digest == first
    assert TagHistory.objects.filter(tag="v1").count() == 1

    again = alice.push_manifest(name, "v1", first_manifest)
    assert again.status_code == 201
    assert again["Docker-Content-Digest"] == first


@pytest.mark.django_db
def test_a_refused_move_stores_nothing(tenant, alice):
    make_repository(tenant, TagMutability.IMMUTABLE)
    name = f"{tenant.id}/app"
    alice.push_image(name, "v1", seed=b"one")
    config = alice.push_blob(name, b'{"architecture":"arm64","os":"linux"}')
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config,
            "size": len(b'{"architecture":"arm64","os":"linux"}'),
        },
        "layers": [],
    }
    before = Manifest.objects.count()
    refused = alice.push_manifest(name, "v1", manifest)
    assert refused.status_code == 400 and error(refused)["code"] == "TAG_INVALID"
    assert Manifest.objects.count() == before
    assert alice.push_manifest(name, "v2", manifest).status_code == 201


@pytest.mark.django_db
def test_exclusion_filters_flip_the_rule(tenant, alice):
    make_repository(tenant, TagMutability.IMMUTABLE_WITH_EXCLUSION, ["latest", "dev-*"])
    name = f"{tenant.id}/app"
    _, one = alice.push_image(name, "latest", seed=b"one")
    _, two = alice.push_image(name, "release", seed=b"two")
    for tag in ("latest", "dev-1"):
        assert alice.push_manifest(name, tag, one).status_code == 201
        assert alice.push_manifest(name, tag, two).status_code == 201
    assert alice.push_manifest(name, "release", one).status_code == 400

    services.put_image_tag_mutability(
        actor=Actor.system("test"),
        repository=Repository.objects.get(name="app"),
        image_tag_mutability=TagMutability.MUTABLE_WITH_EXCLUSION,
        image_tag_mutability_exclusion_filters=["release"],
    )
    assert alice.push_manifest(name, "latest", one).status_code == 201
    assert error(alice.push_manifest(name, "release", one))["code"] == "TAG_INVALID"


@pytest.mark.django_db
def test_a_mutable_repository_moves_tags(tenant, alice):
    make_repository(tenant, TagMutability.MUTABLE)
    name = f"{tenant.id}/app"
    _, one = alice.push_image(name, "v1", seed=b"one")
    _, two = alice.push_image(name, "v2", seed=b"two")
    assert alice.push_manifest(name, "v1", two).status_code == 201
