"""Why an inventory could not be taken: each error carries a ``reason`` written for
people, which becomes the scan's FAILED description."""

from __future__ import annotations


class InventoryError(Exception):
    """The image's layers could not be walked (corrupt compression or tar, an
    unreadable blob, …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LimitExceeded(InventoryError):
    """A layer went past one of the walker's limits (see ``Limits``): the reason names
    the limit, its value and the layer."""


class UnsupportedLayer(InventoryError):
    """A layer whose media type is not a file system layer (an encrypted layer, a Helm
    chart, an artifact's blob, …)."""
