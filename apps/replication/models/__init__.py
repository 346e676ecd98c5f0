"""Replication's tables (``replication.py``) and the pull-through cache's (``cache.py``)."""

from .replication import (
    BackfillStatus,
    ImageReplication,
    ReplicationAction,
    ReplicationBackfill,
    ReplicationConfiguration,
    ReplicationStatus,
)

__all__ = [
    "BackfillStatus",
    "ImageReplication",
    "ReplicationAction",
    "ReplicationBackfill",
    "ReplicationConfiguration",
    "ReplicationStatus",
]
