from datetime import timedelta

import pytest
from django.utils import timezone

from apps.gallery.templatetags.gallery import ago, compact_count

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize(
    "value, said",
    [(0, "0"), (999, "999"), (1000, "1K"), (4_640, "4.6K"), (46_123, "46K"), (9_999, "10K"), (950_000, "950K"), (999_999, "1M"),
     (1_200_000, "1.2M"), (3_000_000_000, "3B")],
)  # fmt: skip
def test_counts_are_rounded_as_people_skim_them(value, said):
    assert compact_count(value) == said


def test_a_moment_within_a_minute_is_just_now_and_older_ones_in_their_largest_unit():
    now = timezone.now()
    assert ago(now - timedelta(seconds=20)) == "just now"
    assert ago(now - timedelta(hours=3, minutes=4)) == "3\xa0hours ago"
    assert ago(None) == ""
