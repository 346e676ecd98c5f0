"""What the staff console shows about an account beside its own fields, from the
apps on the floors above (its repositories, their pulls in the gallery), which
accounts may not import: each registers a provider from its AppConfig.ready().

A provider takes account ids and returns, per id, short phrases ("3 repositories,
1 public"), reading every account at once (a query or two, not one per account)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

Provider = Callable[[list[str]], dict[str, list[str]]]
_PROVIDERS: list[Provider] = []


def register(provider: Provider) -> None:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def figures(account_ids: Iterable[str]) -> dict[str, list[str]]:
    """Every provider's phrases for each of ``account_ids``, in registration order."""
    ids = list(dict.fromkeys(account_ids))
    found: dict[str, list[str]] = {account_id: [] for account_id in ids}
    for provider in _PROVIDERS:
        for account_id, phrases in provider(ids).items():
            found.setdefault(account_id, []).extend(phrases)
    return found
