"""Replication's tables (``replication.py``) and the pull-through cache's (``cache.py``)."""

from .cache import CachedTag, PullThroughCacheRule, UpstreamFetchLease
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
    "CachedTag",
    "ImageReplication",
    "PullThroughCacheRule",
    "ReplicationAction",
    "ReplicationBackfill",
    "ReplicationConfiguration",
    "ReplicationStatus",
    "UpstreamFetchLease",
]
