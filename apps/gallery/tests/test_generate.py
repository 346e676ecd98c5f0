"""The benchmark data generator makes rows that the gallery's own reads find."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.repositories.models import Repository, Visibility

from .. import selectors
from ..models import GalleryEntry
from ..selectors import SearchFilters


def test_generate_gallery_data_makes_searchable_public_repositories(db):
    out = StringIO()
    call_command("generate_gallery_data", repositories=60, batch_size=25, stdout=out)
    assert "generated 2 publishers and 60 public repositories" in out.getvalue()
    assert Repository.objects.filter(visibility=Visibility.PUBLIC).count() == 60
    assert GalleryEntry.objects.count() == 60
    entry = GalleryEntry.objects.order_by("pk").first()
    results = selectors.search(SearchFilters(query=entry.name), per_page=100)
    assert entry.pk in [e.pk for e in results.page.object_list]
    assert results.page.paginator.count < 60
    assert selectors.popular()[0].pull_count >= selectors.popular()[-1].pull_count


def test_generate_gallery_data_refuses_nonsense_sizes(db):
    with pytest.raises(CommandError):
        call_command("generate_gallery_data", repositories=0)
