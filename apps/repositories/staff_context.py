"""The staff console's figures about an account's repositories (apps.accounts.staff_context)."""

from __future__ import annotations

from django.db.models import Count, Q

from .models import Repository, Visibility


def repository_figures(account_ids: list[str]) -> dict[str, list[str]]:
    rows = (
        Repository.objects.filter(account_id__in=account_ids)
        .values("account_id")
        .annotate(
            total=Count("pk"),
            public=Count("pk", filter=Q(visibility=Visibility.PUBLIC)),
            taken_down=Count("pk", filter=Q(taken_down_at__isnull=False)),
        )
        .order_by()
    )
    counted = {row["account_id"]: row for row in rows}
    figures = {}
    for account_id in account_ids:
        row = counted.get(account_id, {"total": 0, "public": 0, "taken_down": 0})
        phrase = f"{row['total']} repositor{'y' if row['total'] == 1 else 'ies'}, {row['public']} public"
        if row["taken_down"]:
            phrase += f", {row['taken_down']} taken down"
        figures[account_id] = [phrase]
    return figures
