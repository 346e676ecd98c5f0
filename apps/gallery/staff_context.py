"""The staff console's figure of an account's pulls (apps.accounts.staff_context):
the gallery's counters over its public repositories."""

from __future__ import annotations

from django.db.models import Sum

from .models import GalleryEntry


def pull_figures(account_ids: list[str]) -> dict[str, list[str]]:
    rows = (
        GalleryEntry.objects.filter(account_id__in=account_ids).values("account_id").annotate(pulls=Sum("pull_count"))
    )
    pulls = {row["account_id"]: row["pulls"] or 0 for row in rows.order_by()}
    return {account_id: [f"{pulls.get(account_id, 0):,} pulls in all"] for account_id in account_ids}
